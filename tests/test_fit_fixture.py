"""A tiny SMPL-X-format body model for fitting tests (no licensed or built model needed).

The skeleton has the 55 SMPL-X joints at plausible adult positions (T-pose, facing +z, left = +x). Each joint
owns a small rigid tetrahedron (so the joint regressor recovers it exactly), and marker vertices stand in for
the OpenPose points that are not joints (nose, eyes, ears, toes, heels, fingertips, 70 face landmarks; the
lower face points hang off the jaw). ``fixture_keypoints_fn`` maps a model output to OpenPose 3D points the
way `talkinnerf.body.openpose.openpose_from_smplx` does for a real model. No tests live here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

PARENTS = np.array([-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15]
                   + [20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38]
                   + [21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50, 21, 52, 53])


def _rotate(points: np.ndarray, centre: np.ndarray, axis: np.ndarray, deg: float) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    rot = Rotation.from_rotvec(np.radians(deg) * axis / np.linalg.norm(axis)).as_matrix()
    return (points - centre) @ rot.T + centre


def _apose(j: np.ndarray) -> np.ndarray:
    """Anny-like rest: arms 45 deg down from the T-pose, elbows bent 40 deg forward (towards +z)."""
    j = j.copy()
    for s, sh, el, arm in ((1, 16, 18, [18, 20] + list(range(25, 40))),
                           (-1, 17, 19, [19, 21] + list(range(40, 55)))):
        j[arm] = _rotate(j[arm], j[sh], np.array([0.0, 0.0, -s]), 45.0)
        fore = arm[1:]
        upper = j[el] - j[sh]
        j[fore] = _rotate(j[fore], j[el], np.cross(upper, [0.0, 0.0, 1.0]), 40.0)
    return j


def _joints(rest: str = "tpose") -> np.ndarray:
    """(55,3) rest joints: "tpose" (SMPL-X) or "apose" (like the open Anny-based model)."""
    if rest not in ("tpose", "apose"):
        raise ValueError(f"fixture rest pose must be 'tpose' or 'apose', got {rest!r}")
    j = _tpose()
    return _apose(j) if rest == "apose" else j


def _tpose() -> np.ndarray:
    j = np.zeros((55, 3))
    left = {1: (0.09, -0.08, 0), 4: (0.10, -0.48, 0.0), 7: (0.10, -0.88, -0.02), 10: (0.11, -0.93, 0.10),
            13: (0.07, 0.40, 0), 16: (0.18, 0.43, 0), 18: (0.45, 0.43, 0), 20: (0.70, 0.43, 0), 23: (0.03, 0.63, 0.08)}
    for i, p in left.items():
        j[i] = p
    mirror = {2: 1, 5: 4, 8: 7, 11: 10, 14: 13, 17: 16, 19: 18, 21: 20, 24: 23}
    for r, l in mirror.items():
        j[r] = j[l] * np.array([-1, 1, 1])
    for i, p in {3: (0, 0.10, 0), 6: (0, 0.23, 0), 9: (0, 0.28, 0), 12: (0, 0.48, 0), 15: (0, 0.58, 0.02),
                 22: (0, 0.56, 0.03)}.items():
        j[i] = p
    # left hand: index, middle, pinky, ring (3 joints along +x), thumb angled forward
    for f, z in enumerate((0.03, 0.01, -0.04, -0.015)):
        for k in range(3):
            j[25 + 3 * f + k] = (0.79 + 0.035 * k, 0.43, z)
    j[37:40] = [(0.73, 0.42, 0.04), (0.76, 0.41, 0.06), (0.79, 0.40, 0.075)]
    j[40:55] = j[25:40] * np.array([-1, 1, 1])
    return j


def _markers(j: np.ndarray) -> tuple[dict[str, list[int]], list[tuple[np.ndarray, int]]]:
    """Marker positions and their skinning joint, grouped per OpenPose use."""
    marks: list[tuple[np.ndarray, int]] = []
    names: dict[str, list[int]] = {}

    def add(name, pos, joint):
        names.setdefault(name, []).append(len(marks))
        marks.append((np.asarray(pos, float), joint))

    add("nose", (0, 0.60, 0.11), 15)
    add("reye", (-0.03, 0.63, 0.09), 15), add("leye", (0.03, 0.63, 0.09), 15)
    add("rear", (-0.075, 0.61, 0.0), 15), add("lear", (0.075, 0.61, 0.0), 15)
    for side, s, ankle in (("l", 1, 7), ("r", -1, 8)):
        add(f"{side}bigtoe", (0.08 * s, -0.95, 0.17), ankle)
        add(f"{side}smalltoe", (0.14 * s, -0.95, 0.15), ankle)
        add(f"{side}heel", (0.10 * s, -0.95, -0.06), ankle)
    for side, s, base in (("l", 1, 25), ("r", -1, 40)):
        for f in range(5):  # tips in SMPL-X finger order, offset along the distal bone
            d = base + 3 * f + 2
            tip = j[d] + (j[d] - j[d - 1]) * 0.9
            add(f"{side}tip{f}", tip, d)
    # 70 face points on an ellipse-ish patch in front of the head; points below the mouth follow the jaw.
    rng = np.random.default_rng(0)
    for k in range(70):
        x = 0.06 * np.cos(2 * np.pi * k / 70) + 0.01 * rng.standard_normal()
        y = 0.60 + 0.06 * np.sin(2 * np.pi * k / 70)
        z = 0.10 + 0.01 * rng.standard_normal()
        add("face", (x, y, z), 22 if y < 0.575 else 15)
    return names, marks


def build_fixture_model(path: str | Path, bulk_vertices: int = 0, seed: int = 0, rest: str = "tpose") -> Path:
    """Write a loadable SMPL-X .npz: 55 tetrahedra + markers (+ ``bulk_vertices`` random skin for timing).

    rest: "tpose" (SMPL-X's rest) or "apose" (arms down and elbows bent forward, like the open model).
    """
    rng = np.random.default_rng(seed)
    j = _joints(rest)
    tet = 0.01 * np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], float)
    verts, weights, faces = [], [], []
    J_reg = np.zeros((55, 0))
    for i in range(55):
        base = len(verts)
        for o in tet:
            verts.append(j[i] + o)
            w = np.zeros(55)
            w[i] = 1
            weights.append(w)
        faces += [[base, base + 1, base + 2], [base, base + 1, base + 3], [base, base + 2, base + 3],
                  [base + 1, base + 2, base + 3]]
    _, marks = _markers(j)
    for pos, joint in marks:
        verts.append(pos)
        w = np.zeros(55)
        w[joint] = 1
        weights.append(w)
    for _ in range(bulk_vertices):
        a = rng.integers(0, 55)
        verts.append(j[a] + 0.03 * rng.standard_normal(3))
        w = np.zeros(55)
        w[a] += 0.7
        w[max(PARENTS[a], 0)] += 0.3
        weights.append(w)
    V = len(verts)
    if bulk_vertices:
        extra = np.arange(55 * 4 + len(marks), V)
        faces += [[extra[k], extra[k + 1], extra[k + 2]] for k in range(0, len(extra) - 2, 3)]
    J_reg = np.zeros((55, V))
    for i in range(55):
        J_reg[i, 4 * i:4 * i + 4] = 0.25
    shapedirs = np.zeros((V, 3, 20))
    verts = np.asarray(verts)
    # shape 0 scales the body about the pelvis (height), shape 1 widens; expressions move face markers a bit
    shapedirs[:, :, 0] = 0.05 * verts
    shapedirs[:, 0, 1] = 0.05 * verts[:, 0]
    shapedirs[:, :, 2:10] = 0.002 * rng.standard_normal((V, 3, 8))
    face0 = 55 * 4 + len(marks) - 70
    shapedirs[face0:face0 + 70, :, 10:20] = 0.003 * rng.standard_normal((70, 3, 10))
    data = dict(
        v_template=verts.astype(np.float32), f=np.asarray(faces, np.int64), shapedirs=shapedirs.astype(np.float32),
        posedirs=np.zeros((V, 3, 486), np.float32), J_regressor=J_reg.astype(np.float32),
        kintree_table=np.stack([PARENTS, np.arange(55)]).astype(np.int64), weights=np.asarray(weights, np.float32),
        hands_componentsl=np.eye(45, dtype=np.float32), hands_componentsr=np.eye(45, dtype=np.float32),
        hands_meanl=np.zeros(45, np.float32), hands_meanr=np.zeros(45, np.float32),
        lmk_faces_idx=np.zeros(51, np.int64), lmk_bary_coords=np.tile([1.0, 0.0, 0.0], (51, 1)).astype(np.float32),
    )
    path = Path(path)
    np.savez(path, **data)
    return path


def marker_index() -> dict[str, list[int]]:
    """Vertex indices of each marker group of the fixture."""
    names, _ = _markers(_joints())
    return {k: [55 * 4 + i for i in v] for k, v in names.items()}


def load_fixture_model(path: str | Path, batch_size: int):
    import smplx

    vid = {k: v[0] for k, v in marker_index().items() if k in ("nose", "reye", "leye", "rear", "lear")}
    vid.update(LBigToe=0, LSmallToe=0, LHeel=0, RBigToe=0, RSmallToe=0, RHeel=0)
    for side in "lr":
        for name in ("thumb", "index", "middle", "ring", "pinky"):
            vid[side + name] = 0
    from smplx.vertex_joint_selector import VertexJointSelector

    model = smplx.SMPLX(str(path), batch_size=batch_size, use_pca=False, flat_hand_mean=True,
                        num_expression_coeffs=10)
    # SMPLX hard-codes the official mesh's vertex ids for its extra joints; point them at this mesh instead
    model.vertex_joint_selector = VertexJointSelector(vertex_ids=vid)
    return model


_BODY_FROM_JOINT = {1: 12, 2: 17, 3: 19, 4: 21, 5: 16, 6: 18, 7: 20, 8: 0, 9: 2, 10: 5, 11: 8, 12: 1, 13: 4, 14: 7}
_BODY_FROM_MARKER = {0: "nose", 15: "reye", 16: "leye", 17: "rear", 18: "lear", 19: "lbigtoe", 20: "lsmalltoe",
                     21: "lheel", 22: "rbigtoe", 23: "rsmalltoe", 24: "rheel"}


def fixture_keypoints_fn(output, model) -> dict[str, torch.Tensor]:
    """OpenPose 3D points (body 25, hands 21 each, face 70) of the fixture model's output."""
    m = marker_index()
    J, V = output.joints[:, :55], output.vertices
    body = [None] * 25
    for k, ji in _BODY_FROM_JOINT.items():
        body[k] = J[:, ji]
    for k, name in _BODY_FROM_MARKER.items():
        body[k] = V[:, m[name][0]]
    out = {"body": torch.stack(body, 1), "face": V[:, m["face"]]}
    for side, wrist, base in (("left", 20, 25), ("right", 21, 40)):
        pts = [J[:, wrist]]
        # OpenPose order: thumb, index, middle, ring, pinky; SMPL-X finger blocks: index, middle, pinky, ring, thumb
        for f in (4, 0, 1, 3, 2):
            pts += [J[:, base + 3 * f + k] for k in range(3)]
            pts.append(V[:, m[f"{side[0]}tip{f}"][0]])
        out[f"{side}_hand"] = torch.stack(pts, 1)
    return out
