"""Driving a trained avatar with any motion (issue 19): the motion route, retargeting, audio muxed in sync, the
side-by-side driver video, drop-in motion names and a bad motion left out. Tiny stand-in models (seconds)."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest
import torch

from talkinnerf.cli import main
from talkinnerf.evaluate.animate import (AnimateConfig, animate, heading_of, load_motion, prepare_motion_for,
                                         read_driving_motion)
from talkinnerf.evaluate.media import read_audio_track
from talkinnerf.evaluate.render_eval import EvalConfig, evaluate_render
from talkinnerf.io import load_npz, save_npz
from talkinnerf.motion.convert import ConvertOptions, convert_motion
from talkinnerf.train.data import load_subject
from talkinnerf.train.trainer import TrainConfig, fit
from talkinnerf.video.encode import read_video
from test_train_standin import StandInNeRF, make_subject, standin_render_image

FPS = 10.0


def _pose_the_fit(root: Path, name: str, seed: int) -> None:
    """Give a stand-in subject's fit non-zero poses, jaw, hands and expression (consistent hands/left/right keys)."""
    a = load_npz(root / "smplx" / f"{name}.npz")
    rng = np.random.default_rng(seed)
    n = len(a["poses_body"])
    a["poses_body"] = (rng.normal(size=(n, 22, 3)) * 0.1).astype(np.float32)
    a["global_orient"], a["body_pose"] = a["poses_body"][:, 0], a["poses_body"][:, 1:]
    a["jaw_pose"] = (rng.normal(size=(n, 3)) * 0.1).astype(np.float32)
    a["expression"] = rng.normal(size=(n, 10)).astype(np.float32)
    a["left_hand_pose"] = (rng.normal(size=(n, 15, 3)) * 0.1).astype(np.float32)
    a["right_hand_pose"] = (rng.normal(size=(n, 15, 3)) * 0.1).astype(np.float32)
    a["hands"] = np.concatenate([a["left_hand_pose"].reshape(n, 45), a["right_hand_pose"].reshape(n, 45)], 1)
    save_npz(root / "smplx" / f"{name}.npz", **a)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("animate")
    make_subject(tmp / "r", "a", size=32, frames=6, seed=0)
    make_subject(tmp / "r", "b", size=32, frames=6, seed=1)
    _pose_the_fit(tmp / "r", "a", 3)
    _pose_the_fit(tmp / "r", "b", 4)
    cfg = TrainConfig(iterations=20, patches=2, patch_size=16, progress=False, lpips=False, tensorboard=False,
                      threads=1)
    cfg.model.samples_per_ray = 8
    fit(["a"], tmp / "r", tmp / "m", cfg, model_factory=StandInNeRF)
    return tmp


def _write_wav(path: Path, seconds: float, rate: int = 16000, click: float | None = None) -> None:
    samples = np.zeros(int(round(seconds * rate)), np.int16)
    if click is not None:
        i = int(round(click * rate))
        samples[i:i + 40] = 20000
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())


class Recorder:
    """A render_fn recording what each frame is rendered with. ``fixed_bounds``: every ray sampled over the same
    depth range (2..4 m, the stand-in subject sits 3 m from its camera), so two routes that compute their ray
    bounds differently (evaluation: the fitted mesh box; animation: the posed skeleton) render the same image
    exactly when their rays and conditioning are the same."""

    def __init__(self, fixed_bounds: bool = False):
        self.calls, self.fixed = [], fixed_bounds

    def __call__(self, model, rays_o, rays_d, near, far, hit, cond, step, chunk=4096):
        if self.fixed:
            near, far = torch.full_like(near, 2.0), torch.full_like(far, 4.0)
            hit = torch.ones_like(hit)
        out = standin_render_image(model, rays_o, rays_d, near, far, hit, cond, step, chunk)
        self.calls.append({"origins": rays_o.clone(), "dirs": rays_d.clone(), "cond": cond, "rgb": out["rgb"].clone()})
        return out


