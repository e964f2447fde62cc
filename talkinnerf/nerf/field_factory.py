"""One place that builds F_body / F_face / F_hands for the configured backend (``ModelConfig.field``).

The model asks for a field by role and never branches on the backend: every backend returns a module with
RadianceField's contract, ``(x_c (N,3), condition (C,)) -> rgb (N,3), raw density (N,), logits (N,L)``, a ``.mlp``
whose ``head`` emits [rgb, density, logits], and optionally ``regularisation()`` (a scalar prior the trainer adds).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from torch import nn

from talkinnerf.nerf.config import EXPLICIT_FIELDS, ModelConfig
from talkinnerf.nerf.fields import RadianceField
from talkinnerf.nerf.fields_hashgrid import HashGridRadianceField
from talkinnerf.nerf.fields_planes import PlaneRadianceField

ROLES = ("body", "face", "hands")
HEAD_JOINT = 15
# the head box around the canonical head joint (metres): chin and neck below, hair above, ears at the sides, the
# back of the head and the nose tip; wide enough for heads of other sizes than the demo's
FACE_BOX_AROUND_HEAD = ((-0.17, -0.24, -0.2), (0.17, 0.3, 0.25))
ARM_RAISE_MARGIN = 0.3   # metres added to the body box when the canonical pose raises the arms beyond the mesh box


def radiance_field(cfg: ModelConfig, role: str, cond_dim: int, num_logits: int = 0,
                   layer_cond_dim: int = 0) -> nn.Module:
    """The field of ``role`` (body | face | hands) conditioned on ``cond_dim`` entries (the identity code last)."""
    if role not in ROLES:
        raise ValueError(f"field role must be one of {ROLES}, got {role!r}")
    if cfg.field == "mlp" or cfg.faithful_humannerf:   # the HumanNeRF baseline is HumanNeRF's MLP, as published
        depth, width = {"body": (cfg.field_depth, cfg.field_width), "face": (cfg.face_depth, cfg.face_width),
                        "hands": (cfg.hands_depth, cfg.hands_width)}[role]
        return RadianceField(cond_dim, depth, width, cfg.field_pe_bands, num_logits, layer_cond_dim)
    if cfg.field in EXPLICIT_FIELDS:
        if cfg.plane_box is None or cfg.face_plane_box is None:
            raise ValueError(f"model.field {cfg.field}: plane_box / face_plane_box are unresolved; the trainer "
                             "derives them from the training subjects (field_factory.resolve_plane_boxes) or set them")
        # F_hands shares F_body's layout (hands_from_body copies F_body into it); the face has its own box around
        # the head so that its texels / finest cells are a few millimetres, not centimetres
        box = cfg.face_plane_box if role == "face" else cfg.plane_box
        if cfg.field == "hashgrid":
            return HashGridRadianceField(cond_dim, box, cfg.hash_levels, cfg.hash_features, cfg.hash_log2_table,
                                         cfg.hash_base_resolution, cfg.hash_max_resolution, cfg.plane_decoder_depth,
                                         cfg.plane_decoder_width, num_logits, layer_cond_dim)
        res = cfg.face_plane_resolutions if role == "face" else cfg.plane_resolutions
        return PlaneRadianceField(cond_dim, box, res, cfg.plane_channels, cfg.plane_decoder_depth,
                                  cfg.plane_decoder_width, num_logits, layer_cond_dim)
    raise ValueError(f"unknown field backend {cfg.field!r}")


def resolve_plane_boxes(cfg: ModelConfig, canonical_bboxes: Sequence[np.ndarray],
                        head_joints: Sequence[np.ndarray]) -> ModelConfig:
    """``cfg`` with concrete plane boxes where they are None: the body planes cover the union of the subjects'
    canonical boxes (2,3) padded as the weight volume pads them (so every point the model can send lies inside), the
    face planes the union of FACE_BOX_AROUND_HEAD around each subject's canonical head joint (3,). A no-op for the
    MLP backend and for boxes already set (a trained model's stored config)."""
    if cfg.field not in EXPLICIT_FIELDS or cfg.faithful_humannerf or (
            cfg.plane_box is not None and cfg.face_plane_box is not None):
        return cfg
    if not canonical_bboxes or len(canonical_bboxes) != len(head_joints):
        raise ValueError("resolve_plane_boxes needs one canonical bbox and one head joint per subject")
    changes = {}
    if cfg.plane_box is None:
        boxes = np.stack([np.asarray(b, dtype=np.float64).reshape(2, 3) for b in canonical_bboxes])
        ext = np.maximum(boxes[:, 1] - boxes[:, 0], 1e-3)
        lo = (boxes[:, 0] - cfg.bbox_padding * ext).min(0)
        hi = (boxes[:, 1] + cfg.bbox_padding * ext).max(0)
        if cfg.canonical_arm_raise:
            lo, hi = lo - ARM_RAISE_MARGIN, hi + ARM_RAISE_MARGIN
        changes["plane_box"] = tuple(round(float(v), 4) for v in (*lo, *hi))
    if cfg.face_plane_box is None:
        heads = np.stack([np.asarray(h, dtype=np.float64).reshape(3) for h in head_joints])
        lo = (heads + np.array(FACE_BOX_AROUND_HEAD[0])).min(0)
        hi = (heads + np.array(FACE_BOX_AROUND_HEAD[1])).max(0)
        changes["face_plane_box"] = tuple(round(float(v), 4) for v in (*lo, *hi))
    return cfg.replace(**changes)


def resolve_for_subjects(cfg: ModelConfig, subjects) -> ModelConfig:
    """resolve_plane_boxes for loaded subjects (talkinnerf.train.data.SubjectData: ``params`` holds the fit)."""
    return resolve_plane_boxes(cfg, [np.asarray(d.params["canonical_bbox"]) for d in subjects],
                               [np.asarray(d.params["canonical_joints"])[HEAD_JOINT] for d in subjects])


def copy_field(source: nn.Module, target: nn.Module) -> None:
    """Copy ``source``'s parameters into ``target`` (same backend and layout); a tensor whose first axis is shorter in
    the target (the head: body has rgb + density + logits rows, the hands rgb + density) takes the leading rows."""
    src = source.state_dict()
    for name, value in target.state_dict().items():
        if name not in src or src[name].shape[1:] != value.shape[1:] or src[name].shape[0] < value.shape[0]:
            raise ValueError(f"cannot copy field parameter {name!r}: layouts differ")
        value.copy_(src[name][:value.shape[0]])


__all__ = ["radiance_field", "copy_field", "resolve_plane_boxes", "resolve_for_subjects", "ROLES"]
