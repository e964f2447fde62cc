"""MediaPipe keypoints: Holistic → OpenPose mapping on synthetic arrays, the backend on a fake tracker (transform,
repeated frames, progress lines, the no-person error), `auto` selection, and real Holistic on a real clip."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest

from talkinnerf.io import load_npz, write_json
from talkinnerf.preprocess.keypoints import (KeypointOptions, extract_keypoints, holistic_to_openpose,
                                             resolve_backend)
from talkinnerf.preprocess.keypoints.mediapipe import BODY_FROM_POSE, FACE_FROM_MESH, HAND_FROM_POSE

from shared_data import SHARED_DIR

REALVID = SHARED_DIR / "realvid"
W, H = 640, 480


def _pose(vis=0.9):
    """(33,4) pose with distinct in-image normalised points: point i at (0.1 + 0.02 i, 0.05 + 0.025 i)."""
    i = np.arange(33, dtype=np.float64)
    return np.column_stack([0.1 + 0.02 * i, 0.05 + 0.025 * i, np.zeros(33), np.full(33, vis)])


def _px(norm_xy, scale=1.0):
    return np.asarray(norm_xy) * [W, H] / scale


def test_body_mapping_neck_mid_hip_and_toes():
    pose = _pose()
    pose[12, 3] = 0.8  # right shoulder: the neck takes the lower of the two visibilities
    body = holistic_to_openpose(pose, None, None, None, W, H)["body"]
    assert body.shape == (25, 3)
    for op, mp in BODY_FROM_POSE.items():
        assert body[op, :2] == pytest.approx(_px(pose[mp, :2])), op
        assert body[op, 2] == pytest.approx(pose[mp, 3])
    assert body[1, :2] == pytest.approx(_px((pose[11, :2] + pose[12, :2]) / 2)) and body[1, 2] == pytest.approx(0.8)
    assert body[8, :2] == pytest.approx(_px((pose[23, :2] + pose[24, :2]) / 2)) and body[8, 2] == pytest.approx(0.9)
    assert not body[20].any() and not body[23].any()  # small toes: no MediaPipe counterpart
    # OpenPose's "right" is the subject's right: MediaPipe 12 (right shoulder) -> 2, 16 (right wrist) -> 4
    assert body[2, :2] == pytest.approx(_px(pose[12, :2])) and body[7, :2] == pytest.approx(_px(pose[15, :2]))


def test_visibility_threshold_and_outside_points_are_zero():
    pose = _pose()
    pose[14, 3] = 0.3    # right elbow below 0.5
    pose[11, 3] = 0.2    # left shoulder: also removes the neck
    pose[27, 0] = 1.2    # left ankle outside the image (MediaPipe guesses past the border)
    pose[28, 1] = -0.01  # right ankle above the top edge
    body = holistic_to_openpose(pose, None, None, None, W, H, min_visibility=0.5)["body"]
    for op in (3, 5, 1, 14, 11):
        assert not body[op].any(), op
    assert body[2, 2] > 0 and body[8, 2] > 0
    lenient = holistic_to_openpose(pose, None, None, None, W, H, min_visibility=0.1)["body"]
    assert lenient[3, 2] == pytest.approx(0.3) and lenient[1, 2] == pytest.approx(0.2)
    nothing = holistic_to_openpose(None, None, None, None, W, H)
    assert all(not v.any() for v in nothing.values())
    assert nothing["face"].shape == (70, 3) and nothing["left_hand"].shape == (21, 3)


def test_hands_keep_the_subjects_sides():
    left = np.column_stack([np.linspace(0.6, 0.7, 21), np.full(21, 0.5), np.zeros(21)])
    right = np.column_stack([np.linspace(0.2, 0.3, 21), np.full(21, 0.5), np.zeros(21)])
    right[20, 0] = 1.05  # pinky tip outside the image
    parts = holistic_to_openpose(None, None, left, right, W, H, landmark_confidence=0.7)
    assert parts["left_hand"][:, :2] == pytest.approx(_px(left[:, :2]))
    assert (parts["left_hand"][:, 2] == 0.7).all()
    assert parts["right_hand"][:20, :2] == pytest.approx(_px(right[:20, :2]))
    assert not parts["right_hand"][20].any()
    only_left = holistic_to_openpose(None, None, left, None, W, H)
    assert not only_left["right_hand"].any() and (only_left["left_hand"][:, 2] == 1.0).all()


def test_a_missed_hand_takes_the_poses_wrist_and_knuckles():
    pose = _pose(vis=0.8)
    pose[17, 3] = 0.3  # the left "pinky" point below min_visibility: its stand-in stays missing
    detected = np.column_stack([np.linspace(0.6, 0.7, 21), np.full(21, 0.5), np.zeros(21)])
    parts = holistic_to_openpose(pose, None, None, detected, W, H, pose_hand_confidence=0.5)
    left = parts["left_hand"]
    # the subject's left hand: wrist <- pose 15 (left wrist), index knuckle <- 19, ring knuckle <- 17 (missing)
    assert left[0, :2] == pytest.approx(_px(pose[15, :2])) and left[0, 2] == pytest.approx(0.4)
    assert left[5, :2] == pytest.approx(_px(pose[19, :2])) and left[5, 2] == pytest.approx(0.4)
    assert not left[13].any()
    assert np.flatnonzero(left[:, 2]).tolist() == [0, 5]
    # a hand the hand model found keeps its own 21 points; none of the pose's
    assert parts["right_hand"][:, :2] == pytest.approx(_px(detected[:, :2]))
    assert (parts["right_hand"][:, 2] == 1.0).all()
    # the wrist stand-in sits on BODY_25's wrist of the same side
    assert left[0, :2] == pytest.approx(parts["body"][7, :2])
    assert HAND_FROM_POSE["right_hand"] == {0: 16, 5: 20, 13: 18}
    off = holistic_to_openpose(pose, None, None, None, W, H, pose_hand_confidence=0.0)
    assert not off["left_hand"].any() and not off["right_hand"].any()
    with pytest.raises(ValueError, match="pose_hand_confidence"):
        KeypointOptions(pose_hand_confidence=1.5)


def test_face_indices_and_pupils():
    n = np.arange(478, dtype=np.float64)
    mesh = np.column_stack([0.1 + n / 600, 0.2 + (n % 50) / 100, np.zeros(478)])  # point i <-> unique x
    face = holistic_to_openpose(None, mesh, None, None, W, H)["face"]
    assert len(FACE_FROM_MESH) == 70 and len(set(FACE_FROM_MESH)) == 70
    assert FACE_FROM_MESH[8] == 152 and FACE_FROM_MESH[30] == 4 and FACE_FROM_MESH[36] == 33  # chin, nose tip, eye
    for k, i in enumerate(FACE_FROM_MESH):
        assert face[k, :2] == pytest.approx(_px(mesh[i, :2])), k
    assert face[68, :2] == pytest.approx(_px(mesh[468, :2])) and face[69, :2] == pytest.approx(_px(mesh[473, :2]))
    assert (face[:, 2] == 1.0).all()
    no_iris = holistic_to_openpose(None, mesh[:468], None, None, W, H)["face"]
    assert no_iris[:68].all() and not no_iris[68:].any()
    with pytest.raises(ValueError, match="478"):
        holistic_to_openpose(None, mesh[:100], None, None, W, H)


def test_image_scale_maps_back_to_source_pixels():
    pose = _pose()
    # Holistic saw a 320x240 image of a 640x480 source: image pixel = 0.5 x source pixel
    half = holistic_to_openpose(pose, None, None, None, 320, 240, scale=0.5)["body"]
    full = holistic_to_openpose(pose, None, None, None, W, H)["body"]
    assert half == pytest.approx(full)


def test_auto_selects_openpose_only_when_its_folder_exists(tmp_path):
    assert resolve_backend("auto", tmp_path) == "openpose"
    assert resolve_backend("auto", tmp_path / "missing") == "mediapipe"
    assert resolve_backend("auto", None) == "mediapipe"
    assert resolve_backend("mediapipe", tmp_path) == "mediapipe"
    assert resolve_backend("openpose", tmp_path / "missing") == "openpose"  # reported by the backend
    with pytest.raises(ValueError, match="auto"):
        resolve_backend("magic", tmp_path)
    assert KeypointOptions().backend == "auto"


# ---------------------------------------------------------------------------------------------- fake tracker


def _landmarks(array):
    names = ("x", "y", "z", "visibility")
    return types.SimpleNamespace(landmark=[types.SimpleNamespace(**dict(zip(names, row))) for row in array])


class _FakeHolistic:
    """Stands in for mp.solutions.holistic.Holistic: a person (no hands) in frames whose image mean is > 0."""

    calls = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def process(self, image):
        type(self).calls += 1
        seen = image.mean() > 0
        return types.SimpleNamespace(pose_landmarks=_landmarks(_pose()) if seen else None, face_landmarks=None,
                                     left_hand_landmarks=None, right_hand_landmarks=None)


def _fake_subject(tmp_path, monkeypatch, person_in):
    import talkinnerf.preprocess.keypoints.mediapipe as kp_mp
    import talkinnerf.video.decode as decode

    source_frames = [0, 1, 1, 3, 4, 5]  # source frame 1 kept twice (a video with repeated frames)
    frames = tmp_path / "frames" / "alex"
    write_json(frames / "meta.json", {"count": 6, "size": 64, "source_frames": source_frames, "fps": 30.0,
                                      "stride": 1, "source_size": [W, H],
                                      "transform": {"scale": 0.1, "offset": [-2.0, 3.0]}})
    video = tmp_path / "alex.mp4"
    video.write_bytes(b"")

    def frames_of(path, meta, max_long_side=1280):
        assert Path(path) == video and max_long_side == 320
        for k, i in enumerate(meta["source_frames"]):
            yield k, np.full((240, 320, 3), 255 if i in person_in else 0, np.uint8), 0.5

    monkeypatch.setattr(decode, "iter_source_frames", frames_of)
    monkeypatch.setattr(kp_mp, "_holistic", _FakeHolistic)
    _FakeHolistic.calls = 0
    return frames, video


def test_backend_maps_to_frame_pixels_and_logs_rates(tmp_path, monkeypatch, capsys):
    frames, video = _fake_subject(tmp_path, monkeypatch, person_in={0, 1, 3, 4})
    opts = KeypointOptions(backend="mediapipe", max_long_side=320)
    kp = extract_keypoints(frames, None, opts, video=video)
    assert _FakeHolistic.calls == 5  # the repeated source frame is not run twice
    assert kp["body"].shape == (6, 25, 3) and kp["face"].shape == (6, 70, 3) and kp["body"].dtype == np.float32
    # nose: normalised (0.1, 0.05) of a 320x240 image at scale 0.5 -> source (64, 24) -> frame (4.4, 5.4)
    assert kp["body"][0, 0].tolist() == pytest.approx([0.1 * 64 - 2.0, 0.1 * 24 + 3.0, 0.9], abs=1e-5)
    assert kp["body"][2].tolist() == kp["body"][1].tolist()
    assert not kp["body"][5].any()
    # the fake finds no hand: where it finds the person, the pose's wrist and knuckles stand in (default 0.5)
    assert kp["left_hand"][:, :, 2].any(axis=1).tolist() == [True, True, True, True, True, False]
    assert kp["left_hand"][0, 0].tolist() == pytest.approx(kp["body"][0, 7, :2].tolist() + [0.45], abs=1e-5)
    out = capsys.readouterr().out
    assert "body 83%, left hand 0%, right hand 0%, face 0% of 6 frames" in out
    assert "placed by the pose's wrist and knuckle points: left 83%, right 83% of 6 frames" in out
    assert "6/6 frames (100%)" in out and "\r" not in out  # not a terminal: plain progress lines


def test_no_person_in_most_frames_names_the_subject(tmp_path, monkeypatch, capsys):
    from talkinnerf.cli import main

    frames, video = _fake_subject(tmp_path, monkeypatch, person_in={0})
    args = ["preprocess", "keypoints", "--frames", str(frames), "--openpose", str(tmp_path / "alex" / "openpose"),
            "--video", str(video), "--out", str(tmp_path / "kp.npz"), "--options", '{"max_long_side": 320}']
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "subject alex" in err and "only 1 of 6 frames" in err and str(video) in err
    assert main(args[:-1] + ['{"max_long_side": 320, "min_detection_rate": 0.1}']) == 0
    assert load_npz(tmp_path / "kp.npz")["body"][0].any()


# ---------------------------------------------------------------------------------------------- real Holistic


@pytest.mark.skipif(not (REALVID / "book.mkv").is_file(), reason="real clip ../shared/realvid/book.mkv absent")
def test_real_holistic_on_a_real_clip(tmp_path, capsys):
    pytest.importorskip("mediapipe")
    from talkinnerf.video.decode import DecodeOptions, decode_video

    frames = tmp_path / "book"
    meta = decode_video(REALVID / "book.mkv", frames, DecodeOptions(size=128, max_seconds=0.67))
    n = meta["count"]
    assert 18 <= n <= 22
    kp = extract_keypoints(frames, tmp_path / "no_openpose", KeypointOptions(), video=REALVID / "book.mkv")
    assert "backend auto -> mediapipe" in capsys.readouterr().out
    body, face = kp["body"], kp["face"]
    found = body[:, :, 2].any(axis=1)
    assert found.mean() >= 0.9
    b = body[found]
    nose, neck, r_sh, l_sh, mid_hip = b[:, 0], b[:, 1], b[:, 2], b[:, 5], b[:, 8]
    assert (nose[:, 2] > 0).all() and (neck[:, 2] > 0).all() and (r_sh[:, 2] > 0).all() and (l_sh[:, 2] > 0).all()
    assert (nose[:, 1] < neck[:, 1]).all()                      # head above the shoulders
    assert (r_sh[:, 0] < l_sh[:, 0]).all()                      # facing the camera: her right is on image left
    seen = mid_hip[:, 2] > 0
    assert (mid_hip[seen, 1] > neck[seen, 1]).all()
    assert ((b[..., :2] >= 0) & (b[..., :2] <= 128))[b[..., 2] > 0].all()  # inside the 128 px frame
    f = face[found]
    assert (f[:, :68, 2] > 0).mean() > 0.9
    assert (f[:, 68, 0] < f[:, 69, 0]).all()                    # pupils: her right eye on image left
    assert np.abs(f[:, 68, :2] - b[:, 15, :2]).max() < 6        # pupil near BODY_25's right eye (frame px)
    assert (f[:, 8, 1] > nose[:, 1]).all()                      # chin below the nose
