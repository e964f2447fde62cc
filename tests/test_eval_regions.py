"""Face and hand boxes of the region metrics (issue 18): a face detector's box on the ground-truth frame, hand boxes
from the part labels, the joint-box fallback and its count, LPIPS on crops below VGG's minimum."""

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from talkinnerf.evaluate.metrics import LpipsMetric, enlarge_to_min_side
from talkinnerf.evaluate.regions import (FaceDetector, RegionFinder, RegionOptions, detector_region_boxes,
                                         hand_boxes_from_labels, joint_centres, region_boxes, square_box)
from shared_data import SHARED_DIR
from test_train_standin import make_camera, make_subject

REALVID = SHARED_DIR / "realvid" / "book.mkv"   # Intel sample-videos, CC BY 4.0 (shared/realvid/README.md)


def _square(box, size):
    r0, r1, c0, c1 = box
    assert r1 - r0 == c1 - c0 > 0, box
    assert 0 <= r0 and r1 <= size and 0 <= c0 and c1 <= size, box
    return r1 - r0


def _book_frame(size: int) -> np.ndarray:
    """Frame 30 of the realvid clip book.mkv (640x480: a woman framed head to hips), centre square, RGB."""
    import cv2

    if not REALVID.is_file():
        pytest.skip(f"{REALVID} not present")
    cap = cv2.VideoCapture(str(REALVID))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 30)
    ok, bgr = cap.read()
    cap.release()
    assert ok
    square = np.ascontiguousarray(bgr[:, 80:560, ::-1])
    return cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA)


def _joints_at(centre_xy=(0.0, 0.0)):
    joints = np.zeros((55, 3), np.float32)
    joints[:, :2] = centre_xy
    return joints


@pytest.fixture(scope="module")
def detector():
    d = FaceDetector()
    yield d
    d.close()


@pytest.mark.parametrize("size", [256, 128])
def test_detector_finds_the_face_of_a_real_frame(detector, size):
    image = _book_frame(size)
    faces = detector(image)
    assert faces, "no face found in book.mkv frame 30"
    K, R, t = make_camera(size)
    opts = RegionOptions()
    boxes, source = detector_region_boxes(image, np.zeros((size, size), np.uint8), _joints_at(), K, R, t, opts,
                                          detector)
    assert source == "detector"
    side = _square(boxes["face"], size)
    assert side >= round(opts.face_frac * size)
    r0, r1, c0, c1 = boxes["face"]
    # the person's face: upper half of the frame, horizontally near the middle (her face is at ~40% of the width)
    assert (r0 + r1) / 2 < 0.45 * size and 0.25 * size < (c0 + c1) / 2 < 0.65 * size
    x0, y0, x1, y1, _ = faces[0]
    assert c0 <= x0 and x1 <= c1 and r0 <= y0 and y1 <= r1       # the detection lies inside the crop
    assert boxes["left_hand"] is None and boxes["right_hand"] is None   # no hand labels: no hand boxes


def test_square_box_minimum_side_scale_and_frame():
    assert square_box(10, 10, 20, 20, 100, min_side=16) == (7, 23, 7, 23)          # minimum side wins
    assert square_box(10, 10, 40, 20, 100, min_side=16, scale=1.5) == (0, 45, 2, 47)   # 1.5 x 30 px, shifted down
    assert square_box(90, 90, 100, 100, 100, min_side=30) == (70, 100, 70, 100)   # shifted inside
    assert square_box(0, 0, 100, 100, 100, min_side=10, scale=1.5) == (0, 100, 0, 100)   # at most the frame
    assert square_box(100, 0, 120, 20, 100, min_side=10) is None                  # centre outside the frame


def test_hand_boxes_from_two_labelled_blobs():
    size = 128
    labels = np.zeros((size, size), np.uint8)
    labels[40:90, 30:100] = 1                          # body
    labels[60:66, 86:94] = 3                           # left hand (subject's left: image right), 8 x 6 px
    labels[50:80, 20:40] = 3                           # right hand, 20 x 30 px
    boxes = hand_boxes_from_labels(labels, np.array([95.0, 60.0]), np.array([25.0, 70.0]), min_side=13, scale=1.2)
    left, right = boxes["left_hand"], boxes["right_hand"]
    assert _square(left, size) == 13                   # the minimum side (10% of 128)
    assert _square(right, size) == math.ceil(1.2 * 30)
    assert left[0] <= 60 and left[1] >= 66 and left[2] <= 86 and left[3] >= 94
    assert right[0] <= 50 and right[1] >= 80 and right[2] <= 20 and right[3] >= 40
    # one hand hidden: every hand pixel belongs to the nearer hand; the other has no box
    labels[50:80, 20:40] = 1
    boxes = hand_boxes_from_labels(labels, np.array([95.0, 60.0]), np.array([25.0, 70.0]), min_side=13)
    assert boxes["right_hand"] is None and boxes["left_hand"] == left
    # crossed-over joints do not matter for the split: it follows the nearer projected hand
    swapped = hand_boxes_from_labels(labels, np.array([25.0, 70.0]), np.array([95.0, 60.0]), min_side=13)
    assert swapped["right_hand"] == left and swapped["left_hand"] is None


