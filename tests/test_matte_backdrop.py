"""Backdrop check of the learned mattes (talkinnerf/preprocess/matte/backdrop_check.py) on synthetic clips: a static
textured wall with a bright panel, a person-like shape (head, torso, an arm) sweeping across it, camera noise, and a
learned-style (soft-rimmed) matte that is correct, or also holds a wall patch beside the head or a detached blob."""

from __future__ import annotations

import dataclasses
import json

import cv2
import numpy as np
import pytest

from talkinnerf.preprocess.matte import BACKENDS, MatteOptions, compute_mattes, run_matte
from talkinnerf.preprocess.matte.backdrop_check import check_backdrop, estimate_plate, plate_noise, trusted_plate
from talkinnerf.video.frames import list_frames, read_image

H = W = 128
T = 36


def _wall(shift: int = 0) -> np.ndarray:
    """float (H,W,3): a warm wall with a vertical gradient, a bright panel (upper right) and a texture everywhere
    (a panning camera, ``shift`` px to the right, sees it change)."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    xx = xx + shift
    wall = np.stack([150 + 0.3 * yy, 145 + 0.3 * yy, 130 + 0.2 * yy], -1)
    wall[((xx % 256) > 70) & (yy < 60)] = (225, 222, 212)
    wall += (14 * np.sin(xx / 2.5) + 10 * np.sin(xx / 7.0 + yy / 5.0))[..., None]
    return wall


def _person(t: int, shirt: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(mask bool (H,W), colour float (H,W,3)) of the person at frame t; shirt: a wall-coloured patch on the chest."""
    yy, xx = np.mgrid[0:H, 0:W]
    cx = 30 + 68 * t / (T - 1)                                 # sweeps across: the backdrop is seen everywhere
    head = (yy - 30) ** 2 + (xx - cx) ** 2 < 9 ** 2
    torso = (yy >= 42) & (np.abs(xx - cx) <= 16)
    arm_y = 60 + 14 * np.sin(t / 2.0)
    arm = (np.abs(yy - arm_y) <= 3) & (xx >= cx + 16) & (xx <= cx + 30)
    colour = np.zeros((H, W, 3))
    colour[torso | arm] = (40, 55, 120)                         # dark blue jacket
    colour[head] = (205, 150, 120)                              # skin
    if shirt:
        colour[(yy >= 58) & (yy < 90) & (np.abs(xx - cx) <= 6)] = np.nan  # filled with the wall's own colour
    return head | torso | arm, colour


def _patch(t: int) -> np.ndarray:
    """bool (H,W): a piece of the bright wall attached beside the head (an ellipse overlapping the head's rim)."""
    yy, xx = np.mgrid[0:H, 0:W]
    cx = 30 + 68 * t / (T - 1) + (9 + 7 if t < T // 2 else -(9 + 7))   # right of the head, later left of it
    return ((yy - 28) / 10.0) ** 2 + ((xx - cx) / 9.0) ** 2 < 1


def _blob() -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    return ((yy - 12) / 6.0) ** 2 + ((xx - 10) / 7.0) ** 2 < 1


def _soft(mask: np.ndarray) -> np.ndarray:
    """A learned matte's soft rim: uint8 alpha of a bool mask blurred by ~1 px."""
    return np.clip(cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 0.8) * 255 + 0.5, 0, 255).astype(np.uint8)


def _clip(shirt=False, moving_camera=False, patch_every=0, blob_every=0, seed=0):
    """frames uint8 (T,H,W,3), true masks bool (T,H,W), learned-style alphas uint8 (T,H,W), polluted frames."""
    rng = np.random.default_rng(seed)
    frames, truth, alphas, polluted = [], [], [], []
    for t in range(T):
        wall = _wall(shift=3 * t if moving_camera else 0)
        mask, colour = _person(t, shirt)
        colour = np.where(np.isnan(colour), wall, colour)
        image = np.where(mask[..., None], colour, wall) + rng.normal(0, 2.0, (H, W, 3))
        frames.append(np.clip(image, 0, 255).round().astype(np.uint8))
        learned = mask.copy()
        if patch_every and t % patch_every == 0:
            learned |= _patch(t)
        if blob_every and t % blob_every == 1:
            learned |= _blob()
        truth.append(mask)
        alphas.append(_soft(learned))
        polluted.append(not np.array_equal(learned, mask))
    return np.stack(frames), np.stack(truth), np.stack(alphas), np.array(polluted)


def _iou(alpha: np.ndarray, truth: np.ndarray) -> np.ndarray:
    pred = alpha >= 128
    return (pred & truth).sum((1, 2)) / (pred | truth).sum((1, 2))


def test_plate_is_the_wall_and_trusted_where_the_backdrop_was_seen():
    frames, truth, alphas, _ = _clip()
    plate = estimate_plate(frames, alphas)
    noise = plate_noise(plate)
    trusted = trusted_plate(plate, noise)
    assert 2.0 < noise < 5.0                                   # Gaussian σ 2 per channel: |N|₃ median ≈ 3.1
    assert trusted.mean() > 0.9                                # the person sweeps across the whole wall
    wall = _wall()
    assert np.abs(plate.colour - wall)[trusted].mean() < 1.5   # the median over background frames is the wall
    assert plate.sampled == T and plate.seen.max() == T


def test_a_correct_matte_is_left_unchanged():
    frames, truth, alphas, _ = _clip()
    out, report = check_backdrop(frames, alphas)
    assert report["applied"] and report["removed"] == 0.0 and report["frames_touched"] == 0
    np.testing.assert_array_equal(out, alphas)


