"""Checkpoint + resume: 3 iterations, 'killed', resumed for 3 more == 6 uninterrupted (bit-exact on CPU)."""

import json

import torch

from talkinnerf.train.checkpoint import load_checkpoint
from talkinnerf.train.trainer import TrainConfig, fit, load_model
from test_train_standin import StandInNeRF, make_subject


def _cfg(**kw):
    kw.setdefault("iterations", 6)
    cfg = TrainConfig(patches=2, patch_size=8, checkpoint_every=3, log_every=1, progress=False,
                      lpips=False, tensorboard=False, threads=1, seed=3, **kw)
    cfg.model.samples_per_ray = 8
    return cfg


def test_resume_after_kill_equals_uninterrupted(tmp_path):
    make_subject(tmp_path / "r", "a", size=24, frames=4, seed=0)
    make_subject(tmp_path / "r", "b", size=24, frames=4, seed=1)
    fit(["a", "b"], tmp_path / "r", tmp_path / "full", _cfg(), model_factory=StandInNeRF)
    fit(["a", "b"], tmp_path / "r", tmp_path / "cut", _cfg(), stop_at=3, model_factory=StandInNeRF)
    assert not (tmp_path / "cut" / "model.pt").exists()
    assert json.loads((tmp_path / "cut" / "meta.json").read_text())["status"] == "stopped"
    assert load_checkpoint(tmp_path / "cut" / "checkpoints" / "latest.pt")["step"] == 3
    summary = fit(["a", "b"], tmp_path / "r", tmp_path / "cut", _cfg(), model_factory=StandInNeRF)
    assert summary["steps_run"] == 3
    full, *_ = load_model(tmp_path / "full" / "model.pt", model_factory=StandInNeRF)
    cut, *_ = load_model(tmp_path / "cut" / "model.pt", model_factory=StandInNeRF)
    for (name, a), (_, b) in zip(full.state_dict().items(), cut.state_dict().items()):
        assert torch.equal(a, b), name
    # and the training did change the parameters (the comparison is not vacuous)
    torch.manual_seed(3)
    init = StandInNeRF(_cfg().model, 2)
    assert not torch.equal(init.mlp[0].weight, full.mlp[0].weight)
    ck_full = load_checkpoint(tmp_path / "full" / "checkpoints" / "latest.pt")
    ck_cut = load_checkpoint(tmp_path / "cut" / "checkpoints" / "latest.pt")
    assert torch.equal(ck_full["rng"]["sampling"], ck_cut["rng"]["sampling"])
    assert ck_full["scheduler"]["last_epoch"] == ck_cut["scheduler"]["last_epoch"] == 6


def test_different_seed_differs(tmp_path):
    make_subject(tmp_path / "r", "a", size=24, frames=4)
    fit(["a"], tmp_path / "r", tmp_path / "s3", _cfg(), model_factory=StandInNeRF)
    cfg = _cfg()
    cfg.seed = 4
    fit(["a"], tmp_path / "r", tmp_path / "s4", cfg, model_factory=StandInNeRF)
    a, *_ = load_model(tmp_path / "s3" / "model.pt", model_factory=StandInNeRF)
    b, *_ = load_model(tmp_path / "s4" / "model.pt", model_factory=StandInNeRF)
    assert not torch.equal(a.mlp[0].weight, b.mlp[0].weight)


def test_lr_decays_to_rate_over_decay_steps(tmp_path):
    make_subject(tmp_path / "r", "a", size=24, frames=4)
    cfg = _cfg(decay_steps=6)
    fit(["a"], tmp_path / "r", tmp_path / "o", cfg, model_factory=StandInNeRF)
    ck = load_checkpoint(tmp_path / "o" / "checkpoints" / "latest.pt")
    lrs = [g["lr"] for g in ck["optimizer"]["param_groups"]]
    assert all(abs(lr - cfg.lr * 0.1) < 1e-12 for lr in lrs)
    meta = json.loads((tmp_path / "o" / "meta.json").read_text())
    assert meta["lpips"] == "off: disabled by option" and meta["status"] == "done"


