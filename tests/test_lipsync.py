"""Lip-sync agreement (Table 4 stand-in): the agreement statistic and the FaceMesh mouth meter."""

from __future__ import annotations

import math

import numpy as np
import pytest

from talkinnerf.evaluate.lipsync import (LipsyncConfig, agreement, face_boxes, lagged, mouth_openings,
                                         shifted_boxes)
from shared_data import SHARED_DIR


def _talking(n=80, seed=0):
    """A mouth that opens and closes irregularly (syllables), like a talking driver."""
    rng = np.random.default_rng(seed)
    syllables = np.convolve(rng.random(n) > 0.6, np.hanning(5), mode="same")
    return 0.02 + 0.05 * syllables / syllables.max()


def test_a_mouth_that_follows_the_driver_agrees_and_a_shuffled_one_does_not():
    driver = _talking()
    rng = np.random.default_rng(1)
    rendered = driver + rng.normal(0, 0.004, driver.shape)          # same timing, render noise
    good = agreement(rendered, driver, max_lag=3)
    assert good["corr"] > 0.85 and good["offset"] == 0 and good["frames"] == len(driver)
    shuffled = agreement(rng.permutation(rendered), driver, max_lag=0)
    assert abs(shuffled["corr"]) < 0.3
    static = agreement(np.full_like(driver, 0.03), driver)         # HumanNeRF's average expression: no signal
    assert math.isnan(static["corr"])


def test_offset_is_the_lag_of_the_render_behind_the_driver():
    driver = _talking(seed=3)
    rendered = np.concatenate([driver[:2], driver[:-2]])             # the render trails by 2 frames
    result = agreement(rendered, driver, max_lag=3)
    assert result["offset"] == 2 and result["corr_best"] > 0.99 > result["corr"]
    a, b = lagged(np.arange(5.0), np.arange(5.0), 2)
    assert list(a) == [2, 3, 4] and list(b) == [0, 1, 2]


def test_frames_without_a_face_are_left_out_and_counted():
    driver = _talking()
    rendered = driver.copy()
    rendered[::4] = np.nan
    result = agreement(rendered, driver, max_lag=0)
    assert result["frames"] == len(driver) - len(driver[::4]) and result["corr"] > 0.99
    assert result["detected_render"] == result["frames"] and result["detected_driver"] == len(driver)


def test_boxes_follow_the_driver_and_stay_in_frame():
    anchor = (10, 40, 50, 80)
    driver = [(20, 50, 30, 60), (25, 55, 28, 58), (120, 150, 30, 60)]
    boxes = shifted_boxes(anchor, driver, 128)
    assert boxes[0] == anchor and boxes[1] == (15, 45, 48, 78)
    assert boxes[2][1] <= 128 and boxes[2][1] - boxes[2][0] == 30


def _clip_frames(name: str, count: int):
    av = pytest.importorskip("av")
    path = SHARED_DIR / "realvid" / name
    if not path.is_file():
        pytest.skip(f"shared clip {path} is absent")
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for _, f in zip(range(count), container.decode(video=0))]
    return np.stack(frames)


def test_facemesh_reads_a_real_talking_face_and_a_delayed_copy_agrees():
    frames = _clip_frames("again.mkv", 40)
    # the man's face lies in the upper middle of the 640x480 frame: one fixed square crop
    h, w = frames.shape[1:3]
    box = (0, 240, w // 2 - 120, w // 2 + 120)
    cfg = LipsyncConfig(crop_size=256)
    opening = mouth_openings(list(frames), [box] * len(frames), cfg)
    assert np.isfinite(opening).mean() > 0.8, opening                # a face is found in most frames
    assert np.nanstd(opening) > 0                                     # and the measure moves with the mouth
    delayed = np.concatenate([opening[:1], opening[:-1]])
    assert agreement(delayed, opening, max_lag=2)["offset"] == 1


def test_face_boxes_from_joints_lie_in_frame():
    from talkinnerf.body.joints import JAW_INDEX

    joints = np.zeros((2, 55, 3))
    joints[:, 15] = joints[:, JAW_INDEX] = [0, 0, 0]
    K = np.array([[100.0, 0, 64], [0, 100.0, 64], [0, 0, 1]])[None].repeat(2, 0)
    R = np.eye(3)[None].repeat(2, 0)
    t = np.array([[0, 0, 2.0], [5.0, 0, 2.0]])                         # second frame: face off to the side
    boxes = face_boxes(joints, K, R, t, 128, 0.3)
    assert boxes[0][1] - boxes[0][0] == round(0.3 * 128) and boxes[1] == boxes[0]
