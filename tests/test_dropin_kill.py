"""A job killed with SIGKILL (out of memory, a cluster's time limit) and rerun with the same command gives the
same outputs as a run that was never interrupted: decode and evaluation write their outputs atomically,
training resumes from its last checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from test_train_standin import make_subject

PY = [sys.executable, "-m", "talkinnerf"]


def _kill_when(cmd: list[str], ready, timeout: float = 300) -> None:
    """Run ``cmd``; SIGKILL it as soon as ``ready()`` is true (it must not have finished before)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    try:
        while not ready():
            assert proc.poll() is None, f"{cmd[3:5]} finished before it could be killed"
            assert time.time() < deadline, "timed out waiting to kill"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_killed_decode_leaves_nothing_and_reruns_to_the_same_frames(tmp_path):
    from talkinnerf.video.encode import write_video

    rng = np.random.default_rng(0)
    video = tmp_path / "v.mp4"
    write_video(video, rng.integers(0, 255, (240, 96, 96, 3), dtype=np.uint8), 25)
    cmd = lambda out: PY + ["video", "decode", "--video", str(video), "--out", str(out),  # noqa: E731
                            "--options", '{"crop": "center", "size": 64}']
    _run(cmd(tmp_path / "whole"))
    out = tmp_path / "killed"
    # the frames go to a hidden sibling folder first; kill once it holds some of them
    _kill_when(cmd(out), lambda: any(len(list(d.glob("*.png"))) > 5 for d in tmp_path.glob(".killed.*")))
    assert not out.exists()                         # no half-written output that a rerun would take as done
    _run(cmd(out))
    assert _tree(out) == _tree(tmp_path / "whole")


def test_killed_fit_leaves_nothing_and_reruns_to_the_same_fit(tmp_path, open_model_path):
    from talkinnerf.io import load_npz, save_npz, write_json

    frames, size = 3, 64
    rng = np.random.default_rng(0)
    write_json(tmp_path / "frames" / "meta.json", {"count": frames, "size": size, "fps": 10.0})
    centre = np.array([size / 2, size / 2])

    def points(n, spread):
        xy = centre + rng.normal(scale=spread, size=(frames, n, 2))
        return np.concatenate([xy, np.ones((frames, n, 1))], -1).astype(np.float32)

    save_npz(tmp_path / "k.npz", body=points(25, 12), left_hand=points(21, 2), right_hand=points(21, 2),
             face=points(70, 3))
    cmd = lambda out: PY + ["preprocess", "fit", "--frames", str(tmp_path / "frames"), "--keypoints",  # noqa: E731
                            str(tmp_path / "k.npz"), "--model", str(open_model_path), "--out", str(out),
                            "--options", '{"iterations": [3, 6, 6]}']
    _run(cmd(tmp_path / "whole.npz"))
    killed = tmp_path / "killed.npz"
    log = tmp_path / "fit.log"
    proc = subprocess.Popen(cmd(killed), stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    try:   # killed in the middle of the optimisation (its progress lines go to the log)
        deadline = time.time() + 300
        while "fit stage 2/3" not in log.read_text():
            assert proc.poll() is None and time.time() < deadline, log.read_text()[-2000:]
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert not killed.exists()
    _run(cmd(killed))
    whole, again = load_npz(tmp_path / "whole.npz"), load_npz(killed)
    assert whole.keys() == again.keys()
    for key in whole:
        np.testing.assert_array_equal(whole[key], again[key], err_msg=key)


@pytest.mark.slow
def test_killed_training_and_evaluation_rerun_to_the_same_outputs(tmp_path):
    root = make_subject(tmp_path / "r", "a", size=24, frames=6, figure=True)
    make_subject(root, "b", size=24, frames=6, seed=1, figure=True)
    options = json.dumps({"iterations": 60, "patches": 2, "patch_size": 8, "checkpoint_every": 10,
                          "progress": False, "lpips": False, "tensorboard": False, "threads": 1, "seed": 5,
                          "model": {"samples_per_ray": 8}})
    train = lambda out: PY + ["train", "fit", "--subjects", "a", "b", "--data-root", str(root),  # noqa: E731
                              "--out", str(out), "--options", options]
    _run(train(tmp_path / "whole"))
    killed = tmp_path / "killed"
    _kill_when(train(killed), lambda: (killed / "checkpoints" / "0000030.pt").is_file())
    assert not (killed / "model.pt").exists()
    _run(train(killed))
    meta = json.loads((killed / "meta.json").read_text())
    # killed between writing 0000030.pt and latest.pt at worst: resumed from 20 or 30, never from scratch
    assert meta["status"] == "done" and meta["resumed_from"] in (20, 30)
    whole = torch.load(tmp_path / "whole" / "model.pt", weights_only=True)["state_dict"]
    resumed = torch.load(killed / "model.pt", weights_only=True)["state_dict"]
    assert whole.keys() == resumed.keys()
    for name in whole:
        assert torch.equal(whole[name], resumed[name]), name

    evaluate = lambda out: PY + ["evaluate", "render", "--model", str(tmp_path / "whole" / "model.pt"),  # noqa: E731
                                 "--subject", "a", "--data-root", str(root), "--out", str(out),
                                 "--options", '{"lpips": false, "threads": 1}']
    _run(evaluate(tmp_path / "eval_whole"))
    eval_killed = tmp_path / "eval_killed"
    started = time.time()
    # killed while it loads the model and renders (well before its outputs, which need seconds of imports)
    _kill_when(evaluate(eval_killed), lambda: time.time() > started + 1.0)
    assert not (eval_killed / "metrics.csv").exists()
    _run(evaluate(eval_killed))
    pd.testing.assert_frame_equal(pd.read_csv(eval_killed / "metrics.csv"),
                                  pd.read_csv(tmp_path / "eval_whole" / "metrics.csv"))
