"""Explicit-feature radiance fields: multi-scale feature planes read with ``grid_sample`` plus a small decoder MLP.

A sibling of :class:`talkinnerf.nerf.fields.RadianceField` with the same interface, ``(x_c (N,3), condition (C,)) ->
rgb (N,3), raw density (N,), logits (N,L)``, chosen by ``ModelConfig.field = "planes"`` (talkinnerf.nerf.field_factory).

Each scale holds three axis-aligned planes (xy, xz, yz) of ``channels`` features over a fixed canonical box; a point's
feature at one scale is the product of its three bilinear reads (K-planes, Fridovich-Keil et al. 2023: the product
localises a feature to the point where a sum would smear it along three lines), and the scales are concatenated.
The decoder is the same condition-folding MLP as the paper's fields (talkinnerf.nerf.mlp), so the identity code
(and, for F_face, the expression [psi; jaw]) conditions every field exactly as before: the per-frame condition
enters the decoder's first layer (and, with ``layer_cond_dim``, every hidden layer) as a bias.

Why planes: a read is 12 bilinear gathers per scale instead of eight 256-wide matmuls (issue 17 measured 72k vs
11k samples/s for fwd + bwd + Adam against the paper's 8 x 256 MLP on this CPU), and fine detail (eyes, mouth,
fingers) lives in the planes' texels instead of in high positional-encoding bands that an MLP needs thousands of
iterations to fit (measured at demo sizes: docs/model.md "Field backends").
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from talkinnerf.nerf.fields_encoded import EncodedRadianceField, box_corners

# plane k reads coordinates (a, b) of the point: xy, xz, yz
PLANE_AXES = ((0, 1), (0, 2), (1, 2))


class MultiScalePlanes(nn.Module):
    """x (N,3) in metres -> features (N, channels * len(resolutions)).

    ``box`` = (x0, y0, z0, x1, y1, z1): the canonical region the planes cover; points outside read the border texels
    (the model only sends points inside the subject's padded canonical box, and the face/hand routes only their part).
    Planes start uniform in [init_lo, init_hi] (K-planes' initialisation: the product of three reads starts positive
    and varied, not zero, so every texel receives gradient from the first step).
    """

    def __init__(self, box: Sequence[float], resolutions: Sequence[int], channels: int,
                 init_lo: float = 0.1, init_hi: float = 0.5) -> None:
        super().__init__()
        lo, hi = box_corners(box, "plane")
        if not resolutions or min(resolutions) < 2 or channels < 1:
            raise ValueError(f"planes need resolutions >= 2 and channels >= 1, got {list(resolutions)}, {channels}")
        self.register_buffer("lo", lo, persistent=False)
        self.register_buffer("inv_half", 2.0 / (hi - lo), persistent=False)
        self.resolutions = tuple(int(r) for r in resolutions)
        self.channels = int(channels)
        self.planes = nn.ParameterList(
            nn.Parameter(torch.empty(3, channels, r, r).uniform_(init_lo, init_hi)) for r in self.resolutions)

    @property
    def out_dim(self) -> int:
        return self.channels * len(self.resolutions)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """(N,3) metres -> (N,3) in [-1,1] over the box (clamped)."""
        return ((x - self.lo.to(x)) * self.inv_half.to(x) - 1.0).clamp(-1.0, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = self.normalise(x)
        # (3,1,N,2): grid_sample's last axis is (column, row) = (first, second) coordinate of each plane
        grid = torch.stack([u[:, list(axes)] for axes in PLANE_AXES])[:, None]
        feats = []
        for plane in self.planes:
            reads = F.grid_sample(plane.to(u.dtype), grid, mode="bilinear", padding_mode="border",
                                  align_corners=True)                       # (3,C,1,N)
            feats.append((reads[0] * reads[1] * reads[2])[:, 0].t())         # (N,C)
        return torch.cat(feats, dim=-1)

    def total_variation(self) -> torch.Tensor:
        """Mean squared difference of neighbouring texels, averaged over scales: the smoothness prior that keeps
        texels a monocular video sees rarely from holding noise (K-planes' spatial TV)."""
        total = self.planes[0].new_zeros(())
        for plane in self.planes:
            total = total + (plane[..., 1:, :] - plane[..., :-1, :]).pow(2).mean() \
                + (plane[..., :, 1:] - plane[..., :, :-1]).pow(2).mean()
        return total / len(self.planes)


class PlaneRadianceField(EncodedRadianceField):
    """(x_c (N,3), condition (C,)) -> rgb (N,3) in [0,1], raw density (N,), logits (N,L): RadianceField's contract.

    Features = planes(x) and x normalised to the box; the decoder is an MLP of ``depth`` x ``width`` with the
    condition folded into its biases (talkinnerf.nerf.fields_encoded). ``layer_cond_dim`` as in RadianceField: the
    identity code (the condition's last entries) also enters every hidden layer.
    """

    def __init__(self, cond_dim: int, box: Sequence[float], resolutions: Sequence[int], channels: int, depth: int,
                 width: int, num_logits: int = 0, layer_cond_dim: int = 0) -> None:
        super().__init__("planes", MultiScalePlanes(box, resolutions, channels), cond_dim, depth, width,
                         num_logits, layer_cond_dim)

    def regularisation(self) -> torch.Tensor:
        return self.planes.total_variation()


__all__ = ["MultiScalePlanes", "PlaneRadianceField", "PLANE_AXES"]
