"""Preprocessing-accuracy metrics on hand-made inputs, and one subject end to end on a tiny synthetic gt."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from talkinnerf.evaluate import preprocess_accuracy as pa
from talkinnerf.io import save_npz, write_json
from talkinnerf.video.frames import write_gray_png


def test_mask_iou():
    a = np.zeros((4, 4), bool)
    a[:2] = True
    assert pa.mask_iou(a, a) == 1.0
    assert pa.mask_iou(a, ~a) == 0.0
    b = np.zeros((4, 4), bool)
    b[:1] = True
    assert pa.mask_iou(a, b) == pytest.approx(0.5)
    assert pa.mask_iou(np.zeros((2, 2)), np.zeros((2, 2))) == 1.0


def test_keypoint_error_uses_detected_and_visible_points():
    pred = np.array([[[3.0, 4.0, 0.9], [10.0, 0.0, 0.0], [1.0, 1.0, 0.5]]])
    gt = np.zeros((1, 3, 2))
    err, n = pa.keypoint_error(pred, gt, np.array([[True, True, False]]))
    assert n == 1 and err == pytest.approx(5.0)
    assert math.isnan(pa.keypoint_error(pred, gt, np.zeros((1, 3), bool))[0])


def test_root_aligned_error_ignores_translation():
    rng = np.random.default_rng(0)
    joints = rng.normal(size=(3, 55, 3))
    assert pa.root_aligned_error(joints + np.array([1.0, -2.0, 5.0]), joints, pa.BODY_JOINTS) == pytest.approx(0)
    moved = joints.copy()
    moved[:, 5] += np.array([0.0, 0.3, 0.4])  # one of 22 joints off by 0.5
    assert pa.root_aligned_error(moved, joints, pa.BODY_JOINTS) == pytest.approx(0.5 / 22)


def test_project_frontal_camera():
    K = np.array([[100.0, 0, 50], [0, 100.0, 40], [0, 0, 1]])
    R = np.diag([1.0, -1.0, -1.0])
    t = np.array([0.0, 0.0, 2.0])
    uv = pa.project(np.array([[[0.0, 0.0, 0.0], [0.2, 0.4, 0.0]]]), K, R, t)
    assert np.allclose(uv[0], [[50, 40], [60, 20]])  # +y (up) goes to smaller v


def test_parts_scores():
    gt = np.array([[0, 1], [2, 3]])
    perfect = pa.confusion(gt, gt)
    assert pa.parts_scores(perfect) == pytest.approx((1.0, 1.0))  # class 4 absent: left out of the mean
    pred = np.array([[0, 1], [2, 2]])
    acc, miou = pa.parts_scores(pa.confusion(pred, gt))
    assert acc == pytest.approx(0.75)
    assert miou == pytest.approx((1 + 1 + 0.5 + 0) / 4)
    with pytest.raises(ValueError):
        pa.confusion(np.array([5]), np.array([0]))


def _subject(tmp_path):
    """Video 40x20 (2 video frames kept of 3), frames 16x16 = crop x0=10 side 20, scale 0.8."""
    rng = np.random.default_rng(1)
    gt, frames = tmp_path / "gt", tmp_path / "frames"
    a, ox, oy = 0.8, -8.0, 0.0
    meta = {"count": 2, "size": 16, "source_size": [40, 20], "source_frames": [0, 2],
            "transform": {"scale": a, "offset": [ox, oy]}}
    write_json(frames / "meta.json", meta)
    K = np.array([[30.0, 0, 20], [0, 30.0, 10], [0, 0, 1]])
    R, t = np.diag([1.0, -1.0, -1.0]), np.array([0.0, 0.0, 3.0])
    write_json(gt / "camera.json", {"K": K, "R": R, "t": t, "width": 40, "height": 20, "fps": 25})
    joints = rng.normal(scale=0.3, size=(3, 55, 3)).astype(np.float32)
    np.save(gt / "joints3d.npy", joints)
    kp = {}
    for part, n in (("body", 25), ("left_hand", 21), ("right_hand", 21), ("face", 70)):
        kp[part] = rng.uniform(10, 30, size=(3, n, 2))
        kp[f"{part}_visible"] = rng.random((3, n)) > 0.2
    save_npz(gt / "keypoints2d.npz", **kp)
    (gt / "alpha").mkdir()
    (gt / "parts").mkdir()
    for i in range(3):
        alpha = np.zeros((20, 40), np.uint8)
        alpha[2:18, 15:25] = 255
        labels = np.zeros((20, 40), np.uint8)
        labels[2:6, 15:25], labels[6:18, 15:25], labels[10:12, 12:15] = 4, 1, 3
        write_gray_png(gt / "alpha" / f"{i:06d}.png", alpha)
        write_gray_png(gt / "parts" / f"{i:06d}.png", labels)
    # "predictions": the ground truth itself, in frame pixels
    (tmp_path / "matte").mkdir()
    (tmp_path / "parts").mkdir()
    for k, src in enumerate(meta["source_frames"]):
        alpha = pa.warp_to_frame(np.asarray(
            __import__("cv2").imread(str(gt / "alpha" / f"{src:06d}.png"), 0)), meta["transform"], 16, False)
        write_gray_png(tmp_path / "matte" / f"{k:06d}.png", alpha)
        labels = pa.warp_to_frame(np.asarray(
            __import__("cv2").imread(str(gt / "parts" / f"{src:06d}.png"), 0)), meta["transform"], 16, True)
        write_gray_png(tmp_path / "parts" / f"{k:06d}.png", labels)
    det = {}
    for part in ("body", "left_hand", "right_hand", "face"):
        xy = kp[part][[0, 2]] * a + np.array([ox, oy])
        det[part] = np.concatenate([xy + 1.0, np.ones(xy.shape[:2] + (1,))], -1).astype(np.float32)  # 1 px off in x, y
    save_npz(tmp_path / "kp.npz", **det)
    K_frame = np.array([[a * 30, 0, a * 20 + ox], [0, a * 30, a * 10 + oy], [0, 0, 1]])
    fit_R = np.tile(R, (2, 1, 1))
    save_npz(tmp_path / "smplx.npz", joints=joints[[0, 2]] + np.array([0.1, 0.0, 0.0], np.float32),
             K=np.tile(K_frame, (2, 1, 1)), R=fit_R, t=np.tile(t, (2, 1)))
    return gt, frames


def test_evaluate_subject_on_exact_predictions(tmp_path):
    gt, frames = _subject(tmp_path)
    row = pa.evaluate_subject("s", gt, frames, matte=tmp_path / "matte", keypoints=tmp_path / "kp.npz",
                              smplx=tmp_path / "smplx.npz", parts=tmp_path / "parts")
    assert row["frames"] == 2
    assert row["matte_iou"] == pytest.approx(1.0)
    assert row["keypoints_px"] == pytest.approx(math.sqrt(2))
    assert row["keypoints_body_px"] == pytest.approx(math.sqrt(2))
    assert 0.6 < row["keypoints_detected"] <= 1.0
    assert row["joints3d_body_mm"] == pytest.approx(0, abs=1e-3)   # a pure translation is aligned away
    assert row["joints3d_hands_mm"] == pytest.approx(0, abs=1e-3)
    assert row["joints2d_body_px"] > 0.1                          # but the translation shows in 2D
    assert row["parts_accuracy"] == pytest.approx(1.0) and row["parts_miou"] == pytest.approx(1.0)

    from talkinnerf.cli import main

    out = tmp_path / "acc.csv"
    assert main(["evaluate", "preprocess", "--subject", "s", "--gt", str(gt), "--frames", str(frames),
                 "--matte", str(tmp_path / "matte"), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert rows[0]["subject"] == "s" and float(rows[0]["matte_iou"]) == pytest.approx(1.0)
    assert rows[0]["joints3d_body_mm"] == ""


def test_joint_2d_error_is_zero_with_the_matching_camera(tmp_path):
    gt, frames = _subject(tmp_path)
    fit = dict(np.load(tmp_path / "smplx.npz"))
    fit["joints"] = np.load(gt / "joints3d.npy")[[0, 2]]
    save_npz(tmp_path / "exact.npz", **fit)
    metrics = pa.joint_metrics(tmp_path / "exact.npz", gt, __import__("json").loads((frames / "meta.json").read_text()))
    assert metrics["joints2d_body_px"] == pytest.approx(0, abs=1e-4)
    assert metrics["joints2d_hands_px"] == pytest.approx(0, abs=1e-4)


def test_missing_ground_truth_names_the_subject(tmp_path):
    gt, frames = _subject(tmp_path)
    (gt / "alpha" / "000002.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"subject s: .*000002.png"):
        pa.evaluate_subject("s", gt, frames, matte=tmp_path / "matte")


def test_warp_to_frame_agrees_with_the_point_transform():
    from talkinnerf.video.decode import apply_transform

    image = np.zeros((40, 60), np.uint8)
    image[20:24, 30:34] = 255  # centre (32, 22) in video pixels
    transform = {"scale": 0.5, "offset": [-6.0, 3.0]}
    warped = pa.warp_to_frame(image, transform, 24, nearest=False).astype(np.float64)
    ys, xs = np.mgrid[0:24, 0:24]
    centroid = [((xs + 0.5) * warped).sum() / warped.sum(), ((ys + 0.5) * warped).sum() / warped.sum()]
    assert np.allclose(centroid, apply_transform([32.0, 22.0], transform), atol=1e-6)
