"""Foreground alpha per frame: `matte/s/%06d.png` (uint8 0..255) and `matte/s/meta.json` (which backend ran).

One options dataclass and one dispatch table; each backend is one module a reader can open alone:

- `background` (background.py): a static camera's backdrop estimated from the video, then a threshold (the demo);
- `provided` (provided.py): the user's own mattes;
- `rvm` (rvm.py): Robust Video Matting, MobileNetV3 (talkinnerf.preprocess.rvm), recurrent over the video in
  chunks; needs the weights file `rvm_mobilenetv3.pth` (talkinnerf.pretrained, entry `rvm-mobilenetv3`);
- `mediapipe` (mediapipe.py): MediaPipe selfie segmentation (offline, Apache-2.0), frame by frame;
- `auto`: `rvm` when its weights are present, else `mediapipe`.

After a learned backend (rvm, mediapipe) the backdrop check (backdrop_check.py) removes foreground regions that
are really the static backdrop (a wall patch beside the head, a detached blob); option `backdrop_check`.

A backend is ``fn(frames: uint8 (T,H,W,3), opts: MatteOptions, frames_dir: Path) -> uint8 (T,H,W)``.
See docs/matting.md.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

from talkinnerf.io import atomic_dir, write_json
from talkinnerf.preprocess.matte.background import (  # noqa: F401  (public names of the old module)
    alpha_from_background,
    backdrop_period,
    clean_mask,
    estimate_background,
    fill_periodic,
    matte_background,
    noise_level,
    rim_coverage,
)
from talkinnerf.preprocess.matte.provided import matte_provided


@dataclasses.dataclass
class MatteOptions:
    """Options of `talkinnerf preprocess matte` (config.yaml section `matte`)."""

    backend: str = "background"     # background | provided | rvm | mediapipe | auto (rvm if its weights exist)
    provided_dir: str | None = None  # folder of %06d.png alpha mattes (backend `provided`)
    # background backend
    median_frames: int = 60          # frames sampled (evenly) for the temporal median
    threshold: float = 15.0          # RGB Euclidean distance (0..255 scale) above which a pixel is foreground
    noise_factor: float = 4.0        # raise the threshold to this × the footage's noise level (0 = fixed threshold)
    softness: float = 10.0           # alpha ramps from threshold-softness to threshold+softness
    fill_static: bool = True         # recover the backdrop behind parts of the person that never move
    flood_tolerance: float = 4.0     # per-channel neighbour tolerance of the border flood fill
    min_component: float = 0.1       # keep components with area >= this fraction of the largest one
    max_hole: float = 0.002          # fill enclosed holes smaller than this fraction of the image
    feather: float = 0.7             # Gaussian sigma (px) softening the mask edge; 0 = hard
    open_size: int = 3               # square opening (px) removing speckle from the thresholded mask; ≤1 = off
    close_size: int = 3              # elliptic closing (px) bridging cracks; big ones also fill narrow gaps; ≤1 = off
    edge_refine: bool = True         # rim alpha from the projection on (person colour - backdrop): no bloat
    edge_contrast: float = 60.0      # ... only where the person's colour is this far (RGB) from the backdrop
    fill_mode: str = "periodic"      # periodic (copy along the backdrop's repeat) | inpaint (smooth cv2.inpaint)
    period_min: int = 6              # smallest horizontal repeat (px) searched for the backdrop
    period_max: int = 48             # largest horizontal repeat (px) searched
    period_max_dy: int = 4           # vertical component (px) allowed in the repeat vector
    refine_steps: int = 2            # times the still-person hole shrinks to where the median disagrees with the fill
    refine_factor: float = 0.5       # ... disagreement = |median - fill| > threshold * refine_factor
    # rvm backend
    rvm_weights: str | None = None   # rvm_mobilenetv3.pth; None = the pretrained cache ($TALKINNERF_WEIGHTS/rvm/)
    rvm_downsample: float | None = None  # RVM downsample_ratio; None = long side of the network's input ≤ 512 px
    rvm_chunk: int = 16              # frames per forward pass; the recurrent state is carried across chunks
    device: str = "auto"             # auto (cuda when available, else cpu) | cpu | cuda | cuda:N
    threads: int = 0                 # torch CPU threads (0 = leave torch's default)
    # mediapipe backend
    mediapipe_model: int = 0         # selfie segmentation model_selection: 0 general (256×256), 1 landscape (144×256)
    mediapipe_smoothing: float = 0.0  # temporal smoothing: alpha_t ← (1-s)·mask_t + s·alpha_{t-1}; 0 = off
    # backdrop check after rvm / mediapipe (auto): drop foreground regions that match the static backdrop
    backdrop_check: bool = True      # on for the learned backends; background and provided never run it
    backdrop_match: float = 4.0      # a pixel matches its backdrop plate within this × the footage noise (RGB)
    backdrop_min_seen: float = 0.2   # a plate is trusted where ≥ this fraction of sampled frames saw it as background
    backdrop_min_region: float = 0.0005  # remove only matching regions ≥ this fraction of the image (no speckles)
    backdrop_max_depth: float = 0.1  # ... reaching ≤ this × the short image side into the matte from its outline


Backend = Callable[[np.ndarray, MatteOptions, Path], np.ndarray]


def _matte_rvm(frames: np.ndarray, opts: MatteOptions, frames_dir: Path) -> np.ndarray:
    from talkinnerf.preprocess.matte.rvm import matte_rvm  # torch: imported only when this backend runs

    return matte_rvm(frames, opts, frames_dir)


def _matte_mediapipe(frames: np.ndarray, opts: MatteOptions, frames_dir: Path) -> np.ndarray:
    from talkinnerf.preprocess.matte.mediapipe import matte_mediapipe

    return matte_mediapipe(frames, opts, frames_dir)


LEARNED = ("rvm", "mediapipe")  # the backends the backdrop check cleans

BACKENDS: dict[str, Backend] = {
    "background": matte_background,
    "provided": matte_provided,
    "rvm": _matte_rvm,
    "mediapipe": _matte_mediapipe,
}
AUTO = "auto"
RVM_ENTRY = "rvm-mobilenetv3"  # talkinnerf.pretrained.REGISTRY name of the RVM weights


def rvm_weights_path(opts: MatteOptions | None = None) -> Path:
    """The RVM weights file the `rvm` backend loads: option `rvm_weights`, else the pretrained cache's entry."""
    if opts is not None and opts.rvm_weights:
        return Path(opts.rvm_weights).expanduser()
    from talkinnerf.pretrained import entry

    return entry(RVM_ENTRY).path


