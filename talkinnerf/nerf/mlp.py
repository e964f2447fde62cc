"""Plain ReLU MLP with an optional input skip connection (NeRF style)."""

from __future__ import annotations

import torch
from torch import nn


class MLP(nn.Module):
    """``depth`` linear layers of ``width`` units (ReLU), then a linear head to ``out_dim``.

    The input is concatenated again to the hidden state before layer ``skip`` (NeRF / HumanNeRF skip at depth/2).
    ``last_init`` > 0 initialises the head uniformly in [-last_init, last_init] with zero bias: deformation MLPs
    start as (almost) the identity offset.
    """

    def __init__(self, in_dim: int, out_dim: int, depth: int, width: int, skip: int | None = None,
                 last_init: float = 0.0, layer_cond_dim: int = 0) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"MLP depth must be >= 1, got {depth}")
        self.skip = skip if skip is not None and 0 < skip < depth else None
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

    def forward(self, x: torch.Tensor, layer_cond: torch.Tensor | None = None) -> torch.Tensor:
        """x (N,in_dim); layer_cond (N,layer_cond_dim), concatenated to the input of every hidden layer after the
        first (required when the MLP was built with layer_cond_dim > 0)."""
        h = x
        for k, layer in enumerate(self.layers):
            if k > 0 and self.layer_cond_dim:
                h = torch.cat([h, layer_cond], dim=-1)
            if k == self.skip:
                h = torch.cat([h, x], dim=-1)
            h = torch.relu(layer(h))
        return self.head(h)