def test_own_fit_through_the_motion_route_equals_the_evaluation_render(trained):
    """smplx/a.npz -> our motion format -> animate (smoothing off) renders frames 2 and 5 exactly as
    `evaluate render` renders a's held-out frames 2 and 5: same rays (camera, translation), same conditioning."""
    root = trained / "r"
    motion = trained / "own_a.npz"
    convert_motion(root / "smplx" / "a.npz", motion, ConvertOptions(fps=0))
    assert read_driving_motion(motion).fps == FPS                     # from frames/a/meta.json
    eval_rec, anim_rec = Recorder(fixed_bounds=True), Recorder(fixed_bounds=True)
    evaluate_render(trained / "m" / "model.pt", "a", root, trained / "e", EvalConfig(lpips=False, video=False),
                    model_factory=StandInNeRF, render_fn=eval_rec)
    s = animate(trained / "m" / "model.pt", "a", motion, root, trained / "own.mp4",
                AnimateConfig(smoothing=False, progress=False), model_factory=StandInNeRF, render_fn=anim_rec)
    assert s["frames"] == 6 and s["fps"] == FPS and s["source_format"] == "ours"
    assert len(eval_rec.calls) == 2                                    # the test split: frames 2 and 5
    for ev, frame in zip(eval_rec.calls, (2, 5)):
        an = anim_rec.calls[frame]
        assert torch.equal(ev["origins"], an["origins"]) and torch.equal(ev["dirs"], an["dirs"])
        for key in ("identity", "poses_body", "jaw", "expression", "hands", "canonical_joints", "parents",
                    "canonical_bbox"):
            assert torch.equal(getattr(ev["cond"], key), getattr(an["cond"], key)), key
        assert torch.equal(ev["rgb"], an["rgb"])
    # the real ray bounds differ (mesh box vs skeleton box) but both hold the subject: near-identical renders
    eval_rec, anim_rec = Recorder(), Recorder()
    evaluate_render(trained / "m" / "model.pt", "a", root, trained / "e", EvalConfig(lpips=False, video=False),
                    model_factory=StandInNeRF, render_fn=eval_rec)
    animate(trained / "m" / "model.pt", "a", motion, root, trained / "own.mp4",
            AnimateConfig(smoothing=False, progress=False), model_factory=StandInNeRF, render_fn=anim_rec)
    for ev, frame in zip(eval_rec.calls, (2, 5)):
        assert torch.equal(ev["origins"], anim_rec.calls[frame]["origins"])


