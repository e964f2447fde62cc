"""The fast renderer and the joint-box culling against the dense reference (talkinnerf/nerf/render.py, packed.py)."""

import math

import pytest
import torch

from talkinnerf.nerf import packed
from talkinnerf.nerf import skeleton as sk
from talkinnerf.nerf.config import ModelConfig
from talkinnerf.nerf.model import TalkinNeRF
from talkinnerf.nerf.render import RenderOptions, render_image, render_rays_fast
from talkinnerf.nerf.synthetic import synthetic_conditioning
from talkinnerf.nerf.weights import query_joint_weights
from talkinnerf.options import from_dict
from talkinnerf.train.rays import pixel_rays, ray_box_intersect

LATE = 10**6     # every module active


def small_model(density_scale: float = 40.0, hand_background: bool = True, posed_gate: float = 0.0) -> TalkinNeRF:
    torch.manual_seed(0)
    cfg = ModelConfig(samples_per_ray=16, density_scale=density_scale, hands_kick_in=0, nr_kick_in=0,
                      nr_full_band=10, no_hand_background=not hand_background, posed_gate=posed_gate)
    model = TalkinNeRF(cfg, 2).eval()
    with torch.no_grad():   # make the hand class win in part of space, so that the hand passes are exercised
        model.body.mlp.head.bias[4 + cfg.hands_class] += 1.0
    return model


def frame(res: int = 24):
    cond = synthetic_conditioning(identity=1, pose_scale=0.3)
    f = res * 1.6
    K = torch.tensor([[f, 0, res / 2], [0, f, res / 2], [0, 0, 1.0]])
    R = torch.diag(torch.tensor([1.0, -1.0, -1.0]))
    rows, cols = torch.meshgrid(torch.arange(res), torch.arange(res), indexing="ij")
    o, d = pixel_rays(K, R, torch.tensor([0.0, 0.0, 3.0]), rows.reshape(-1), cols.reshape(-1))
    near, far, hit = ray_box_intersect(o, d, cond.canonical_bbox)
    return cond, (o, d, near, far, hit)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a - b) ** 2).mean())
    return math.inf if mse == 0 else -10 * math.log10(mse)


@pytest.mark.parametrize("density_scale", [40.0, 4000.0])          # fog (untrained) and an opaque body
@pytest.mark.parametrize("hand_background", [True, False])
def test_fast_render_matches_dense(density_scale, hand_background):
    model = small_model(density_scale, hand_background)
    cond, rays = frame()
    dense = render_image(model, *rays, cond, LATE, 256, options=RenderOptions(fast=False))
    out = model(*[r[rays[-1]] for r in rays[:4]], cond, LATE)
    assert bool(out["hand_rays"].any())                              # the hand pass took part
    fast = render_image(model, *rays, cond, LATE, 256)
    assert psnr(fast["rgb"], dense["rgb"]) >= 45.0
    # early termination drops at most early_stop of a ray's opacity
    assert float((fast["acc"] - dense["acc"]).abs().max()) <= 1e-4 + 1e-6
    assert torch.allclose(fast["seg_logits"], dense["seg_logits"], atol=1e-2)
    exact = render_image(model, *rays, cond, LATE, 256, options=RenderOptions(early_stop=0.0))
    # float32 round-off only (sums in another order, tiled-volume coordinates), amplified by the opaque body
    for key, atol in (("rgb", 1e-4), ("acc", 1e-4), ("depth", 1e-3), ("seg_logits", 1e-3)):
        assert torch.allclose(exact[key], dense[key], atol=atol, rtol=0), key


def test_early_termination_skips_work_on_an_opaque_body():
    model = small_model(4000.0)
    cond, (o, d, near, far, hit) = frame()
    state = packed.frame_state(model, cond, LATE, o.dtype, o.device)
    sel = hit
    with torch.no_grad():
        stop = render_rays_fast(model, state, o[sel], d[sel], near[sel], far[sel], RenderOptions())
        full = render_rays_fast(model, state, o[sel], d[sel], near[sel], far[sel], RenderOptions(early_stop=0.0))
    assert stop["evaluated"].sum() < 0.8 * full["evaluated"].sum()
    assert full["evaluated"].max() <= model.cfg.samples_per_ray


