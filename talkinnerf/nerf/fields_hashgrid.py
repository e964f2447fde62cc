"""Explicit-feature radiance fields on a multi-resolution hash grid (Instant-NGP, Müller et al. 2022) plus a small
decoder MLP: the second explicit backend beside the planes, chosen by ``ModelConfig.field = "hashgrid"``.

``levels`` grids from ``base_resolution`` to ``max_resolution`` cells per side over a fixed canonical box, each level
a table of ``2**log2_table`` feature vectors of ``features`` entries. A point's feature at one level is the trilinear
blend of its cell's eight corner entries; coarse levels whose corners fit in the table index it one-to-one, finer
ones through Instant-NGP's spatial hash (XOR of the corner coordinates times large primes): collisions are left
for the gradient to sort out, where the samples that matter (the surface) outvote the empty space that shares their
entries. The levels' features are concatenated and decoded as the planes' are (talkinnerf.nerf.fields_encoded).

Pure PyTorch: the eight corner reads and their weighted sum are one gather and one contraction, with gradients for
the table (accumulated by ``index_add_``) and for the weights, hence for the point: D_nr and the pose refiner train
through it as through the planes. The table is dense, so Adam updates every entry each step;
at the default 16 x 2**15 x 2 = 1M entries per field (half the planes' texels) the trainer's fused Adam makes that
cheap. On a GPU a fused hash-grid kernel (tiny-cuda-nn) would replace the gather; the layout is the same.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from talkinnerf.nerf.fields_encoded import EncodedRadianceField, box_corners

# Instant-NGP's hash primes; the first is 1 so that neighbouring x coordinates stay neighbouring entries
HASH_PRIMES = (1, 2654435761, 805459861)


def level_resolutions(levels: int, base: int, finest: int) -> tuple[int, ...]:
    """Cells per side of each level: a geometric series from ``base`` to ``finest`` (Instant-NGP's growth factor)."""
    if levels == 1:
        return (int(base),)
    growth = math.exp((math.log(finest) - math.log(base)) / (levels - 1))
    return tuple(int(math.floor(base * growth ** level + 1e-6)) for level in range(levels))


class _BlendCorners(torch.autograd.Function):
    """table (T,F), rows (M,8) int32, weights (M,8) -> (M,F): sum_k weights[:,k] * table[rows[:,k]].

    Autograd's own backward of this gather (``embedding_bag``'s, or indexing's) sorts the 8M row ids of an iteration
    to accumulate duplicates (2 s per 65k samples on this CPU); ``index_add_`` accumulates them in one pass (~10x
    faster here). The gradient of the weights (hence of the point) is the corners' features against the output's."""

    @staticmethod
    def forward(ctx, table: torch.Tensor, rows: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        corners = table.index_select(0, rows.reshape(-1)).view(*rows.shape, table.shape[1])     # (M,8,F)
        ctx.save_for_backward(rows, weights, corners)
        ctx.table_shape = table.shape
        return torch.einsum("mk,mkf->mf", weights, corners)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        rows, weights, corners = ctx.saved_tensors
        grad = grad.to(corners.dtype)       # under bf16 autocast the forward's contraction ran in bf16
        grad_table = grad_weights = None
        if ctx.needs_input_grad[0]:
            spread = (weights[:, :, None] * grad[:, None, :]).reshape(-1, grad.shape[1])
            # int64 ids: index_add_ takes a scatter_add fast path with them (8x slower with int32 here)
            grad_table = grad.new_zeros(ctx.table_shape).index_add_(0, rows.reshape(-1).long(), spread)
        if ctx.needs_input_grad[2]:
            grad_weights = torch.einsum("mkf,mf->mk", corners, grad)
        return grad_table, None, grad_weights


class HashGrid(nn.Module):
    """x (N,3) in metres -> features (N, levels * features). Points outside ``box`` read its border cells."""

    def __init__(self, box: Sequence[float], levels: int = 16, features: int = 2, log2_table: int = 15,
                 base_resolution: int = 16, max_resolution: int = 512, init_scale: float = 1e-4) -> None:
        super().__init__()
        lo, hi = box_corners(box, "hash grid")
        if levels < 1 or features < 1 or not 4 <= log2_table <= 24 or levels << log2_table >= 2 ** 31 \
                or not 1 <= base_resolution <= max_resolution:
            raise ValueError("hash grid needs levels >= 1, features >= 1, 4 <= log2_table <= 24, fewer than 2**31 "
                             "entries and 1 <= base_resolution <= max_resolution, got "
                             f"{levels}, {features}, {log2_table}, {base_resolution}, {max_resolution}")
        self.levels, self.features, self.table_size = int(levels), int(features), 1 << int(log2_table)
        self.resolutions = level_resolutions(self.levels, int(base_resolution), int(max_resolution))
        self.register_buffer("lo", lo, persistent=False)
        self.register_buffer("inv_extent", 1.0 / (hi - lo), persistent=False)
        res = torch.tensor(self.resolutions, dtype=torch.int64)
        self.register_buffer("res", res, persistent=False)
        # a level whose (res + 1)^3 corners fit in its table is indexed one-to-one (no collisions): its per-axis
        # row strides are 1, res + 1, (res + 1)^2; a finer level hashes with the primes
        dense = (res + 1) ** 3 <= self.table_size
        self.dense_levels = int(dense.sum())      # levels grow finer, so the dense ones come first
        side = res + 1
        strides = torch.stack([torch.ones_like(side), side, side * side], dim=1)
        primes = torch.tensor(HASH_PRIMES, dtype=torch.int64).expand(self.levels, 3)
        self.register_buffer("axis_factor", torch.where(dense[:, None], strides, primes), persistent=False)
        self.register_buffer("level_offset", (torch.arange(self.levels) * self.table_size).to(torch.int32),
                             persistent=False)
        # small symmetric start (Instant-NGP): features near zero, the decoder reads the position first
        self.table = nn.Parameter(torch.empty(self.levels * self.table_size, self.features)
                                  .uniform_(-init_scale, init_scale))

    @property
    def out_dim(self) -> int:
        return self.levels * self.features

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """(N,3) metres -> (N,3) in [-1,1] over the box (clamped), as the planes' (the decoder's position input)."""
        return self.unit(x) * 2.0 - 1.0

    def unit(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.lo.to(x)) * self.inv_extent.to(x)).clamp(0.0, 1.0)

    def corner_rows(self, cells: torch.Tensor) -> torch.Tensor:
        """cells (N,L,3) int64 lower corners -> table rows (N,L,8) int32 of their eight corners, corner (i,j,k) at
        4i + 2j + k (i the x offset): per level, the sum (dense) or XOR (hashed) of each axis' coordinate times
        its factor, modulo the table. The hashed terms are reduced modulo the table per axis before the XOR (the
        same result: the table size is a power of two), so the eight-corner combinations fit in int32, half the
        memory traffic of int64 (the rows are the largest tensors of a call)."""
        # per axis the two corner coordinates times the axis factor: (N,L,3,2), reduced where hashed
        terms = (cells[..., None] + torch.arange(2, device=cells.device)) * self.axis_factor[..., None]
        d = self.dense_levels
        terms = torch.cat([terms[:, :d], terms[:, d:] & (self.table_size - 1)], dim=1).to(torch.int32)
        tx, ty, tz = terms[:, :, 0, :, None, None], terms[:, :, 1, None, :, None], terms[:, :, 2, None, None, :]
        rows = torch.cat([tx[:, :d] + ty[:, :d] + tz[:, :d], tx[:, d:] ^ ty[:, d:] ^ tz[:, d:]], dim=1)
        return rows.reshape(*cells.shape[:2], 8) + self.level_offset[:, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        pos = self.unit(x)[:, None, :] * self.res.to(x.dtype)[None, :, None]          # (N,L,3) in cells
        # the far face of the box (pos == res) belongs to the last cell, at fraction 1
        cells = torch.minimum(pos.detach().floor(), (self.res - 1).to(x.dtype)[None, :, None])
        frac = pos - cells
        rows = self.corner_rows(cells.long())                                         # (N,L,8)
        w = torch.stack([1.0 - frac, frac], dim=-1)                                    # (N,L,3,2)
        weights = (w[:, :, 0, :, None, None] * w[:, :, 1, None, :, None] * w[:, :, 2, None, None, :])
        out = _BlendCorners.apply(self.table, rows.reshape(n * self.levels, 8),
                                  weights.reshape(n * self.levels, 8).to(self.table.dtype))   # (N*L, F)
        return out.reshape(n, self.levels * self.features).to(x.dtype)


class HashGridRadianceField(EncodedRadianceField):
    """(x_c (N,3), condition (C,)) -> rgb (N,3) in [0,1], raw density (N,), logits (N,L): RadianceField's contract,
    with a hash grid (attribute ``grid``) as the encoder and the planes' condition-folding decoder."""

    def __init__(self, cond_dim: int, box: Sequence[float], levels: int, features: int, log2_table: int,
                 base_resolution: int, max_resolution: int, depth: int, width: int, num_logits: int = 0,
                 layer_cond_dim: int = 0) -> None:
        super().__init__("grid", HashGrid(box, levels, features, log2_table, base_resolution, max_resolution),
                         cond_dim, depth, width, num_logits, layer_cond_dim)


__all__ = ["HashGrid", "HashGridRadianceField", "level_resolutions", "HASH_PRIMES"]
