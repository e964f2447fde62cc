"""`train fit-clip`: Fig. 7b's from-scratch reference trains one fresh identity on exactly the fine-tuning clip."""

from __future__ import annotations

import json

from talkinnerf.train.finetune import fit_clip
from talkinnerf.train.trainer import TrainConfig, load_model
from test_train_standin import StandInNeRF, make_subject


def test_fit_clip_trains_a_fresh_single_identity_model_on_the_first_seconds(tmp_path):
    make_subject(tmp_path / "r", "b", size=32, frames=6, seed=1)
    cfg = TrainConfig(iterations=4, patches=2, patch_size=16, progress=False, lpips=False, tensorboard=False,
                      threads=1)
    cfg.model.samples_per_ray = 8
    fit_clip("b", 0.3, tmp_path / "r", tmp_path / "clip", cfg, setting="humannerf", model_factory=StandInNeRF)
    meta = json.loads((tmp_path / "clip" / "meta.json").read_text())
    assert meta["frames"] == [0, 1]                 # 0.3 s at 10 fps -> frames 0..2, and 2 is a test frame
    assert meta["subjects"] == ["b"] and meta["clip_seconds"] == 0.3 and meta["iterations"] == 4
    _, _, names, step = load_model(tmp_path / "clip" / "model.pt", model_factory=StandInNeRF)
    assert names == ["b"] and step == 4             # from scratch: its own steps, no base model's