def test_joint_boxes_never_cull_an_active_point():
    model = small_model()
    cond, _ = frame()
    with torch.no_grad():
        state = packed.frame_state(model, cond, LATE, torch.float32, torch.device("cpu"))
        gen = torch.Generator().manual_seed(1)
        box = cond.canonical_bbox
        pad = 0.3 * (box[1] - box[0])
        pts = box[0] - pad + (box[1] - box[0] + 2 * pad) * torch.rand(10000, 3, generator=gen)
        cands = sk.apply_per_joint(pts, state.skel["inv_rot"], state.skel["inv_t"])          # (K,N,3)
        w_sum = query_joint_weights(state.volume, cands, state.bbox).sum(0)
        lo, hi = state.boxes[:, None, 0], state.boxes[:, None, 1]
        in_some_box = ((cands >= lo) & (cands <= hi)).all(-1).any(0)
    active = w_sum > packed.MIN_WEIGHT_SUM
    assert int(active.sum()) > 300
    assert bool(in_some_box[active].all())
    assert float(in_some_box.float().mean()) < 0.9                   # and the boxes do cull empty space


@pytest.mark.parametrize("sparse,gate", [(True, 0.0), (False, 0.0), (True, 0.03)])
def test_culled_forward_equals_unculled_forward_with_gradients(sparse, gate):
    model = small_model(posed_gate=gate).train()
    model.sparse_skinning = sparse
    cond, (o, d, near, far, hit) = frame(16)
    args = (o[hit], d[hit], near[hit], far[hit], cond, LATE)
    results = []
    for cull in (True, False):
        model.joint_box_culling = cull
        model.zero_grad()
        torch.manual_seed(3)
        out = model(*args)
        (out["rgb"].sum() + out["seg_logits"].sum() * 1e-2).backward()
        results.append((out["rgb"].detach(), model.body.mlp.layers[0].weight.grad.clone(),
                        model.weight_volume.latent.grad.clone()))
    atol = 1e-5 if sparse else 0.0       # the pair sums add the joints in another order
    assert torch.allclose(results[0][0], results[1][0], atol=atol, rtol=0)
    assert torch.allclose(results[0][1], results[1][1], atol=1e-5, rtol=1e-4)
    assert torch.allclose(results[0][2], results[1][2], atol=1e-5, rtol=1e-3)   # through the pair lookups


def test_chunks_bound_the_work_per_call(monkeypatch):
    model = small_model(4000.0)
    cond, rays = frame()
    seen = []
    original = packed.evaluate_points

    def spy(model_, state, pts, *a, **k):
        seen.append(pts.shape[0])
        return original(model_, state, pts, *a, **k)

    monkeypatch.setattr(packed, "evaluate_points", spy)
    small = render_image(model, *rays, cond, LATE, 64, options=RenderOptions(segment=4))
    assert max(seen) <= 64 * 4                                    # chunk x segment points per model call
    big = render_image(model, *rays, cond, LATE, 4096, options=RenderOptions(segment=4))
    assert psnr(small["rgb"], big["rgb"]) > 80


def test_bf16_autocast_close_to_dense():
    model = small_model(4000.0)
    cond, rays = frame()
    dense = render_image(model, *rays, cond, LATE, 4096, options=RenderOptions(fast=False))
    fast = render_image(model, *rays, cond, LATE, 4096, options=RenderOptions(autocast="bf16"))
    assert psnr(fast["rgb"], dense["rgb"]) >= 40.0


def test_render_options_are_validated():
    assert from_dict(RenderOptions, {"fast": False}).fast is False
    with pytest.raises(ValueError, match="unknown option"):
        from_dict(RenderOptions, {"early_stopp": 1e-3})
    with pytest.raises(ValueError):
        RenderOptions(autocast="fp8")
    with pytest.raises(ValueError):
        RenderOptions(early_stop=1.0)
    with pytest.raises(ValueError):
        RenderOptions(segment=0)


def test_fast_render_of_the_humannerf_baseline_matches_dense():
    # the baseline has no segmentation head (C = 0): the fast path must render it like the dense one
    torch.manual_seed(0)
    model = TalkinNeRF(ModelConfig(samples_per_ray=16, baseline="humannerf", density_scale=400.0), 1).eval()
    cond, rays = frame()
    cond = synthetic_conditioning(identity=0, pose_scale=0.3)
    dense = render_image(model, *rays, cond, LATE, 256, options=RenderOptions(fast=False))
    fast = render_image(model, *rays, cond, LATE, 256)
    assert fast["seg_logits"].shape == dense["seg_logits"].shape == (rays[0].shape[0], 0)
    assert float(dense["acc"].max()) > 0.1
    assert psnr(fast["rgb"], dense["rgb"]) >= 45.0
