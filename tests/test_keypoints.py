"""OpenPose reader: person choice, missing people/parts, source-frame selection, transform, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from talkinnerf.io import load_npz, write_json
from talkinnerf.preprocess.keypoints import extract_keypoints, openpose_files, read_openpose_frame


def _person(x0, y0, scale, conf=0.9, hands=True):
    body = [[x0 + scale * (j % 5), y0 + scale * (j // 5), conf] for j in range(25)]
    person = {"person_id": [-1], "pose_keypoints_2d": np.ravel(body).tolist()}
    if hands:
        person["hand_left_keypoints_2d"] = np.ravel([[x0 + j, y0, 0.8] for j in range(21)]).tolist()
        person["hand_right_keypoints_2d"] = np.ravel([[x0, y0 + j, 0.7] for j in range(21)]).tolist()
        person["face_keypoints_2d"] = np.ravel([[x0 + j, y0 + j, 0.6] for j in range(70)]).tolist()
    return person


def _write(folder, name, people):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps({"version": 1.3, "people": people}))


def test_picks_the_largest_person_and_handles_nobody(tmp_path):
    _write(tmp_path, "a.json", [_person(0, 0, 1.0), _person(100, 50, 10.0), _person(5, 5, 12.0, conf=0.05)])
    parts = read_openpose_frame(tmp_path / "a.json")
    assert parts["body"][0].tolist() == pytest.approx([100, 50, 0.9])
    assert parts["left_hand"].shape == (21, 3) and parts["face"].shape == (70, 3)
    _write(tmp_path, "b.json", [])
    empty = read_openpose_frame(tmp_path / "b.json")
    assert all(not v.any() for v in empty.values())
    _write(tmp_path, "c.json", [_person(1, 2, 3.0, hands=False)])
    body_only = read_openpose_frame(tmp_path / "c.json")
    assert body_only["body"].any() and not body_only["right_hand"].any()


def test_file_numbering(tmp_path):
    for n in (1, 2, 3):
        _write(tmp_path, f"clip_{n:012d}_keypoints.json", [])
    (tmp_path / "notes.json").write_text("{}")
    files = openpose_files(tmp_path)
    assert sorted(files) == [0, 1, 2] and files[0].name == "clip_000000000001_keypoints.json"
    with pytest.raises(FileNotFoundError, match="write_json"):
        openpose_files(tmp_path / "missing")


def _subject(tmp_path, frames_in_video=6):
    op = tmp_path / "openpose"
    for i in range(frames_in_video):
        people = [] if i == 2 else [_person(10 * i, 20, 2.0), _person(0, 0, 0.5)]
        _write(op, f"{i:06d}_keypoints.json", people)
    frames = tmp_path / "frames"
    write_json(frames / "meta.json", {"count": 3, "size": 32, "source_frames": [0, 2, 4],
                                      "transform": {"scale": 0.5, "offset": [-4.0, 2.0]}})
    return frames, op


def test_extract_selects_kept_frames_and_applies_transform(tmp_path):
    frames, op = _subject(tmp_path)
    kp = extract_keypoints(frames, op)
    assert kp["body"].shape == (3, 25, 3) and kp["left_hand"].shape == (3, 21, 3) and kp["face"].shape == (3, 70, 3)
    assert kp["body"].dtype == np.float32
    # kept frame 2 = source frame 4: body joint 0 at (40, 20) -> (0.5*40-4, 0.5*20+2) = (16, 12)
    assert kp["body"][2, 0].tolist() == pytest.approx([16.0, 12.0, 0.9])
    assert kp["body"][0, 0].tolist() == pytest.approx([-4.0, 12.0, 0.9])
    assert not kp["body"][1].any()  # source frame 2: nobody -> zeros, confidence 0


def test_missing_source_frame_and_cli(tmp_path, capsys):
    from talkinnerf.cli import main

    frames, op = _subject(tmp_path, frames_in_video=4)
    with pytest.raises(ValueError, match=r"source frame\(s\) \[4\]"):
        extract_keypoints(frames, op)
    _write(op, "000004_keypoints.json", [_person(0, 0, 1.0)])
    out = tmp_path / "kp.npz"
    assert main(["preprocess", "keypoints", "--frames", str(frames), "--openpose", str(op),
                 "--out", str(out), "--options", '{"min_confidence": 0.85}']) == 0
    saved = load_npz(out)
    assert saved["body"].shape == (3, 25, 3)
    assert not saved["left_hand"].any()  # hand confidence 0.8 < 0.85: dropped to zeros
    assert "keypoints (openpose)" in capsys.readouterr().out  # backend auto: the folder exists
    assert main(["preprocess", "keypoints", "--frames", str(frames), "--openpose", str(tmp_path / "none"),
                 "--out", str(out), "--options", '{"backend": "openpose"}']) == 2
    assert "OpenPose folder" in capsys.readouterr().err
