"""Posing Anny for the demo: one cached model per process, pose tensors from a Performance, world frame.

World space is SMPL-X model space (y up, body faces +z); Anny is z-up and faces -y with the subject's left at
+x, so ``x_world = ANNY_TO_WORLD @ x_anny`` (a proper rotation, no scaling).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from talkinnerf.demo.motion import FINGERS, Performance

ANNY_TO_WORLD = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

# Per-joint share of a finger's curl (proximal, middle, distal), degrees at curl = 1; the thumb bends less.
_CURL_DEG = {1: (25.0, 35.0, 35.0), 2: (70.0, 90.0, 60.0), 3: (70.0, 90.0, 60.0), 4: (70.0, 90.0, 60.0),
             5: (70.0, 90.0, 60.0)}


@functools.lru_cache(maxsize=1)
def anny_model():
    """The Anny model with all 52 facial actions (loads in a few seconds; cached per process)."""
    import warnings

    import anny

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return anny.Anny(facial_actions="all")


@dataclass
class PosedSequence:
    """Anny output for a sequence, in world space.

    vertices (T,V,3) float32 world; bone_poses (T,B,4,4) float64 in Anny space (for joint mapping);
    pose_parameters (T,B,4,4) float32 (Anny local-ref input, translation included in bone 0);
    facial (T,A) float32 over ``facial_labels``; phenotype (P,) float32 over ``phenotype_labels``.
    """

    vertices: np.ndarray
    bone_poses: np.ndarray
    pose_parameters: np.ndarray
    facial: np.ndarray
    facial_labels: list[str]
    phenotype: np.ndarray
    phenotype_labels: list[str]
    bone_labels: list[str]
    faces: np.ndarray
    rest_vertices: np.ndarray  # (V,3) Anny space, this identity at zero pose (for patterns that follow the skin)
    model_output: dict  # raw Anny output (torch tensors), kept for the joint mapping


def phenotype_vector(model, phenotype: dict[str, float]) -> np.ndarray:
    """Phenotype values in ``model.phenotype_labels`` order (missing ones 0.5); unknown names are an error."""
    labels = list(model.phenotype_labels)
    unknown = sorted(set(phenotype) - set(labels))
    if unknown:
        raise ValueError(f"unknown Anny phenotype(s) {unknown}; known: {labels}")
    values = np.array([float(phenotype.get(k, 0.5)) for k in labels], dtype=np.float32)
    if (values < 0).any() or (values > 1).any():
        raise ValueError(f"phenotype values must lie in [0, 1], got {dict(zip(labels, values.tolist()))}")
    return values


def finger_flex_axes(model, bone_poses_rest: np.ndarray) -> dict[str, np.ndarray]:
    """Unit flexion axis (Anny rest-world axes) per finger bone, signed so that +angle curls towards the palm.

    A finger bone's local x axis is its hinge; the sign comes from the rest pose's slight natural curl (the
    distal bone's direction is rotated from the proximal one's towards the palm).
    """
    labels = list(model.bone_labels)
    axes = {}
    for side in ("L", "R"):
        for f in FINGERS:
            names = [f"finger{f}-{k}.{side}" for k in (1, 2, 3)]
            idx = [labels.index(n) for n in names]
            d_prox = bone_poses_rest[idx[0], :3, 1]
            d_dist = bone_poses_rest[idx[2], :3, 1]
            hinge = bone_poses_rest[idx[0], :3, 0]
            sign = np.sign(np.dot(np.cross(d_prox, d_dist), hinge)) or 1.0
            for i, n in zip(idx, names):
                axes[n] = sign * bone_poses_rest[i, :3, 0] / np.linalg.norm(bone_poses_rest[i, :3, 0])
    return axes


def _signed_hinge(bone_pose: np.ndarray, toward: np.ndarray) -> np.ndarray:
    """The bone's local x axis (its hinge), signed so a positive rotation moves the bone towards ``toward``."""
    axis = bone_pose[:3, 0] / np.linalg.norm(bone_pose[:3, 0])
    return axis if np.dot(np.cross(axis, bone_pose[:3, 1]), toward) >= 0 else -axis


