"""Motion files of every supported layout -> our motion format: exact slots, slerp resampling, clear errors."""

from __future__ import annotations

import argparse
import json
import re
import wave
from pathlib import Path

import numpy as np
import pytest

from talkinnerf.motion.convert import ConvertOptions, convert_motion, load_hand_mean, prepare_motion, to_our_world
from talkinnerf.motion.format import Motion, load_motion_file, neutral_arrays, save_motion, validate
from talkinnerf.motion.readers import ReadOptions, detect_layout, read_motion
from talkinnerf.motion.resample import resample_motion, resample_rotations, sample_positions, slerp
from talkinnerf.motion.rotations import aa_to_matrix, aa_to_quat, quat_to_aa

T = 6


def _aa(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Rotation vectors with random axes and angles in (0.1, 3.0): distinct per joint, norms < pi."""
    v = rng.normal(size=(*shape, 3))
    return v / np.linalg.norm(v, axis=-1, keepdims=True) * rng.uniform(0.1, 3.0, size=(*shape, 1))


@pytest.fixture
def truth() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(19)
    return {"global_orient": _aa(rng, T), "body_pose": _aa(rng, T, 21), "jaw_pose": _aa(rng, T),
            "leye_pose": _aa(rng, T), "reye_pose": _aa(rng, T), "left_hand_pose": _aa(rng, T, 15),
            "right_hand_pose": _aa(rng, T, 15), "expression": rng.normal(size=(T, 10)),
            "transl": rng.normal(size=(T, 3))}


def _flat(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1)


def _assert_slots(motion: Motion, truth: dict[str, np.ndarray], keys=None) -> None:
    for key in keys or truth:
        np.testing.assert_array_equal(getattr(motion, key), truth[key], err_msg=key)


def _write_wav(path: Path, seconds: float = 0.2) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.zeros(int(16000 * seconds), np.int16).tobytes())


def _amass_smplx(path: Path, t: dict[str, np.ndarray], fps: float = 30.0, **extra) -> Path:
    poses = np.concatenate([t["global_orient"], _flat(t["body_pose"]), t["jaw_pose"], t["leye_pose"],
                            t["reye_pose"], _flat(t["left_hand_pose"]), _flat(t["right_hand_pose"])], 1)
    np.savez(path, poses=poses, trans=t["transl"], betas=np.zeros(16), mocap_frame_rate=np.array(fps),
             gender=np.array("neutral"), surface_model_type=np.array("smplx"), **extra)
    return path


def _amass_smplh(path: Path, t: dict[str, np.ndarray], fps: float = 60.0) -> Path:
    poses = np.concatenate([t["global_orient"], _flat(t["body_pose"]), _flat(t["left_hand_pose"]),
                            _flat(t["right_hand_pose"])], 1)
    np.savez(path, poses=poses, trans=t["transl"], betas=np.zeros(16), mocap_framerate=np.array(fps),
             dmpls=np.zeros((len(poses), 8)), gender=np.array("female"))
    return path


def _talkshow(path: Path, t: dict[str, np.ndarray], expression: np.ndarray) -> Path:
    np.save(path, np.concatenate([t["jaw_pose"], t["leye_pose"], t["reye_pose"], t["global_orient"],
                                  _flat(t["body_pose"]), _flat(t["left_hand_pose"]), _flat(t["right_hand_pose"]),
                                  expression], 1))
    return path


def _easymocap(folder: Path, t: dict[str, np.ndarray], poses: np.ndarray, expression: bool = True) -> Path:
    """One file per frame (names not zero-padded: order must still be numeric), a distractor person first."""
    folder.mkdir()
    for f in range(len(poses)):
        person = {"id": 3, "Rh": [t["global_orient"][f].tolist()], "Th": [t["transl"][f].tolist()],
                  "poses": [poses[f].tolist()], "shapes": [[0.0] * 10]}
        if expression:
            person["expression"] = [t["expression"][f].tolist()]
        other = {"id": 7, "Rh": [[0.0, 0.0, 0.0]], "Th": [[9.0, 9.0, 9.0]], "poses": [[0.0] * poses.shape[1]],
                 "shapes": [[0.0] * 10]}
        people = [person, other] if f == 0 else [other, person]
        (folder / f"{f}.json").write_text(json.dumps(people))
    return folder


def _body66(t: dict[str, np.ndarray], root: np.ndarray | None = None) -> np.ndarray:
    return np.concatenate([np.zeros((T, 3)) if root is None else root, _flat(t["body_pose"])], 1)


# ---------------------------------------------------------------------------------------------- layouts

def test_amass_smplx_poses_round_trip_exactly(tmp_path, truth):
    src = _amass_smplx(tmp_path / "walk_stageii.npz", truth, expression=truth["expression"])
    assert detect_layout(src) == "amass-smplx"
    motion = read_motion(src)
    _assert_slots(motion, truth)
    assert motion.fps == 30.0 and motion.source_format == "amass-smplx" and motion.conversions == []

    out = tmp_path / "out" / "walk.npz"
    convert_motion(src, out, ConvertOptions(fps=30, source_world="y-up"))
    with np.load(out) as saved:
        for key, value in truth.items():
            np.testing.assert_array_equal(saved[key], value.astype(np.float32), err_msg=key)
        assert saved["fps"].shape == () and float(saved["fps"]) == 30.0
    meta = json.loads(out.with_suffix(".json").read_text())
    assert set(meta) == {"source_format", "source_file", "frames", "fps", "source_fps", "conversions", "audio"}
    assert meta["source_format"] == "amass-smplx" and meta["frames"] == T and meta["audio"] is None
    assert meta["source_file"] == str(src)


def test_amass_smplx_split_keys(tmp_path, truth):
    src = tmp_path / "split_stageii.npz"
    np.savez(src, root_orient=truth["global_orient"], pose_body=_flat(truth["body_pose"]),
             pose_hand=np.concatenate([_flat(truth["left_hand_pose"]), _flat(truth["right_hand_pose"])], 1),
             pose_jaw=truth["jaw_pose"], pose_eye=np.concatenate([truth["leye_pose"], truth["reye_pose"]], 1),
             trans=truth["transl"], mocap_frame_rate=np.array(120.0), expression=np.ones((T, 50)))
    assert detect_layout(src) == "amass-smplx"
    motion = read_motion(src)
    _assert_slots(motion, truth, [k for k in truth if k != "expression"])
    np.testing.assert_array_equal(motion.expression, np.ones((T, 10)))
    assert motion.fps == 120.0
    assert "expression 50 -> 10 coefficients: cut" in motion.conversions


def test_amass_world_is_turned_to_y_up(tmp_path, truth):
    t = dict(truth, global_orient=np.tile([np.pi / 2, 0.0, 0.0], (T, 1)))   # standing upright in AMASS's z-up
    src = _amass_smplx(tmp_path / "stand_stageii.npz", t)
    motion = prepare_motion(src, ConvertOptions(fps=30))
    np.testing.assert_allclose(motion.global_orient, 0.0, atol=1e-12)        # upright facing +z in ours
    x, y, z = t["transl"].T
    np.testing.assert_allclose(motion.transl, np.stack([x, z, -y], 1), atol=1e-12)  # z-up -> y-up
    np.testing.assert_array_equal(motion.body_pose, t["body_pose"])          # joints are local: untouched
    assert any(n.startswith("world: source z-up") for n in motion.conversions)


def test_amass_smplh_hands_kept_face_neutral_and_resampled(tmp_path, truth):
    src = _amass_smplh(tmp_path / "jog_poses.npz", truth, fps=60.0)
    assert detect_layout(src) == "amass-smplh"
    motion = read_motion(src)
    _assert_slots(motion, truth, ["global_orient", "body_pose", "left_hand_pose", "right_hand_pose", "transl"])
    for key in ("jaw_pose", "leye_pose", "reye_pose", "expression"):
        assert not getattr(motion, key).any()
    assert any("SMPL+H has no jaw, eyes or expression: neutral" in n for n in motion.conversions)
    assert any(n.startswith("dmpls") for n in motion.conversions)

    out = prepare_motion(src, ConvertOptions(fps=30, source_world="y-up"))   # 60 -> 30: every other frame
    assert out.frames == 3 and out.fps == 30.0 and out.source_fps == 60.0
    for key in ("global_orient", "body_pose", "left_hand_pose", "transl"):
        np.testing.assert_array_equal(getattr(out, key), truth[key][::2], err_msg=key)
    assert any(n.startswith("resampled 60 -> 30 fps by slerp") for n in out.conversions)


def test_talkshow_slices_cut_expression_and_hand_mean(tmp_path, truth):
    expression100 = np.random.default_rng(3).normal(size=(T, 100))
    src = _talkshow(tmp_path / "speech.npy", truth, expression100)
    assert detect_layout(src) == "talkshow"
    motion = read_motion(src)
    _assert_slots(motion, truth, [k for k in truth if k not in ("expression", "transl")])
    np.testing.assert_array_equal(motion.expression, expression100[:, :10])
    assert not motion.transl.any() and motion.fps == 30.0
    assert "expression 100 -> 10 coefficients: cut" in motion.conversions
    assert any("mean hand" in n and "kept as they are" in n for n in motion.conversions)

    model = tmp_path / "SMPLX_NEUTRAL.npz"
    mean_l, mean_r = np.linspace(-0.3, 0.3, 45), np.linspace(0.2, -0.2, 45)
    np.savez(model, hands_meanl=mean_l, hands_meanr=mean_r, v_template=np.zeros((4, 3)))
    opts = ReadOptions(hand_mean=load_hand_mean(model), hand_mean_source=str(model))
    with_mean = read_motion(src, "talkshow", opts)
    np.testing.assert_array_equal(_flat(with_mean.left_hand_pose), _flat(truth["left_hand_pose"]) + mean_l)
    np.testing.assert_array_equal(_flat(with_mean.right_hand_pose), _flat(truth["right_hand_pose"]) + mean_r)
    assert any("hands_meanl/r of" in n and str(model) in n for n in with_mean.conversions)


def test_talkshow_camera_world_is_turned_upright(tmp_path, truth):
    t = dict(truth, global_orient=np.tile([np.pi, 0.0, 0.0], (T, 1)))   # TalkSHOW's upright body (y down)
    src = _talkshow(tmp_path / "upright.npy", t, np.zeros((T, 100)))
    motion = prepare_motion(src, ConvertOptions(fps=30))
    np.testing.assert_allclose(aa_to_matrix(motion.global_orient), np.broadcast_to(np.eye(3), (T, 3, 3)),
                               atol=1e-12)


def test_easymocap_smplx_full_pose(tmp_path, truth):
    poses = np.concatenate([_body66(truth), truth["jaw_pose"], truth["leye_pose"], truth["reye_pose"],
                            _flat(truth["left_hand_pose"]), _flat(truth["right_hand_pose"])], 1)
    seq = {k: np.concatenate([v, v[::-1]]) for k, v in truth.items()}   # 12 frames: 10.json, 11.json sort last
    folder = _easymocap(tmp_path / "mocap", seq, np.concatenate([poses, poses[::-1]]))
    assert detect_layout(folder) == "easymocap"
    motion = read_motion(folder, opts=ReadOptions(default_fps=25.0))
    assert motion.frames == 12 and motion.fps == 25.0
    _assert_slots(motion, seq)             # Rh -> global_orient, Th -> transl, the id-3 person every frame
    assert any("EasyMocap files do not store it, 25 assumed" in n for n in motion.conversions)
    assert any("several people per frame: took id 3" in n for n in motion.conversions)


@pytest.mark.parametrize("width", [66, 72, 156])
def test_easymocap_body_and_smplh_layouts(tmp_path, truth, width):
    body = _body66(truth)
    if width == 72:
        body = np.concatenate([body, np.full((T, 6), 0.5)], 1)   # SMPL hand joints 22-23: dropped
    if width == 156:
        body = np.concatenate([body, _flat(truth["left_hand_pose"]), _flat(truth["right_hand_pose"])], 1)
    folder = _easymocap(tmp_path / f"mocap{width}", truth, body, expression=False)
    motion = read_motion(folder)
    _assert_slots(motion, truth, ["global_orient", "body_pose", "transl"])
    hands_kept = width == 156
    for key in ("left_hand_pose", "right_hand_pose"):
        if hands_kept:
            np.testing.assert_array_equal(getattr(motion, key), truth[key])
        else:
            assert not getattr(motion, key).any()
    assert not motion.jaw_pose.any() and not motion.expression.any()
    assert "expression: none in the source: neutral (zeros)" in motion.conversions


def test_easymocap_root_in_poses_and_pelvis(tmp_path, truth):
    rh = np.tile([np.pi / 2, 0.0, 0.0], (T, 1))
    root = np.tile([0.0, 0.3, 0.0], (T, 1))
    t = dict(truth, global_orient=rh)
    folder = _easymocap(tmp_path / "mocap", t, _body66(truth, root))
    pelvis = np.array([0.0, -0.3, 0.0])
    motion = read_motion(folder, opts=ReadOptions(pelvis=pelvis))
    expected = aa_to_matrix(rh) @ aa_to_matrix(root)                       # Rh after the pose's own root turn
    np.testing.assert_allclose(aa_to_matrix(motion.global_orient), expected, atol=1e-12)
    # R_x(90) pelvis - pelvis = (0, 0, -0.3) - (0, -0.3, 0)
    np.testing.assert_allclose(motion.transl, truth["transl"] + [0.0, 0.3, -0.3], atol=1e-12)


def test_ours_fit_with_frames_meta_drives_animate(tmp_path, truth):
    results = tmp_path / "results"
    (results / "smplx").mkdir(parents=True)
    (results / "frames" / "s").mkdir(parents=True)
    (results / "frames" / "s" / "meta.json").write_text(json.dumps({"fps": 25.0, "count": T}))
    _write_wav(results / "frames" / "s" / "audio.wav")
    f32 = {k: v.astype(np.float32) for k, v in truth.items()}
    src = results / "smplx" / "s.npz"
    np.savez(src, poses_body=np.concatenate([f32["global_orient"][:, None], f32["body_pose"]], 1),
             global_orient=f32["global_orient"], body_pose=f32["body_pose"], jaw_pose=f32["jaw_pose"],
             hands=np.concatenate([_flat(f32["left_hand_pose"]), _flat(f32["right_hand_pose"])], 1),
             expression=f32["expression"], transl=f32["transl"], betas=np.zeros(10, np.float32),
             K=np.tile(np.eye(3, dtype=np.float32), (T, 1, 1)), size=np.array(64))
    assert detect_layout(src) == "ours"
    out = tmp_path / "s_motion.npz"
    motion = convert_motion(src, out, ConvertOptions(fps=0))
    assert motion.fps == 25.0 and motion.audio == str(results / "frames" / "s" / "audio.wav")
    assert motion.conversions == ["leye_pose, reye_pose: not in the source: neutral (zeros)"]
    loaded = load_motion_file(out)
    _assert_slots(loaded, {k: v for k, v in f32.items() if k not in ("leye_pose", "reye_pose")})

    from talkinnerf.evaluate.animate import load_motion   # the current reader takes our format as it is

    m = load_motion(out)
    np.testing.assert_array_equal(m["poses_body"][:, 1:], f32["body_pose"])
    np.testing.assert_array_equal(m["hands"][:, 45:], _flat(f32["right_hand_pose"]))
    np.testing.assert_array_equal(m["expression"], f32["expression"])

    again = read_motion(out)   # our format read back: its fps and its history come along
    assert again.fps == 25.0 and again.conversions[0].startswith("earlier (ours): leye_pose")


def test_cli_convert_and_info(tmp_path, truth, capsys):
    from talkinnerf.cli import motion as cli

    parser = argparse.ArgumentParser()
    cli.add_commands(parser.add_subparsers(dest="command", required=True))
    src = _amass_smplh(tmp_path / "clip.npz", truth, fps=60.0)
    _write_wav(tmp_path / "clip.wav")
    out = tmp_path / "clip_ours.npz"
    args = parser.parse_args(["convert", str(src), str(out), "--fps", "30", "--source-world", "y-down"])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}: 3 frames at 30 fps from amass-smplh" in printed and "world: source y-down" in printed
    assert json.loads(out.with_suffix(".json").read_text())["audio"] == str(tmp_path / "clip.wav")
    args = parser.parse_args(["info", str(src)])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "layout: amass-smplh" in printed and "frames: 6" in printed and "fps: 60" in printed
    assert "poses (6, 156)" in printed
    folder = _easymocap(tmp_path / "mocap", truth, _body66(truth))
    args = parser.parse_args(["info", str(folder)])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "layout: easymocap" in printed and "6 frame files (0.json .. 5.json)" in printed
    assert "poses (1, 66)" in printed and "hands: none in the source: flat" in printed


# ---------------------------------------------------------------------------------------------- resampling

def test_same_fps_is_identity(truth):
    motion = Motion(**truth, fps=30.0)
    assert resample_motion(motion, 30.0) is motion
    index, frac = sample_positions(T, 30.0, 30.0)
    np.testing.assert_array_equal(index, np.arange(T))
    np.testing.assert_array_equal(resample_rotations(truth["body_pose"], index, frac), truth["body_pose"])


def test_halfway_about_one_axis_is_the_half_angle():
    axis = np.array([0.0, 0.6, 0.8])
    for a, b in ((0.0, 1.0), (0.4, 1.2), (2.5, 3.1)):
        mid = quat_to_aa(slerp(aa_to_quat(a * axis), aa_to_quat(b * axis), 0.5))
        np.testing.assert_allclose(mid, 0.5 * (a + b) * axis, atol=1e-12)
    # through resample_motion: 1 -> 2 fps puts a frame halfway; translation and expression go linearly
    motion = Motion(**{**neutral_arrays(2), "jaw_pose": np.stack([np.zeros(3), 0.8 * axis]),
                       "transl": np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 4.0]])}, fps=1.0)
    up = resample_motion(motion, 2.0)
    assert up.frames == 3
    np.testing.assert_allclose(up.jaw_pose[1], 0.4 * axis, atol=1e-12)
    np.testing.assert_allclose(up.transl[1], [0.5, 1.0, 2.0], atol=1e-15)
    np.testing.assert_array_equal(up.jaw_pose[[0, 2]], motion.jaw_pose)


def test_60_to_30_keeps_every_other_frame(truth):
    rng = np.random.default_rng(5)
    t = {k: np.concatenate([v, rng.normal(size=v.shape) * 0.1 + v]) for k, v in truth.items()}   # 12 frames
    motion = Motion(**t, fps=60.0)
    down = resample_motion(motion, 30.0)
    assert down.frames == 6
    for key, value in t.items():
        np.testing.assert_array_equal(getattr(down, key), value[::2], err_msg=key)


def test_slerp_through_pi_takes_the_short_arc():
    x = np.array([1.0, 0.0, 0.0])
    a, b = (np.pi - 0.1) * x, -(np.pi - 0.1) * x      # 0.2 rad apart across the pi boundary
    index, frac = np.array([0, 0, 0]), np.array([0.25, 0.5, 0.75])
    out = resample_rotations(np.stack([a, b]), index, frac)
    start = aa_to_matrix(a)
    for sample, t in zip(out, frac):
        rel = aa_to_matrix(sample) @ start.T                 # turn from the first rotation
        angle = np.arccos(np.clip((np.trace(rel) - 1) / 2, -1, 1))
        assert angle == pytest.approx(0.2 * t, abs=1e-9)     # the long way would be 2 pi - 0.2
    np.testing.assert_allclose(aa_to_matrix(out[1]), aa_to_matrix(np.pi * x), atol=1e-12)


def test_identity_rotations_stay_finite():
    zero = np.zeros((2, 4, 3))
    out = resample_rotations(zero, np.array([0, 0]), np.array([0.5, 0.3]))
    assert np.isfinite(out).all() and not out.any()
    np.testing.assert_allclose(quat_to_aa(aa_to_quat(np.array([1e-9, 0.0, 0.0]))), [1e-9, 0.0, 0.0], rtol=1e-9)


# ---------------------------------------------------------------------------------------------- bad input

def _raises_naming(path: Path, words: str):
    return pytest.raises(ValueError, match=re.escape(str(path)) + ".*" + words)


@pytest.mark.parametrize("bad, words", [(np.nan, "holds NaN"), (np.inf, "holds inf"), (7.0, r"norm 7\.000 > 2\*pi")])
def test_bad_values_name_the_file(tmp_path, truth, bad, words):
    body = truth["body_pose"].copy()
    body[2, 4] = [bad, 0.0, 0.0]
    src = _amass_smplx(tmp_path / "bad_stageii.npz", dict(truth, body_pose=body))
    with _raises_naming(src, words):
        read_motion(src)


def test_zero_frames_and_mismatched_lengths(tmp_path, truth):
    empty = tmp_path / "empty_stageii.npz"
    np.savez(empty, poses=np.zeros((0, 165)), trans=np.zeros((0, 3)), mocap_frame_rate=np.array(30.0))
    with _raises_naming(empty, "zero frames"):
        read_motion(empty)
    short = _amass_smplx(tmp_path / "short_stageii.npz", truth)
    data = dict(np.load(short))
    data["trans"] = data["trans"][:-1]
    np.savez(short, **data)
    with _raises_naming(short, "different lengths.*transl 5"):
        read_motion(short)
    motion = Motion(**neutral_arrays(3), fps=0.0)
    with _raises_naming(Path("x.npz"), "fps 0.0 is not a positive number"):
        validate(motion, "x.npz")


def test_pca_hands_are_refused_never_zeroed(tmp_path, truth):
    split = tmp_path / "pca_stageii.npz"
    np.savez(split, root_orient=truth["global_orient"], pose_body=_flat(truth["body_pose"]),
             pose_hand=np.zeros((T, 12)), trans=truth["transl"], mocap_frame_rate=np.array(30.0))
    with _raises_naming(split, "6 PCA coefficients per hand.*PCA basis"):
        read_motion(split)
    wide = tmp_path / "pca99.npz"
    np.savez(wide, poses=np.zeros((T, 99)), trans=truth["transl"])       # 75 + 2 x 12 components
    with _raises_naming(wide, "12 PCA coefficients per hand"):
        detect_layout(wide)
    folder = _easymocap(tmp_path / "mocap87", truth, np.zeros((T, 87)))  # EasyMocap SMPL-X, 6 components
    with _raises_naming(folder, "6 PCA coefficients per hand"):
        read_motion(folder)
    odd = _easymocap(tmp_path / "mocap130", truth, np.zeros((T, 130)))
    with _raises_naming(odd, "'poses' has 130 values per frame.*supported: 66"):
        read_motion(odd)


def test_unknown_layout_lists_keys_and_layouts(tmp_path):
    src = tmp_path / "mystery.npz"
    np.savez(src, foo=np.zeros((3, 4)), bar=np.zeros(2))
    with _raises_naming(src, r"bar \(2,\), foo \(3, 4\).*amass-smplx.*talkshow.*easymocap.*ours"):
        detect_layout(src)
    npy = tmp_path / "mystery.npy"
    np.save(npy, np.zeros((5, 264)))
    with _raises_naming(npy, r"an array \(5, 264\)"):
        detect_layout(npy)


def test_audio_beside_the_motion_must_be_audio(tmp_path, truth):
    src = _talkshow(tmp_path / "talk.npy", truth, np.zeros((T, 100)))
    (tmp_path / "talk.wav").write_bytes(b"this is not a RIFF file at all")
    with _raises_naming(src, re.escape(str(tmp_path / "talk.wav")) + " is not a readable PCM WAV"):
        convert_motion(src, tmp_path / "talk_ours.npz")
    assert not (tmp_path / "talk_ours.npz").exists()
    motion = convert_motion(src, tmp_path / "talk_ours.npz", ConvertOptions(check_audio=False))
    assert motion.audio == str(tmp_path / "talk.wav")


def test_format_round_trip_and_output_suffix(tmp_path, truth):
    motion = Motion(**truth, fps=24.0, conversions=["a note"])
    with _raises_naming(tmp_path / "m.npy", "must end in .npz"):
        save_motion(tmp_path / "m.npy", motion)
    save_motion(tmp_path / "m.npz", motion)
    back = load_motion_file(tmp_path / "m.npz")
    _assert_slots(back, {k: v.astype(np.float32).astype(np.float64) for k, v in truth.items()})
    assert back.fps == 24.0 and back.conversions == ["a note"]
    turned = to_our_world(back, "y-up")
    assert turned is back


def test_a_left_out_subjects_fit_is_named_as_such(tmp_path):
    src = tmp_path / "smplx" / "s.npz"
    src.parent.mkdir()
    record = {"subject": "s", "file": "s.mp4", "stage": "fit", "reason": "no person found", "fix": "re-record"}
    src.write_text(json.dumps({"talkinnerf_failed": record}))
    with _raises_naming(src, "is a failure marker.*left out at fit: no person found"):
        detect_layout(src)
