"""Whole-image rendering: no grad, chunked over rays; rays that miss the body box get the background.

Two paths with the same outputs (see docs/speed.md):

* dense (``RenderOptions(fast=False)``): TalkinNeRF.forward on each chunk with joint-box culling off, every
  sample of every ray through the K-joint weight lookup - the reference;
* fast (default): the frame's skeleton and weight volume computed once, samples outside every joint box skipped
  and the others looked up only in the joints whose box holds them (exact to float32 round-off,
  talkinnerf/nerf/packed.py), each ray's remaining samples packed front to back and marched ``segment``
  at a time, rays dropped once their transmittance falls below ``early_stop`` (what they would still add is
  below that), optionally the fields under bf16 autocast. The packed samples are scattered back and composited
  by the same composite_with_hands as the dense path, so the result differs only by what early termination
  drops (<= early_stop of a ray's colour/acc) and by autocast.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from talkinnerf.nerf import packed
from talkinnerf.nerf.composite import composite_with_hands, sample_intervals, stratified_samples
from talkinnerf.nerf.model import FrameConditioning, TalkinNeRF

IMAGE_KEYS = ("rgb", "acc", "depth", "seg_logits")


@dataclass
class RenderOptions:
    """How render_image traces rays (the `render` option of `evaluate render` / `evaluate animate`)."""

    fast: bool = True              # False: the dense reference path (TalkinNeRF.forward per chunk)
    early_stop: float = 1e-4       # fast path: a ray stops once its transmittance is below this (0: never)
    segment: int = 8               # fast path: samples per ray evaluated per step of the march
    cull: bool = True              # fast path: skip samples outside every joint box (exact)
    sparse_skinning: bool = True   # fast path: look each sample up only in the joints whose box holds it
    autocast: str = "off"          # fast path: "bf16" runs the MLPs (D_nr, fields) under bf16 autocast (CPU and CUDA)

    def __post_init__(self) -> None:
        if not 0.0 <= self.early_stop < 1.0:
            raise ValueError(f"render.early_stop must be in [0, 1), got {self.early_stop}")
        if self.segment < 1:
            raise ValueError(f"render.segment must be >= 1, got {self.segment}")
        if self.autocast not in packed.AUTOCAST:
            raise ValueError(f"render.autocast must be one of {packed.AUTOCAST}, got {self.autocast!r}")

    def for_device(self, device: torch.device) -> tuple[RenderOptions, str | None]:
        """These options as ``device`` runs them (bf16 autocast only where it is native: packed.effective_autocast)
        and the warning when they differ."""
        mode, note = packed.effective_autocast(self.autocast, device, "render.autocast", "rendering")
        return (self if mode == self.autocast else replace(self, autocast=mode)), note


@torch.no_grad()
def render_image(model: TalkinNeRF, rays_o: torch.Tensor, rays_d: torch.Tensor, near: torch.Tensor,
                 far: torch.Tensor, hit_mask: torch.Tensor, cond: FrameConditioning, step: int,
                 chunk: int = 4096, options: RenderOptions | None = None) -> dict[str, torch.Tensor]:
    """Render H*W rays: rays_o/rays_d (H*W,3), near/far (H*W,), hit_mask (H*W,) bool.

    Returns rgb (H*W,3), acc (H*W,), depth (H*W,), seg_logits (H*W,C). Only rays with ``hit_mask`` are traced (in
    chunks of ``chunk`` rays: memory is bounded by the chunk, not the image); the others get cfg.background,
    acc 0, depth 0 and the background logits. ``options`` (default RenderOptions()) picks the fast or dense path.
    The model's train/eval mode is left as it is (call model.eval() for deterministic sample positions).
    """
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    options = options or RenderOptions()
    n = rays_o.shape[0]
    cfg = model.cfg
    dev = rays_o.device
    out = {
        "rgb": torch.tensor(cfg.background, dtype=torch.float32, device=dev).expand(n, 3).clone(),
        "acc": torch.zeros(n, device=dev),
        "depth": torch.zeros(n, device=dev),
        "seg_logits": model.background_logits.to(dev).expand(n, cfg.num_classes).clone(),
    }
    idx = torch.nonzero(hit_mask.reshape(-1)).squeeze(1)
    state = None
    if options.fast and idx.numel():
        state = packed.frame_state(model, cond, step, rays_o.dtype, dev)
    for start in range(0, idx.numel(), chunk):
        sel = idx[start:start + chunk]
        if state is None:
            res = _dense(model, rays_o[sel], rays_d[sel], near[sel], far[sel], cond, step)
        else:
            res = render_rays_fast(model, state, rays_o[sel], rays_d[sel], near[sel], far[sel], options)
        for key in IMAGE_KEYS:
            out[key][sel] = res[key].float()
    return out


def _dense(model: TalkinNeRF, *args) -> dict[str, torch.Tensor]:
    """The reference: TalkinNeRF.forward with every sample looked up in every joint's volume (no culling)."""
    before = getattr(model, "joint_box_culling", True)
    model.joint_box_culling = False
    try:
        return model(*args)
    finally:
        model.joint_box_culling = before


