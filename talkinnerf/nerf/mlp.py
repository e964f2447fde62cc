"""Plain ReLU MLP with an optional input skip connection (NeRF style), with per-frame conditions folded into biases."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class MLP(nn.Module):
    """``depth`` linear layers of ``width`` units (ReLU), then a linear head to ``out_dim``.

    The input is concatenated again to the hidden state before layer ``skip`` (NeRF / HumanNeRF skip at depth/2).
    ``last_init`` > 0 initialises the head uniformly in [-last_init, last_init] with zero bias: deformation MLPs
    start as (almost) the identity offset. ``layer_cond_dim`` > 0: every hidden layer after the first also sees a
    condition vector of that size.

    The network is the concatenating MLP of NeRF (the parameters are laid out for the concatenated inputs), but
    a condition that is the same for every sample of a batch (identity code, pose, expression: one per frame) is
    not copied to every row: W [h, c] + b = W_h h + (W_c c + b), so it enters each layer as a bias computed once
    (fewer FLOPs, no (N, width + c) copies, less memory kept for backward; equal up to float round-off).
    ``fold_conditions = False`` (set_folding) runs the concatenating form instead: the reference for tests and
    benchmarks.
    """

    fold_conditions = True

    def __init__(self, in_dim: int, out_dim: int, depth: int, width: int, skip: int | None = None,
                 last_init: float = 0.0, layer_cond_dim: int = 0) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"MLP depth must be >= 1, got {depth}")
        self.skip = skip if skip is not None and 0 < skip < depth else None
        self.in_dim = in_dim
        self.width = width
        self.layer_cond_dim = layer_cond_dim
        layers = []
        for k in range(depth):
            fan_in = in_dim if k == 0 else width + layer_cond_dim
            if k == self.skip:
                fan_in += in_dim
            layers.append(nn.Linear(fan_in, width))
        self.layers = nn.ModuleList(layers)
        self.head = nn.Linear(width, out_dim)
        if last_init > 0:
            nn.init.uniform_(self.head.weight, -last_init, last_init)
            nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor, const: torch.Tensor | None = None,
                layer_cond: torch.Tensor | None = None) -> torch.Tensor:
        """x (N, in_dim - c): the per-sample part of the input; const (c,): the rest of the input (its last c
        entries), the same for every sample; layer_cond (layer_cond_dim,): the condition of every hidden layer
        after the first (required when the MLP was built with layer_cond_dim > 0)."""
        n_var = x.shape[-1]
        n_const = 0 if const is None else const.numel()
        if n_var + n_const != self.in_dim:
            raise ValueError(f"MLP input has {n_var} + {n_const} entries, expected {self.in_dim}")
        if self.layer_cond_dim and (layer_cond is None or layer_cond.numel() != self.layer_cond_dim):
            raise ValueError(f"MLP needs a layer condition of {self.layer_cond_dim} entries")
        if not self.fold_conditions:
            return self._concatenating(x, const, layer_cond)
        h = x
        for k, layer in enumerate(self.layers):
            w, b = layer.weight, layer.bias
            # column layout of w: layer 0 [x | const]; later layers [h | layer_cond] (+ [x | const] at the skip)
            if k == 0:
                out = F.linear(x, w[:, :n_var], _folded(b, w[:, n_var:], const))
            else:
                lc = self.layer_cond_dim
                bias = _folded(b, w[:, self.width:self.width + lc], layer_cond)
                if k == self.skip:
                    off = self.width + lc
                    bias = _folded(bias, w[:, off + n_var:], const)
                    out = torch.addmm(F.linear(h, w[:, :self.width], bias), x, w[:, off:off + n_var].t())
                else:
                    out = F.linear(h, w[:, :self.width], bias)
            h = torch.relu_(out)      # in place: no second (N, width) buffer (autograd keeps the result)
        return self.head(h)

    def _concatenating(self, x: torch.Tensor, const: torch.Tensor | None,
                       layer_cond: torch.Tensor | None) -> torch.Tensor:
        """NeRF's MLP as usually written: the constant conditions copied to every row and concatenated."""
        n = x.shape[0]
        x_full = x if const is None else torch.cat([x, const.reshape(1, -1).expand(n, -1)], dim=-1)
        h = x_full
        for k, layer in enumerate(self.layers):
            if k > 0 and self.layer_cond_dim:
                h = torch.cat([h, layer_cond.reshape(1, -1).expand(n, -1)], dim=-1)
            if k == self.skip:
                h = torch.cat([h, x_full], dim=-1)
            h = torch.relu(layer(h))
        return self.head(h)


def set_folding(module: nn.Module, on: bool) -> None:
    """Folded (default) or concatenating conditions in every MLP under ``module``."""
    for m in module.modules():
        if isinstance(m, MLP):
            m.fold_conditions = on


def _folded(bias: torch.Tensor, w_const: torch.Tensor, const: torch.Tensor | None) -> torch.Tensor:
    """bias + w_const @ const: the contribution of a per-batch constant input (bias alone when there is none)."""
    if const is None or w_const.shape[1] == 0:
        return bias
    return torch.addmv(bias, w_const, const.reshape(-1).to(w_const.dtype))
