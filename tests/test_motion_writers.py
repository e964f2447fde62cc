"""Writers (our motion -> AMASS SMPL-X / SMPL+H, TalkSHOW, EasyMocap) are the readers' inverse: converting what
they write gives the motion back (rotations as rotations, translation, expression and fps where carried)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from talkinnerf.motion.convert import ConvertOptions, convert_motion, prepare_motion
from talkinnerf.motion.format import ROTATION_KEYS, Motion
from talkinnerf.motion.readers import detect_layout, read_motion
from talkinnerf.motion.resample import resample_motion
from talkinnerf.motion.rotations import aa_to_matrix
from talkinnerf.motion.writers import write_layout

T = 7
REAL_FIT = Path("/tmp/fresh/results/smplx/ava.npz")
NAMES = {"amass-smplx": "walk_stageii.npz", "amass-smplh": "walk_smplh.npz", "talkshow": "talk.npy",
         "easymocap": "mocap", "ours": "ours.npz"}


def _aa(rng: np.random.Generator, *shape: int) -> np.ndarray:
    v = rng.normal(size=(*shape, 3))
    return v / np.linalg.norm(v, axis=-1, keepdims=True) * rng.uniform(0.1, 3.1, size=(*shape, 1))


def _motion(fps: float = 30.0, seed: int = 7) -> Motion:
    rng = np.random.default_rng(seed)
    return Motion(global_orient=_aa(rng, T), body_pose=_aa(rng, T, 21), jaw_pose=_aa(rng, T), leye_pose=_aa(rng, T),
                  reye_pose=_aa(rng, T), left_hand_pose=_aa(rng, T, 15), right_hand_pose=_aa(rng, T, 15),
                  expression=rng.normal(size=(T, 10)), transl=rng.normal(size=(T, 3)), fps=fps)


def _differences(a: Motion, b: Motion) -> dict[str, float]:
    """Largest rotation-matrix difference over all rotation keys, translation and expression differences."""
    rot = max(float(np.abs(aa_to_matrix(getattr(a, k)) - aa_to_matrix(getattr(b, k))).max()) for k in ROTATION_KEYS)
    return {"rotation": rot, "transl": float(np.abs(a.transl - b.transl).max()),
            "expression": float(np.abs(a.expression - b.expression).max())}


def _assert_round_trip(got: Motion, want: Motion, layout: str) -> None:
    assert got.frames == want.frames
    zero_face = layout == "amass-smplh"
    keys = [k for k in ROTATION_KEYS if not (zero_face and k in ("jaw_pose", "leye_pose", "reye_pose"))]
    for key in keys:
        np.testing.assert_allclose(aa_to_matrix(getattr(got, key)), aa_to_matrix(getattr(want, key)), atol=1e-6,
                                   err_msg=f"{layout} {key}")
    if zero_face:
        for key in ("jaw_pose", "leye_pose", "reye_pose", "expression"):
            np.testing.assert_array_equal(getattr(got, key), 0.0, err_msg=key)
    else:
        np.testing.assert_allclose(got.expression, want.expression, atol=1e-12, err_msg=f"{layout} expression")
    if layout == "talkshow":
        np.testing.assert_array_equal(got.transl, 0.0)
    else:
        np.testing.assert_allclose(got.transl, want.transl, atol=1e-12, err_msg=f"{layout} transl")
    assert got.fps == want.fps


def _round_trip(motion: Motion, layout: str, folder: Path, **write) -> tuple[Motion, list[str]]:
    notes: list[str] = []
    out = write_layout(motion, layout, folder / NAMES[layout], notes=notes, **write)
    assert detect_layout(out) == layout
    source_fps = motion.fps if layout == "easymocap" else 0.0   # EasyMocap stores no rate
    return prepare_motion(out, ConvertOptions(fps=0, source_fps=source_fps)), notes


@pytest.mark.parametrize("layout", ["amass-smplx", "amass-smplh", "talkshow", "easymocap", "ours"])
def test_every_layout_round_trips(tmp_path, layout):
    motion = _motion()
    back, notes = _round_trip(motion, layout, tmp_path)
    _assert_round_trip(back, motion, layout)
    assert back.source_format == layout
    if layout == "amass-smplh":
        assert any("SMPL+H has no jaw" in n and "expression" in n for n in notes)
    if layout == "talkshow":
        assert "translation: TalkSHOW has none: dropped" in notes
    if layout == "easymocap":
        assert any("--source-fps 30" in n for n in notes)


def test_amass_carries_the_rate_and_expression(tmp_path):
    motion = _motion(fps=60.0)
    out = write_layout(motion, "amass-smplx", tmp_path / "a_stageii.npz")
    with np.load(out) as saved:
        assert saved["poses"].shape == (T, 165) and float(saved["mocap_frame_rate"]) == 60.0
        assert saved["expression"].shape == (T, 10) and not saved["betas"].any()
    _assert_round_trip(prepare_motion(out, ConvertOptions(fps=0)), motion, "amass-smplx")
    out = write_layout(motion, "amass-smplh", tmp_path / "h.npz")
    with np.load(out) as saved:
        assert saved["poses"].shape == (T, 156) and float(saved["mocap_framerate"]) == 60.0


def test_world_turns_are_inverted(tmp_path):
    """An upright body of ours is z-up in AMASS (root pi/2 about x) and upside down in TalkSHOW (pi about x)."""
    motion = _motion()
    motion = motion.replace(global_orient=np.zeros((T, 3)), transl=np.tile([0.0, 1.0, 0.0], (T, 1)))
    with np.load(write_layout(motion, "amass-smplx", tmp_path / "up_stageii.npz")) as saved:
        np.testing.assert_allclose(saved["poses"][:, :3], np.tile([np.pi / 2, 0, 0], (T, 1)), atol=1e-12)
        np.testing.assert_allclose(saved["trans"], np.tile([0.0, 0.0, 1.0], (T, 1)), atol=1e-12)
    data = np.load(write_layout(motion, "talkshow", tmp_path / "up.npy"))
    assert data.shape == (T, 265) and not data[:, 175:].any()
    np.testing.assert_allclose(aa_to_matrix(data[:, 9:12]), np.tile(np.diag([1.0, -1.0, -1.0]), (T, 1, 1)),
                               atol=1e-12)


def test_talkshow_resamples_to_30_or_refuses(tmp_path):
    motion = _motion(fps=60.0)
    notes: list[str] = []
    out = write_layout(motion, "talkshow", tmp_path / "t.npy", notes=notes)
    assert any(n.startswith("resampled 60 -> 30 fps") for n in notes)
    _assert_round_trip(prepare_motion(out, ConvertOptions(fps=0)), resample_motion(motion, 30.0), "talkshow")
    with pytest.raises(ValueError, match="TalkSHOW motions run at 30 fps"):
        write_layout(motion, "talkshow", tmp_path / "t.npy", fps=25.0)
    with pytest.raises(ValueError, match="must end in .npy"):
        write_layout(motion, "talkshow", tmp_path / "t.npz")


def test_talkshow_hand_mean_and_easymocap_pelvis(tmp_path):
    motion = _motion()
    rng = np.random.default_rng(3)
    mean = (rng.normal(size=45) * 0.2, rng.normal(size=45) * 0.2)
    np.savez(tmp_path / "model.npz", hands_meanl=mean[0], hands_meanr=mean[1])
    out = write_layout(motion, "talkshow", tmp_path / "t.npy", hand_mean=mean)
    np.testing.assert_allclose(np.load(out)[:, 75:120], motion.left_hand_pose.reshape(T, 45) - mean[0])
    back = prepare_motion(out, ConvertOptions(fps=0, hand_mean=str(tmp_path / "model.npz")))
    _assert_round_trip(back, motion, "talkshow")

    pelvis = (0.01, -0.3, 0.02)
    out = write_layout(motion, "easymocap", tmp_path / "m", pelvis=np.array(pelvis))
    back = prepare_motion(out, ConvertOptions(fps=0, source_fps=30.0, pelvis=pelvis))
    _assert_round_trip(back, motion, "easymocap")
    frames = sorted(out.glob("*.json"))
    person = json.loads(frames[0].read_text())[0]
    assert len(frames) == T and len(person["poses"][0]) == 165 and person["poses"][0][:3] == [0.0, 0.0, 0.0]
    # written again: the folder is replaced, never mixed with the earlier frames
    write_layout(motion.replace(**{k: v[:3] for k, v in motion.arrays().items()}), "easymocap", out)
    assert len(list(out.glob("*.json"))) == 3
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="other than .json"):
        write_layout(motion, "easymocap", out)


@pytest.mark.skipif(not REAL_FIT.is_file(), reason=f"no real fit at {REAL_FIT}")
@pytest.mark.parametrize("layout", ["amass-smplx", "amass-smplh", "talkshow", "easymocap"])
def test_a_real_fit_round_trips(tmp_path, layout):
    fit = read_motion(REAL_FIT, "ours")
    fit = resample_motion(fit, 30.0) if layout == "talkshow" else fit
    back, _ = _round_trip(fit, layout, tmp_path)
    _assert_round_trip(back, fit, layout)


def test_cli_export_then_convert(tmp_path, capsys):
    from talkinnerf.cli import motion as cli
    from talkinnerf.motion.format import save_motion

    parser = argparse.ArgumentParser()
    cli.add_commands(parser.add_subparsers(dest="command", required=True))
    motion = _motion(fps=25.0)
    save_motion(tmp_path / "m.npz", motion)
    out = tmp_path / "m_stageii.npz"
    args = parser.parse_args(["export", str(tmp_path / "m.npz"), str(out), "--to", "amass-smplx"])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}: amass-smplx from ours" in printed and "world: ours (y up) -> z-up" in printed
    back = convert_motion(out, tmp_path / "back.npz", ConvertOptions(fps=0))
    _assert_round_trip(back, motion.replace(**{k: v.astype(np.float32).astype(np.float64)
                                               for k, v in motion.arrays().items()}), "amass-smplx")
    args = parser.parse_args(["export", str(tmp_path / "m.npz"), str(tmp_path / "t.npy"), "--to", "talkshow"])
    assert args.func(args) == 0
    assert "resampled 25 -> 30 fps" in capsys.readouterr().out
    assert np.load(tmp_path / "t.npy").shape[1] == 265