@torch.no_grad()
def render_rays_fast(model: TalkinNeRF, state: packed.FrameState, rays_o: torch.Tensor, rays_d: torch.Tensor,
                     near: torch.Tensor, far: torch.Tensor, options: RenderOptions) -> dict[str, torch.Tensor]:
    """The fast path on R rays of the frame ``state``; returns composite_with_hands' dict plus ``evaluated``
    (R,) the number of samples per ray that went through the model."""
    cfg = model.cfg
    n_rays, n_samp, dev = rays_o.shape[0], cfg.samples_per_ray, rays_o.device
    t = stratified_samples(near, far, n_samp, perturb=model.training)                     # (R,S)
    deltas = sample_intervals(t, near, far, rays_d.norm(dim=-1))
    t_in = t_out = None
    if options.cull:
        t_in, t_out = packed.ray_joint_intervals(state, rays_o, rays_d)
        cand = packed.candidate_mask(t, t_in, t_out)
    else:
        cand = torch.ones_like(t, dtype=torch.bool)
    n_cand = cand.sum(1)
    # each ray's candidate samples first, in depth order: column j of `order` is the ray's j-th candidate
    order = torch.argsort((~cand).to(torch.uint8), dim=1, stable=True)

    c = cfg.num_classes
    rgb = torch.zeros(n_rays, n_samp, 3, device=dev)
    sigma = torch.zeros(n_rays, n_samp, device=dev)
    hand_rgb = torch.zeros_like(rgb)
    hand_sigma = torch.zeros_like(sigma)
    is_hand = torch.zeros(n_rays, n_samp, dtype=torch.bool, device=dev)
    logits = torch.zeros(n_rays, n_samp, c, device=dev)
    trans_body = torch.ones(n_rays, device=dev)     # transmittance of the body pass so far
    trans_hand = torch.ones(n_rays, device=dev)     # ... of the hand pass (= body pass until the first hand sample)
    seen_hand = torch.zeros(n_rays, dtype=torch.bool, device=dev)
    evaluated = torch.zeros(n_rays, dtype=torch.long, device=dev)
    hand_background = not cfg.no_hand_background
    live = torch.nonzero(n_cand > 0).squeeze(1)
    seg = options.segment
    j0 = 0
    while live.numel():
        # flat (ray * S + sample) indices: index_select / index_copy_ are much cheaper than 2-D advanced indexing
        cols = order.index_select(0, live)[:, j0:j0 + seg]                                # (L,seg)
        valid = (j0 + torch.arange(cols.shape[1], device=dev))[None] < n_cand.index_select(0, live)[:, None]
        flat_all = live[:, None] * n_samp + cols
        flat = flat_all[valid]
        r_flat = torch.div(flat, n_samp, rounding_mode="floor")
        t_flat = t.reshape(-1).index_select(0, flat)
        pts = rays_o.index_select(0, r_flat) + t_flat[:, None] * rays_d.index_select(0, r_flat)
        member = None
        if options.cull and options.sparse_skinning:
            member = packed.joint_membership(t_flat, r_flat, t_in, t_out)
        res = packed.evaluate_points(model, state, pts, 0.0, options.autocast, member)
        fa = flat.index_select(0, res["active"])
        rgb.view(-1, 3).index_copy_(0, fa, res["rgb"].float())
        sigma.view(-1).index_copy_(0, fa, res["sigma"].float())
        hand_rgb.view(-1, 3).index_copy_(0, fa, res["hand_rgb"].float())
        hand_sigma.view(-1).index_copy_(0, fa, res["hand_sigma"].float())
        is_hand.view(-1).index_copy_(0, fa, res["is_hand"])
        if c:                           # the HumanNeRF baseline has no segmentation head (C = 0)
            logits.view(-1, c).index_copy_(0, fa, res["logits"].float())
        evaluated.index_add_(0, r_flat, torch.ones_like(r_flat))

        def seg_values(x: torch.Tensor) -> torch.Tensor:
            return x.reshape(-1).index_select(0, flat_all.reshape(-1)).reshape(flat_all.shape)

        # transmittance after this segment, pass by pass, as composite_with_hands builds it (non-evaluated and
        # inactive samples have sigma 0: their factor 1 + 1e-10 is 1 in float32)
        d_seg = seg_values(deltas) * valid
        s_seg, hs_seg, h_seg = seg_values(sigma), seg_values(hand_sigma), seg_values(is_hand) & valid
        if hand_background:
            s_body = s_seg                      # the body pass is F_body's own render: hand samples included
            before_hand = ~(seen_hand[live, None] | (torch.cumsum(h_seg.int(), dim=1) > 0))
            s_hand = torch.where(h_seg, hs_seg, torch.where(before_hand, s_seg, torch.zeros_like(s_seg)))
        else:
            s_body = s_hand = torch.where(h_seg, hs_seg, s_seg)
        trans_body[live] *= torch.prod(torch.exp(-s_body * d_seg) + 1e-10, dim=1)
        trans_hand[live] *= torch.prod(torch.exp(-s_hand * d_seg) + 1e-10, dim=1)
        seen_hand[live] |= h_seg.any(1)
        j0 += seg
        # what a ray can still add is bounded by the larger of its two transmittances (docs/speed.md)
        keep = (n_cand[live] > j0) & (torch.maximum(trans_body[live], trans_hand[live]) >= options.early_stop)
        live = live[keep]

    out = composite_with_hands(rgb, sigma, hand_rgb, hand_sigma, is_hand, logits, t, deltas, model.background_rgb,
                               model.background_logits, hand_background=hand_background)
    out["evaluated"] = evaluated
    return out
