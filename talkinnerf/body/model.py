"""Load a SMPL-X-format body model (official SMPLX_NEUTRAL.npz or the open model) through ``smplx``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

OPEN_MODEL_HINT = ("put the official SMPLX_NEUTRAL.npz there (https://smpl-x.is.tue.mpg.de, licence required) "
                   "or build the open model with `talkinnerf body build-open-model {path}`")


def model_vertex_ids(path: str | Path) -> dict[str, int] | None:
    """smplx extra-joint vertex ids stored in an open-model file; None for official files (smplx defaults)."""
    with np.load(path, allow_pickle=False) as data:
        if "talkinnerf_vertex_ids" not in data.files:
            return None
        names = [str(n) for n in data["talkinnerf_vertex_ids_names"]]
        return dict(zip(names, (int(i) for i in data["talkinnerf_vertex_ids"])))


def check_arrays_only(path: str | Path) -> None:
    """Refuse a body model file that is not an npz of plain arrays.

    smplx reads model files with ``np.load(allow_pickle=True)`` (and ``.pkl`` files with pickle), so an object
    array in a downloaded or user-given file would run code while loading. Reading every array here with
    ``allow_pickle=False`` first makes smplx's load see numeric arrays only.
    """
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise ValueError(f"body model {path}: only .npz model files are read (a .pkl file is a pickle, which can "
                         "run code when loaded); use SMPLX_NEUTRAL.npz from the SMPL-X download")
    try:
        with np.load(path, allow_pickle=False) as data:
            for key in data.files:
                data[key]
    except ValueError as err:
        raise ValueError(f"body model {path}: refusing to load, it holds pickled objects "
                         f"(allow_pickle=False: {err}); use the official SMPLX_NEUTRAL.npz or the open model") from err


def load_body_model(path: str | Path, batch_size: int = 1, device: str = "cpu", **kwargs):
    """Equivalent of ``smplx.create(path, model_type="smplx", use_pca=False, num_expression_coeffs=10, flat_hand_mean=True,
    use_face_contour=True)`` with the extra-joint vertex ids of the file (smplx defaults for official files) on ``device``.

    Output joints are (B, 144, 3): 55 skeleton + 21 extra vertex joints + 51 static + 17 contour face
    landmarks (see :func:`talkinnerf.body.openpose.openpose_from_smplx`). Extra ``kwargs`` go to smplx.
    """
    import smplx

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"body model {path} does not exist: " + OPEN_MODEL_HINT.format(path=path))
    check_arrays_only(path)
    ids = model_vertex_ids(path)
    options = dict(use_pca=False, num_expression_coeffs=10, flat_hand_mean=True,
                   use_face_contour=True, batch_size=batch_size)
    options.update(kwargs)
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):  # smplx prints a warning about the 20-column shapedirs
        # smplx.SMPLX, not smplx.create: create() infers the model type from the file name's prefix
        # (a name like "open_model.npz" would read as type "open"; the default name starts with SMPLX_); for a file this is the same call.
        model = smplx.SMPLX(str(path), **options)
    if ids is not None:
        # SMPLX.__init__ hard-codes vertex_ids=VERTEX_IDS["smplx"] (passing our own is a TypeError), so the
        # extra-joint selector is replaced after construction with the ids of this topology.
        from smplx.vertex_joint_selector import VertexJointSelector
        model.vertex_joint_selector = VertexJointSelector(vertex_ids=ids)
    return model.to(device)


def fitted_vertices(model, fit: dict[str, np.ndarray], frames: list[int] | np.ndarray) -> np.ndarray:
    """World-space vertices (len(frames), V, 3) of a fit (results/smplx/s.npz arrays) at ``frames``.

    ``model`` is a smplx model whose batch size is len(frames); eyes stay at rest (the fit has no eye pose).
    """
    import torch

    idx = np.asarray(frames)
    n = len(idx)

    def per_frame(key: str) -> torch.Tensor:
        return torch.as_tensor(np.asarray(fit[key])[idx], dtype=torch.float32).reshape(n, -1)

    betas = torch.as_tensor(fit["betas"], dtype=torch.float32).reshape(1, -1).expand(n, -1)
    with torch.no_grad():
        out = model(betas=betas, global_orient=per_frame("global_orient"), body_pose=per_frame("body_pose"),
                    jaw_pose=per_frame("jaw_pose"), left_hand_pose=per_frame("left_hand_pose"),
                    right_hand_pose=per_frame("right_hand_pose"), expression=per_frame("expression"),
                    leye_pose=torch.zeros(n, 3), reye_pose=torch.zeros(n, 3), transl=per_frame("transl"),
                    return_verts=True)
    return out.vertices.numpy()