def arm_rotations(params: np.ndarray, twist: np.ndarray, side: str, rest_bones: np.ndarray,
                  labels: list[str]) -> dict[str, np.ndarray]:
    """Anny rotation matrices (T,3,3) for one arm from semantic angles.

    params (T,5) degrees [flexion, abduction, inward rotation, elbow, wrist] relative to the arm hanging at the
    side; twist (T,) forearm twist degrees. Anny's rest pose is an A-pose, so the upper arm first swings down.
    """
    from scipy.spatial.transform import Rotation

    s = 1.0 if side == "L" else -1.0  # mirror y/z rotations across x = 0 for the right arm
    forward = np.array([0.0, -1.0, 0.0])
    up_bone = rest_bones[labels.index(f"upperarm01.{side}")]
    d = up_bone[:3, 1] / np.linalg.norm(up_bone[:3, 1])
    hang = np.array([0.12 * s, 0.0, -1.0])  # slightly away from the hip
    hang /= np.linalg.norm(hang)
    axis = np.cross(d, hang)
    r_hang = Rotation.from_rotvec(axis / np.linalg.norm(axis) * np.arccos(np.clip(d @ hang, -1, 1)))
    flex, abd, inward, elbow, wrist = np.deg2rad(params.T)
    rot = (Rotation.from_rotvec(np.outer(-flex, [1, 0, 0])) * Rotation.from_rotvec(np.outer(-s * abd, [0, 1, 0]))
           * Rotation.from_rotvec(np.outer(-s * inward, [0, 0, 1])) * r_hang)
    elbow_axis = _signed_hinge(rest_bones[labels.index(f"lowerarm01.{side}")], forward)
    wrist_axis = _signed_hinge(rest_bones[labels.index(f"wrist.{side}")], forward)
    fore = rest_bones[labels.index(f"lowerarm02.{side}")][:3, 1]
    fore = fore / np.linalg.norm(fore)
    return {
        f"upperarm01.{side}": rot.as_matrix(),
        f"lowerarm01.{side}": Rotation.from_rotvec(np.outer(elbow, elbow_axis)).as_matrix(),
        f"lowerarm02.{side}": Rotation.from_rotvec(np.outer(np.deg2rad(twist) * s, fore)).as_matrix(),
        f"wrist.{side}": Rotation.from_rotvec(np.outer(wrist, wrist_axis)).as_matrix(),
    }


def pose_sequence(perf: Performance, phenotype: dict[str, float]) -> PosedSequence:
    """Run Anny over every frame of ``perf`` for the identity ``phenotype`` (Anny's origin: the pelvis)."""
    import torch

    with torch.no_grad():  # local, never the process-wide switch: callers may train models afterwards
        return _pose_sequence(perf, phenotype)


def _pose_sequence(perf: Performance, phenotype: dict[str, float]) -> PosedSequence:
    """Run Anny over every frame of ``perf`` for the identity ``phenotype`` (Anny's origin: the pelvis)."""
    import torch
    from scipy.spatial.transform import Rotation

    model = anny_model()
    labels = list(model.bone_labels)
    T = len(perf.t)
    ph = phenotype_vector(model, phenotype)
    ph_kwargs = {k: torch.full((T,), float(v), dtype=torch.float64) for k, v in zip(model.phenotype_labels, ph)}
    rest = model(phenotype_kwargs={k: v[:1] for k, v in ph_kwargs.items()})
    rest_bones = rest["bone_poses"][0].numpy()
    axes = finger_flex_axes(model, rest_bones)

    pose = np.tile(np.eye(4), (T, len(labels), 1, 1))
    for name, rv in perf.rotvecs.items():
        if name not in labels:
            raise ValueError(f"performance animates unknown Anny bone {name!r}")
        pose[:, labels.index(name), :3, :3] = Rotation.from_rotvec(rv).as_matrix()
    for side, params in perf.arm.items():
        twist = perf.forearm_twist.get(side, np.zeros(T))
        for name, mats in arm_rotations(params, twist, side, rest_bones, labels).items():
            pose[:, labels.index(name), :3, :3] = mats
    for side, curl in perf.finger_curl.items():
        for fi, f in enumerate(FINGERS):
            for k in (1, 2, 3):
                name = f"finger{f}-{k}.{side}"
                angle = np.deg2rad(_CURL_DEG[f][k - 1]) * curl[:, fi]
                pose[:, labels.index(name), :3, :3] = Rotation.from_rotvec(angle[:, None] * axes[name]).as_matrix()
    if perf.root_rotvec is not None:
        pose[:, 0, :3, :3] = Rotation.from_rotvec(perf.root_rotvec).as_matrix()
    if perf.root_transl is not None:
        pose[:, 0, :3, 3] = perf.root_transl

    facial_labels = list(model.facial_action_labels)
    unknown = sorted(set(perf.facial) - set(facial_labels))
    if unknown:
        raise ValueError(f"unknown Anny facial action(s) {unknown}")
    facial = np.zeros((T, len(facial_labels)), dtype=np.float32)
    for name, values in perf.facial.items():
        facial[:, facial_labels.index(name)] = values

    out = model(
        pose_parameters=torch.as_tensor(pose, dtype=torch.float64),
        phenotype_kwargs=ph_kwargs,
        facial_actions={k: torch.as_tensor(facial[:, i], dtype=torch.float64) for i, k in enumerate(facial_labels)},
    )
    v_anny = out["vertices"].numpy()
    vertices = (v_anny @ ANNY_TO_WORLD.T).astype(np.float32)
    return PosedSequence(
        vertices=vertices,
        bone_poses=out["bone_poses"].numpy(),
        pose_parameters=pose.astype(np.float32),
        facial=facial,
        facial_labels=facial_labels,
        phenotype=ph,
        phenotype_labels=list(model.phenotype_labels),
        bone_labels=labels,
        faces=model.get_triangular_faces().numpy().astype(np.int64),
        rest_vertices=rest["vertices"][0].numpy(),
        model_output=out,
    )

