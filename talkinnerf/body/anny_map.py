"""Map the Anny body model (``anny.Anny()``, rig "anny", 104 bones) onto SMPL-X joints and OpenPose landmarks.

Conventions
- Anny world space: metres, z up, the body faces -y, the body's left is +x.
- SMPL-X space (the project's world space): metres, y up, faces +z, left is +x.
  :func:`anny_to_smplx_coords` is the one place that converts: ``(x, y, z)_smplx = (x, z, -y)_anny``
  (a proper rotation of -90 degrees about x; no scaling, no re-centring).
- A SMPL-X joint's position is the *head* (proximal end) of its primary Anny bone, posed
  (``bone_poses[..., :3, 3]``). The jaw, which the "anny" rig lacks, is the head of the ``jaw`` bone of
  Anny's full MakeHuman rig, carried rigidly by the head bone; its rest position is regressed from rest
  vertices (weights in ``_anny_tables.JAW_REGRESSOR``) so it follows the phenotype.
- Landmarks are single Anny vertices (indices in ``_anny_tables``, chosen by geometry in
  :mod:`talkinnerf.body.anny_landmarks`); they are valid for the open SMPL-X model too, which keeps
  Anny's vertex order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from . import _anny_tables as tables
from .joints import JAW_INDEX, SMPLX_JOINT_NAMES

_FINGER_OF = {"thumb": 1, "index": 2, "middle": 3, "ring": 4, "pinky": 5}  # MakeHuman finger numbering


def _side_bones() -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for side, s in (("left", "L"), ("right", "R")):
        out[f"{side}_hip"] = (f"upperleg01.{s}", f"upperleg02.{s}")
        out[f"{side}_knee"] = (f"lowerleg01.{s}", f"lowerleg02.{s}")
        out[f"{side}_ankle"] = (f"foot.{s}",)
        # SMPL-X's foot joint (ball of the foot) drives the toes: all toe bones merge onto it,
        # the middle toe's base is its position.
        out[f"{side}_foot"] = (f"toe3-1.{s}",) + tuple(
            f"toe{t}-{k}.{s}" for t in range(1, 6) for k in (1, 2, 3) if not (t == 1 and k == 3)
            and not (t == 3 and k == 1))
        out[f"{side}_collar"] = (f"clavicle.{s}", f"shoulder01.{s}")
        out[f"{side}_shoulder"] = (f"upperarm01.{s}", f"upperarm02.{s}")
        out[f"{side}_elbow"] = (f"lowerarm01.{s}", f"lowerarm02.{s}")
        # metacarpals are rigid parts of the palm in SMPL-X
        out[f"{side}_wrist"] = (f"wrist.{s}",) + tuple(f"metacarpal{k}.{s}" for k in range(1, 5))
        out[f"{side}_eye_smplhf"] = (f"eye.{s}",)
        for finger, k in _FINGER_OF.items():
            for i in (1, 2, 3):
                out[f"{side}_{finger}{i}"] = (f"finger{k}-{i}.{s}",)
    return out


ANNY_BONES_OF_JOINT: dict[str, tuple[str, ...]] = {
    "pelvis": ("root", "pelvis.L", "pelvis.R", "spine05"),
    "spine1": ("spine04", "spine03"),
    "spine2": ("spine02",),
    "spine3": ("spine01",),
    "neck": ("neck01", "neck02", "neck03"),
    "head": ("head",),
    "jaw": (),  # no jaw bone in the "anny" rig: see module docstring
    **_side_bones(),
}
"""SMPL-X joint name -> Anny bones merged onto it (first = primary bone, whose head is the joint)."""

assert set(ANNY_BONES_OF_JOINT) == set(SMPLX_JOINT_NAMES)

JAW_SUBTREE_ROOT = "jaw"  # bone of the MakeHuman rig (Anny(rig="makehuman")) whose subtree opens the mouth


def anny_to_smplx_coords(points):
    """Convert points from Anny world space (z up, faces -y) to SMPL-X space (y up, faces +z).

    Args:
        points: (..., 3) numpy array or torch tensor.
    Returns:
        (..., 3) of the same type: ``(x, z, -y)``.
    """
    if isinstance(points, torch.Tensor):
        return torch.stack((points[..., 0], points[..., 2], -points[..., 1]), dim=-1)
    points = np.asarray(points)
    return np.stack((points[..., 0], points[..., 2], -points[..., 1]), axis=-1)


def smplx_to_anny_coords(points):
    """Inverse of :func:`anny_to_smplx_coords`: ``(x, y, z)_smplx -> (x, -z, y)_anny``."""
    if isinstance(points, torch.Tensor):
        return torch.stack((points[..., 0], -points[..., 2], points[..., 1]), dim=-1)
    points = np.asarray(points)
    return np.stack((points[..., 0], -points[..., 2], points[..., 1]), axis=-1)


def primary_bone_indices(bone_labels) -> list[int]:
    """Index (in ``bone_labels``) of each SMPL-X joint's primary Anny bone; -1 for the jaw. Length 55."""
    labels = list(bone_labels)
    out = []
    for name in SMPLX_JOINT_NAMES:
        bones = ANNY_BONES_OF_JOINT[name]
        if not bones:
            out.append(-1)
            continue
        if bones[0] not in labels:
            raise ValueError(f"Anny model has no bone {bones[0]!r} (needed for SMPL-X joint {name!r}); "
                             "use anny.Anny() with the default 'anny' rig")
        out.append(labels.index(bones[0]))
    return out