def test_retargeting_keeps_the_avatar_where_it_stood(trained):
    """A motion recorded 5 m away and turned sideways: frame 0's root lands on the avatar's anchor-frame root,
    the drift is the motion's own, the skeleton is the avatar's, the camera its training camera."""
    root = trained / "r"
    b = load_npz(root / "smplx" / "b.npz")
    far = trained / "far.npz"
    moved = dict(b)
    moved["transl"] = (b["transl"] + np.array([5.0, -2.0, 7.0], np.float32)).astype(np.float32)
    turned = np.tile([[0.0, np.pi / 2, 0.0]], (6, 1)).astype(np.float32)        # facing +x, not the camera
    moved["poses_body"] = b["poses_body"].copy()
    moved["poses_body"][:, 0] = turned
    save_npz(far, **{k: moved[k] for k in ("poses_body", "jaw_pose", "hands", "expression", "transl")})
    data = load_subject(root, "a", 0)
    for anchor in (0, 3):
        p = prepare_motion_for(far, data, 0.0, False, 5, 1.0, "motion", anchor)
        np.testing.assert_array_equal(p.arrays["transl"][0], data.params["transl"][anchor].numpy())
        np.testing.assert_allclose(p.arrays["transl"] - p.arrays["transl"][:1], moved["transl"] - moved["transl"][:1],
                                   atol=1e-6)
        # the root joint rotates about its own rest position: its world position is J0 + transl
        avatar_root = data.params["canonical_joints"][0].numpy() + data.params["transl"][anchor].numpy()
        np.testing.assert_allclose(data.params["canonical_joints"][0].numpy() + p.arrays["transl"][0], avatar_root)
        assert p.retarget["anchor_frame"] == anchor and p.retarget["heading_turn_deg"] == 0.0
    # heading: avatar turns the whole motion about the vertical through its first root
    p = prepare_motion_for(far, data, 0.0, False, 5, 1.0, "avatar", 0)
    assert heading_of(p.arrays["poses_body"][0, 0]) == pytest.approx(heading_of(data.params["poses_body"][0, 0].numpy()),
                                                                     abs=1e-5)
    assert p.retarget["heading_turn_deg"] == pytest.approx(np.degrees(heading_of(data.params["poses_body"][0, 0].numpy()))
                                                           - 90.0, abs=1e-3)
    drift = moved["transl"] - moved["transl"][:1]
    np.testing.assert_allclose(np.linalg.norm(p.arrays["transl"] - p.arrays["transl"][:1], axis=1),
                               np.linalg.norm(drift, axis=1), atol=1e-5)                # turned, same length
    np.testing.assert_array_equal(p.arrays["transl"][0], data.params["transl"][0].numpy())
    # rendered with the avatar's skeleton and camera
    rec = Recorder()
    s = animate(trained / "m" / "model.pt", "a", far, root, trained / "far.mp4",
                AnimateConfig(smoothing=False, progress=False, max_frames=2), model_factory=StandInNeRF,
                render_fn=rec)
    assert torch.equal(rec.calls[0]["cond"].canonical_joints, data.params["canonical_joints"])
    K, R, t = data.camera(0)
    centre = -(R.T @ t)
    assert torch.allclose(rec.calls[0]["origins"][0] + data.params["transl"][0], centre, atol=1e-5)
    assert s["retarget"]["anchor_transl"] == pytest.approx(data.params["transl"][0].tolist(), abs=1e-6)
    assert s["retarget"]["motion_first_transl"] == pytest.approx(moved["transl"][0].tolist(), abs=1e-5)


def test_muxed_audio_has_the_right_length_and_offset(trained):
    """The motion's wav is muxed with sample 0 at frame 0; the shorter of audio and motion wins, and the json
    says which was cut."""
    root, src = trained / "r", trained / "motions"
    src.mkdir(exist_ok=True)
    b = load_npz(root / "smplx" / "b.npz")
    save_npz(src / "talk.npz", **{k: b[k] for k in ("poses_body", "jaw_pose", "hands", "expression", "transl")})
    _write_wav(src / "talk.wav", 1.0, click=0.25)                           # longer than 6 frames at 10 fps
    convert_motion(src / "talk.npz", trained / "talk.npz", ConvertOptions(fps=FPS))
    out = trained / "talk.mp4"
    s = animate(trained / "m" / "model.pt", "a", trained / "talk.npz", root, out,
                AnimateConfig(progress=False), model_factory=StandInNeRF, render_fn=standin_render_image)
    side = json.loads(out.with_suffix(".json").read_text())
    assert side == json.loads(json.dumps(s)) and side["frames"] == 6 and side["render_seconds_per_frame"] > 0
    assert side["audio"]["file"] == str(src / "talk.wav") and "audio cut to 0.600 s" in side["length_note"]
    assert side["conversions"] and side["source_format"] == "ours"
    frames, fps = read_video(out)
    assert len(frames) == 6 and fps == pytest.approx(FPS)
    sound, rate, duration = read_audio_track(out)
    assert rate == 16000 and duration == pytest.approx(0.6, abs=1e-6)
    onset = np.argmax(np.abs(sound[:, 0]) > 0.3) / rate
    assert onset == pytest.approx(0.25, abs=0.002)                         # in sync: no shift by the encoder

    # shorter audio: the video is cut to it (3 frames for 0.35 s at 10 fps) and the json notes it
    _write_wav(trained / "talk_short.wav", 0.35, click=0.1)
    s = animate(trained / "m" / "model.pt", "a", trained / "talk.npz", root, trained / "short.mp4",
                AnimateConfig(progress=False), model_factory=StandInNeRF, render_fn=standin_render_image,
                audio=str(trained / "talk_short.wav"))
    assert s["frames"] == 3 and "video cut to 3 frames" in s["length_note"]
    assert len(read_video(trained / "short.mp4")[0]) == 3
    sound, rate, duration = read_audio_track(trained / "short.mp4")
    assert duration == pytest.approx(0.3, abs=1e-6)
    assert np.argmax(np.abs(sound[:, 0]) > 0.3) / rate == pytest.approx(0.1, abs=0.002)
    # no audio: a silent video, and the json says so
    s = animate(trained / "m" / "model.pt", "a", trained / "talk.npz", root, trained / "silent.mp4",
                AnimateConfig(progress=False, audio=False), model_factory=StandInNeRF, render_fn=standin_render_image)
    assert s["audio"] is None and s["frames"] == 6
    with pytest.raises(ValueError, match="no audio track"):
        read_audio_track(trained / "silent.mp4")


