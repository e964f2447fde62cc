"""The networks: F_body, F_face, F_hands (radiance fields), D_nr, D_hands (offsets), pose refiner.

All take flat batches of points (N,3) plus per-frame condition vectors (one per batch: they enter the MLPs as
biases, talkinnerf.nerf.mlp). Density is returned raw (pre-activation); the model applies softplus so that the
caller controls masking and noise.
"""

from __future__ import annotations

import torch
from torch import nn

from talkinnerf.nerf.encoding import encoding_dim, positional_encoding
from talkinnerf.nerf.mlp import MLP


def _skip(depth: int) -> int | None:
    """Layer that sees the input again. NeRF/HumanNeRF use layer 4 for the 8-layer fields *and* the 6-layer D_nr
    (supp. B: D_nr and D_hands 6 x 128, skip at 4); shallower (demo) MLPs skip half-way, under 4 layers never."""
    if depth < 4:
        return None
    return 4 if depth > 4 else depth // 2


class RadianceField(nn.Module):
    """(x_c (N,3), condition (C,)) -> rgb (N,3) in [0,1], raw density (N,), logits (N,L) (L = num_logits, may be 0).

    ``layer_cond_dim`` > 0: the last ``layer_cond_dim`` entries of the condition (the identity code) are also fed
    to every hidden layer, not only with the input: one field holds several subjects whose canonical spaces
    overlap, and a code seen at the input alone lets one subject's clothing leak into another's.
    """

    def __init__(self, cond_dim: int, depth: int, width: int, pe_bands: int, num_logits: int = 0,
                 layer_cond_dim: int = 0) -> None:
        super().__init__()
        if not 0 <= layer_cond_dim <= cond_dim:
            raise ValueError(f"layer_cond_dim {layer_cond_dim} must be in [0, cond_dim={cond_dim}]")
        self.pe_bands = pe_bands
        self.num_logits = num_logits
        self.layer_cond_dim = layer_cond_dim
        self.mlp = MLP(encoding_dim(3, pe_bands) + cond_dim, 4 + num_logits, depth, width, _skip(depth),
                       layer_cond_dim=layer_cond_dim)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        cond = cond.reshape(-1)
        out = self.mlp(positional_encoding(x, self.pe_bands), cond,
                       cond[cond.numel() - self.layer_cond_dim:] if self.layer_cond_dim else None)
        return torch.sigmoid(out[:, :3]), out[:, 3], out[:, 4:]


class OffsetField(nn.Module):
    """D_nr / D_hands: (x (N,3), condition (C,), window (bands,)) -> offset (N,3), starting near zero."""

    def __init__(self, cond_dim: int, depth: int, width: int, pe_bands: int) -> None:
        super().__init__()
        self.pe_bands = pe_bands
        self.mlp = MLP(encoding_dim(3, pe_bands) + cond_dim, 3, depth, width, _skip(depth), last_init=1e-5)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
        return self.mlp(positional_encoding(x, self.pe_bands, window), cond.reshape(-1))


class PoseRefiner(nn.Module):
    """HumanNeRF's pose correction: non-root body pose (21*3,) -> delta axis-angles (21,3), starting near zero."""

    def __init__(self, num_joints: int, depth: int, width: int) -> None:
        super().__init__()
        self.num_joints = num_joints
        self.mlp = MLP(num_joints * 3, num_joints * 3, depth, width, None, last_init=1e-5)

    def forward(self, pose: torch.Tensor) -> torch.Tensor:
        return self.mlp(pose.reshape(1, -1)).reshape(self.num_joints, 3)
