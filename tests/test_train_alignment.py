"""Per-frame fit offsets (`train.frame_alignment`, talkinnerf/train/alignment.py)."""

import dataclasses
import json
import math

import pytest
import torch

from talkinnerf.nerf.config import ModelConfig
from talkinnerf.nerf.model import TalkinNeRF
from talkinnerf.nerf.synthetic import frontal_rays, synthetic_conditioning
from talkinnerf.train.alignment import FrameAlignment
from talkinnerf.train.checkpoint import load_checkpoint
from talkinnerf.train.trainer import TrainConfig, fit, load_model
from test_train_standin import StandInNeRF, make_subject


def test_rows_follow_subjects_and_frames_and_bad_lookups_name_the_subject():
    al = FrameAlignment({"a": 3, "b": 5}, [0, 15])
    assert al.rotation.shape == (8, 2, 3) and al.translation.shape == (8, 3)
    assert [al.row("a", 0), al.row("a", 2), al.row("b", 0), al.row("b", 4)] == [0, 2, 3, 7]
    with pytest.raises(KeyError, match="'c'"):
        al.row("c", 0)
    with pytest.raises(IndexError, match="frame 5 of subject 'b'"):
        al.row("b", 5)
    with pytest.raises(ValueError, match="distinct body joints"):
        FrameAlignment({"a": 1}, [0, 0])
    with pytest.raises(ValueError, match="distinct body joints"):
        FrameAlignment({"a": 1}, [22])


def test_offsets_touch_only_their_joints_and_frame():
    al = FrameAlignment({"a": 2, "b": 2}, [12, 15], trained={"a": [0, 1], "b": [0]})   # b's frame 1 held out
    with torch.no_grad():
        al.rotation[3] = torch.tensor([[0.1, 0.0, 0.0], [0.0, 0.2, 0.0]])   # subject b, frame 1
        al.translation[3] = torch.tensor([0.01, -0.02, 0.03])
    poses, origins = torch.randn(22, 3), torch.randn(4, 3)
    p, o = al(poses, origins, "b", 1)
    changed = (p - poses).abs().sum(1) > 0
    assert changed.nonzero().reshape(-1).tolist() == [12, 15]
    assert torch.allclose(p[12] - poses[12], torch.tensor([0.1, 0.0, 0.0]))
    assert torch.allclose(o, origins - torch.tensor([0.01, -0.02, 0.03]))
    p0, o0 = al(poses, origins, "b", 0)                      # another frame: untouched
    assert torch.equal(p0, poses) and torch.equal(o0, origins)


def test_a_common_offset_of_every_trained_frame_changes_nothing():
    """Offsets are corrections about the fit: their mean over the subject's trained frames is taken out, so a drift
    shared by all of them cannot move the canonical body away from the fit that held-out frames are rendered with."""
    al = FrameAlignment({"a": 3, "b": 2}, [0, 15], trained={"a": [0, 2], "b": [0, 1]})
    with torch.no_grad():
        al.rotation[[0, 2]] = torch.tensor([[0.05, 0.0, 0.0], [0.0, 0.1, 0.0]])
        al.translation[[0, 2]] = torch.tensor([0.01, 0.02, 0.03])
        al.rotation[1] = 0.3                                  # a's held-out frame 1: outside the mean
    poses, origins = torch.randn(22, 3), torch.randn(4, 3)
    for frame in (0, 2):
        p, o = al(poses, origins, "a", frame)
        assert torch.allclose(p, poses) and torch.allclose(o, origins)
    with torch.no_grad():
        al.rotation[0, 1] += torch.tensor([0.0, 0.0, 0.2])      # one frame's own error: half of it against the mean
    p, _ = al(poses, origins, "a", 0)
    assert torch.allclose(p[15] - poses[15], torch.tensor([0.0, 0.0, 0.1]))
    p, _ = al(poses, origins, "b", 0)                          # another subject: its own mean
    assert torch.equal(p, poses)