def test_driver_side_by_side_and_resampled_motion(trained):
    """A driver's fit as a motion at another rate: resampled by slerp to the output rate, the driver frame nearest
    in time on the left, the avatar on the right, the driver's own audio (frames/<d>/audio.wav) in both."""
    root = trained / "r"
    _write_wav(root / "frames" / "b" / "audio.wav", 0.6, click=0.3)
    motion = trained / "driver_b.npz"
    m = convert_motion(root / "smplx" / "b.npz", motion, ConvertOptions(fps=20.0))   # 10 -> 20 fps: 11 frames
    assert m.frames == 11 and m.audio == str(root / "frames" / "b" / "audio.wav")
    out, side = trained / "drv.mp4", trained / "drv_side.mp4"
    s = animate(trained / "m" / "model.pt", "a", motion, root, out, AnimateConfig(progress=False, smoothing=False),
                model_factory=StandInNeRF, render_fn=standin_render_image, side_by_side_out=side,
                driver_frames=root / "frames" / "b")
    assert s["fps"] == 20.0 and s["frames"] == 11 and s["side_by_side"] == str(side)
    assert s["length_note"] is None or "cut" in s["length_note"]
    frames, _ = read_video(side)
    assert frames.shape == (11, 32, 64, 3)
    from talkinnerf.video.frames import read_image

    left = read_image(root / "frames" / "b" / "000003.png")             # output frame 6 at 0.3 s = driver frame 3
    assert np.abs(frames[6, :, :32].astype(int) - left).mean() < 8
    assert read_audio_track(side)[2] == pytest.approx(0.55, abs=1e-6)   # 11 frames at 20 fps: 0.55 s of audio
    (root / "frames" / "b" / "audio.wav").unlink()


def test_legacy_motion_keys_still_load(trained):
    m = load_motion(trained / "r" / "smplx" / "b.npz")
    assert m["poses_body"].shape == (6, 22, 3) and np.allclose(m["transl"][0], 0) and m["hands"].dtype == np.float32
    d = read_driving_motion(trained / "r" / "smplx" / "b.npz")
    assert d.fps == FPS and d.source_format == "ours (fit)" and d.frames == 6


@pytest.mark.parametrize("options, words", [({"heading": "sideways"}, "heading"), ({"smoothing_window": 4}, "odd"),
                                            ({"fps": -1}, "fps"), ({"max_frames": -2}, "max_frames")])