def test_a_wall_patch_beside_the_head_and_a_detached_blob_are_removed():
    frames, truth, alphas, polluted = _clip(patch_every=3, blob_every=5)
    before = _iou(alphas, truth)
    assert before[polluted].max() < 0.97                      # the pollution matters
    out, report = check_backdrop(frames, alphas)
    after = _iou(out, truth)
    assert after.min() > 0.99, (before, after)
    assert report["applied"] and report["frames_touched"] == polluted.sum()
    assert 0.01 < report["removed"] < 0.1
    # the person is intact: nothing of the true mask lost beyond a rim pixel here and there
    lost = ((alphas >= 128) & (out < 128) & truth).sum((1, 2))
    assert lost.max() <= 3, lost
    # the removed patch's soft rim goes too: where the patch was, no more alpha than the correct matte's own rim
    patch_area = (np.stack([_patch(t) for t in range(T)]) & ~truth)[polluted]
    correct = np.stack([_soft(m) for m in truth])[polluted]
    assert (out[polluted][patch_area].astype(int) - correct[patch_area]).max() <= 8
    # the same clip with a correct matte: the unpolluted frames come out the same either way
    np.testing.assert_array_equal(out[~polluted], alphas[~polluted])


def test_a_shirt_of_the_wall_colour_in_the_middle_of_the_body_is_not_punched():
    frames, truth, alphas, _ = _clip(shirt=True, patch_every=3)
    plate = estimate_plate(frames, alphas)
    trusted = trusted_plate(plate, plate_noise(plate))
    assert trusted.mean() > 0.9                                # the plate behind the shirt is known: a hard case
    out, report = check_backdrop(frames, alphas)
    lost = ((alphas >= 128) & (out < 128) & truth).sum((1, 2))
    assert lost.max() <= 3, lost
    assert _iou(out, truth).min() > 0.99


def test_tiny_wall_coloured_speckles_at_the_outline_stay():
    frames, truth, alphas, _ = _clip()
    frames = frames.copy()
    wall = np.clip(_wall(), 0, 255).round().astype(np.uint8)
    for t in range(T):
        cols = np.flatnonzero(truth[t, 80])                    # the torso's row 80: speckles on its left edge
        y, x = 80, cols[0]
        frames[t, y:y + 2, x:x + 2] = wall[y:y + 2, x:x + 2]
    out, report = check_backdrop(frames, alphas)
    np.testing.assert_array_equal(out, alphas)


def test_a_moving_camera_clip_is_left_untouched():
    frames, truth, alphas, polluted = _clip(moving_camera=True, patch_every=3, blob_every=5)
    out, report = check_backdrop(frames, alphas)
    assert not report["applied"] and "not static" in report["skipped"], report
    np.testing.assert_array_equal(out, alphas)


def test_too_little_trusted_backdrop_skips_the_check():
    frames, truth, alphas, _ = _clip(patch_every=3)
    alphas = alphas.copy()
    alphas[:, :, : W - 4] = 255   # the matte claims nearly everything: hardly any pixel is ever backdrop
    out, report = check_backdrop(frames, alphas)
    assert not report["applied"] and "trusted" in report["skipped"], report
    np.testing.assert_array_equal(out, alphas)


@pytest.fixture
def fake_mediapipe(monkeypatch):
    """BACKENDS["mediapipe"] and ["rvm"] return the synthetic clip's polluted learned matte; no model runs."""
    frames, truth, alphas, polluted = _clip(patch_every=3, blob_every=5)
    monkeypatch.setitem(BACKENDS, "mediapipe", lambda f, opts, d: alphas.copy())
    monkeypatch.setitem(BACKENDS, "rvm", lambda f, opts, d: alphas.copy())
    return frames, truth, alphas, polluted


@pytest.mark.parametrize("backend", ["mediapipe", "rvm", "auto"])
def test_compute_mattes_runs_the_check_after_a_learned_backend(fake_mediapipe, backend, tmp_path):
    frames, truth, alphas, polluted = fake_mediapipe
    opts = MatteOptions(backend=backend, rvm_weights=str(tmp_path / "absent.pth"))  # auto: mediapipe
    report: dict = {}
    on = compute_mattes(frames, opts, report=report)
    assert report["backdrop_check"]["applied"] and report["backdrop_check"]["frames_touched"] == polluted.sum()
    assert _iou(on, truth).min() > 0.99
    report = {}
    off = compute_mattes(frames, dataclasses.replace(opts, backdrop_check=False), report=report)
    np.testing.assert_array_equal(off, alphas)
    assert report["backdrop_check"] == {"applied": False, "skipped": "option backdrop_check is off"}


def test_run_matte_records_the_check_in_meta_and_background_is_untouched(fake_mediapipe, tmp_path, capsys):
    frames, truth, alphas, polluted = fake_mediapipe
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:06d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    run_matte(folder, tmp_path / "m", MatteOptions(backend="mediapipe"))
    meta = json.loads((tmp_path / "m" / "meta.json").read_text())
    check = meta["backdrop_check"]
    assert check["applied"] and check["frames_touched"] == polluted.sum() and check["removed"] > 0.01
    assert check["worst_frames"][0][1] > 0.05
    assert "matte backdrop check: removed" in capsys.readouterr().out
    written = np.stack([read_image(p, gray=True) for p in list_frames(tmp_path / "m")])
    assert _iou(written, truth).min() > 0.99
    run_matte(folder, tmp_path / "b", MatteOptions(backend="background"))
    assert "backdrop_check" not in json.loads((tmp_path / "b" / "meta.json").read_text())
