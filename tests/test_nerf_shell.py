"""The canonical density shell (model.density_shell, talkinnerf/nerf/shell.py)."""

import math

import numpy as np
import pytest
import torch

from talkinnerf.nerf import shell as S
from talkinnerf.nerf.config import ModelConfig
from talkinnerf.nerf.model import FrameConditioning, TalkinNeRF
from talkinnerf.nerf.render import RenderOptions, render_image
from talkinnerf.nerf.synthetic import frontal_rays, synthetic_conditioning
from talkinnerf.nerf.weights import padded_bbox, voxel_centres
from talkinnerf.train.rays import pixel_rays, ray_box_intersect


def bone_points(cond: FrameConditioning, per_bone: int = 12) -> torch.Tensor:
    """A stand-in zero-pose 'mesh': points along the synthetic skeleton's bones (the body's axis)."""
    joints, parents = cond.canonical_joints, cond.parents
    t = torch.linspace(0, 1, per_bone)[:, None]
    pts = [joints[0:1]]
    for j in range(1, 22):
        p = int(parents[j])
        pts.append(joints[p] + t * (joints[j] - joints[p]))
    return torch.cat(pts)


def cond_with_vertices(**kw) -> FrameConditioning:
    cond = synthetic_conditioning(**kw)
    cond.canonical_vertices = bone_points(cond)
    return cond


def test_nearest_vertex_distance_matches_brute_force():
    gen = torch.Generator().manual_seed(0)
    verts = torch.rand(50, 3, generator=gen) + 100.0
    pts = torch.rand(23, 3, generator=gen) * 2 + 99.5
    brute = ((pts[:, None] - verts[None]) ** 2).sum(-1).sqrt().min(1).values
    assert torch.allclose(S.nearest_vertex_distance(pts, verts), brute, atol=1e-5)
    with pytest.raises(ValueError, match="vertices"):
        S.nearest_vertex_distance(pts, torch.zeros(0, 3))


def test_slack_volume_reads_back_at_voxel_centres_and_is_empty_outside_the_box():
    verts = torch.tensor([[0.0, 0.0, 0.0], [0.3, 0.1, 0.0]])
    bbox = torch.tensor([[-0.5, -0.5, -0.5], [0.5, 0.5, 0.5]])
    vol = S.shell_slack_volume(verts, bbox, 9, 0.2)
    centres = voxel_centres(bbox, 9).reshape(-1, 3)
    assert torch.allclose(S.shell_slack(vol, centres, bbox), vol.reshape(-1), atol=1e-5)
    # the centre voxel (0,0,0) is a vertex: slack = the whole shell
    assert vol[4, 4, 4].item() == pytest.approx(0.2, abs=1e-6)
    inside = S.inside_shell(vol, torch.tensor([[0.0, 0.05, 0.0], [-0.45, -0.45, -0.45], [2.0, 0.0, 0.0]]), bbox)
    assert inside.tolist() == [True, False, False]      # near a vertex; 0.7 m from both; outside the bbox
    with pytest.raises(ValueError, match="shell"):
        S.shell_slack_volume(verts, bbox, 9, 0.0)


def test_config_checks_the_shell():
    with pytest.raises(ValueError, match="density_shell"):
        ModelConfig(density_shell=-0.1)
    with pytest.raises(ValueError, match="canonical_arm_raise"):
        ModelConfig(density_shell=0.05, canonical_arm_raise=0.5)
    with pytest.raises(ValueError, match="shell_resolution"):
        ModelConfig(shell_resolution=4)


def test_a_fit_without_vertices_is_a_clear_error():
    torch.manual_seed(0)
    model = TalkinNeRF(ModelConfig(density_shell=0.05), 2)
    with pytest.raises(ValueError, match="canonical_vertices"):
        model(*frontal_rays(16), synthetic_conditioning(), step=0)


def _pair(shell: float) -> tuple[TalkinNeRF, TalkinNeRF]:
    models = []
    for value in (0.0, shell):
        torch.manual_seed(0)
        models.append(TalkinNeRF(ModelConfig(samples_per_ray=24, density_shell=value), 2))
    return models[0], models[1]


