"""Axis-angle <-> unit quaternion (w, x, y, z) and quaternion products, vectorised over leading axes.

Pure numpy in float64. Quaternions come out with w >= 0, so the axis-angle they give has an angle in [0, pi].
"""

from __future__ import annotations

import numpy as np

# below this vector length the axis is undefined; the series expansions near zero are exact to float64 there
_TINY = 1e-12


def aa_to_quat(aa: np.ndarray) -> np.ndarray:
    """Axis-angle (..., 3) -> unit quaternion (..., 4), w first."""
    aa = np.asarray(aa, dtype=np.float64)
    angle = np.linalg.norm(aa, axis=-1, keepdims=True)
    half = 0.5 * angle
    # sin(angle/2) / angle written with np.sinc, which is exact (0.5) at angle 0: no division by zero
    scale = 0.5 * np.sinc(half / np.pi)
    return np.concatenate([np.cos(half), aa * scale], axis=-1)


def quat_to_aa(q: np.ndarray) -> np.ndarray:
    """Quaternion (..., 4), w first (normalised here) -> axis-angle (..., 3) with angle in [0, pi]."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    q = np.where(q[..., :1] < 0, -q, q)          # q and -q are one rotation; w >= 0 picks angle <= pi
    w, xyz = q[..., :1], q[..., 1:]
    s = np.linalg.norm(xyz, axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(s, w)               # atan2 stays accurate near 0 and near pi (w -> 0)
    safe = np.where(s > _TINY, s, 1.0)
    # near the identity angle/s -> 2/w (first-order series), used where s is too small to divide by
    factor = np.where(s > _TINY, angle / safe, 2.0 / np.maximum(w, _TINY))
    return xyz * factor


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b (..., 4): the rotation b first, then a."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz,
                     aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw], axis=-1)


def compose_aa(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Axis-angle of R(outer) @ R(inner) (inner applied first), both (..., 3)."""
    return quat_to_aa(quat_mul(aa_to_quat(outer), aa_to_quat(inner)))


def aa_to_matrix(aa: np.ndarray) -> np.ndarray:
    """Axis-angle (..., 3) -> rotation matrix (..., 3, 3)."""
    w, x, y, z = np.moveaxis(aa_to_quat(aa), -1, 0)
    return np.stack([np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
                     np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
                     np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1)], -2)
