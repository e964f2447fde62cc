"""Ground-truth 2-D keypoints and an OpenPose stand-in with realistic detector errors.

Groups and sizes follow OpenPose: body (BODY_25), left_hand (21), right_hand (21), face (70).
"""

from __future__ import annotations

import numpy as np

from talkinnerf.demo.options import NoiseOptions

GROUPS = ("body", "left_hand", "right_hand", "face")
GROUP_SIZES = {"body": 25, "left_hand": 21, "right_hand": 21, "face": 70}
OPENPOSE_KEYS = {"body": "pose_keypoints_2d", "left_hand": "hand_left_keypoints_2d",
                 "right_hand": "hand_right_keypoints_2d", "face": "face_keypoints_2d"}
# How far (m) a point may lie behind the visible surface and still count as visible: body joints sit inside
# the limbs and torso; finger joints and face landmarks lie (nearly) on the skin.
DEPTH_TOLERANCE = {"body": 0.12, "left_hand": 0.025, "right_hand": 0.025, "face": 0.02}


def visibility(uv: np.ndarray, z: np.ndarray, depth: np.ndarray, tolerance: float) -> np.ndarray:
    """(N,) bool: inside the image and not behind the rendered surface by more than ``tolerance`` metres.

    uv (N,2) pixels, z (N,) camera depth of the points, depth (H,W) the frame's depth buffer (inf = empty).
    """
    h, w = depth.shape
    col = np.floor(uv[:, 0]).astype(int)
    row = np.floor(uv[:, 1]).astype(int)
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h) & (z > 0)
    surface = np.full(len(z), np.inf)
    surface[inside] = depth[row[inside], col[inside]]
    return inside & (z <= surface + tolerance)


def noisy_detections(uv: np.ndarray, visible: np.ndarray, group: str, opts: NoiseOptions,
                     rng: np.random.Generator) -> np.ndarray:
    """OpenPose-like (N,3) [x, y, confidence] from exact ``uv`` (N,2) and ``visible`` (N,); dropped = 0,0,0."""
    n = len(uv)
    sigma = opts.pixel_sigma * {"left_hand": opts.hand_scale, "right_hand": opts.hand_scale,
                                "face": opts.face_scale}.get(group, 1.0)
    scale = np.where(visible, 1.0, opts.occluded_scale) * sigma
    err = rng.normal(size=(n, 2)) * scale[:, None]
    out = np.zeros((n, 3), np.float32)
    out[:, :2] = uv + err
    rel = np.linalg.norm(err, axis=1) / max(sigma, 1e-9)
    conf = opts.confidence - opts.confidence_slope * rel + rng.normal(scale=opts.confidence_jitter, size=n)
    lo, hi = opts.occluded_confidence
    conf = np.where(visible, conf, rng.uniform(lo, hi, size=n))
    out[:, 2] = np.clip(conf, 0.05, 1.0)
    drop = rng.uniform(size=n) < opts.dropout
    drop |= (~visible) & (rng.uniform(size=n) < opts.occluded_dropout)
    drop |= ~np.isfinite(uv).all(axis=1)
    out[drop] = 0.0
    return out


def openpose_json(detections: dict[str, np.ndarray]) -> dict:
    """One frame's OpenPose JSON (one person) from group -> (N,3) arrays."""
    person = {"person_id": [-1]}
    for group in GROUPS:
        arr = np.asarray(detections[group], np.float32)
        if arr.shape != (GROUP_SIZES[group], 3):
            raise ValueError(f"openpose group {group} must be ({GROUP_SIZES[group]}, 3), got {arr.shape}")
        person[OPENPOSE_KEYS[group]] = [round(float(x), 3) for x in arr.reshape(-1)]
    for key in ("pose_keypoints_3d", "face_keypoints_3d", "hand_left_keypoints_3d", "hand_right_keypoints_3d"):
        person[key] = []
    return {"version": 1.3, "people": [person]}
