"""Choose Anny vertices for OpenPose landmarks by geometry, and regress the jaw joint.

Run ``python -m talkinnerf.body.anny_landmarks`` to regenerate ``_anny_tables.py`` (deterministic,
offline; ~1 min on first use while Anny builds its cache). Everything is measured on the rest mesh of
the default phenotype (all phenotype values 0.5, no facial action) in SMPL-X space
(x = body's left, y up, z forward). How each landmark is picked (all approximate, see docs/body_model.md):

- nose: the most forward skin vertex near the mid-sagittal plane of the head;
- eyes / pupils: the most forward vertex of each eyeball mesh;
- ears: the most lateral head-skin vertex between 4 cm below eye height and eye height;
- big / small toe: the most forward vertex skinned to toe1 / toe5; heel: the rearmost vertex of the lowest
  2 cm of the foot;
- fingertips: the vertex of the distal phalanx furthest along the finger's direction;
- face (iBUG 68), chosen only among vertices a frontal camera sees (``front_surface``: within 1 mm of the
  front-most depth along the frontal ray), rules applied on the subject's right (x < 0, image left) and
  mirrored to the left through the mesh's mirror map: eye contours from the visible lid-margin skin touching
  the eyeball; brows from the vertices browDownRight moves most; nose bridge/tip/base from the mid-sagittal
  profile; mouth corner = what mouthSmileRight moves most; inner lips = lowest visible head-skinned /
  highest visible jaw-skinned vertex at the lip seam; outer lips from the mid-sagittal profile (upper:
  most prominent point; lower: vermilion border half-way to the labiomental fold) and a parabola; the
  outline (0..16) = front edge of the occluding contour at directions around eye height, resampled at
  equal arc length, chin (8) = front edge of the chin's underside on the midline.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np

from .anny_map import anny_to_smplx_coords


@dataclasses.dataclass
class AnnyRest:
    """Rest-pose data of the default Anny, in SMPL-X space. V = 13718 vertices, K = 104 bones."""
    vertices: np.ndarray          # (V, 3)
    faces: np.ndarray             # (F, 3) int
    weights: np.ndarray           # (V, K) dense skinning weights of the "anny" rig
    bone_labels: list[str]
    bone_heads: np.ndarray        # (K, 3)
    jaw_weights: np.ndarray       # (V,) weight of the MakeHuman rig's jaw subtree
    jaw_head: np.ndarray          # (3,) MakeHuman rig jaw bone head
    actions: dict[str, np.ndarray]  # facial action name -> (V, 3) displacement (SMPL-X axes)
    component: np.ndarray         # (V,) connected-component id, 0 = skin (largest)

    def w(self, *bones: str) -> np.ndarray:
        return self.weights[:, [self.bone_labels.index(b) for b in bones]].sum(1)


def dense_weights(model) -> np.ndarray:
    """(V, K) dense skinning weights of an Anny model (it stores up to 9 bones per vertex)."""
    import torch
    w = torch.zeros(model.template_vertices.shape[0], model.bone_count, dtype=torch.float64)
    w.scatter_add_(1, model.vertex_bone_indices.long(), model.vertex_bone_weights.double())
    return w.numpy()


def subtree(parents, root: int) -> list[int]:
    out = [root]
    changed = True
    while changed:
        changed = False
        for j, p in enumerate(parents):
            if p in out and j not in out:
                out.append(j)
                changed = True
    return out


@functools.lru_cache(maxsize=1)
def load_anny_rest() -> AnnyRest:
    import anny
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components
    import torch

    model = anny.Anny(facial_actions="all")
    with torch.no_grad():
        out = model()
    verts = anny_to_smplx_coords(out["rest_vertices"][0].numpy())
    faces = model.get_triangular_faces().numpy().astype(np.int64)
    heads = anny_to_smplx_coords(out["rest_bone_heads"][0].numpy())
    labels = list(model.bone_labels)
    actions = {}
    for i, lab in enumerate(model.blendshape_labels):
        if lab.startswith("facial_action:"):
            actions[lab.split(":", 1)[1]] = anny_to_smplx_coords(model.blendshapes[i].numpy())

    mh = anny.Anny(rig="makehuman", facial_actions="none")
    with torch.no_grad():
        mh_out = mh()
    mh_labels = list(mh.bone_labels)
    jaw_i = mh_labels.index("jaw")
    jaw_w = dense_weights(mh)[:, subtree(mh.bone_parents, jaw_i)].sum(1)
    jaw_head = anny_to_smplx_coords(mh_out["rest_bone_heads"][0, jaw_i].numpy())

    n = len(verts)
    rows = np.r_[faces[:, 0], faces[:, 1], faces[:, 2]]
    cols = np.r_[faces[:, 1], faces[:, 2], faces[:, 0]]
    _, comp = connected_components(sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n)),
                                   directed=False)
    # 0 = largest; equal sizes keep their component order (a stable sort: no machine-dependent tie order)
    comp = np.argsort(np.argsort(-np.bincount(comp), kind="stable"), kind="stable")[comp]
    return AnnyRest(verts, faces, dense_weights(model), labels, heads, jaw_w, jaw_head, actions, comp)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) area-weighted unit vertex normals."""
    fn = np.cross(vertices[faces[:, 1]] - vertices[faces[:, 0]], vertices[faces[:, 2]] - vertices[faces[:, 0]])
    n = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(n, faces[:, k], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def _argmax(mask: np.ndarray, score: np.ndarray) -> int:
    if not mask.any():
        raise ValueError("landmark selection found no candidate vertex")
    idx = np.flatnonzero(mask)
    return int(idx[np.argmax(score[idx])])


def _front(rest: AnnyRest, cand: np.ndarray, x: float, y: float, radius: float = 0.003) -> int:
    """The most forward candidate vertex within ``radius`` of (x, y) in the frontal view (a frontal ray)."""
    v = rest.vertices
    d = np.hypot(v[:, 0] - x, v[:, 1] - y)
    for r in (radius, 2 * radius, 4 * radius):
        m = cand & (d < r)
        if m.any():
            return _argmax(m, v[:, 2])
    return _argmax(cand, -d)


def body_landmarks(rest: AnnyRest) -> dict[str, int]:
    """Vertex ids of smplx's 21 extra joints (names as in ``openpose.EXTRA_NAMES``)."""
    v, skin = rest.vertices, rest.component == 0
    head = skin & (rest.w("head") > 0.5)
    out = {"nose": _argmax(head & (np.abs(v[:, 0]) < 0.004), v[:, 2])}
    for s, side in (("L", "l"), ("R", "r")):
        eye = rest.w(f"eye.{s}") > 0.9
        out[f"{side}eye"] = _argmax(eye, v[:, 2])
        eye_y = rest.bone_heads[rest.bone_labels.index(f"eye.{s}")][1]
        band = head & (v[:, 1] > eye_y - 0.04) & (v[:, 1] < eye_y)
        out[f"{side}ear"] = _argmax(band & (np.sign(v[:, 0]) == (1 if s == "L" else -1)),
                                    np.abs(v[:, 0]))
    for s, side in (("L", "L"), ("R", "R")):
        out[f"{side}BigToe"] = _argmax(skin & (rest.w(f"toe1-1.{s}", f"toe1-2.{s}") > 0.5), v[:, 2])
        out[f"{side}SmallToe"] = _argmax(skin & (rest.w(*(f"toe5-{k}.{s}" for k in (1, 2, 3))) > 0.5), v[:, 2])
        foot = skin & (rest.w(f"foot.{s}") > 0.5)
        low = foot & (v[:, 1] < v[foot, 1].min() + 0.02)
        out[f"{side}Heel"] = _argmax(low, -v[:, 2])
    fingers = {"thumb": 1, "index": 2, "middle": 3, "ring": 4, "pinky": 5}
    for s, side in (("L", "l"), ("R", "r")):
        for name, k in fingers.items():
            tip = skin & (rest.w(f"finger{k}-3.{s}") > 0.5)
            a = rest.bone_heads[rest.bone_labels.index(f"finger{k}-2.{s}")]
            b = rest.bone_heads[rest.bone_labels.index(f"finger{k}-3.{s}")]
            out[f"{side}{name}"] = _argmax(tip, v @ (b - a))
    return out


def frontal_depth(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Depth of the front-most surface seen by a frontal orthographic camera (on +z, looking along -z).

    Args: points (N, 2+) (only x, y used), vertices (V, 3), faces (F, 3).
    Returns: (N,) largest z where the ray through each point's (x, y) hits a triangle; NaN where it misses.
    """
    tri = vertices[faces]                                         # (F, 3, 3)
    lo, hi = tri[..., :2].min(1), tri[..., :2].max(1)
    xy = np.asarray(points, float)[:, :2]
    # only triangles whose frontal bounding box overlaps the queried points can be hit
    keep = np.all(hi >= xy.min(0) - 1e-9, 1) & np.all(lo <= xy.max(0) + 1e-9, 1)
    tri, lo, hi = tri[keep], lo[keep], hi[keep]
    a, e1, e2 = tri[:, 0], tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    det = e1[:, 0] * e2[:, 1] - e2[:, 0] * e1[:, 1]               # (F,) signed 2D area x 2
    ok_tri = np.abs(det) > 1e-14                                  # edge-on triangles cover no ray
    out = np.full(len(xy), np.nan)
    for s in range(0, len(xy), chunk):
        p = xy[s:s + chunk, None, :]                              # (n, 1, 2)
        inbox = np.all((p >= lo - 1e-9) & (p <= hi + 1e-9), -1) & ok_tri
        d = p - a[None, :, :2]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = (d[..., 0] * e2[:, 1] - e2[:, 0] * d[..., 1]) / det
            w = (e1[:, 0] * d[..., 1] - d[..., 0] * e1[:, 1]) / det
        hit = inbox & (u >= -1e-9) & (w >= -1e-9) & (u + w <= 1 + 1e-9)
        z = np.where(hit, a[:, 2] + u * e1[:, 2] + w * e2[:, 2], -np.inf)
        zmax = z.max(1)
        out[s:s + chunk] = np.where(np.isfinite(zmax), zmax, np.nan)
    return out


def mirror_map(vertices: np.ndarray, tol: float = 1e-4) -> np.ndarray:
    """(V,) index of each vertex's mirror image across the x = 0 plane (itself on the midline).

    Raises ValueError if the mesh is not left/right symmetric within ``tol`` metres.
    """
    from scipy.spatial import cKDTree
    dist, idx = cKDTree(vertices).query(vertices * np.array([-1.0, 1.0, 1.0]))
    if dist.max() > tol:
        raise ValueError(f"mesh is not left/right symmetric (vertex {int(np.argmax(dist))} has no mirror "
                         f"within {tol} m); the landmark rules need Anny's symmetric default topology")
    return idx


def front_surface(rest: AnnyRest, region: np.ndarray, tol: float = 0.001) -> np.ndarray:
    """(V,) bool: vertices of ``region`` that a frontal camera sees (within ``tol`` of the front-most depth).

    All components occlude (eyeballs in front of the socket, lips in front of the mouth cavity).
    """
    v = rest.vertices
    idx = np.flatnonzero(region)
    depth = frontal_depth(v[idx], v, rest.faces)
    out = np.zeros(len(v), bool)
    out[idx] = v[idx, 2] >= depth - tol
    return out


def _eye_contour(rest: AnnyRest, s: str, visible: np.ndarray) -> list[int]:
    """6 lid-margin vertices in iBUG order for the eye of side ``s`` ("L"/"R").

    The lid margin is the visible skin touching the eyeball (within 2 mm of its sphere); hidden socket skin
    behind the brow and cheek is just as close to the sphere, hence the visibility test.
    """
    v, skin = rest.vertices, rest.component == 0
    eye = rest.w(f"eye.{s}") > 0.9
    centre = v[eye].mean(0)
    radius = np.linalg.norm(v[eye] - centre, axis=1).max()
    dist = np.linalg.norm(v - centre, axis=1)
    ring = skin & visible & (dist < radius + 0.002) & (v[:, 2] > centre[2])
    idx = np.flatnonzero(ring)
    if len(idx) < 6:
        raise ValueError(f"eye.{s}: found only {len(idx)} visible lid-margin vertices")
    xs = v[idx, 0]
    outer_sign = 1.0 if s == "L" else -1.0
    outer = int(idx[np.argmax(outer_sign * xs)])
    inner = int(idx[np.argmin(outer_sign * xs)])
    xo, xi = v[outer, 0], v[inner, 0]
    ymid = 0.5 * (v[outer, 1] + v[inner, 1])

    def lid(t: float, upper: bool) -> int:
        x = xo + t * (xi - xo)
        near = ring & (np.abs(v[:, 0] - x) < 0.0025) & ((v[:, 1] > ymid) if upper else (v[:, 1] < ymid))
        return _argmax(near, v[:, 1] if upper else -v[:, 1])

    if s == "R":   # iBUG 36..41: outer corner, upper lid (outer->inner), inner corner, lower lid (inner->outer)
        return [outer, lid(1 / 3, True), lid(2 / 3, True), inner, lid(2 / 3, False), lid(1 / 3, False)]
    # iBUG 42..47: inner corner, upper lid (inner->outer), outer corner, lower lid (outer->inner)
    return [inner, lid(2 / 3, True), lid(1 / 3, True), outer, lid(1 / 3, False), lid(2 / 3, False)]


# iBUG-68 left/right pairs (subject's right first); the other points lie on the midline
MIRROR_PAIRS = tuple((i, 16 - i) for i in range(8)) + tuple((17 + i, 26 - i) for i in range(5)) + \
    ((31, 35), (32, 34), (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46),
     (48, 54), (49, 53), (50, 52), (59, 55), (58, 56), (60, 64), (61, 63), (67, 65), (68, 69))
MIDLINE = (8, 27, 28, 29, 30, 33, 51, 57, 62, 66)


def _profile_midline(rest: AnnyRest, mask: np.ndarray) -> np.ndarray:
    """Vertex ids of ``mask`` on the mid-sagittal plane, top to bottom."""
    v = rest.vertices
    idx = np.flatnonzero(mask & (np.abs(v[:, 0]) < 1e-5))
    return idx[np.lexsort((idx, -v[idx, 1]))]   # ties (equal heights) by vertex id, on every machine


def _chin_contour(rest: AnnyRest, region: np.ndarray, normals: np.ndarray, y_top: float,
                  n_fine: int = 64, grazing: float = 0.3, band: float = 0.003) -> list[int]:
    """iBUG 0..8: the face outline from the subject's right at eye height down to the chin.

    For each direction d in the image plane (angles around (0, y_top)), the candidates are vertices whose
    normal is nearly perpendicular to the view (n_z < ``grazing``) and faces outwards along d, and that lie
    within ``band`` of the outermost one along d (the image outline); the outline point is the most forward
    of them: the front edge of the occluding contour. (The farthest projected vertex would be wrong under the chin, whose
    nearly level underside runs back to the neck: that put the chin 5 cm behind the lips.) The right half
    is resampled at 9 equal arc-length steps; the left half is its mirror image.
    """
    v = rest.vertices
    d = v[:, :2] - np.array([0.0, y_top])
    ang = np.arctan2(d[:, 1], d[:, 0])
    pts = []
    for a in np.linspace(np.pi, 1.5 * np.pi, n_fine):
        u = np.array([np.cos(a), np.sin(a)])
        diff = np.abs(np.angle(np.exp(1j * (ang - a))))
        outward = normals[:, :2] @ u > 0.5 * np.linalg.norm(normals[:, :2], axis=1)
        m = region & (diff < np.deg2rad(3)) & outward & (normals[:, 2] < grazing)
        if a == 1.5 * np.pi:
            m &= np.abs(v[:, 0]) < 1e-5          # the chin point itself: on the midline
        r = d[:, 0] * u[0] + d[:, 1] * u[1]
        if not m.any():
            raise ValueError(f"face outline: no silhouette vertex at {np.rad2deg(a):.0f} degrees")
        pts.append(_argmax(m & (r > r[m].max() - band), v[:, 2]))
    xy = v[pts, :2]
    arc = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(xy, axis=0), axis=1))]
    out = [pts[int(np.argmin(np.abs(arc - t)))] for t in np.linspace(0.0, arc[-1], 9)]
    out[-1] = pts[-1]
    return out


def face_landmarks(rest: AnnyRest, extra: dict[str, int]) -> tuple[list[int], list[int]]:
    """(51 static iBUG 17..67, 17 contour iBUG 0..16) vertex ids.

    Every point is chosen among vertices a frontal camera sees; points on the subject's right (x < 0, image
    left in a frontal view) are chosen by rule and the left ones are their mirror vertices, so pairs are
    exactly symmetric on the symmetric default mesh.
    """
    v = rest.vertices
    skin = rest.component == 0
    mirror = mirror_map(v)
    normals = vertex_normals(v, rest.faces)
    head_region = skin & ((rest.w("head") + rest.jaw_weights) > 0.3) & (normals[:, 2] > -0.2)
    visible = front_surface(rest, head_region | (rest.w("eye.L", "eye.R") > 0.9))
    face = skin & visible & (rest.w("head") > 0.3) & (normals[:, 2] > 0.2)   # visible forward-facing skin
    eye_r = _eye_contour(rest, "R", visible)
    eye_l = [int(mirror[i]) for i in (eye_r[3], eye_r[2], eye_r[1], eye_r[0], eye_r[5], eye_r[4])]
    eye_y = 0.5 * (v[eye_r[0], 1] + v[eye_r[3], 1])

    # brows: 5 samples on the right from 30 % beyond the outer eye corner to the inner corner
    xo, xi = v[eye_r[0], 0], v[eye_r[3], 0]
    xo = xo + 0.3 * (xo - xi)
    mag = np.linalg.norm(rest.actions["browDownRight"], axis=1)
    brow_r = [_argmax(face & (np.abs(v[:, 0] - (xo + t * (xi - xo))) < 0.003) & (v[:, 1] > eye_y), mag)
              for t in np.linspace(0.0, 1.0, 5)]
    brows = brow_r + [int(mirror[i]) for i in brow_r[::-1]]

    # nose: 27..30 bridge -> tip along the midline, 31..35 base right -> left
    mid = face & (np.abs(v[:, 0]) < 1e-5)
    tip = extra["nose"]
    top = _front(rest, mid, 0.0, eye_y)
    bridge = [top] + [_front(rest, mid, 0.0, v[top, 1] + t * (v[tip, 1] - v[top, 1])) for t in (1 / 3, 2 / 3)] + [tip]
    # subnasale: the most recessed midline point in the 2.5 cm below the tip (before the upper lip bulges)
    below = [i for i in _profile_midline(rest, face) if v[tip, 1] - 0.025 < v[i, 1] < v[tip, 1] - 0.005]
    subnasale = min(below, key=lambda i: v[i, 2])
    inner_canthus = 0.5 * abs(v[eye_r[3], 0] - v[eye_l[0], 0])
    y_base = v[subnasale, 1] + 0.003
    base_r = [_front(rest, face, x, y_base) for x in (-inner_canthus, -0.5 * inner_canthus)]
    nose_base = base_r + [subnasale] + [int(mirror[i]) for i in base_r[::-1]]

    # mouth corner: what mouthSmileRight moves most (visible forward-facing skin below the nose)
    lower_face = face & (v[:, 1] < v[subnasale, 1] - 0.005)
    corner_r = _argmax(lower_face & (v[:, 0] < -1e-5), np.linalg.norm(rest.actions["mouthSmileRight"], axis=1))
    corner_l = int(mirror[corner_r])
    xc = -v[corner_r, 0]
    # lips: visible skin carried by the head (upper lip) or the jaw (lower lip); the lip seam is where the
    # two meet on the front surface (the old rule also admitted the mouth cavity, 9 cm behind the lips)
    upper_skin = lower_face & (rest.jaw_weights < 0.5)
    lower_skin = lower_face & (rest.jaw_weights >= 0.5)
    band = (v[:, 1] < v[subnasale, 1] - 0.005) & (v[:, 1] > v[corner_r, 1] - 0.03)

    def seam(x: float, upper: bool) -> int:
        near = (upper_skin if upper else lower_skin) & band & (np.abs(v[:, 0] - x) < 0.003)
        return _argmax(near, -v[:, 1] if upper else v[:, 1])

    up_in = [seam(-0.5 * xc, True), seam(0.0, True)]
    lo_in = [seam(-0.5 * xc, False), seam(0.0, False)]
    y_seam = 0.5 * (v[up_in[1], 1] + v[lo_in[1], 1])
    # upper outer lip midline (labrale superius): the most prominent upper-lip profile point
    prof_up = [i for i in _profile_midline(rest, upper_skin) if y_seam < v[i, 1] < v[subnasale, 1] - 0.002]
    top_mid = max(prof_up, key=lambda i: v[i, 2])
    # lower outer lip midline: the vermilion border below the lip's prominence, taken where the profile
    # has receded half-way from the prominence to the labiomental fold (the prominence itself is only
    # 4 mm below the seam: too high for a detector's lower-lip edge)
    prof_lo = [i for i in _profile_midline(rest, lower_skin) if y_seam - 0.03 < v[i, 1] < y_seam]
    k_prom = int(np.argmax(v[prof_lo, 2]))
    z_after = v[prof_lo[k_prom:], 2]
    k_fold = k_prom + int(np.argmax(np.r_[np.diff(z_after) > 0, True]))   # first point before z rises again
    z_half = 0.5 * (v[prof_lo[k_prom], 2] + v[prof_lo[k_fold], 2])
    bot_mid = next(prof_lo[k] for k in range(k_prom, k_fold + 1) if v[prof_lo[k], 2] <= z_half)
    h_up, h_lo = v[top_mid, 1] - y_seam, y_seam - v[bot_mid, 1]

    def outer_lip(t: float, upper: bool) -> int:
        # vermilion border approximated by a parabola through the corner and the midline point
        h = (h_up if upper else -h_lo) * (1.0 - t * t)
        return _front(rest, upper_skin if upper else lower_skin, t * xc, y_seam + h)

    up_out = [outer_lip(-2 / 3, True), outer_lip(-1 / 3, True)]
    lo_out = [outer_lip(-1 / 3, False), outer_lip(-2 / 3, False)]   # iBUG 58, 59
    m = lambda ids: [int(mirror[i]) for i in ids]  # noqa: E731
    mouth_outer = [corner_r, *up_out, top_mid, *m(up_out[::-1]), corner_l, *m(lo_out[::-1]), bot_mid, *lo_out]
    mouth_inner = [corner_r, up_in[0], up_in[1], *m(up_in[:1]), corner_l, *m(lo_in[:1]), lo_in[1], lo_in[0]]
    static = brows + bridge + nose_base + eye_r + eye_l + mouth_outer + mouth_inner
    assert len(static) == 51

    # face outline in front of the ears, from eye height through the chin
    ear_z = 0.5 * (v[extra["lear"], 2] + v[extra["rear"], 2])
    region = skin & visible & ((rest.w("head") + rest.jaw_weights) > 0.5) & (v[:, 2] > ear_z + 0.02)
    right = _chin_contour(rest, region, normals, eye_y)
    contour = right + m(right[-2::-1])
    return static, contour


def jaw_regressor(rest: AnnyRest, k: int = 24) -> tuple[list[int], list[float]]:
    """Vertex ids and weights (sum 1) whose weighted sum is the rest jaw joint.

    Uses the ``k`` skin vertices nearest the MakeHuman jaw head among head-skinned vertices no facial action
    moves, with minimum-norm weights that reproduce the joint exactly (so it follows phenotype changes
    approximately, like SMPL-X's J_regressor).
    """
    v = rest.vertices
    moved = np.zeros(len(v), bool)
    for disp in rest.actions.values():
        moved |= np.linalg.norm(disp, axis=1) > 1e-6
    cand = np.flatnonzero((rest.component == 0) & ~moved & (rest.w("head") > 0.5))
    # mirror vertices lie at equal distances: break ties by vertex id (numpy's SIMD argsort orders equal keys
    # differently on different CPUs), after rounding away last-bit noise
    dist = np.round(np.linalg.norm(v[cand] - rest.jaw_head, axis=1), 9)
    order = cand[np.lexsort((cand, dist))[:k]]
    ids, w = affine_weights(v[order], rest.jaw_head)
    return [int(order[i]) for i in ids], w


def affine_weights(points: np.ndarray, target: np.ndarray) -> tuple[list[int], list[float]]:
    """Minimum-norm deviation from uniform weights w (sum 1) with ``w @ points == target``.

    Args: points (K, 3), target (3,). Returns (indices into points with nonzero weight, weights).
    """
    k = len(points)
    a = np.vstack([points.T, np.ones((1, k))])      # (4, K)
    b = np.r_[target, 1.0]
    w0 = np.full(k, 1.0 / k)
    w = w0 + a.T @ np.linalg.lstsq(a @ a.T, b - a @ w0, rcond=None)[0]
    return list(range(k)), [float(x) for x in w]


def compute_tables() -> dict:
    rest = load_anny_rest()
    extra = body_landmarks(rest)
    static, contour = face_landmarks(rest, extra)
    jaw_ids, jaw_w = jaw_regressor(rest)
    from .openpose import EXTRA_NAMES
    return {
        "NUM_VERTICES": int(len(rest.vertices)),
        "EXTRA_VERTICES": [int(extra[n]) for n in EXTRA_NAMES],
        "FACE_STATIC_VERTICES": [int(i) for i in static],
        "FACE_CONTOUR_VERTICES": [int(i) for i in contour],
        "JAW_REGRESSOR_VERTICES": jaw_ids,
        "JAW_REGRESSOR_WEIGHTS": [round(x, 10) for x in jaw_w],
    }


def write_tables(path: Path | None = None) -> Path:
    from ..io import atomic_path
    path = Path(path or Path(__file__).with_name("_anny_tables.py"))
    tables = compute_tables()
    lines = ['"""Generated by `python -m talkinnerf.body.anny_landmarks` (vertex ids of the default Anny topology)."""',
             ""]
    for key, value in tables.items():
        lines.append(f"{key} = {value!r}")
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return path


if __name__ == "__main__":
    print(write_tables())
