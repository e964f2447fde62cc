"""Resample a motion to another frame rate: rotations by quaternion slerp, translation and expression linearly.

Output frame j sits at time j / fps_out and is interpolated between the two source frames around it
(source frame i at time i / fps_in); the output ends at the last source frame, never extrapolates. An output
time that falls on a source frame copies that frame's numbers exactly.
"""

from __future__ import annotations

import numpy as np

from talkinnerf.motion.format import ROTATION_KEYS, Motion
from talkinnerf.motion.rotations import aa_to_quat, quat_to_aa

# output times this close (in source frames) to a source frame are that frame: 60 -> 30 fps keeps frames exactly
_ON_FRAME = 1e-9


def sample_positions(frames: int, fps_in: float, fps_out: float) -> tuple[np.ndarray, np.ndarray]:
    """Per output frame: the source frame before it (int) and the fraction (0 <= f < 1) towards the next."""
    if fps_in <= 0 or fps_out <= 0:
        raise ValueError(f"frame rates must be > 0, got {fps_in} -> {fps_out}")
    if frames <= 0:
        raise ValueError("cannot resample a motion with zero frames")
    count = int(np.floor((frames - 1) * fps_out / fps_in + _ON_FRAME)) + 1
    pos = np.arange(count, dtype=np.float64) * (fps_in / fps_out)
    index = np.floor(pos + _ON_FRAME).astype(np.int64)
    frac = pos - index
    frac[np.abs(frac) < _ON_FRAME] = 0.0
    last = index >= frames - 1
    index[last], frac[last] = frames - 1, 0.0
    return index, np.clip(frac, 0.0, 1.0)


def slerp(q0: np.ndarray, q1: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation of unit quaternions (..., 4) at t (broadcastable to (..., 1)), the shorter arc."""
    q0, q1, t = np.asarray(q0, np.float64), np.asarray(q1, np.float64), np.asarray(t, np.float64)
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)              # q and -q are one rotation: go the short way round
    dot = np.clip(np.abs(dot), -1.0, 1.0)
    theta = np.arccos(dot)
    sin_theta = np.sin(theta)
    small = sin_theta < 1e-8                     # (nearly) the same rotation: lerp is exact enough, no 0/0
    safe = np.where(small, 1.0, sin_theta)
    w0 = np.where(small, 1.0 - t, np.sin((1.0 - t) * theta) / safe)
    w1 = np.where(small, t, np.sin(t * theta) / safe)
    q = w0 * q0 + w1 * q1
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def resample_rotations(aa: np.ndarray, index: np.ndarray, frac: np.ndarray) -> np.ndarray:
    """Axis-angle (T, ..., 3) at the given source positions by slerp; on-frame samples are copied exactly."""
    aa = np.asarray(aa, np.float64)
    nxt = np.minimum(index + 1, len(aa) - 1)
    shape = (len(index),) + (1,) * (aa.ndim - 1)
    t = frac.reshape(shape)
    out = quat_to_aa(slerp(aa_to_quat(aa[index]), aa_to_quat(aa[nxt]), t))
    return np.where(t == 0.0, aa[index], out)


def resample_linear(x: np.ndarray, index: np.ndarray, frac: np.ndarray) -> np.ndarray:
    """Values (T, ...) linearly interpolated at the given source positions; on-frame samples exact."""
    x = np.asarray(x, np.float64)
    nxt = np.minimum(index + 1, len(x) - 1)
    t = frac.reshape((len(index),) + (1,) * (x.ndim - 1))
    return np.where(t == 0.0, x[index], (1.0 - t) * x[index] + t * x[nxt])


def resample_motion(motion: Motion, fps: float) -> Motion:
    """The motion at ``fps``; unchanged (same object) when the rate already matches."""
    if fps == motion.fps:
        return motion
    index, frac = sample_positions(motion.frames, motion.fps, fps)
    arrays = {k: (resample_rotations(v, index, frac) if k in ROTATION_KEYS else resample_linear(v, index, frac))
              for k, v in motion.arrays().items()}
    out = motion.replace(**arrays, fps=float(fps))
    out.conversions.append(f"resampled {motion.fps:g} -> {fps:g} fps by slerp (rotations) and linearly "
                           f"(translation, expression): {motion.frames} -> {len(index)} frames")
    return out