def test_a_shell_wider_than_the_bbox_changes_nothing_with_gradients():
    off, wide = _pair(10.0)
    rays, cond = frontal_rays(256), cond_with_vertices()
    outs = []
    for model in (off, wide):
        model.train()
        torch.manual_seed(1)
        out = model(*rays, cond, step=10**6)
        out["rgb"].sum().backward()
        outs.append((out["rgb"].detach(),
                     torch.cat([p.grad.reshape(-1) for p in model.body.parameters() if p.grad is not None])))
    assert torch.equal(outs[0][0], outs[1][0])
    assert torch.equal(outs[0][1], outs[1][1])


def test_density_only_near_the_fitted_body():
    shell = 0.05
    off, near = _pair(shell)
    rays, cond = frontal_rays(512), cond_with_vertices()
    bbox = padded_bbox(cond.canonical_bbox, near.cfg.bbox_padding)
    cell = float(((bbox[1] - bbox[0]) / (near.cfg.shell_resolution - 1)).norm())   # trilinear error bound
    dists = []
    for model in (off, near):
        out = model.eval()(*rays, cond, step=0)              # step 0: no D_nr, x_canonical is D_r's point
        active = out["classes"] >= 0
        dists.append(S.nearest_vertex_distance(out["x_canonical"][active], cond.canonical_vertices))
    assert float(dists[0].max()) > shell + cell                          # without it, density reaches farther
    assert float(dists[1].max()) <= shell + cell
    assert 0 < dists[1].numel() < dists[0].numel()                       # and the shell skips samples


def test_fast_render_keeps_the_shell():
    _, model = _pair(0.05)
    model.eval()
    cond = cond_with_vertices(identity=1)
    res = 20
    f = res * 1.6
    K = torch.tensor([[f, 0, res / 2], [0, f, res / 2], [0, 0, 1.0]])
    rows, cols = torch.meshgrid(torch.arange(res), torch.arange(res), indexing="ij")
    o, d = pixel_rays(K, torch.diag(torch.tensor([1.0, -1.0, -1.0])), torch.tensor([0.0, 0.0, 3.0]),
                      rows.reshape(-1), cols.reshape(-1))
    near, far, hit = ray_box_intersect(o, d, cond.canonical_bbox)
    dense = render_image(model, o, d, near, far, hit, cond, 0, 128, options=RenderOptions(fast=False))
    fast = render_image(model, o, d, near, far, hit, cond, 0, 128, options=RenderOptions(early_stop=0.0))
    mse = float(((dense["rgb"] - fast["rgb"]) ** 2).mean())
    assert mse == 0 or -10 * math.log10(mse) >= 45.0
    assert float(dense["acc"].max()) > 0.05                              # something was drawn


def test_from_smplx_carries_the_vertices():
    c = synthetic_conditioning()
    params = {"poses_body": np.zeros((2, 22, 3)), "jaw_pose": np.zeros((2, 3)), "expression": np.zeros((2, 10)),
              "hands": np.zeros((2, 90)), "canonical_joints": c.canonical_joints.numpy(),
              "parents": c.parents.numpy(), "canonical_bbox": c.canonical_bbox.numpy()}
    assert FrameConditioning.from_smplx(params, 0, 0).canonical_vertices is None
    params["canonical_vertices"] = np.ones((5, 3))
    cond = FrameConditioning.from_smplx(params, 1, 0)
    assert cond.canonical_vertices.shape == (5, 3)
    cond.to("cpu").prepared(torch.device("cpu"), torch.float64).validate()
    with pytest.raises(ValueError, match="canonical_vertices"):
        FrameConditioning(**{**cond.__dict__, "canonical_vertices": torch.ones(5, 2)}).validate()


def test_changing_the_width_rebuilds_the_volume():
    off, model = _pair(0.05)
    rays, cond = frontal_rays(128), cond_with_vertices()
    narrow = model.eval()(*rays, cond, step=0)["rgb"]
    model.cfg = model.cfg.replace(density_shell=10.0)        # as benchmarks/shell_skips.py sweeps it
    assert torch.equal(model(*rays, cond, step=0)["rgb"], off.eval()(*rays, cond, step=0)["rgb"])
    assert not torch.equal(narrow, off(*rays, cond, step=0)["rgb"])
