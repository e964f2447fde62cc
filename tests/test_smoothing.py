"""Gaussian temporal smoothing of per-frame parameters."""

from __future__ import annotations

import numpy as np
import pytest

from talkinnerf.preprocess.smoothing import gaussian_kernel, gaussian_smooth, smooth_params


def test_kernel_normalised_symmetric():
    k = gaussian_kernel(5, 1.0)
    assert k.shape == (5,) and k.sum() == pytest.approx(1.0)
    assert np.allclose(k, k[::-1]) and k[2] == k.max()
    with pytest.raises(ValueError):
        gaussian_kernel(4, 1.0)


def test_constants_stay_constant_including_the_ends():
    x = np.full((7, 21, 3), 0.37, np.float32)
    y = gaussian_smooth(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert np.allclose(y, 0.37, atol=1e-7)


def test_linear_ramp_preserved_inside():
    x = np.arange(10, dtype=np.float64)[:, None]
    y = gaussian_smooth(x)
    assert np.allclose(y[2:-2], x[2:-2])        # a symmetric kernel keeps linear motion where it fits


def test_reduces_noise_variance():
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((400, 3))
    y = gaussian_smooth(noise, 5, 1.0)
    assert y.var() < 0.5 * noise.var()
    assert not np.allclose(y, noise)


def test_smooth_params_touches_only_motion():
    params = {"body_pose": np.random.default_rng(1).standard_normal((6, 21, 3)).astype(np.float32),
              "betas": np.arange(10, dtype=np.float32), "K": np.ones((6, 3, 3), np.float32)}
    out = smooth_params(params)
    assert not np.allclose(out["body_pose"], params["body_pose"])
    assert out["betas"] is params["betas"] and out["K"] is params["K"]