def resolve_backend(opts: MatteOptions) -> str:
    """The backend that runs for ``opts``: `auto` becomes `rvm` when its weights file exists, else `mediapipe`."""
    if opts.backend != AUTO:
        return opts.backend
    return "rvm" if rvm_weights_path(opts).is_file() else "mediapipe"


def backend_identity(section: dict | None) -> str:
    """What a matte result depends on beyond its options and code: for the workflow's rule params.

    ``section`` is config.yaml's `matte` section. For `rvm` (and `auto` when it picks rvm) this is the weights
    file's size and modification time, so that fetching or replacing the weights reruns the matte rule; `auto`
    without weights is `mediapipe`. Cheap (no hashing, no imports of torch or mediapipe).
    """
    from talkinnerf.options import from_dict

    opts = from_dict(MatteOptions, section or {}, "config section 'matte'")
    backend = resolve_backend(opts)
    if backend != "rvm":
        return backend
    path = rvm_weights_path(opts)
    if not path.is_file():
        return f"rvm:{path}:absent"
    stat = path.stat()
    return f"rvm:{path}:{stat.st_size}:{stat.st_mtime_ns}"


def compute_mattes(frames: np.ndarray, opts: MatteOptions, frames_dir: Path = Path("."),
                   report: dict | None = None) -> np.ndarray:
    """Dispatch to the backend (`auto` resolved): frames uint8 (T,H,W,3) → alpha uint8 (T,H,W).

    After a learned backend the backdrop check runs (option `backdrop_check`); its report goes to
    ``report["backdrop_check"]`` when a dict is given.
    """
    name = resolve_backend(opts)
    try:
        backend = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown matte backend {opts.backend!r}; known: {sorted(BACKENDS) + [AUTO]}") from None
    alphas = backend(frames, opts, Path(frames_dir))
    if alphas.shape != frames.shape[:3] or alphas.dtype != np.uint8:
        raise ValueError(f"matte backend {name} returned {alphas.shape} {alphas.dtype} for {frames_dir}")
    if name in LEARNED:
        if opts.backdrop_check:
            from talkinnerf.preprocess.matte.backdrop_check import check_backdrop

            alphas, done = check_backdrop(frames, alphas, match=opts.backdrop_match, min_seen=opts.backdrop_min_seen,
                                          min_region=opts.backdrop_min_region, max_depth=opts.backdrop_max_depth)
        else:
            done = {"applied": False, "skipped": "option backdrop_check is off"}
        if report is not None:
            report["backdrop_check"] = done
    return alphas


