"""How a demo subject looks: per-vertex regions (skin, hair, shirt, ...), vertex colours, part labels, backdrop.

Regions come from the dominant SMPL-X joint of each vertex (Anny's skinning merged through the body helper's
Anny -> SMPL-X bone map) refined by rest-pose geometry (waist line, hairline), so clothes and hair follow the
skin as the body moves. Patterns are functions of rest-pose coordinates for the same reason.
"""

from __future__ import annotations

import numpy as np

from talkinnerf.demo.options import IdentityOptions

REGIONS = ("skin", "hair", "eyes", "shirt", "trousers", "shoes")

# skin palette from very light to very dark (linear interpolation by skin_tone)
_SKIN = np.array([[0.97, 0.82, 0.72], [0.85, 0.64, 0.50], [0.62, 0.43, 0.31], [0.36, 0.23, 0.16]])


def vertex_joint_weights(model) -> np.ndarray:
    """Skinning weights of each Anny vertex summed per SMPL-X joint. -> (V, 55) float32, rows sum to 1."""
    from talkinnerf.body.anny_map import ANNY_BONES_OF_JOINT
    from talkinnerf.body.joints import SMPLX_JOINT_NAMES

    labels = list(model.bone_labels)
    bone_to_joint = np.full(len(labels), -1)
    for j, name in enumerate(SMPLX_JOINT_NAMES):
        for bone in ANNY_BONES_OF_JOINT[name]:
            bone_to_joint[labels.index(bone)] = j
    if (bone_to_joint < 0).any():
        missing = [labels[i] for i in np.nonzero(bone_to_joint < 0)[0]]
        raise ValueError(f"Anny bones without a SMPL-X joint in the body map: {missing}")
    w = model.vertex_bone_weights.detach().cpu().numpy()
    idx = model.vertex_bone_indices.detach().cpu().numpy()
    out = np.zeros((w.shape[0], len(SMPLX_JOINT_NAMES)), np.float64)
    np.add.at(out, (np.repeat(np.arange(w.shape[0]), w.shape[1]), bone_to_joint[idx.reshape(-1)]), w.reshape(-1))
    out /= np.maximum(out.sum(1, keepdims=True), 1e-12)
    return out.astype(np.float32)


def vertex_part_labels(model) -> np.ndarray:
    """(V,) uint8 part labels 1..4 (body, arms, hands, head) of Anny's vertices, via the SMPL-X part tables."""
    from talkinnerf.body.parts import vertex_part_labels as from_weights

    return from_weights(vertex_joint_weights(model))


def vertex_regions(model, rest_vertices: np.ndarray, bone_poses_rest: np.ndarray, identity: IdentityOptions
                   ) -> np.ndarray:
    """(V,) int index into REGIONS for each vertex.

    rest_vertices (V,3) and bone_poses_rest (B,4,4): this identity at zero pose, Anny space (z up, faces -y).
    """
    from talkinnerf.body.joints import SMPLX_JOINT_NAMES

    names = np.array(SMPLX_JOINT_NAMES)
    dom = names[np.argmax(vertex_joint_weights(model), axis=1)]
    labels = list(model.bone_labels)
    head_of = {n: bone_poses_rest[labels.index(n), :3, 3] for n in ("spine04", "eye.L", "eye.R", "foot.L", "neck01")}
    z = rest_vertices[:, 2]
    y = rest_vertices[:, 1]
    waist_z = head_of["spine04"][2]
    eye = 0.5 * (head_of["eye.L"] + head_of["eye.R"])
    ankle_z = head_of["foot.L"][2]

    r = np.full(len(dom), REGIONS.index("shirt"))
    is_ = lambda *suffixes: np.array([any(d.endswith(s) or d == s for s in suffixes) for d in dom])  # noqa: E731
    head = is_("head", "jaw", "neck")
    r[head] = REGIONS.index("skin")
    r[is_("_eye_smplhf")] = REGIONS.index("eyes")
    hands = is_("_wrist") | np.array([any(f in d for f in ("index", "middle", "pinky", "ring", "thumb")) for d in dom])
    r[hands] = REGIONS.index("skin")
    if identity.sleeves == "short":
        r[is_("_elbow")] = REGIONS.index("skin")
    legs = is_("_hip", "_knee", "_ankle", "_foot") | (is_("pelvis") & (z < waist_z))
    r[legs] = REGIONS.index("trousers")
    r[is_("_ankle", "_foot") & (z < ankle_z + 0.03)] = REGIONS.index("shoes")
    if identity.hair_style != "none":
        # hairline: ~6 cm above the eyes at the forehead, dropping towards the back of the head
        back = np.clip((y - eye[1]) / 0.12, 0.0, 1.0)
        hairline = eye[2] + 0.06 - (0.10 if identity.hair_style == "short" else 0.16) * back
        hair = is_("head") & (z > hairline)
        if identity.hair_style == "long":  # down the back of the neck
            hair |= is_("neck") & (y > eye[1] + 0.09)
        r[hair] = REGIONS.index("hair")
    return r


