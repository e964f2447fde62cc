"""Volume rendering (paper eqs. 8-9) and the two-pass hand compositing of paper §3.2.

All functions are pure: per-sample tensors shaped (R,S,...) for R rays with S samples each, front to back.
"""

from __future__ import annotations

import torch


def stratified_samples(near: torch.Tensor, far: torch.Tensor, num: int, perturb: bool) -> torch.Tensor:
    """Sample depths (R,S) in [near, far]: one per equal bin, uniform in the bin if ``perturb`` else its centre."""
    u = torch.rand(near.shape[0], num, device=near.device) if perturb else torch.full(
        (near.shape[0], num), 0.5, device=near.device)
    bins = torch.arange(num, device=near.device, dtype=near.dtype)
    return near[:, None] + (far - near)[:, None] * (bins + u) / num


def sample_intervals(t: torch.Tensor, near: torch.Tensor, far: torch.Tensor, ray_norm: torch.Tensor
                     ) -> torch.Tensor:
    """Lengths (R,S) of the interval each sample stands for (to the next sample; the last one gets one bin width),
    in world units (times |d|). Finite because rays are clipped to the body box and the background is explicit."""
    bin_width = (far - near)[:, None] / t.shape[1]
    deltas = torch.cat([t[:, 1:] - t[:, :-1], bin_width], dim=1)
    return deltas.clamp_min(0.0) * ray_norm[:, None]   # a ray with far < near contributes nothing


def alpha_weights(sigma: torch.Tensor, deltas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Compositing weights w_k = T_k alpha_k (R,S) and the transmittance past the last sample (R,)."""
    alpha = 1.0 - torch.exp(-sigma * deltas)
    trans = torch.cumprod(torch.cat([torch.ones_like(alpha[:, :1]), 1.0 - alpha + 1e-10], dim=1), dim=1)
    return alpha * trans[:, :-1], trans[:, -1]


def composite(rgb: torch.Tensor, sigma: torch.Tensor, logits: torch.Tensor, t: torch.Tensor, deltas: torch.Tensor,
              tail_rgb: torch.Tensor, tail_logits: torch.Tensor, tail_acc: torch.Tensor, tail_depth: torch.Tensor
              ) -> dict[str, torch.Tensor]:
    """Front-to-back compositing over a *tail*: what the ray sees after its last sample (an opaque last sample).

    rgb (R,S,3), sigma (R,S), logits (R,S,C), t/deltas (R,S); tail_rgb (R,3)|(3,), tail_logits (R,C)|(C,),
    tail_acc (R,)|(), tail_depth (R,)|(). For plain rendering the tail is the background (colour, background
    logits, acc 0, depth 0); for the hand pass it is the body-only render.
    Returns rgb (R,3), seg_logits (R,C), acc (R,), depth (R,) (expected depth, background counting as 0),
    weights (R,S).
    """
    w, t_end = alpha_weights(sigma, deltas)
    return {
        "rgb": (w[..., None] * rgb).sum(1) + t_end[:, None] * tail_rgb,
        "seg_logits": (w[..., None] * logits).sum(1) + t_end[:, None] * tail_logits,
        "acc": w.sum(1) + t_end * tail_acc,
        "depth": (w * t).sum(1) + t_end * tail_depth,
        "weights": w,
    }


def composite_with_hands(body_rgb: torch.Tensor, body_sigma: torch.Tensor, hand_rgb: torch.Tensor,
                         hand_sigma: torch.Tensor, is_hand: torch.Tensor, logits: torch.Tensor, t: torch.Tensor,
                         deltas: torch.Tensor, background: torch.Tensor, background_logits: torch.Tensor,
                         hand_background: bool = True) -> dict[str, torch.Tensor]:
    """Combine body (incl. face) and hand samples along each ray.

    body_* / hand_* (R,S,3) and (R,S): the two fields' outputs at every sample (hand values only matter where
    ``is_hand`` (R,S) bool); logits (R,S,C) from F_body.

    hand_background=True (the paper's "background for hands"):
      1. body pass: F_body's own rendering of the pixel -> C_B: every sample with its F_body rgb/sigma (hand
         samples too: F_body's view of them, not empty space), over the background;
      2. hand pass, for rays with >= 1 hand sample: the non-hand samples *in front of* the first hand sample keep
         their body rgb/sigma (they can occlude the hand), hand samples take the hand rgb/sigma, non-hand samples
         behind the first hand sample are dropped, and the ray ends in an opaque last sample whose colour is C_B
         (and whose logits/acc/depth are the body pass's). Rays without hand samples return the body pass.
    hand_background=False (ablation): one pass, hand samples with hand rgb/sigma, others with body, over the
    background colour: what lies behind a translucent hand is the body samples there, never F_body's own render
    of the hand pixel. (With hand samples emptied in the body pass the two would agree on every ray whose body
    samples all lie behind the hand, and the ablation would test nothing there.)
    Returns composite()'s dict plus "rgb_body" (R,3) (the body pass) and "hand_rays" (R,) bool.
    """
    bg_acc = torch.zeros_like(t[:, 0])
    if not hand_background:
        rgb = torch.where(is_hand[..., None], hand_rgb, body_rgb)
        sigma = torch.where(is_hand, hand_sigma, body_sigma)
        out = composite(rgb, sigma, logits, t, deltas, background, background_logits, bg_acc, bg_acc)
        out["rgb_body"] = out["rgb"]
        out["hand_rays"] = is_hand.any(1)
        return out
    body = composite(body_rgb, body_sigma, logits, t, deltas, background, background_logits, bg_acc, bg_acc)
    hand_rays = is_hand.any(1)
    if not bool(hand_rays.any()):
        body["rgb_body"] = body["rgb"]
        body["hand_rays"] = hand_rays
        return body
    in_front = torch.cumsum(is_hand.int(), dim=1) == 0
    sigma_h = torch.where(is_hand, hand_sigma, torch.where(in_front, body_sigma, torch.zeros_like(body_sigma)))
    rgb_h = torch.where(is_hand[..., None], hand_rgb, body_rgb)
    hand = composite(rgb_h, sigma_h, logits, t, deltas, body["rgb"], body["seg_logits"], body["acc"],
                     body["depth"])
    out = {k: torch.where(hand_rays.reshape(-1, *[1] * (v.dim() - 1)), hand[k], v) for k, v in body.items()}
    out["rgb_body"] = body["rgb"]
    out["hand_rays"] = hand_rays
    return out
