"""TalkinNeRF forward: shapes, routing of head/hand samples, gradients, parameter groups, render_image."""

import pytest
import torch
from torch import nn

from talkinnerf.nerf.config import ModelConfig
from talkinnerf.nerf.model import FrameConditioning, TalkinNeRF
from talkinnerf.nerf.render import render_image
from talkinnerf.nerf.synthetic import frontal_rays, synthetic_conditioning

LATE = 10 ** 6   # a step after every kick-in / full band


# These tests rely on the random initialisation routing some samples of the synthetic scene to the head and
# hand classes; they were built on the 16^3 / 5 cm skinning volume, which draws that initialisation.
ROUTING_SCENE = {"volume_size": 16, "prior_sigma": 0.05}


def _model(**changes) -> TalkinNeRF:
    torch.manual_seed(0)
    return TalkinNeRF(ModelConfig(**{**ROUTING_SCENE, **changes}), num_identities=2)


class ConstantField(nn.Module):
    def __init__(self, value: float, raw: float) -> None:
        super().__init__()
        self.value, self.raw = value, raw

    def forward(self, x, cond):
        n = x.shape[0]
        return x.new_full((n, 3), self.value), x.new_full((n,), self.raw), x.new_zeros(n, 0)


def test_forward_shapes_1k_rays():
    model = _model()
    rays = frontal_rays(1024)
    out = model(*rays, synthetic_conditioning(), step=LATE)
    s = model.cfg.samples_per_ray
    assert out["rgb"].shape == (1024, 3) and out["acc"].shape == (1024,) and out["depth"].shape == (1024,)
    assert out["seg_logits"].shape == (1024, 5)
    assert out["classes"].shape == (1024, s) and out["x_canonical"].shape == (1024, s, 3)
    assert out["rgb"].min() >= 0 and out["rgb"].max() <= 1
    assert out["acc"].min() >= 0 and out["acc"].max() <= 1 + 1e-5
    assert (out["classes"] >= 0).any() and (out["classes"] == -1).any()   # body hit, empty space skipped


def test_rays_missing_the_body_render_background():
    model = _model(background=(0.2, 0.4, 0.6)).eval()
    o = torch.tensor([[5.0, 5.0, 3.0]])
    d = torch.tensor([[0.0, 0.0, -1.0]])
    out = model(o, d, torch.tensor([2.0]), torch.tensor([4.0]), synthetic_conditioning(), step=0)
    assert torch.allclose(out["rgb"][0], torch.tensor([0.2, 0.4, 0.6]))
    assert out["acc"].item() == 0 and out["seg_logits"][0].argmax().item() == 0


def test_head_samples_go_to_face_field_only():
    model = _model().eval()
    rays, cond = frontal_rays(512), synthetic_conditioning()
    before = model(*rays, cond, step=LATE)
    head = before["classes"] == model.cfg.head_class
    assert head.any() and (~head & (before["classes"] >= 0)).any()
    model.face = ConstantField(0.25, 3.0)
    after = model(*rays, cond, step=LATE)
    assert torch.equal(after["classes"], before["classes"])
    changed = (after["sample_rgb"] != before["sample_rgb"]).any(-1)
    assert torch.equal(changed, head)
    assert torch.allclose(after["sample_rgb"][head], torch.full_like(after["sample_rgb"][head], 0.25))


def test_hand_samples_go_to_hand_field_only():
    model = _model().eval()
    rays, cond = frontal_rays(512), synthetic_conditioning()
    before = model(*rays, cond, step=LATE)
    hand = before["classes"] == model.cfg.hands_class
    assert hand.any()
    model.hands = ConstantField(0.75, 3.0)
    after = model(*rays, cond, step=LATE)
    changed = (after["sample_rgb"] != before["sample_rgb"]).any(-1)
    assert torch.equal(changed, hand)
    assert torch.allclose(after["sample_rgb"][hand], torch.full_like(after["sample_rgb"][hand], 0.75))
    # the body pass never sees hand samples: their hand values cannot change it
    assert torch.allclose(after["rgb_body"], before["rgb_body"])


def _loss(out):
    return out["rgb"].square().sum() + out["seg_logits"].square().sum() + out["depth"].sum()


def test_gradients_reach_every_active_module():
    model = _model().train()
    _loss(model(*frontal_rays(512), synthetic_conditioning(), step=LATE)).backward()
    for name, module in model.named_children():
        grads = [p.grad for p in module.parameters()]
        assert any(g is not None and g.abs().sum() > 0 for g in grads), f"no gradient reached {name}"


def test_step_schedule_switches_non_rigid_and_pose_refinement():
    model = _model().train()
    _loss(model(*frontal_rays(256), synthetic_conditioning(), step=0)).backward()
    for module in (model.non_rigid, model.pose_refiner):
        assert all(p.grad is None for p in module.parameters())
    cfg = model.cfg
    assert cfg.pose_refine_kick_in < cfg.nr_kick_in
    model.zero_grad()
    _loss(model(*frontal_rays(256), synthetic_conditioning(), step=cfg.pose_refine_kick_in)).backward()
    assert any(p.grad is not None for p in model.pose_refiner.parameters())
    assert all(p.grad is None for p in model.non_rigid.parameters())


