"""PSNR / SSIM values and face/hand crop boxes."""

import math

import numpy as np
import pytest

from talkinnerf.evaluate.metrics import PSNR_CAP, LpipsMetric, psnr, ssim, ssim_split
from talkinnerf.evaluate.regions import centred_box, region_boxes
from test_train_standin import make_camera


def test_psnr_identical_is_capped():
    a = np.random.default_rng(0).random((16, 16, 3))
    assert psnr(a, a) == PSNR_CAP


def test_psnr_known_noise():
    rng = np.random.default_rng(1)
    gt = np.full((128, 128, 3), 0.5)
    pred = gt + rng.normal(0, 0.05, gt.shape)            # MSE = 0.0025 -> 26.02 dB
    assert abs(psnr(pred, gt) - 10 * math.log10(1 / 0.0025)) < 0.1


def test_ssim_identical_and_degraded():
    rng = np.random.default_rng(2)
    a = rng.random((32, 32, 3))
    assert math.isclose(ssim(a, a), 1.0, abs_tol=1e-9)
    smooth = np.broadcast_to(np.linspace(0.2, 0.8, 32)[None, :, None], (32, 32, 3)).copy()
    assert ssim(smooth, np.clip(smooth + rng.normal(0, 0.2, smooth.shape), 0, 1)) < 0.5
    assert math.isclose(ssim(a[:7, :7], a[:7, :7]), 1.0, abs_tol=1e-9)    # small crop: uniform window
    assert math.isnan(ssim(a[:2, :2], a[:2, :2]))


def _person_frame(side: int = 64, pad: int = 0):
    """A textured 'person' (a 24x16 px block, matte 1) on a black background, and a render that differs only deep
    inside the person (more than SSIM's 5 px window radius from its edge)."""
    rng = np.random.default_rng(3)
    gt = np.zeros((side, side, 3))
    alpha = np.zeros((side, side))
    gt[20:44, 24:40] = rng.uniform(0.2, 0.8, (24, 16, 3))
    alpha[20:44, 24:40] = 1.0
    pred = gt.copy()
    pred[28:36, 30:34] += rng.normal(0, 0.15, (8, 4, 3))
    pred = pred.clip(0, 1)
    widen = lambda a: np.pad(a, [(pad, pad), (pad, pad)] + [(0, 0)] * (a.ndim - 2))  # noqa: E731
    return widen(pred), widen(gt), widen(alpha)


def test_ssim_split_recomposes_the_full_frame_ssim():
    pred, gt, alpha = _person_frame()
    split = ssim_split(pred, gt, alpha)
    assert split["person_share"] == pytest.approx((alpha[5:-5, 5:-5] > 0.5).mean())
    recomposed = split["person_share"] * split["ssim_person"] + (1 - split["person_share"]) * split["ssim_background"]
    assert recomposed == pytest.approx(ssim(pred, gt), abs=1e-9)
    # the render differs only deep inside the person: the background part is exact, the person part is not
    assert split["ssim_background"] == pytest.approx(1.0, abs=1e-9)
    assert split["ssim_person"] < 0.99


def test_ssim_split_person_part_ignores_the_framing():
    """More black background around the same person raises the full-frame SSIM and leaves the person's part."""
    tight, wide = _person_frame(), _person_frame(pad=48)
    a, b = ssim_split(*tight), ssim_split(*wide)
    assert b["ssim_person"] == pytest.approx(a["ssim_person"], abs=1e-9)
    assert b["person_share"] < a["person_share"] / 3
    # the background part is exact, so the full frame's shortfall shrinks with the person's share
    assert 1 - ssim(*wide[:2]) == pytest.approx((1 - ssim(*tight[:2])) * b["person_share"] / a["person_share"],
                                                rel=1e-6)


