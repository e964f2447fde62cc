"""Body-part labels (0 background, 1 body, 2 arms, 3 hands, 4 head) for SMPL-X joints and vertices.

Boundary choices (documented in docs/body_model.md):
- collar (clavicle) joints belong to *body*: their vertices are the shoulder girdle / upper chest;
- shoulder and elbow joints belong to *arms*: the shoulder joint drives the upper arm, the elbow the forearm;
- wrist and finger joints belong to *hands*: the wrist joint drives the palm;
- head, jaw and eyes belong to *head*; the *neck* joint belongs to *body*, so the neck/head boundary is
  where skinning passes from the neck joint to the head joint (roughly the jaw line / base of the skull).
Labels come from the argmax of each vertex's skinning weights, so they work for the official SMPL-X and
the open model alike (both have 55 joints in SMPL-X order).
"""

from __future__ import annotations

import numpy as np

from .joints import NUM_JOINTS, SMPLX_JOINT_NAMES

PART_LABELS: dict[str, int] = {"background": 0, "body": 1, "arms": 2, "hands": 3, "head": 4}
PART_NAMES: tuple[str, ...] = tuple(sorted(PART_LABELS, key=PART_LABELS.get))


def _part_of(name: str) -> int:
    if name in ("head", "jaw") or name.endswith("_eye_smplhf"):
        return PART_LABELS["head"]
    if name.endswith(("_shoulder", "_elbow")):
        return PART_LABELS["arms"]
    if name.endswith("_wrist") or any(f in name for f in ("index", "middle", "pinky", "ring", "thumb")):
        return PART_LABELS["hands"]
    return PART_LABELS["body"]


JOINT_PARTS: np.ndarray = np.array([_part_of(n) for n in SMPLX_JOINT_NAMES], dtype=np.uint8)
"""(55,) uint8 part label of each SMPL-X joint."""


def joint_part(j: int) -> int:
    """Part label of SMPL-X joint index ``j`` (0..54)."""
    if not 0 <= j < NUM_JOINTS:
        raise ValueError(f"joint index {j} outside 0..{NUM_JOINTS - 1}")
    return int(JOINT_PARTS[j])


def dominant_joints(lbs_weights) -> np.ndarray:
    """(V,) index of each vertex's most influential joint.

    Args:
        lbs_weights: (V, 55) array / tensor of skinning weights, or a loaded ``smplx`` model (its
            ``lbs_weights`` buffer is used).
    """
    weights = getattr(lbs_weights, "lbs_weights", lbs_weights)
    if hasattr(weights, "detach"):
        weights = weights.detach().cpu().numpy()
    weights = np.asarray(weights)
    if weights.ndim != 2 or weights.shape[1] != NUM_JOINTS:
        raise ValueError(f"skinning weights must have shape (V, {NUM_JOINTS}), got {weights.shape}")
    return np.argmax(weights, axis=1)


def vertex_part_labels(lbs_weights) -> np.ndarray:
    """Per-vertex part labels from skinning weights (as ``dominant_joints`` takes them).

    Returns:
        (V,) uint8 labels in 1..4, the part of each vertex's most influential joint.
    """
    return JOINT_PARTS[dominant_joints(lbs_weights)]


def hand_vertices(lbs_weights) -> dict[str, np.ndarray]:
    """Per side ("left", "right"), the indices of the vertices whose most influential joint is that side's wrist
    or a finger (together: the vertices ``vertex_part_labels`` calls hands)."""
    joint = dominant_joints(lbs_weights)
    out = {}
    for side in ("left", "right"):
        hand_joints = [j for j, name in enumerate(SMPLX_JOINT_NAMES)
                       if name.startswith(side + "_") and JOINT_PARTS[j] == PART_LABELS["hands"]]
        out[side] = np.nonzero(np.isin(joint, hand_joints))[0]
    return out