def _pattern(kind: str, rest_vertices: np.ndarray, period: float) -> np.ndarray:
    """(V,) in {0, 1}: which of the two clothing colours each vertex takes."""
    x, z = rest_vertices[:, 0], rest_vertices[:, 2]
    if kind == "stripes":
        return (np.floor(z / (period / 2)) % 2).astype(np.float32)
    if kind == "checks":
        return ((np.floor(x / period) + np.floor(z / period)) % 2).astype(np.float32)
    return np.zeros(len(x), np.float32)


def vertex_colors(regions: np.ndarray, rest_vertices: np.ndarray, identity: IdentityOptions) -> np.ndarray:
    """(V,3) float32 RGB in [0,1] from regions, the identity's colours and its clothing patterns."""
    tone = float(identity.skin_tone) * (len(_SKIN) - 1)
    k = min(int(tone), len(_SKIN) - 2)
    skin = _SKIN[k] + (tone - k) * (_SKIN[k + 1] - _SKIN[k])
    colors = np.zeros((len(regions), 3), np.float32)
    colors[regions == REGIONS.index("skin")] = skin
    colors[regions == REGIONS.index("hair")] = identity.hair_color
    colors[regions == REGIONS.index("eyes")] = (0.12, 0.08, 0.06)
    colors[regions == REGIONS.index("shoes")] = identity.shoe_color
    for region, c1, c2, kind in (("shirt", identity.shirt_color, identity.shirt_color2, identity.shirt_pattern),
                                 ("trousers", identity.trousers_color, identity.trousers_color2,
                                  identity.trousers_pattern)):
        sel = regions == REGIONS.index(region)
        # 12 cm period: 2 colour bands stay >= 3 px wide at 128 px resolution
        p = _pattern(kind, rest_vertices[sel], 0.12)[:, None]
        colors[sel] = (1 - p) * np.asarray(c1, np.float32) + p * np.asarray(c2, np.float32)
    return colors


def backdrop(size: int, identity: IdentityOptions, floor_row: float, seed: int) -> np.ndarray:
    """A static backdrop (H,W,3) uint8: a wall with a vertical gradient and soft panels, and a floor.

    floor_row: image row (pixels, may be fractional) where the floor meets the wall (just under the feet).
    """
    rng = np.random.default_rng(seed)
    i, j = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    c1 = np.asarray(identity.backdrop_color, np.float64)
    c2 = np.asarray(identity.backdrop_color2, np.float64)
    g = (i / size)[..., None]
    wall = (1 - 0.35 * g) * c1 + 0.35 * g * c2
    # soft vertical panels and a faint diagonal texture: static detail for background-matting baselines
    panels = 0.04 * np.sin(2 * np.pi * (j / size * rng.uniform(3, 6) + rng.uniform(0, 1)))
    texture = 0.02 * np.sin(2 * np.pi * ((i + j) / size * rng.uniform(10, 16)))
    wall = wall * (1 + panels + texture)[..., None]
    depth = np.clip((i - floor_row) / max(size - floor_row, 1.0), 0, 1)[..., None]
    floor = c2 * (0.75 + 0.15 * depth) * (1 + 0.03 * np.sin(2 * np.pi * j / size * 8))[..., None]
    img = np.where((i >= floor_row)[..., None], floor, wall)
    return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)
