"""The person crop: box rules, landmark extents, and MediaPipe Pose on real footage (shared/realvid, CC BY 4.0,
copyright Intel Corporation, intel-iot-devkit/sample-videos; skipped where the clips are absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from talkinnerf.video.decode import DecodeOptions, decode_video
from talkinnerf.video.encode import write_video
from talkinnerf.video.person_box import CropBox, landmark_extent, person_box, snap_box, union_extent

from shared_data import SHARED_DIR

REALVID = SHARED_DIR / "realvid"
needs_realvid = pytest.mark.skipif(not (REALVID / "book.mkv").is_file(), reason="shared/realvid clips absent")


def test_detector_box_zooms_in_below_the_short_side():
    # a person 160 px tall in a 640x480 frame: side 1.25 * 160 = 200, centred on the person
    box = person_box((300, 200, 380, 360), 640, 480, 1.25, min_side=128)
    assert box == CropBox(240, 180, 200)
    # near the edge the square slides inside the frame instead of padding
    assert person_box((560, 380, 640, 480), 640, 480, 1.25, min_side=64) == CropBox(515, 355, 125)
    # the floor (never upsample past the source: size 128) and the motion rule (never below the short side)
    assert person_box((300, 200, 340, 240), 640, 480, 1.25, min_side=128).side == 128
    assert person_box((300, 200, 380, 360), 640, 480, 1.25).side == 480
    # the person fits the short side but the margin would not: the short side, no padding
    assert person_box((100, 20, 400, 470), 640, 480, 1.25, min_side=128) == CropBox(10, 0, 480)
    # wider than the short side: the square grows up to the long side, centred and padded vertically
    assert person_box((0, 100, 600, 300), 640, 480, 1.25, min_side=128) == CropBox(0, -80, 640)


def test_snap_box_keeps_covering_on_whole_decoder_pixels():
    box = snap_box(CropBox(101, 37, 203), 640, 480, 4)
    assert box.x0 % 4 == 0 and box.y0 % 4 == 0 and box.side % 4 == 0 and box.side >= 203
    assert abs(box.x0 + box.side / 2 - (101 + 203 / 2)) <= 4
    assert snap_box(CropBox(-3, 0, 7), 8, 6, 1) == CropBox(-3, 0, 7)


def _standing(cx=100.0, top=50.0, scale=1.0):
    """33 MediaPipe-like landmarks of an upright person facing the camera (pixels)."""
    p = np.zeros((33, 2))
    s = scale
    p[0] = (cx, top + 30 * s)                                     # nose
    p[1:7] = [(cx + d * s, top + 22 * s) for d in (-4, -7, -10, 4, 7, 10)]  # eyes
    p[7], p[8] = (cx - 14 * s, top + 25 * s), (cx + 14 * s, top + 25 * s)  # ears
    p[9], p[10] = (cx - 5 * s, top + 38 * s), (cx + 5 * s, top + 38 * s)   # mouth
    p[11], p[12] = (cx + 35 * s, top + 60 * s), (cx - 35 * s, top + 60 * s)
    p[13], p[14] = (cx + 40 * s, top + 110 * s), (cx - 40 * s, top + 110 * s)
    p[15], p[16] = (cx + 42 * s, top + 155 * s), (cx - 42 * s, top + 155 * s)
    for i, dy in zip((17, 19, 21), (18, 20, 12)):
        p[i] = (cx + 44 * s, top + (155 + dy) * s)
        p[i + 1] = (cx - 44 * s, top + (155 + dy) * s)
    p[23:33] = [(cx, top + 170 * s)] * 10
    return p


def test_landmark_extent_grows_the_head_and_hands():
    p = _standing()
    visible = np.ones(33, bool)
    visible[25:] = False                                          # knees down out of view
    x0, y0, x1, y1 = landmark_extent(p, visible)
    assert y0 < 50 + 22 - 15                                      # the skull top is well above the eyes
    assert y1 > 50 + 175 + 10                                     # fingertips beyond the knuckles
    assert x1 - x0 > 2 * 44
    assert landmark_extent(p, np.zeros(33, bool)) is None


def test_union_extent_ignores_a_far_false_detection_and_clips():
    boxes = [(100, 50, 200, 300), (110, 40, 210, 310), (90, 60, 190, 305), (600, 10, 630, 40)]
    assert union_extent(boxes, 640, 480) == (90, 40, 210, 310)
    assert union_extent([(-20, -5, 100, 500)], 640, 480) == (0, 0, 100, 480)


def test_auto_falls_back_to_motion_when_nobody_is_found(tmp_path, capsys):
    T, H, W = 8, 48, 96
    frames = np.full((T, H, W, 3), 90, np.uint8)
    for t in range(T):
        frames[t, 10:40, 70 + t % 3:80 + t % 3] = (250, 40, 40)  # a moving block, no person
    write_video(tmp_path / "v.mp4", frames, 10)
    meta = decode_video(tmp_path / "v.mp4", tmp_path / "f", DecodeOptions(size=24, person_samples=4))
    assert meta["crop"]["detector"] == "motion" and meta["crop"]["detected"] == [0, 4]
    assert "mediapipe found no person" in capsys.readouterr().out
    assert meta["crop"]["box"][2] == 48                           # motion never zooms past the short side


def _clip(name, frames=12):
    import av

    with av.open(str(REALVID / name)) as c:
        out = []
        for f in c.decode(video=0):
            out.append(f.to_ndarray(format="rgb24"))
            if len(out) == frames:
                break
    return np.stack(out)


@needs_realvid
def test_mediapipe_box_on_a_real_clip(tmp_path):
    meta = decode_video(REALVID / "book.mkv", tmp_path / "f",
                        DecodeOptions(size=128, max_seconds=1.0, person_samples=5))
    crop = meta["crop"]
    assert crop["detector"] == "mediapipe" and crop["detected"][0] >= 4
    x0, y0, x1, y1 = crop["person"]
    assert 150 < x0 < x1 < 480 and y0 < 130 and y1 == 480       # head to the frame bottom, in the middle
    assert crop["box"][2] == 480 and crop["box"][1] == 0          # she fills the height: the short side
    assert x0 >= crop["box"][0] and x1 <= crop["box"][0] + 480


@needs_realvid
def test_a_small_person_is_zoomed_in(tmp_path):
    """The book clip shrunk to a third and pasted into a flat 640x480 frame: the box follows the person."""
    import cv2

    small = np.stack([cv2.resize(f, (213, 160), interpolation=cv2.INTER_AREA) for f in _clip("book.mkv", 10)])
    frames = np.full((len(small), 480, 640, 3), 128, np.uint8)
    frames[:, 300:460, 380:593] = small                           # the person ~130 px tall, bottom right
    write_video(tmp_path / "small.mp4", frames, 30)
    meta = decode_video(tmp_path / "small.mp4", tmp_path / "f", DecodeOptions(size=128, person_samples=4))
    crop = meta["crop"]
    assert crop["detector"] == "mediapipe"
    bx, by, side = crop["box"]
    px0, py0, px1, py1 = crop["person"]
    assert 128 <= side < 240                                      # zoomed in well past the short side (480)
    assert bx <= px0 and by <= py0 and px1 <= bx + side and py1 <= by + side
    assert (py1 - py0) * meta["transform"]["scale"] > 75          # the person is most of the 128 px frame


@needs_realvid
def test_a_person_filling_a_square_frame_keeps_the_whole_frame(tmp_path):
    """Like the demo renders: a 128 px square video the person already fills."""
    import cv2

    frames = np.stack([cv2.resize(f[:, 80:560], (128, 128), interpolation=cv2.INTER_AREA)
                       for f in _clip("again.mkv", 8)])
    write_video(tmp_path / "sq.mp4", frames, 12)
    meta = decode_video(tmp_path / "sq.mp4", tmp_path / "f", DecodeOptions(size=128, person_samples=4))
    assert meta["crop"]["detector"] == "mediapipe" and meta["crop"]["box"] == [0, 0, 128]
    assert meta["transform"] == {"scale": 1.0, "offset": [0.0, 0.0]}