def test_ssim_split_rejects_mismatched_shapes_and_tiny_frames():
    pred, gt, alpha = _person_frame()
    with pytest.raises(ValueError, match="ssim_split"):
        ssim_split(pred, gt, alpha[:-1])
    tiny = ssim_split(pred[:10, :10], gt[:10, :10], alpha[:10, :10])     # below the 11 px window
    assert all(math.isnan(v) for v in tiny.values())
    smallest = ssim_split(pred[18:29, 22:33], gt[18:29, 22:33], alpha[18:29, 22:33])   # 11 px: one map pixel
    assert smallest["person_share"] == 1.0 and not math.isnan(smallest["ssim_person"])
    # float32 renders (as evaluation passes them) split like float64 ones
    f32 = ssim_split(pred.astype(np.float32), gt.astype(np.float32), alpha)
    assert f32["ssim_person"] == pytest.approx(ssim_split(pred, gt, alpha)["ssim_person"], abs=1e-5)
    empty = ssim_split(pred, gt, np.zeros_like(alpha))
    assert math.isnan(empty["ssim_person"]) and empty["person_share"] == 0.0


def test_lpips_metric_na_without_weights(tmp_path, monkeypatch):
    import torch
    import pytest

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setenv("TALKINNERF_WEIGHTS", str(tmp_path / "empty"))     # the pretrained cache, empty
    with pytest.warns(UserWarning, match="LPIPS metric n/a"):
        m = LpipsMetric(True)
    assert not m.available and m.status.startswith("n/a: ")
    assert math.isnan(m(np.zeros((32, 32, 3)), np.zeros((32, 32, 3))))


def test_centred_box_shifts_inside_and_rejects_outside():
    assert centred_box(np.array([1.0, 1.0]), 10, 64) == (0, 10, 0, 10)
    assert centred_box(np.array([63.0, 32.0]), 10, 64) == (27, 37, 54, 64)
    assert centred_box(np.array([70.0, 32.0]), 10, 64) is None


def test_region_boxes_follow_projected_joints():
    size = 100
    K, R, t = make_camera(size)
    joints = np.zeros((55, 3), np.float32)
    joints[[15, 22, 23, 24]] = [0.0, 0.5, 0.0]            # head above the centre -> smaller row
    joints[[20, *range(25, 40)]] = [0.5, 0.0, 0.0]        # left hand at +x -> larger column
    joints[[21, *range(40, 55)]] = [-0.5, 0.0, 0.0]
    boxes = region_boxes(joints, K, R, t, size, face_frac=0.2, hand_frac=0.1)
    r0, r1, c0, c1 = boxes["face"]
    assert (r1 - r0, c1 - c0) == (20, 20) and (r0 + r1) / 2 < 50 and abs((c0 + c1) / 2 - 50) <= 1
    assert (boxes["left_hand"][2] + boxes["left_hand"][3]) / 2 > 60
    assert (boxes["right_hand"][2] + boxes["right_hand"][3]) / 2 < 40


def test_resize_square_keeps_values_and_shape():
    from talkinnerf.evaluate.metrics import resize_square

    flat = np.full((13, 13, 3), 0.25, np.float32)
    assert resize_square(flat, 64).shape == (64, 64, 3)
    assert np.allclose(resize_square(flat, 64), 0.25, atol=1e-6)
    assert np.allclose(resize_square(np.full((200, 100, 3), 0.5), 64), 0.5, atol=1e-6)


def test_small_hand_crop_gets_an_lpips_value_after_resizing():
    import pytest

    from talkinnerf.evaluate.render_eval import frame_metrics

    m = LpipsMetric(True)
    if not m.available:
        pytest.skip(f"LPIPS weights not in the cache ({m.status}): `talkinnerf weights fetch lpips`")
    rng = np.random.default_rng(3)
    gt = rng.random((128, 128, 3))
    pred = np.clip(gt + rng.normal(0, 0.1, gt.shape), 0, 1)
    boxes = {"face": (10, 30, 10, 30), "left_hand": (60, 73, 60, 73), "right_hand": None}   # 13 px hand
    native = frame_metrics(pred, gt, boxes, m, region_lpips_size=0)
    resized = frame_metrics(pred, gt, boxes, m)
    assert native["lpips_hands"] > 0.01                      # below VGG's 16 px minimum: enlarged to 16 px
    assert resized["lpips_hands"] > 0.01                     # noise is seen once resized
    assert frame_metrics(gt, gt, boxes, m)["lpips_hands"] < 1e-3
    assert native["psnr_hands"] == resized["psnr_hands"]     # PSNR stays at native pixels
