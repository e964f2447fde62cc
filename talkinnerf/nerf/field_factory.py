"""One place that builds F_body / F_face / F_hands for the configured backend (``ModelConfig.field``).

The model asks for a field by role and never branches on the backend: every backend returns a module with
RadianceField's contract, ``(x_c (N,3), condition (C,)) -> rgb (N,3), raw density (N,), logits (N,L)``, a ``.mlp``
whose ``head`` emits [rgb, density, logits], and optionally ``regularisation()`` (a scalar prior the trainer adds).
"""

from __future__ import annotations

from torch import nn

from talkinnerf.nerf.config import ModelConfig
from talkinnerf.nerf.fields import RadianceField
from talkinnerf.nerf.fields_planes import PlaneRadianceField

ROLES = ("body", "face", "hands")


def radiance_field(cfg: ModelConfig, role: str, cond_dim: int, num_logits: int = 0,
                   layer_cond_dim: int = 0) -> nn.Module:
    """The field of ``role`` (body | face | hands) conditioned on ``cond_dim`` entries (the identity code last)."""
    if role not in ROLES:
        raise ValueError(f"field role must be one of {ROLES}, got {role!r}")
    if cfg.field == "mlp":
        depth, width = {"body": (cfg.field_depth, cfg.field_width), "face": (cfg.face_depth, cfg.face_width),
                        "hands": (cfg.hands_depth, cfg.hands_width)}[role]
        return RadianceField(cond_dim, depth, width, cfg.field_pe_bands, num_logits, layer_cond_dim)
    if cfg.field == "planes":
        # F_hands shares F_body's planes layout (hands_from_body copies F_body into it); the face has its own box
        # around the head so that its texels are a few millimetres, not centimetres
        box, res = ((cfg.face_plane_box, cfg.face_plane_resolutions) if role == "face"
                    else (cfg.plane_box, cfg.plane_resolutions))
        return PlaneRadianceField(cond_dim, box, res, cfg.plane_channels, cfg.plane_decoder_depth,
                                  cfg.plane_decoder_width, num_logits, layer_cond_dim)
    raise ValueError(f"unknown field backend {cfg.field!r}")


def copy_field(source: nn.Module, target: nn.Module) -> None:
    """Copy ``source``'s parameters into ``target`` (same backend and layout); a tensor whose first axis is shorter in
    the target (the head: body has rgb + density + logits rows, the hands rgb + density) takes the leading rows."""
    src = source.state_dict()
    for name, value in target.state_dict().items():
        if name not in src or src[name].shape[1:] != value.shape[1:] or src[name].shape[0] < value.shape[0]:
            raise ValueError(f"cannot copy field parameter {name!r}: layouts differ")
        value.copy_(src[name][:value.shape[0]])


__all__ = ["radiance_field", "copy_field", "ROLES"]
