"""Matting backends: background estimation on synthetic scenes, provided mattes, errors of the dispatch.

The learned backends (rvm, mediapipe, auto) and the RVM weights route: tests/test_matte_learned.py."""

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


def test_rvm_without_weights_and_unknown_backends_explain_themselves(monkeypatch, tmp_path):
    monkeypatch.setenv("TALKINNERF_WEIGHTS", str(tmp_path / "w"))
    frames = np.zeros((1, 4, 4, 3), np.uint8)
    with pytest.raises(FileNotFoundError, match=r"w/rvm/rvm_mobilenetv3\.pth.*fetch rvm --accept-gpl"):
        compute_mattes(frames, MatteOptions(backend="rvm"))
    with pytest.raises(ValueError, match="unknown matte backend 'magic'"):
        compute_mattes(frames, MatteOptions(backend="magic"))
    assert set(BACKENDS) == {"background", "provided", "rvm", "mediapipe"}


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


def _striped_scene(T=24, H=96, W=96, seed=0):
    """Diagonal-stripe wall over a floor; a person whose legs and torso never move (gap between the legs)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    stripes = 8 * np.sin(2 * np.pi * (xx + yy) / 24.0)
    backdrop = np.stack([185 + stripes, 180 + stripes, 170 + stripes], -1)
    backdrop[yy >= 86] = (110, 120, 135)  # floor
    legs = (yy >= 56) & (yy < 88) & (((xx >= 38) & (xx < 45)) | ((xx >= 51) & (xx < 58)))
    torso = (yy >= 30) & (yy < 58) & (xx >= 38) & (xx < 58)
    frames, masks = [], []
    for t in range(T):
        head = (xx - 48 - int(8 * np.sin(t / 3))) ** 2 + (yy - 24) ** 2 < 64  # touches the torso
        mask = legs | torso | head
        image = backdrop.copy()
        image[mask] = (40, 50, 140)
        image += rng.normal(0, 2, image.shape)
        frames.append(np.clip(image, 0, 255).astype(np.uint8))
        masks.append(mask)
    gap = (yy >= 60) & (yy < 86) & (xx >= 46) & (xx < 50)
    return np.stack(frames), np.stack(masks), backdrop, gap


def test_periodic_fill_recovers_a_striped_backdrop_and_the_gap_between_the_legs():
    frames, masks, backdrop, gap = _striped_scene()
    still = masks.all(0)
    periodic = estimate_background(frames, MatteOptions())
    smooth = estimate_background(frames, MatteOptions(fill_mode="inpaint", refine_steps=0))
    assert np.abs(periodic - backdrop)[still].mean() < 4  # stripes continued behind the person
    assert np.abs(periodic - backdrop)[gap].mean() < 4  # the visible gap keeps its own (median) colour
    assert np.abs(smooth - backdrop)[still].mean() > np.abs(periodic - backdrop)[still].mean() + 2
    alpha = compute_mattes(frames, MatteOptions())
    assert (alpha[:, gap] > 127).mean() < 0.02  # the gap between the legs is backdrop
    assert _iou(alpha, masks).mean() > 0.95


def test_backdrop_period_and_fill_periodic_on_exact_stripes():
    from talkinnerf.preprocess.matte import backdrop_period, fill_periodic

    yy, xx = np.mgrid[0:40, 0:80]
    image = np.repeat((100 + 50 * ((xx + 2 * yy) % 10 < 5))[..., None], 3, -1).astype(np.float32)
    hole = (xx >= 30) & (xx < 47) & (yy >= 10) & (yy < 30)
    dy, dx, err = backdrop_period(image, ~hole, MatteOptions(period_min=6, period_max=30, period_max_dy=0))
    assert (dy, dx % 10, err) == (0, 0, 0.0)  # a multiple of the 10 px period, exact
    spoiled = image.copy()
    spoiled[hole] = 0
    filled = fill_periodic(spoiled, hole, dy, dx)
    np.testing.assert_allclose(filled, image)
    # a hole no copy can reach stays NaN for the caller to inpaint
    assert np.isnan(fill_periodic(spoiled, np.ones_like(hole), dy, dx)).all()


def test_high_contrast_edges_are_not_bloated():
    from talkinnerf.preprocess.matte import alpha_from_background

    H = W = 48
    background = np.full((H, W, 3), 200.0, np.float32)
    # a dark square whose border columns/rows are 30 % covered (anti-aliasing): 70 % backdrop
    coverage = np.zeros((H, W), np.float32)
    coverage[12:36, 12:36] = 1.0
    coverage[11, 12:36] = coverage[36, 12:36] = coverage[12:36, 11] = coverage[12:36, 36] = 0.3
    frame = (background * (1 - coverage[..., None]) + 20.0 * coverage[..., None]).astype(np.uint8)
    sharp = alpha_from_background(frame, background, MatteOptions(feather=0))
    plain = alpha_from_background(frame, background, MatteOptions(feather=0, edge_refine=False))
    truth = coverage > 0.5
    assert ((sharp > 127) == truth).all()
    assert ((plain > 127) & ~truth).sum() >= 4 * 24  # a threshold on |I - B| counts the 30 % rim as person
    assert abs(int(sharp[11, 20]) - 0.3 * 255) < 20  # rim alpha is the coverage


def test_noise_level_raises_the_threshold_on_noisy_footage():
    from talkinnerf.preprocess.matte import noise_level

    frames, masks, _ = _scene(static_torso=False)
    background = estimate_background(frames, MatteOptions(fill_static=False))
    level = noise_level(frames, background)
    assert 3 < level < 8  # N(0, 3) per channel → |n| ≈ 3·√3·0.9
    rng = np.random.default_rng(1)
    noisy = np.clip(frames + rng.normal(0, 10, frames.shape), 0, 255).astype(np.uint8)
    adaptive = compute_mattes(noisy, MatteOptions())
    fixed = compute_mattes(noisy, MatteOptions(noise_factor=0))
    assert _iou(adaptive, masks).mean() > 0.9
    assert _iou(adaptive, masks).mean() > _iou(fixed, masks).mean() + 0.02


def test_unknown_fill_mode_is_refused():
    frames, _, _ = _scene(T=4)
    with pytest.raises(ValueError, match="fill_mode .* 'tiles'"):
        estimate_background(frames, MatteOptions(fill_mode="tiles"))
