"""Multi-process training as the cluster profile runs it: torchrun, two ranks, gloo on CPU, the real model."""

import json
import subprocess
import sys

import pytest
import torch

from talkinnerf.train.trainer import load_model
from test_train_standin import make_subject


@pytest.mark.slow
def test_torchrun_two_ranks_train_the_real_model(tmp_path):
    make_subject(tmp_path / "r", "a", size=24, frames=4, seed=0, figure=True)
    make_subject(tmp_path / "r", "b", size=24, frames=4, seed=1, figure=True)
    options = {"iterations": 4, "device": "cpu", "threads": 1, "patches": 2, "patch_size": 8, "progress": False,
               "tensorboard": False, "lpips": False, "checkpoint_every": 2,
               "frame_alignment": True, "alignment_lr": 0.01,    # its gradients are averaged outside DDP
               "model": {"samples_per_ray": 8, "volume_size": 8, "pose_refine_kick_in": 1, "nr_kick_in": 2,
                         "nr_full_band": 3, "hands_depth": 4, "hands_from_body": True, "hands_kick_in": 2}}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "talkinnerf", "train", "fit", "--subjects", "a", "b", "--data-root", str(tmp_path / "r"),
           "--out", str(tmp_path / "m"), "--options", json.dumps(options)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    meta = json.loads((tmp_path / "m" / "meta.json").read_text())
    assert meta["world_size"] == 2 and meta["status"] == "done"
    assert meta["frame_alignment"]["frames_moved"] > 0
    model, cfg, names, step = load_model(tmp_path / "m" / "model.pt")
    assert names == ["a", "b"] and step == 4 and cfg.hands_from_body
    assert all(torch.isfinite(p).all() for p in model.parameters())