def _jaw_rest(rest_vertices: torch.Tensor) -> torch.Tensor:
    """(B, V, 3) rest vertices (Anny space) -> (B, 3) rest jaw joint (Anny space)."""
    idx = torch.as_tensor(tables.JAW_REGRESSOR_VERTICES, device=rest_vertices.device)
    w = torch.as_tensor(tables.JAW_REGRESSOR_WEIGHTS, dtype=rest_vertices.dtype, device=rest_vertices.device)
    return torch.einsum("k,bkd->bd", w, rest_vertices[:, idx])


def smplx_joints_from_anny(model: Any, output: dict[str, torch.Tensor]) -> torch.Tensor:
    """SMPL-X joint positions of a posed Anny.

    Args:
        model: the ``anny.Anny`` model (rig "anny") that produced ``output``.
        output: ``model(...)`` result; uses ``bone_poses`` (B, 104, 4, 4), ``rest_bone_poses`` and
            ``rest_vertices`` (for the jaw).
    Returns:
        (B, 55, 3) joints in SMPL-X space (see :func:`anny_to_smplx_coords`), SMPL-X order.
    """
    bone_poses = output["bone_poses"]
    idx = primary_bone_indices(model.bone_labels)
    head_i = list(model.bone_labels).index("head")
    joints = bone_poses[:, [max(i, 0) for i in idx], :3, 3].clone()
    # jaw: rest position carried by the head bone's rest->posed transform
    rest_vertices = output["rest_vertices"].expand(bone_poses.shape[0], -1, -1)
    rest_head = output["rest_bone_poses"].expand(bone_poses.shape[0], -1, -1, -1)[:, head_i]
    relative = bone_poses[:, head_i] @ torch.linalg.inv(rest_head)
    jaw = _jaw_rest(rest_vertices)
    joints[:, JAW_INDEX] = (relative[:, :3, :3] @ jaw[..., None])[..., 0] + relative[:, :3, 3]
    return anny_to_smplx_coords(joints)


def _gather(vertices: torch.Tensor, ids) -> torch.Tensor:
    return vertices[:, torch.as_tensor(list(ids), device=vertices.device)]


def openpose_from_anny(model: Any, output: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """OpenPose-style 3D landmarks of a posed Anny (same definitions as ``openpose.openpose_from_smplx``).

    Args:
        model: the ``anny.Anny`` model (rig "anny", default topology) that produced ``output``.
        output: ``model(...)`` result (``vertices`` (B, V, 3) and what :func:`smplx_joints_from_anny` uses).
    Returns:
        dict of SMPL-X-space points: ``body`` (B,25,3) BODY_25, ``left_hand`` / ``right_hand`` (B,21,3),
        ``face`` (B,70,3).
    """
    from .openpose import assemble_openpose

    vertices = output["vertices"]
    if vertices.shape[1] != tables.NUM_VERTICES:
        raise ValueError(f"Anny output has {vertices.shape[1]} vertices, the landmark tables need "
                         f"{tables.NUM_VERTICES} (default 'anny' topology)")
    joints = smplx_joints_from_anny(model, output)
    verts = anny_to_smplx_coords(vertices)
    extra = _gather(verts, tables.EXTRA_VERTICES)           # (B, 21, 3) smplx extra-joint order
    static = _gather(verts, tables.FACE_STATIC_VERTICES)    # (B, 51, 3)
    contour = _gather(verts, tables.FACE_CONTOUR_VERTICES)  # (B, 17, 3)
    return assemble_openpose(joints, extra, static, contour)