def test_animation_options_are_checked_before_any_work(options, words):
    from talkinnerf.options import from_dict

    with pytest.raises(ValueError, match=words):
        from_dict(AnimateConfig, options, "animation")


def test_a_bad_motion_is_left_out_and_the_others_render(trained, capsys):
    """skip mode: a motion that cannot be read becomes failure markers (npz, json) and a record; its animation
    passes the marker on (a LEFT OUT video and json) without running; a good motion converts and renders."""
    results = trained / "skip"
    bad = trained / "broken.npz"
    np.savez(bad, something=np.zeros(3))
    skip = ["--on-failure", "skip", "--results", str(results / "motions")]
    assert main(["motion", "convert", str(bad), str(results / "motions" / "broken.npz"), "--subject", "broken",
                 *skip]) == 0
    from talkinnerf.failures import left_out_subjects, marker_of

    rec = marker_of(results / "motions" / "broken.npz")
    assert rec["stage"] == "motion" and rec["file"] == "broken.npz" and "unknown motion layout" in rec["reason"]
    assert marker_of(results / "motions" / "broken.json") == rec
    assert left_out_subjects(results / "motions", ["broken"])["broken"]["subject"] == "broken"
    assert "LEFT OUT motion broken (file 'broken.npz')" in capsys.readouterr().err
    assert main(["motion", "convert", str(trained / "r" / "smplx" / "b.npz"), str(results / "motions" / "good.npz"),
                 "--subject", "good", *skip]) == 0
    animate_args = ["evaluate", "animate", "--model", str(trained / "m" / "model.pt"), "--subject", "a",
                    "--data-root", str(trained / "r"), "--options", json.dumps({"max_frames": 2, "device": "cpu"})]
    out = results / "animate" / "broken.mp4"
    assert main([*animate_args, "--motion", str(results / "motions" / "broken.npz"), "--out", str(out),
                 "--json", str(out.with_suffix(".json"))]) == 0
    assert marker_of(out.with_suffix(".json")) == rec and len(read_video(out)[0]) == 2   # the LEFT OUT video
    # fail mode: the same file stops its job with one line naming it
    assert main(["motion", "convert", str(bad), str(trained / "x.npz"), "--subject", "broken"]) == 2
    assert "FAILED talkinnerf motion convert of motion broken (file 'broken.npz')" in capsys.readouterr().err


def test_drop_in_motion_names(tmp_path):
    from talkinnerf.motion_inputs import find_drivers, find_motions

    m = tmp_path / "motions"
    m.mkdir()
    for name in ("walk.npz", "walk.wav", "walk.json", "talk show.npy", "dance_stageii.npz", "dance.wav", "notes.md",
                 ".hidden.npz", "driver_bob.npz", "a.npz", "a.npy"):
        (m / name).write_bytes(b"")
    (m / "easy.v2").mkdir()
    (m / "easy.v2.wav").write_bytes(b"")
    motions, audio, unusable = find_motions(m, ["bob"])
    assert set(motions) == {"walk", "talk_show-001022", "dance_stageii", "easy.v2", "a"}
    assert audio == {"walk": str(m / "walk.wav"), "dance_stageii": str(m / "dance.wav"),
                     "easy.v2": str(m / "easy.v2.wav")}
    assert "driving video 'bob'" in unusable[str(m / "driver_bob.npz")]
    assert "taken by" in unusable[str(m / "a.npz")] and "one file per motion" in unusable[str(m / "a.npz")]
    d = tmp_path / "drivers"
    d.mkdir()
    for name in ("bob.mp4", "bob.mov", "me talking.MOV", "notes.txt"):
        (d / name).write_bytes(b"")
    drivers, bad = find_drivers(d)
    assert len(drivers) == 2 and "bob" in drivers and any(k.startswith("me_talking-") for k in drivers)
    assert len(bad) == 1 and "one video per driver" in next(iter(bad.values()))
    assert find_motions(tmp_path / "none") == ({}, {}, {})
