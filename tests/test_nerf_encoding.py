"""Positional encoding and the truncated Hann window schedule."""

import math

import torch

from talkinnerf.nerf.encoding import encoding_dim, hann_window, positional_encoding


def test_hann_window_closed_before_kick_in_and_open_after_full_band():
    assert torch.equal(hann_window(6, 0, 1000, 5000), torch.zeros(6))
    assert torch.equal(hann_window(6, 1000, 1000, 5000), torch.zeros(6))
    assert torch.equal(hann_window(6, 5000, 1000, 5000), torch.ones(6))
    assert torch.equal(hann_window(6, 10 ** 6, 1000, 5000), torch.ones(6))


def test_hann_window_opens_coarse_to_fine():
    w = hann_window(6, 3000, 1000, 5000)                              # alpha = 3 bands open
    assert torch.allclose(w[:3], torch.ones(3)) and torch.allclose(w[3:], torch.zeros(3))
    w = hann_window(6, 3000 + 1000 // 3, 1000, 5000)                # halfway through band 3
    assert 0.2 < w[3] < 0.8 and w[4] == 0
    steps = [hann_window(4, s, 0, 100) for s in range(0, 101, 5)]
    assert all((b >= a).all() for a, b in zip(steps, steps[1:]))


def test_positional_encoding_values_and_window():
    x = torch.tensor([[0.25, -0.5, 1.0]])
    enc = positional_encoding(x, 2)
    assert enc.shape == (1, encoding_dim(3, 2)) == (1, 15)
    assert torch.allclose(enc[0, :3], x[0])
    assert math.isclose(enc[0, 3].item(), math.sin(math.pi * 0.25), abs_tol=1e-6)       # band 0, sin, x
    assert math.isclose(enc[0, 6].item(), math.cos(math.pi * 0.25), abs_tol=1e-6)       # band 0, cos, x
    assert math.isclose(enc[0, 9].item(), math.sin(2 * math.pi * 0.25), abs_tol=1e-6)   # band 1, sin, x
    closed = positional_encoding(x, 2, torch.zeros(2))
    assert torch.equal(closed[0, 3:], torch.zeros(12)) and torch.equal(closed[0, :3], x[0])