def test_blank_frame_falls_back_to_the_joint_box_and_is_counted(tmp_path):
    """No face in the frame (a synthetic subject: flat boxes): the face box is the joint box, counted in the
    summary; hands come from the part labels; every method gets the same cached boxes."""
    from talkinnerf.train.data import load_subject

    make_subject(tmp_path / "r", "a", size=64, frames=6)
    data = load_subject(tmp_path / "r", "a", 0)
    finder = RegionFinder(data)
    frames = [0, 2, 5]
    for f in frames:
        boxes = finder.boxes(f)
        joints = region_boxes(data.params["joints"][f].numpy(), *(data.params[k][f].numpy() for k in "KRt"), 64)
        assert boxes["face"] == joints["face"]
        assert boxes["left_hand"] is not None                    # make_subject labels a 3x3 "hand"
        assert finder.boxes(f) is boxes                          # cached: the same boxes for every method
    s = finder.summary(frames)
    assert s["source"] == "detector" and s["frames"] == 3
    assert s["face_detected"] == 0 and s["face_joints_fallback"] == 3
    assert set(s["boxes"]) == {"0", "2", "5"} and s["min_side_px"] == {"face": 10, "hand": 6}
    json.dumps(s)                                                # goes into summary.json
    finder.close()


def test_joints_source_is_the_old_boxes():
    size = 100
    K, R, t = make_camera(size)
    joints = np.zeros((55, 3), np.float32)
    joints[[15, 22, 23, 24]] = [0.0, 0.5, 0.0]
    params = {"joints": torch.from_numpy(joints[None]), "K": torch.from_numpy(K[None]),
              "R": torch.from_numpy(R[None]), "t": torch.from_numpy(t[None])}
    data = SimpleNamespace(params=params, size=size, name="x", root=Path("/nonexistent"))
    finder = RegionFinder(data, RegionOptions(source="joints"))
    assert finder.boxes(0) == region_boxes(joints, K, R, t, size)
    assert "face_detected" not in finder.summary([0])
    centres = joint_centres(joints, K, R, t)
    assert centres["face"][1] < 50
    with pytest.raises(ValueError, match="regions must be one of"):
        RegionOptions(source="densepose")


def test_enlarge_to_min_side():
    small = np.full((7, 9, 3), 0.3, np.float32)
    big = enlarge_to_min_side(small, 16)
    assert big.shape == (16, 21, 3) and np.allclose(big, 0.3, atol=1e-6)
    same = np.zeros((20, 20, 3), np.float32)
    assert enlarge_to_min_side(same, 16) is same


def test_lpips_of_a_tiny_crop_is_finite():
    m = LpipsMetric(True)
    if not m.available:
        pytest.skip(f"LPIPS weights not in the cache ({m.status}): `talkinnerf weights fetch lpips`")
    rng = np.random.default_rng(0)
    gt = rng.random((9, 9, 3))
    pred = np.clip(gt + rng.normal(0, 0.2, gt.shape), 0, 1)
    value = m(pred, gt)                                  # 9 px: enlarged bilinearly to 16 px
    assert math.isfinite(value) and value > 0.01
    assert m(gt, gt) < 1e-3


def test_evaluate_render_records_the_regions(tmp_path, monkeypatch):
    import talkinnerf.evaluate.render_eval as render_eval
    from talkinnerf.evaluate.render_eval import EvalConfig, evaluate_render
    from talkinnerf.options import from_dict
    from talkinnerf.train.trainer import TrainConfig, fit
    from test_train_standin import StandInNeRF, standin_render_image

    make_subject(tmp_path / "r", "a", size=32, frames=6)
    cfg = TrainConfig(iterations=2, patches=1, patch_size=16, progress=False, lpips=False, tensorboard=False,
                      threads=1)
    cfg.model.samples_per_ray = 4
    fit(["a"], tmp_path / "r", tmp_path / "m", cfg, model_factory=StandInNeRF)
    monkeypatch.setattr(render_eval, "get_render_fn", lambda: standin_render_image)
    summaries = {}
    for source in ("detector", "joints"):
        ecfg = from_dict(EvalConfig, {"regions": source, "lpips": False, "video": False}, "evaluate")
        summaries[source] = evaluate_render(tmp_path / "m" / "model.pt", "a", tmp_path / "r", tmp_path / source,
                                            ecfg, model_factory=StandInNeRF)
    det, old = summaries["detector"]["regions"], summaries["joints"]["regions"]
    assert det["source"] == "detector" and det["frames"] == 2 and det["face_joints_fallback"] == 2
    assert old["source"] == "joints"
    assert json.loads((tmp_path / "detector" / "summary.json").read_text())["regions"]["face_detected"] == 0
    assert det["boxes"]["2"]["face"] == old["boxes"]["2"]["face"]      # no face found: the joint box
    with pytest.raises(ValueError, match="regions must be one of"):
        EvalConfig(regions="densepose")
