"""train.autocast: bf16 only where the device has it natively; the mode a run used is in meta.json."""

import json
import warnings

import pytest
import torch

from talkinnerf.nerf import packed
from talkinnerf.nerf.packed import effective_autocast
from talkinnerf.train.trainer import TrainConfig, fit
from test_train_standin import StandInNeRF, make_subject

CPU = torch.device("cpu")


def test_float32_is_kept_and_bf16_kept_where_native(monkeypatch):
    assert effective_autocast("off", CPU) == ("off", None)
    monkeypatch.setattr(packed, "bf16_native", lambda device: True)
    assert effective_autocast("bf16", CPU) == ("bf16", None)


def test_bf16_falls_back_to_float32_without_native_support(monkeypatch):
    monkeypatch.setattr(packed, "bf16_native", lambda device: False)
    mode, note = effective_autocast("bf16", torch.device("cuda", 0))
    assert mode == "off" and "cuda:0 has no native bf16" in note


@pytest.mark.parametrize("native", [True, False])
def test_meta_records_the_autocast_the_run_used(tmp_path, monkeypatch, native):
    monkeypatch.setattr(packed, "bf16_native", lambda device: native)
    make_subject(tmp_path / "r", "a", size=24, frames=4)
    cfg = TrainConfig(iterations=2, patches=2, patch_size=8, progress=False, lpips=False, tensorboard=False,
                      threads=1, autocast="bf16")
    cfg.model.samples_per_ray = 8
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(["a"], tmp_path / "r", tmp_path / "o", cfg, model_factory=StandInNeRF)
    meta = json.loads((tmp_path / "o" / "meta.json").read_text())
    assert meta["autocast"] == ("bf16" if native else "off")
    assert any("no native bf16" in str(w.message) for w in caught) == (not native)
