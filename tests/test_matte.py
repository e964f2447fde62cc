"""Matting backends: background estimation on synthetic scenes, provided mattes, rvm placeholder."""

from __future__ import annotations

import numpy as np
import pytest

from talkinnerf.preprocess.matte import BACKENDS, MatteOptions, compute_mattes, estimate_background, run_matte
from talkinnerf.video.frames import read_image, write_gray_png


def _scene(T=24, H=80, W=80, static_torso=True, seed=0):
    """Gradient backdrop + camera noise; a moving coloured blob (head/arm) and optionally a still torso."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    backdrop = np.stack([60 + xx * 0.8, 90 + yy * 0.6, np.full_like(xx, 150.0)], -1)
    frames, masks = [], []
    for t in range(T):
        mask = (xx - 30 - int(20 * np.sin(t / 3))) ** 2 + (yy - 22) ** 2 < 100
        if static_torso:
            mask |= (yy >= 32) & (yy < 76) & (xx >= 28) & (xx < 52)
        image = backdrop.copy()
        image[mask] = (200, 60, 40)
        image += rng.normal(0, 3, image.shape)
        frames.append(np.clip(image, 0, 255).astype(np.uint8))
        masks.append(mask)
    return np.stack(frames), np.stack(masks), backdrop


def _iou(alpha, masks):
    pred = alpha > 127
    return (pred & masks).sum((1, 2)) / (pred | masks).sum((1, 2))


@pytest.mark.parametrize("static_torso", [False, True])
def test_background_matte_recovers_the_person(static_torso):
    frames, masks, _ = _scene(static_torso=static_torso)
    alpha = compute_mattes(frames, MatteOptions())
    assert alpha.shape == masks.shape and alpha.dtype == np.uint8
    assert _iou(alpha, masks).mean() > 0.95


def test_background_behind_a_still_torso_is_recovered():
    frames, masks, backdrop = _scene(static_torso=True)
    recovered = estimate_background(frames, MatteOptions())
    plain_median = estimate_background(frames, MatteOptions(fill_static=False))
    torso = masks.all(0)
    assert np.abs(recovered - backdrop)[torso].mean() < 8  # inpainted backdrop, not the shirt
    assert np.abs(plain_median - backdrop)[torso].mean() > 50


def test_provided_backend_checks_count_and_size(tmp_path):
    frames = np.zeros((3, 8, 8, 3), np.uint8)
    for i in range(3):
        (tmp_path / "f").mkdir(exist_ok=True)
        write_gray_png(tmp_path / "f" / f"{i:06d}.png", np.full((8, 8), 40, np.uint8))
        (tmp_path / "ok").mkdir(exist_ok=True)
        write_gray_png(tmp_path / "ok" / f"{i:06d}.png", np.full((8, 8), 50 * i, np.uint8))
    alpha = compute_mattes(frames, MatteOptions(backend="provided", provided_dir=str(tmp_path / "ok")))
    assert alpha[:, 0, 0].tolist() == [0, 50, 100]

    (tmp_path / "few").mkdir()
    write_gray_png(tmp_path / "few" / "000000.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="1 mattes but .* 3 frames"):
        compute_mattes(frames, MatteOptions(backend="provided", provided_dir=str(tmp_path / "few")))
    (tmp_path / "big").mkdir()
    for i in range(3):
        write_gray_png(tmp_path / "big" / f"{i:06d}.png", np.zeros((9, 8), np.uint8))
    with pytest.raises(ValueError, match="000000.png is 8x9"):
        compute_mattes(frames, MatteOptions(backend="provided", provided_dir=str(tmp_path / "big")))
    with pytest.raises(FileNotFoundError, match="missing_dir"):
        compute_mattes(frames, MatteOptions(backend="provided", provided_dir=str(tmp_path / "missing_dir")))
    with pytest.raises(ValueError, match="provided_dir"):
        compute_mattes(frames, MatteOptions(backend="provided"))


def test_rvm_and_unknown_backends_explain_themselves(monkeypatch, tmp_path):
    monkeypatch.setenv("TALKINNERF_WEIGHTS", str(tmp_path / "w"))
    frames = np.zeros((1, 4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match=r"rvm_mobilenetv3\.pth.*w/rvm"):
        compute_mattes(frames, MatteOptions(backend="rvm"))
    with pytest.raises(ValueError, match="unknown matte backend 'magic'"):
        compute_mattes(frames, MatteOptions(backend="magic"))
    assert set(BACKENDS) == {"background", "provided", "rvm"}


def test_cli_matte_writes_one_png_per_frame(tmp_path):
    import cv2

    from talkinnerf.cli import main

    frames, masks, _ = _scene(T=8, static_torso=False)
    (tmp_path / "frames").mkdir()
    for i, f in enumerate(frames):
        cv2.imwrite(str(tmp_path / "frames" / f"{i:06d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    assert main(["preprocess", "matte", "--frames", str(tmp_path / "frames"), "--out", str(tmp_path / "m"),
                 "--options", '{"backend": "background"}']) == 0
    alpha = np.stack([read_image(tmp_path / "m" / f"{i:06d}.png", gray=True) for i in range(8)])
    assert _iou(alpha, masks).mean() > 0.9
    assert run_matte(tmp_path / "frames", tmp_path / "m2", MatteOptions(feather=0)) == 8
