"""The decoder half shared by the explicit-feature fields (planes, hash grid): RadianceField's contract over an
encoder that maps canonical points to features.

``(x_c (N,3), condition (C,)) -> rgb (N,3) in [0,1], raw density (N,), logits (N,L)``. The decoder reads the
encoder's features and x normalised to the encoder's box (a coarse position it can use everywhere, also where the
features are still near zero); it is the paper fields' condition-folding MLP (talkinnerf.nerf.mlp), so the identity
code (and, for F_face, the expression [psi; jaw]) conditions every backend the same way: the per-frame condition
enters the first layer (and, with ``layer_cond_dim``, every hidden layer) as a bias.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from talkinnerf.nerf.mlp import MLP


def box_corners(box: Sequence[float], what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(x0, y0, z0, x1, y1, z1) -> lo (3,), hi (3,) float32, checked: the canonical box an encoder covers."""
    if len(box) != 6:
        raise ValueError(f"{what} box must have 6 entries (x0, y0, z0, x1, y1, z1), got {list(box)}")
    lo, hi = torch.tensor(box[:3], dtype=torch.float32), torch.tensor(box[3:], dtype=torch.float32)
    if not bool((hi > lo).all()):
        raise ValueError(f"{what} box must have x1 > x0, y1 > y0, z1 > z0, got {list(box)}")
    return lo, hi


class EncodedRadianceField(nn.Module):
    """``encoder``: any module with ``out_dim``, ``normalise(x)`` and ``forward(x) -> (N, out_dim)``, registered
    under ``encoder_name`` (its checkpoint keys: ``planes.*`` for the planes); this class adds the decoder ``mlp``.
    The encoder is built by the caller first, so its random start is drawn before the decoder's."""

    def __init__(self, encoder_name: str, encoder: nn.Module, cond_dim: int, depth: int, width: int,
                 num_logits: int = 0, layer_cond_dim: int = 0) -> None:
        super().__init__()
        if not 0 <= layer_cond_dim <= cond_dim:
            raise ValueError(f"layer_cond_dim {layer_cond_dim} must be in [0, cond_dim={cond_dim}]")
        self.num_logits = num_logits
        self.layer_cond_dim = layer_cond_dim
        self.encoder_name = encoder_name
        setattr(self, encoder_name, encoder)
        self.mlp = MLP(encoder.out_dim + 3 + cond_dim, 4 + num_logits, depth, width, None,
                       layer_cond_dim=layer_cond_dim)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        cond = cond.reshape(-1)
        enc = getattr(self, self.encoder_name)
        feats = torch.cat([enc(x), enc.normalise(x)], dim=-1)
        out = self.mlp(feats, cond, cond[cond.numel() - self.layer_cond_dim:] if self.layer_cond_dim else None)
        return torch.sigmoid(out[:, :3]), out[:, 3], out[:, 4:]


__all__ = ["EncodedRadianceField", "box_corners"]
