"""Sinusoidal positional encoding and the truncated Hann window that opens its bands over training steps."""

from __future__ import annotations

import math

import torch


def hann_window(num_bands: int, step: int, kick_in: int, full_band: int) -> torch.Tensor:
    """Per-band weights (num_bands,) of HumanNeRF's truncated Hann window.

    alpha = num_bands * (step - kick_in) / (full_band - kick_in) is the number of open bands; band k gets
    (1 - cos(pi * clamp(alpha - k, 0, 1))) / 2. All zeros at or before ``kick_in``, all ones from ``full_band``.
    """
    if full_band <= kick_in:
        alpha = float(num_bands) if step >= full_band else 0.0
    else:
        alpha = num_bands * min(max(step - kick_in, 0), full_band - kick_in) / (full_band - kick_in)
    k = torch.arange(num_bands, dtype=torch.float32)
    return 0.5 * (1.0 - torch.cos(math.pi * (alpha - k).clamp(0.0, 1.0)))


def positional_encoding(x: torch.Tensor, num_bands: int, window: torch.Tensor | None = None) -> torch.Tensor:
    """[x, sin(2^k pi x), cos(2^k pi x) for k < num_bands] -> (..., 3 + 6 * num_bands) for x (..., 3).

    ``window`` (num_bands,) scales each band's sin/cos pair (coarse-to-fine schedule); the identity term is kept.
    """
    if num_bands == 0:
        return x
    freqs = (2.0 ** torch.arange(num_bands, dtype=x.dtype, device=x.device)) * math.pi
    angles = x[..., None, :] * freqs[:, None]                      # (..., B, D)
    enc = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)  # (..., B, 2D)
    if window is not None:
        enc = enc * window.to(enc)[:, None]
    return torch.cat([x, enc.flatten(-2)], dim=-1)


def encoding_dim(in_dim: int, num_bands: int) -> int:
    return in_dim * (1 + 2 * num_bands)