def test_checkpoint_of_another_configuration_is_not_resumed(tmp_path):
    # a changed option (here: iterations, which also rescales the schedules) must retrain from scratch,
    # giving what a fresh run with the new options gives, never a mix of the two runs
    import pytest

    make_subject(tmp_path / "r", "a", size=24, frames=4)
    fit(["a"], tmp_path / "r", tmp_path / "o", _cfg(), model_factory=StandInNeRF)
    fit(["a"], tmp_path / "r", tmp_path / "fresh", _cfg(iterations=8), model_factory=StandInNeRF)
    with pytest.warns(UserWarning, match="different training configuration"):
        summary = fit(["a"], tmp_path / "r", tmp_path / "o", _cfg(iterations=8), model_factory=StandInNeRF)
    assert summary["steps_run"] == 8
    a, *_ = load_model(tmp_path / "o" / "model.pt", model_factory=StandInNeRF)
    b, *_ = load_model(tmp_path / "fresh" / "model.pt", model_factory=StandInNeRF)
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), name
    # options that only change logging/scheduling on the machine still resume
    cfg = _cfg(iterations=8)
    cfg.log_every = 2
    assert fit(["a"], tmp_path / "r", tmp_path / "o", cfg, model_factory=StandInNeRF)["steps_run"] == 0


def test_finished_checkpoint_is_not_resumed_on_changed_data(tmp_path):
    # a subject's video changed and its preprocessing reran: the train rule reruns, and the finished checkpoint
    # of the old data must not be handed back as the new model
    import numpy as np
    import pytest

    make_subject(tmp_path / "r", "a", size=24, frames=4)
    fit(["a"], tmp_path / "r", tmp_path / "o", _cfg(), model_factory=StandInNeRF)
    again = fit(["a"], tmp_path / "r", tmp_path / "o", _cfg(), model_factory=StandInNeRF)
    assert again["steps_run"] == 0                          # same data: the finished run is resumed as is
    npz = tmp_path / "r" / "smplx" / "a.npz"
    arrays = dict(np.load(npz))
    arrays["transl"] = arrays["transl"] + np.float32(0.01)
    np.savez(npz, **arrays)
    with pytest.warns(UserWarning, match="different training configuration, data or code"):
        summary = fit(["a"], tmp_path / "r", tmp_path / "o", _cfg(), model_factory=StandInNeRF)
    assert summary["steps_run"] == 6


def test_resume_with_all_subjects_per_step_equals_uninterrupted(tmp_path):
    # each iteration renders both subjects (subjects_per_step: 0): the multi-batch loop resumes bit-exact too
    make_subject(tmp_path / "r", "a", size=24, frames=4, seed=0)
    make_subject(tmp_path / "r", "b", size=24, frames=4, seed=1)
    fit(["a", "b"], tmp_path / "r", tmp_path / "full", _cfg(subjects_per_step=0), model_factory=StandInNeRF)
    fit(["a", "b"], tmp_path / "r", tmp_path / "cut", _cfg(subjects_per_step=0), stop_at=3,
        model_factory=StandInNeRF)
    fit(["a", "b"], tmp_path / "r", tmp_path / "cut", _cfg(subjects_per_step=0), model_factory=StandInNeRF)
    fit(["a", "b"], tmp_path / "r", tmp_path / "one", _cfg(), model_factory=StandInNeRF)
    full, *_ = load_model(tmp_path / "full" / "model.pt", model_factory=StandInNeRF)
    cut, *_ = load_model(tmp_path / "cut" / "model.pt", model_factory=StandInNeRF)
    one, *_ = load_model(tmp_path / "one" / "model.pt", model_factory=StandInNeRF)
    for (name, a), (_, b) in zip(full.state_dict().items(), cut.state_dict().items()):
        assert torch.equal(a, b), name
    assert not torch.equal(full.mlp[0].weight, one.mlp[0].weight)    # another sampling, another model
