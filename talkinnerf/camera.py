"""Pinhole projection in numpy (OpenCV convention of docs/contracts.md), shared by the demo and the evaluation."""

from __future__ import annotations

import numpy as np


def project(points: np.ndarray, K: np.ndarray, R: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World points (...,3) -> (pixels (...,2), camera depth (...,)); depth is clamped at 1e-6 for the division
    so points at or behind the camera stay finite."""
    cam = np.asarray(points) @ np.asarray(R).T + t
    z = cam[..., 2]
    uv = (cam / np.maximum(z, 1e-6)[..., None]) @ np.asarray(K).T
    return uv[..., :2], z
