"""Whole-image rendering: no grad, chunked over rays; rays that miss the body box get the background."""

from __future__ import annotations

import torch

from talkinnerf.nerf.model import FrameConditioning, TalkinNeRF

IMAGE_KEYS = ("rgb", "acc", "depth", "seg_logits")


@torch.no_grad()
def render_image(model: TalkinNeRF, rays_o: torch.Tensor, rays_d: torch.Tensor, near: torch.Tensor,
                 far: torch.Tensor, hit_mask: torch.Tensor, cond: FrameConditioning, step: int,
                 chunk: int = 4096) -> dict[str, torch.Tensor]:
    """Render H*W rays: rays_o/rays_d (H*W,3), near/far (H*W,), hit_mask (H*W,) bool.

    Returns rgb (H*W,3), acc (H*W,), depth (H*W,), seg_logits (H*W,C). Only rays with ``hit_mask`` are traced (in
    chunks of ``chunk`` rays); the others get cfg.background, acc 0, depth 0 and the background logits.
    The model's train/eval mode is left as it is (call model.eval() for deterministic sample positions).
    """
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
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
    for start in range(0, idx.numel(), chunk):
        sel = idx[start:start + chunk]
        res = model(rays_o[sel], rays_d[sel], near[sel], far[sel], cond, step)
        for key in IMAGE_KEYS:
            out[key][sel] = res[key]
    return out
