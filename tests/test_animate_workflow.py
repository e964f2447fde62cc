"""The animation drop-in folders in the workflow: `snakemake animate_all` plans a render of every trained subject of
every setting under every motion and driving video (drivers in their own namespace, never trained on), and a bad
motion is left out while the others convert (a tiny real run: the conversions only)."""

from __future__ import annotations

import re
import wave

import numpy as np
import yaml

from workflow_utils import REPO, planned_jobs, snakemake


def _config():
    return yaml.safe_load((REPO / "config.yaml").read_text())


def test_animate_all_plans_every_subject_setting_and_motion(tmp_path):
    motions, drivers = tmp_path / "data" / "motions", tmp_path / "data" / "drivers"
    motions.mkdir(parents=True)
    drivers.mkdir(parents=True)
    assert not any(rule.startswith(("motion_", "driver_", "animate_")) or rule == "turntable"
                   for rule in planned_jobs(tmp_path))                     # the main job does not animate
    for name in ("walk.npz", "walk.wav", "run.npy", "notes.md"):
        (motions / name).write_bytes(b"")
    (drivers / "me talking.mp4").write_bytes(b"")                          # the dry run only needs the files
    config = _config()
    n = len(config["settings"]) * len(config["demo"]["subjects"])
    jobs = planned_jobs(tmp_path, "animate_all")
    assert jobs["animate_motion"] == 2 * n and jobs["animate_driver"] == n and jobs["turntable"] == n
    assert jobs["motion_convert"] == 2
    for rule in ("motion_audio", "driver_decode", "driver_keypoints", "driver_fit", "driver_motion"):
        assert jobs[rule] == 1, rule
    assert jobs["matte"] == len(config["demo"]["subjects"])               # drivers: decode, keypoints, fit only
    assert jobs["decode"] == len(config["demo"]["subjects"]) and jobs["train"] == len(config["settings"])
    text = snakemake(tmp_path, "-n", "-p", "--cores", "1", "animate_all", timeout=300).stdout
    train = [line for line in text.splitlines() if " train fit " in line]
    assert train and all("me_talking" not in line for line in train)       # a driver is never a training subject
    assert "--out results/drivers/frames/me_talking-" in text and "--results results/drivers" in text
    assert re.search(r"motion convert results/drivers/smplx/(me_talking-\w+)\.npz results/motions/driver_\1\.npz "
                     r"--layout ours --fps 30\.0", text)
    assert "--side-by-side results/animate/talkinnerf/ava/driver_me_talking-" in text
    assert "video copy-audio --wav data/motions/walk.wav --out results/motions/walk.wav" in text
    assert "results/turntable/talkinnerf/ava.mp4" in text
    # each render reads its own converted motion only: a new or changed motion reruns its renders alone
    for block in text.split("\nrule animate_motion:")[1:]:
        inputs = block.split("\n    input: ")[1].split("\n")[0]
        output = block.split("\n    output: ")[1].split("\n")[0]
        motion = output.split("/")[-1].split(".")[0]
        assert f"results/motions/{motion}.npz" in inputs and inputs.count("results/motions/") == 1 + (motion == "walk")


def _amass(path, frames=8):
    rng = np.random.default_rng(0)
    np.savez(path, poses=rng.normal(size=(frames, 165)) * 0.1, trans=rng.normal(size=(frames, 3)),
             mocap_frame_rate=np.array(60.0))


def test_a_bad_motion_is_left_out_and_the_others_convert(tmp_path):
    motions = tmp_path / "data" / "motions"
    motions.mkdir(parents=True)
    _amass(motions / "good.npz")
    with wave.open(str(motions / "good.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.zeros(1600, np.int16).tobytes())
    (motions / "bad.npz").write_bytes(b"not a motion at all")
    proc = snakemake(tmp_path, "--cores", "1", "results/motions/good.npz", "results/motions/good.wav",
                     "results/motions/bad.npz", timeout=600)              # no --keep-going: the run still succeeds
    from talkinnerf.failures import left_out_subjects, marker_of
    from talkinnerf.motion.format import load_motion_file

    results = tmp_path / "results"
    good = load_motion_file(results / "motions" / "good.npz")
    assert good.fps == 30.0 and good.frames == 4 and good.audio == "data/motions/good.wav"
    assert (results / "motions" / "good.wav").read_bytes() == (motions / "good.wav").read_bytes()
    rec = marker_of(results / "motions" / "bad.npz")
    assert rec["stage"] == "motion" and rec["file"] == "bad.npz" and "bad.npz" in rec["reason"]
    assert left_out_subjects(results / "motions", ["bad", "good"]) == {"bad": rec}
    assert "motion bad left out" in proc.stderr
