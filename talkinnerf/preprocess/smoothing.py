"""Gaussian temporal smoothing of per-frame parameters (paper: window 5, sigma 1, also used at test time).

Pure numpy; works on any array whose first axis is time. Axis-angle rotations are smoothed component-wise,
which is accurate for the small frame-to-frame changes of a video (the paper's choice as well).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

# Keys of a results/smplx/s.npz that are per-frame motion parameters and may be smoothed.
SMOOTHABLE_KEYS = ("global_orient", "body_pose", "jaw_pose", "left_hand_pose", "right_hand_pose",
                   "expression", "transl")


def gaussian_kernel(window: int, sigma: float) -> np.ndarray:
    """Normalised 1D Gaussian weights of odd length ``window`` (float64)."""
    if window < 1 or window % 2 == 0:
        raise ValueError(f"smoothing window must be a positive odd number of frames, got {window}")
    if sigma <= 0:
        raise ValueError(f"smoothing sigma must be > 0, got {sigma}")
    half = window // 2
    k = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    return k / k.sum()


def gaussian_smooth(x: np.ndarray, window: int = 5, sigma: float = 1.0) -> np.ndarray:
    """Smooth ``x`` (F, ...) along time with a Gaussian; same shape and dtype out.

    At the sequence ends the kernel is truncated and renormalised (no padding), so a constant sequence
    stays exactly constant and no value is pulled towards zero or a mirrored copy.
    """
    x = np.asarray(x)
    if x.shape[0] < 2 or window == 1:
        return x.copy()
    k = gaussian_kernel(window, sigma)
    half = window // 2
    n = x.shape[0]
    flat = x.reshape(n, -1).astype(np.float64)
    out = np.zeros_like(flat)
    norm = np.zeros((n, 1))
    for offset, w in zip(range(-half, half + 1), k):
        # out[t] += w * x[t + offset] wherever t + offset is inside the sequence
        lo, hi = max(0, -offset), min(n, n - offset)
        out[lo:hi] += w * flat[lo + offset:hi + offset]
        norm[lo:hi] += w
    return (out / norm).reshape(x.shape).astype(x.dtype)


def smooth_params(params: Mapping[str, np.ndarray], window: int = 5, sigma: float = 1.0,
                  keys: tuple[str, ...] = SMOOTHABLE_KEYS) -> dict[str, np.ndarray]:
    """Return a copy of ``params`` with the per-frame motion ``keys`` that are present smoothed.

    Other entries (betas, cameras, derived joints) are copied unchanged; callers recompute derived keys.
    """
    out = dict(params)
    for key in keys:
        if key in params:
            out[key] = gaussian_smooth(params[key], window, sigma)
    return out
