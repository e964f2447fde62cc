"""Free viewpoint (issue 19): the training camera orbits the posed avatar about the vertical through its root."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from talkinnerf.cli import main
from talkinnerf.evaluate.render_eval import render_view
from talkinnerf.evaluate.turntable import TurntableConfig, orbit_cameras, turntable, turntable_frames
from talkinnerf.options import from_dict
from talkinnerf.train.data import load_subject
from talkinnerf.train.trainer import TrainConfig, fit, load_model
from talkinnerf.video.encode import read_video
from test_train_standin import StandInNeRF, make_subject, standin_render_image


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("turntable")
    make_subject(tmp / "r", "a", size=32, frames=6, seed=0)
    cfg = TrainConfig(iterations=20, patches=2, patch_size=16, progress=False, lpips=False, tensorboard=False,
                      threads=1)
    cfg.model.samples_per_ray = 8
    fit(["a"], tmp / "r", tmp / "m", cfg, model_factory=StandInNeRF)
    return tmp


def _centre(R, t):
    return -np.asarray(R, np.float64).T @ np.asarray(t, np.float64)


def test_frame_zero_is_the_training_view(trained):
    """Turntable frame 0 is bit for bit `evaluate render`'s view of the avatar's first training frame."""
    model, model_cfg, names, step = load_model(trained / "m" / "model.pt", model_factory=StandInNeRF)
    data = load_subject(trained / "r", "a", 0, model_cfg.background)
    cfg = TurntableConfig(frames=4, progress=False)
    images, info = turntable_frames(model, model_cfg, step, data, cfg, torch.device("cpu"),
                                    render_fn=standin_render_image)
    f0 = data.train_frames[0]
    K, R, t = data.camera(f0)
    front = render_view(model, data.conditioning(f0), K, R, t, data.params["transl"][f0], data.posed_box(f0),
                        data.size, step, cfg.chunk, model_cfg.background, "cpu", standin_render_image)
    assert info["frame"] == f0 and "first training frame" in info["pose"]
    np.testing.assert_array_equal(images[0], front)
    assert not np.array_equal(images[2], front)                        # the back view differs
    assert info["orbit"]["radius"] == pytest.approx(info["orbit"]["training_distance"])


def test_orbit_turns_about_the_vertical_through_the_root():
    R = np.diag([1.0, -1.0, -1.0]).astype(np.float32)
    t = np.array([0.1, -0.3, 3.0], np.float32)
    root = np.array([0.05, 0.2, -0.1])
    cams, info = orbit_cameras(R, t, root, 8)
    assert np.array_equal(cams[0][0], R) and np.array_equal(cams[0][1], t)          # frame 0: the camera itself
    centres = np.stack([_centre(*c) for c in cams])
    offsets = centres - root
    heights = offsets[:, 1]
    assert np.allclose(heights, heights[0], atol=1e-5)                               # vertical axis: same height
    assert np.allclose(np.hypot(offsets[:, 0], offsets[:, 2]), math.hypot(*offsets[0, [0, 2]]), atol=1e-5)
    azimuth = np.degrees(np.arctan2(offsets[:, 0], offsets[:, 2]))
    steps = (np.diff(azimuth) + 180) % 360 - 180
    assert np.allclose(np.abs(steps), 45.0, atol=1e-3) and np.allclose(steps, steps[0], atol=1e-3)
    # the root stays where the training view framed it (the camera turns with the orbit)
    K = np.array([[50.0, 0, 16], [0, 50.0, 16], [0, 0, 1]])
    pixels = [(K @ (Rk @ root + tk))[:2] / (K @ (Rk @ root + tk))[2] for Rk, tk in cams]
    assert np.allclose(pixels, pixels[0], atol=1e-3)
    # elevation and radius
    cams, info = orbit_cameras(R, t, root, 4, elevation=30.0, radius=5.0)
    for Rk, tk in cams:
        off = _centre(Rk, tk) - root
        assert np.linalg.norm(off) == pytest.approx(5.0, abs=1e-4)
        assert math.degrees(math.atan2(off[1], math.hypot(off[0], off[2]))) == pytest.approx(30.0, abs=1e-3)
    assert info["elevation_deg"] == pytest.approx(30.0) and info["radius"] == pytest.approx(5.0)


def test_cli_turntable_with_a_motion_frame(trained, monkeypatch):
    """`evaluate turntable --motion M --frame i --frames N --elevation DEG --radius M` writes the video and json."""
    import talkinnerf.evaluate.render_eval as render_eval
    import talkinnerf.train.trainer as trainer
    from talkinnerf.motion.convert import ConvertOptions, convert_motion

    monkeypatch.setattr(trainer, "default_model_factory", StandInNeRF)
    monkeypatch.setattr(render_eval, "get_render_fn", lambda: standin_render_image)
    root = trained / "r"
    convert_motion(root / "smplx" / "a.npz", trained / "a_motion.npz", ConvertOptions(fps=0))
    out = trained / "tt.mp4"
    rc = main(["evaluate", "turntable", "--model", str(trained / "m" / "model.pt"), "--subject", "a", "--data-root",
               str(root), "--out", str(out), "--motion", str(trained / "a_motion.npz"), "--frame", "2",
               "--frames", "3", "--elevation", "10", "--radius", "3.5",
               "--options", json.dumps({"progress": False, "device": "cpu", "fps": 12})])
    assert rc == 0
    info = json.loads(out.with_suffix(".json").read_text())
    assert info["frames"] == 3 and info["frame"] == 2 and info["motion"].endswith("a_motion.npz")
    assert info["orbit"]["radius"] == pytest.approx(3.5) and info["orbit"]["elevation_deg"] == pytest.approx(10.0)
    frames, fps = read_video(out)
    assert len(frames) == 3 and fps == pytest.approx(12)


@pytest.mark.parametrize("options, words", [({"frames": 0}, "frames"), ({"elevation": 95}, "elevation"),
                                            ({"radius": -1.0}, "radius"), ({"heading": "up"}, "heading"),
                                            ({"frame": -3}, "frame")])
def test_turntable_options_are_checked(options, words):
    with pytest.raises(ValueError, match=words):
        from_dict(TurntableConfig, options, "turntable")


def test_turntable_of_a_left_out_subject_passes_the_marker_on(trained, tmp_path):
    from talkinnerf.failures import marker_of, record, write_marker

    root = tmp_path / "r"
    make_subject(root, "a", size=32, frames=3)
    write_marker(root / "smplx" / "a.npz", record("a", "fit", ValueError("diverged"), "a.mp4"))
    out = tmp_path / "t.mp4"
    assert main(["evaluate", "turntable", "--model", str(trained / "m" / "model.pt"), "--subject", "a",
                 "--data-root", str(root), "--out", str(out), "--json", str(tmp_path / "t.json")]) == 0
    assert marker_of(tmp_path / "t.json")["reason"] == "diverged" and len(read_video(out)[0]) == 2


def test_turntable_function_writes_video_and_json(trained):
    s = turntable(trained / "m" / "model.pt", "a", trained / "r", trained / "f.mp4",
                  TurntableConfig(frames=2, progress=False), model_factory=StandInNeRF, render_fn=standin_render_image)
    assert s["frames"] == 2 and s["render_seconds_per_frame"] > 0
    assert json.loads((trained / "f.json").read_text())["orbit"]["frames"] == 2
