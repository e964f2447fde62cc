"""Training guards: NaN/Inf stops training and keeps the last good checkpoint; failed subjects are dropped from
training and named in meta.json; untrusted files (checkpoints, model files, npz) never run pickled code."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

from talkinnerf.failures import record, write_marker
from talkinnerf.train.checkpoint import FiniteGuard, TrainingDiverged, load_checkpoint
from talkinnerf.train.trainer import fit, load_model
from test_train_resume import _cfg
from test_train_standin import StandInNeRF, make_subject


class _Poisoned(StandInNeRF):
    """Turns one weight into NaN when training reaches iteration 5 (after the checkpoint at 3)."""

    def prepare_step(self, step: int) -> None:
        if step == 4:
            with torch.no_grad():
                self.mlp[0].weight[0, 0] = float("nan")


def test_nan_parameter_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    make_subject(tmp_path / "r", "a", size=24, frames=4)
    with pytest.raises(TrainingDiverged, match=r"NaN/Inf in .*mlp\.0\.weight.*last good checkpoint"):
        fit(["a"], tmp_path / "r", tmp_path / "o", _cfg(), model_factory=_Poisoned)
    assert not (tmp_path / "o" / "model.pt").exists()
    state = load_checkpoint(tmp_path / "o" / "checkpoints" / "latest.pt")
    assert state["step"] == 3
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_guard_names_the_first_nonfinite_loss():
    guard = FiniteGuard("/nonexistent", "training x")
    model = torch.nn.Linear(2, 2)
    guard.observe(0, {"total": torch.tensor(1.0)})
    guard.check(1, model)                                   # finite: passes and resets
    guard.observe(1, {"total": torch.tensor(1.0)})
    guard.observe(2, {"total": torch.tensor(float("inf"))})
    guard.observe(3, {"total": torch.tensor(float("nan"))})
    with pytest.raises(TrainingDiverged, match=r"the loss at iteration 3 .*no checkpoint had been written"):
        guard.check(4, model)


def test_failed_subjects_are_dropped_from_training_and_named_in_meta(tmp_path):
    from talkinnerf.cli import main

    root = tmp_path / "r"
    make_subject(root, "a", size=24, frames=4)
    rec = record("b", "decode", "video data/videos/b.mp4 is empty (0 bytes)", "b.mp4")
    for rel, kind in (("frames/b", "dir"), ("matte/b", "dir"), ("parts/b", "dir"), ("smplx/b.npz", "file"),
                      ("splits/b.json", "file")):
        write_marker(root / rel, rec, kind)
    options = json.dumps({"iterations": 3, "patches": 2, "patch_size": 8, "checkpoint_every": 3, "progress": False,
                          "lpips": False, "tensorboard": False, "threads": 1, "model": {"samples_per_ray": 8}})
    import talkinnerf.train.trainer as trainer

    real_fit = trainer.fit
    trainer.fit = lambda *a, **k: real_fit(*a, **k, model_factory=StandInNeRF)
    try:
        assert main(["train", "fit", "--subjects", "a", "b", "--data-root", str(root), "--out",
                     str(tmp_path / "m"), "--options", options]) == 0
    finally:
        trainer.fit = real_fit
    meta = json.loads((tmp_path / "m" / "meta.json").read_text())
    assert meta["identities"] == ["a"]
    assert meta["left_out"]["b"]["stage"] == "decode" and "0 bytes" in meta["left_out"]["b"]["reason"]
    _, _, subjects, _ = load_model(tmp_path / "m" / "model.pt", model_factory=StandInNeRF)
    assert subjects == ["a"]


def test_training_with_every_subject_left_out_writes_markers_naming_them(tmp_path, capsys):
    """A single-subject model of a failed subject (or a folder of only bad videos): no model, and what reads the
    model (evaluation) is told why instead of failing."""
    from talkinnerf.cli import main
    from talkinnerf.failures import marker_of

    write_marker(tmp_path / "frames" / "b", record("b", "decode", "video b.mp4 is empty", "b.mp4"), "dir")
    assert main(["train", "fit", "--subjects", "b", "--data-root", str(tmp_path), "--out", str(tmp_path / "m")]) == 0
    assert "no subject to train on" in capsys.readouterr().out
    assert marker_of(tmp_path / "m" / "model.pt")["reason"] == "video b.mp4 is empty"
    assert marker_of(tmp_path / "m" / "meta.json")["subject"] == "b"
    assert main(["evaluate", "render", "--model", str(tmp_path / "m" / "model.pt"), "--subject", "b",
                 "--data-root", str(tmp_path), "--out", str(tmp_path / "e")]) == 0
    assert (tmp_path / "e" / "compare.png").is_file()


# ---------------------------------------------------------------------------------------------- untrusted files


class _Evil:
    """Unpickling this calls a function: what a crafted file would use to run code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_crafted_pickle_checkpoint_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "latest.pt"
    torch.save({"step": 1, "model": _Evil(marker)}, path)
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(path)
    assert not marker.exists()


def test_crafted_pickle_model_file_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pt"
    torch.save({"format": "x", "state_dict": _Evil(marker)}, path)
    with pytest.raises(pickle.UnpicklingError):
        load_model(path, model_factory=StandInNeRF)
    assert not marker.exists()


def test_crafted_pickle_base_model_for_finetuning_is_refused(tmp_path):
    from talkinnerf.train.finetune import FinetuneConfig, finetune

    marker = tmp_path / "pwned"
    torch.save({"format": "x", "state_dict": _Evil(marker)}, tmp_path / "base.pt")
    make_subject(tmp_path / "r", "a", size=24, frames=4)
    with pytest.raises(pickle.UnpicklingError):
        finetune(tmp_path / "base.pt", "a", 1.0, tmp_path / "r", tmp_path / "o", FinetuneConfig())
    assert not marker.exists()


def test_npz_with_pickled_objects_is_refused(tmp_path):
    """A user's npz (keypoints, fit, body model) holding an object array would unpickle code on load."""
    from talkinnerf.body.model import load_body_model
    from talkinnerf.io import load_npz

    marker = tmp_path / "pwned"
    path = tmp_path / "user.npz"
    np.savez(path, poses_body=np.zeros((2, 3)), evil=np.array([_Evil(marker)], dtype=object))
    with pytest.raises(ValueError, match="allow_pickle"):
        load_npz(path)
    with pytest.raises(ValueError, match="allow_pickle"):
        load_body_model(str(path))
    assert not marker.exists()