def test_param_groups_cover_every_parameter_once():
    model = _model()
    groups = model.param_groups(5e-4)
    names = [g["name"] for g in groups]
    assert names == ["fields", "weight_volume", "pose_refine", "non_rigid", "identity"]
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    lrs = {g["name"]: g["lr"] for g in groups}
    assert lrs["fields"] == lrs["identity"] == 5e-4
    assert lrs["weight_volume"] == lrs["non_rigid"] == lrs["pose_refine"] == pytest.approx(5e-5)
    torch.optim.Adam(groups)


def test_render_image_matches_forward_and_fills_misses():
    model = _model(background=(1.0, 1.0, 1.0)).eval()
    rays, cond = frontal_rays(300), synthetic_conditioning()
    hit = torch.arange(300) % 3 != 0
    img = render_image(model, *rays, hit, cond, step=LATE, chunk=64)
    direct = model(*(r[hit] for r in rays), cond, step=LATE)
    assert img["rgb"].shape == (300, 3) and img["seg_logits"].shape == (300, 5)
    assert torch.allclose(img["rgb"][hit], direct["rgb"], atol=1e-5)
    assert torch.allclose(img["seg_logits"][hit], direct["seg_logits"], atol=1e-4)
    assert torch.equal(img["rgb"][~hit], torch.ones(100, 3))
    assert torch.equal(img["acc"][~hit], torch.zeros(100))
    assert (img["seg_logits"][~hit].argmax(-1) == 0).all()


def test_bad_conditioning_names_the_field():
    cond = synthetic_conditioning()
    cond.hands = torch.zeros(45)
    with pytest.raises(ValueError, match="hands"):
        _model()(*frontal_rays(8), cond, step=0)


def test_identity_out_of_range_and_float64_conditioning():
    model = _model().eval()
    cond = synthetic_conditioning(identity=2)
    with pytest.raises(ValueError, match="identity 2"):
        model(*frontal_rays(8), cond, step=0)
    cond = synthetic_conditioning(identity=1)
    ref = model(*frontal_rays(64), cond, step=LATE)["rgb"]
    cond64 = FrameConditioning(**{k: (v.double() if v is not None and v.is_floating_point() else v)
                                  for k, v in vars(cond).items()})
    cond64.identity = 1
    assert torch.allclose(model(*frontal_rays(64), cond64, step=LATE)["rgb"], ref, atol=1e-6)
    assert not torch.allclose(model(*frontal_rays(64), synthetic_conditioning(identity=0), step=LATE)["rgb"], ref)


def test_from_smplx_reads_one_frame():
    import numpy as np
    c = synthetic_conditioning()
    params = {"poses_body": np.zeros((4, 22, 3)), "jaw_pose": np.zeros((4, 3)), "expression": np.ones((4, 10)),
              "hands": np.zeros((4, 90)), "canonical_joints": c.canonical_joints.numpy(),
              "parents": c.parents.numpy(), "canonical_bbox": c.canonical_bbox.numpy()}
    cond = FrameConditioning.from_smplx(params, 2, identity=1)
    cond.validate()
    assert cond.identity.item() == 1 and cond.expression.sum().item() == 10
    with pytest.raises(ValueError, match="frame 4"):
        FrameConditioning.from_smplx(params, 4, identity=0)


def test_hand_warm_start_routes_hands_from_kick_in_with_f_hands_copied_from_f_body():
    kick = 50
    model = _model(hands_depth=4, hands_from_body=True, hands_kick_in=kick).train()
    rays, cond = frontal_rays(512), synthetic_conditioning()
    x = torch.rand(64, 3) - 0.5
    ident = model.identity(torch.tensor(1))
    # before the kick-in F_body renders hand samples: no hand pass, F_hands gets no gradient
    _loss(model(*rays, cond, step=kick - 1)).backward()
    assert all(p.grad is None for p in model.hands.parameters())
    model.prepare_step(kick - 1)
    assert not torch.allclose(model.hands(x, ident)[0], model.body(x, ident)[0])
    # scored right at the kick-in before the copy (a model trained `kick` iterations): F_body still draws the hands
    assert not model.eval()(*rays, cond, step=kick)["hand_rays"].any()
    model.train().prepare_step(kick)
    hands_rgb, hands_raw, _ = model.hands(x, ident)
    body_rgb, body_raw, _ = model.body(x, ident)
    assert torch.allclose(hands_rgb, body_rgb) and torch.allclose(hands_raw, body_raw)
    out = model.eval()(*rays, cond, step=kick)
    assert out["hand_rays"].any()
    # the copy happens once: later steps leave a trained F_hands alone
    with torch.no_grad():
        model.hands.mlp.head.bias.add_(1.0)
    model.prepare_step(kick + 1)
    assert not torch.allclose(model.hands(x, ident)[1], model.body(x, ident)[1])


def test_hand_warm_start_needs_matching_field_sizes():
    with pytest.raises(ValueError, match="hands_depth"):
        ModelConfig(hands_from_body=True, hands_depth=3, field_depth=4)
    ModelConfig(hands_from_body=True, hands_depth=3, field_depth=4, humannerf=True)   # no F_hands: nothing to copy
