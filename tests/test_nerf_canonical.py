"""Canonical pose with raised arms (ModelConfig.canonical_arm_raise) and the density activation's scale/bias."""

import dataclasses
import math

import torch

from talkinnerf.nerf import skeleton as sk
from talkinnerf.nerf.config import ModelConfig
from talkinnerf.nerf.model import TalkinNeRF
from talkinnerf.nerf.synthetic import frontal_rays, synthetic_conditioning


def _prepared(model, **changes):
    cond = dataclasses.replace(synthetic_conditioning(), **changes)
    return cond.prepared(torch.device("cpu"), torch.float32)


def test_zero_raise_is_the_zero_pose():
    model = TalkinNeRF(ModelConfig(), 1)
    cond = _prepared(model)
    canon = model.canonical_skeleton(cond)
    assert canon["rotations"] is None
    assert torch.equal(canon["joints"], cond.canonical_joints) and torch.equal(canon["bbox"], cond.canonical_bbox)


def test_raised_arms_move_only_arm_joints_and_grow_the_box():
    angle = 0.5
    model = TalkinNeRF(ModelConfig(canonical_arm_raise=angle), 1)
    cond = _prepared(model)
    canon = model.canonical_skeleton(cond)
    rest, moved = cond.canonical_joints, canon["joints"]
    changed = (moved - rest).norm(dim=-1) > 1e-6
    arm_joints = {18, 19, 20, 21, *sk.HAND_JOINTS}
    assert set(torch.nonzero(changed).reshape(-1).tolist()) == arm_joints
    # the left elbow turns about the left shoulder by +angle in the x-y plane (so it rises: y grows)
    sh, el = rest[sk.LEFT_SHOULDER], rest[18]
    c, s = math.cos(angle), math.sin(angle)
    d = el - sh
    expected = sh + torch.tensor([c * d[0] - s * d[1], s * d[0] + c * d[1], d[2]])
    assert torch.allclose(moved[18], expected, atol=1e-5)
    # the synthetic skeleton is left/right symmetric: so are the raised arms
    assert torch.allclose(moved[19] * torch.tensor([-1.0, 1, 1]), moved[18], atol=1e-5)
    assert (canon["bbox"][0] <= cond.canonical_bbox[0]).all() and (canon["bbox"][1] >= cond.canonical_bbox[1]).all()
    assert (canon["bbox"][0] <= moved.min(0).values).all() and (canon["bbox"][1] >= moved.max(0).values).all()


def test_observed_canonical_pose_maps_to_itself():
    """If the frame is posed exactly in the canonical pose, every joint's D_r map is the identity."""
    angle = 0.6
    model = TalkinNeRF(ModelConfig(canonical_arm_raise=angle, pose_refine=False), 1)
    poses = torch.zeros(22, 3)
    poses[sk.LEFT_SHOULDER, 2], poses[sk.RIGHT_SHOULDER, 2] = angle, -angle
    cond = _prepared(model, poses_body=poses)
    skel = model.pose_skeleton(cond, step=0)
    eye = torch.eye(3).expand_as(skel["inv_rot"])
    assert torch.allclose(skel["inv_rot"], eye, atol=1e-6)
    assert torch.allclose(skel["inv_t"], torch.zeros_like(skel["inv_t"]), atol=1e-6)
    # and the zero pose is *not* the identity for the arm joints (it is undone into the raised pose)
    skel0 = model.pose_skeleton(_prepared(model, poses_body=torch.zeros(22, 3)), step=0)
    assert not torch.allclose(skel0["inv_rot"][18], torch.eye(3), atol=1e-3)
    assert torch.allclose(skel0["inv_rot"][0], torch.eye(3), atol=1e-6)


def test_raised_canonical_model_renders_the_body():
    torch.manual_seed(0)
    model = TalkinNeRF(ModelConfig(canonical_arm_raise=0.5), 1)
    out = model(*frontal_rays(256), synthetic_conditioning(), step=0)
    assert (out["classes"] >= 0).any() and (out["classes"] == -1).any()
    assert torch.isfinite(out["rgb"]).all()


def test_density_scale_and_bias():
    model = TalkinNeRF(ModelConfig(density_scale=40.0, density_bias=-1.0), 1)
    raw = torch.tensor([-3.0, 0.0, 2.0])
    expected = 40.0 * torch.nn.functional.softplus(raw - 1.0)
    assert torch.allclose(model._density(raw, 0.0), expected)
    plain = TalkinNeRF(ModelConfig(density_scale=1.0, density_bias=0.0), 1)
    assert torch.allclose(plain._density(raw, 0.0), torch.nn.functional.softplus(raw))