def _describe_check(done: dict) -> str:
    """One log line of a backdrop-check report."""
    if not done.get("applied"):
        return f"skipped: {done.get('skipped')}"
    return (f"removed {100 * done['removed']:.3f} % of the foreground pixels in {done['frames_touched']} frames "
            f"(backdrop trusted on {100 * done['trusted']:.0f} % of the image, noise {done['noise']}, "
            f"match distance {done['match']})")


def _alpha_scale(alpha) -> float:
    """1 for float mattes in [0, 1], 255 for 8-bit ones."""
    return 255.0 if np.asarray(alpha).dtype == np.uint8 else 1.0


def run_matte(frames_dir: str | os.PathLike, out: str | os.PathLike, opts: MatteOptions | None = None) -> int:
    """Stage: `frames_dir/%06d.png` → `out/%06d.png` alpha + `out/meta.json` (atomic folder). Returns the count.

    meta.json records the backend that ran (`auto` resolved) and, for rvm, the weights file; timings go to the
    log only, so that the folder's bytes depend on the inputs alone. Provided mattes are decoded and rewritten
    as 8-bit grey PNGs (lossless, whatever their channels were).
    """
    from talkinnerf.video.frames import read_frames, write_gray_png

    opts = opts or MatteOptions()
    frames_dir, out = Path(frames_dir), Path(out)
    frames = read_frames(frames_dir)
    backend = resolve_backend(opts)
    start = time.perf_counter()
    checked: dict = {}
    alphas = compute_mattes(frames, dataclasses.replace(opts, backend=backend), frames_dir, checked)
    seconds = time.perf_counter() - start
    if len(alphas) and max(float(np.asarray(a).max()) for a in alphas) < 0.5 * _alpha_scale(alphas[0]):
        from talkinnerf.failures import SubjectInputError

        raise SubjectInputError(
            f"matte ({backend}) of {frames_dir}: no person found in any of its {len(alphas)} frames (every "
            "matte is empty)",
            "use a video with a person in view, or another matte backend (config matte.backend)")
    meta = {"backend": backend, "requested": opts.backend, "count": int(len(alphas))}
    if backend == "rvm":
        weights = rvm_weights_path(opts)
        meta["weights"] = {"file": weights.name, "sha256": hashlib.sha256(weights.read_bytes()).hexdigest()}
    meta.update(checked)
    print(f"matte backend {backend} (requested {opts.backend}): {len(alphas)} frames "
          f"{frames.shape[2]}x{frames.shape[1]} in {seconds:.2f} s")
    if "backdrop_check" in checked:
        print(f"matte backdrop check: {_describe_check(checked['backdrop_check'])}")
    with atomic_dir(out) as tmp:
        for i, alpha in enumerate(alphas):
            write_gray_png(tmp / f"{i:06d}.png", alpha)
        write_json(tmp / "meta.json", meta)
    return len(alphas)