def test_zero_offsets_render_the_fit_and_the_loss_reaches_the_head_offset_through_the_skinning():
    cfg = ModelConfig(samples_per_ray=16)
    torch.manual_seed(0)
    model = TalkinNeRF(cfg, 1).eval()
    cond = synthetic_conditioning(seed=1)
    o, d, near, far = frontal_rays(256, seed=2)
    al = FrameAlignment({"s": 4}, [0, 15], trained={"s": [0, 2]})
    poses, origins = al(cond.poses_body, o, "s", 2)
    out = model(origins, d, near, far, dataclasses.replace(cond, poses_body=poses), 0)
    ref = model(o, d, near, far, cond, 0)
    assert torch.equal(out["rgb"], ref["rgb"])
    out["rgb"].sum().backward()
    grad_rot, grad_tr = al.rotation.grad, al.translation.grad
    assert grad_rot[2].abs().sum() > 0 and grad_tr[2].abs().sum() > 0     # the frame's row learns
    assert torch.allclose(grad_rot[0], -grad_rot[2]) and torch.allclose(grad_tr[0], -grad_tr[2])  # the mean's share
    assert grad_rot[[1, 3]].abs().sum() == 0 and grad_tr[[1, 3]].abs().sum() == 0   # held-out frames keep the fit


def test_prior_and_summary_in_degrees_and_millimetres():
    al = FrameAlignment({"a": 4}, [15])
    with torch.no_grad():
        al.rotation[1, 0] = torch.tensor([0.0, math.radians(2.0), 0.0])
        al.translation[1] = torch.tensor([0.003, 0.004, 0.0])
    assert al.prior(1.0, 0.0).item() == pytest.approx(math.radians(2.0) ** 2 / 4)
    assert al.prior(0.0, 100.0).item() == pytest.approx(100 * 0.005 ** 2 / 4)
    s = al.summary()
    # applied offsets are centred over the 4 frames: frame 1 moves by 3/4 of its row, the others by -1/4
    assert s["frames_moved"] == 4 and s["joint15_deg_max"] == pytest.approx(1.5, abs=1e-3)
    assert s["translation_mm_mean"] == pytest.approx((3.75 + 3 * 1.25) / 4, abs=1e-3)


def _cfg(**kw):
    kw.setdefault("iterations", 6)
    cfg = TrainConfig(patches=2, patch_size=8, checkpoint_every=3, log_every=1, progress=False, lpips=False,
                      tensorboard=False, threads=1, seed=3, frame_alignment=True, alignment_lr=1e-2, **kw)
    cfg.model.samples_per_ray = 8
    return cfg


def test_training_moves_the_offsets_of_trained_frames_only_and_resumes_them(tmp_path):
    make_subject(tmp_path / "r", "a", size=24, frames=6, seed=0)
    full = fit(["a"], tmp_path / "r", tmp_path / "full", _cfg(), model_factory=StandInNeRF)
    fit(["a"], tmp_path / "r", tmp_path / "cut", _cfg(), stop_at=3, model_factory=StandInNeRF)
    cut = fit(["a"], tmp_path / "r", tmp_path / "cut", _cfg(), model_factory=StandInNeRF)
    assert cut["steps_run"] == 3
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "latest.pt")["extra"]["alignment"]
    b = load_checkpoint(tmp_path / "cut" / "checkpoints" / "latest.pt")["extra"]["alignment"]
    for key in a:
        assert torch.equal(a[key], b[key]), key           # resumed offsets, not restarted ones
    split = json.loads((tmp_path / "r" / "splits" / "a.json").read_text())
    moved = (a["translation"].abs().sum(1) > 0).nonzero().reshape(-1).tolist()
    assert moved and set(moved) <= set(split["train"])    # held-out frames keep the fit
    meta = json.loads((tmp_path / "full" / "meta.json").read_text())
    assert meta["frame_alignment"]["frames_moved"] == len(moved) == full["frame_alignment"]["frames_moved"]
    load_model(tmp_path / "full" / "model.pt", model_factory=StandInNeRF)   # the model file is the model alone


def test_off_by_default_and_for_the_humannerf_baseline(tmp_path):
    from talkinnerf.train.data import load_subject
    from talkinnerf.train.trainer import make_alignment

    assert TrainConfig().frame_alignment is False
    make_subject(tmp_path / "r", "a", size=24, frames=4)
    subject = load_subject(tmp_path / "r", "a", 0)
    assert make_alignment([subject], TrainConfig(frame_alignment=True), torch.device("cpu")) is not None
    baseline = TrainConfig(frame_alignment=True, model=ModelConfig(baseline="humannerf"))
    assert make_alignment([subject], baseline, torch.device("cpu")) is None
    with pytest.raises(ValueError, match="alignment_lr"):
        TrainConfig(alignment_lr=-1.0)
