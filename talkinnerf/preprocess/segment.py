"""Part segmentation (labels 0 background, 1 body, 2 arms, 3 hands, 4 head) per frame.

Backend ``smplx``: rasterise the fitted mesh with per-vertex part labels and intersect it with the matte:
matte pixels the mesh misses take the label of the nearest mesh-labelled pixel (Euclidean distance transform),
mesh pixels outside the matte become background. Backend ``densepose`` is a registered slot that explains
what it needs (detectron2 + DensePose weights are not installable here).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from scipy import ndimage


@dataclass
class SegmentOptions:
    """Options of `talkinnerf preprocess segment` (config.yaml section `segment`)."""

    backend: str = "smplx"
    matte_threshold: int = 128    # matte values >= this (0..255) are the person


def labels_from_mesh_and_matte(mesh_labels: np.ndarray, matte: np.ndarray) -> np.ndarray:
    """Combine rendered part labels with a binary person matte.

    mesh_labels: (H,W) uint8, 0 where the mesh is absent. matte: (H,W) bool, True on the person.
    Returns (H,W) uint8: inside the matte the mesh label, or for pixels the mesh misses the label of the
    nearest mesh pixel; 0 outside the matte. If the mesh covers nothing, the whole matte is labelled body (1).
    """
    mesh_labels = np.asarray(mesh_labels)
    matte = np.asarray(matte, dtype=bool)
    if mesh_labels.shape != matte.shape:
        raise ValueError(f"mesh labels {mesh_labels.shape} and matte {matte.shape} differ in size")
    covered = mesh_labels > 0
    if not covered.any():
        return np.where(matte, 1, 0).astype(np.uint8)
    # indices of the nearest covered pixel for every pixel (EDT over the uncovered region)
    _, (ii, jj) = ndimage.distance_transform_edt(~covered, return_indices=True)
    filled = mesh_labels[ii, jj]
    return np.where(matte, filled, 0).astype(np.uint8)


def _smplx_backend(frames_dir: Path, matte_dir: Path, smplx_path: Path, model_path: Path, out_dir: Path,
                   opts: SegmentOptions) -> int:
    from talkinnerf.body.model import fitted_vertices, load_body_model
    from talkinnerf.body.parts import vertex_part_labels
    from talkinnerf.io import load_npz
    from talkinnerf.raster import rasterize
    from talkinnerf.video.frames import read_image, write_gray_png

    fit = load_npz(smplx_path)
    count, size = fit["global_orient"].shape[0], int(fit["size"])
    mattes = sorted(matte_dir.glob("*.png"))
    if len(mattes) < count:
        raise FileNotFoundError(f"matte folder {matte_dir} has {len(mattes)} frames, the fit {smplx_path} has {count}")
    if not Path(model_path).is_file():
        raise FileNotFoundError(f"body model {model_path} does not exist")
    model = load_body_model(str(model_path), batch_size=count, device="cpu")
    labels_v = vertex_part_labels(model)
    faces = np.asarray(model.faces, dtype=np.int64)
    verts = fitted_vertices(model, fit, np.arange(count))
    for i in range(count):
        matte_path = matte_dir / f"{i:06d}.png"
        if not matte_path.is_file():
            raise FileNotFoundError(f"matte frame {matte_path} is missing")
        matte = read_image(matte_path, gray=True)
        if matte.shape != (size, size):
            raise ValueError(f"matte frame {i} of {matte_dir} is {matte.shape}, the fit says {size}x{size}")
        cam = verts[i] @ fit["R"][i].T + fit["t"][i]
        raster = rasterize(cam, faces, fit["K"][i], size, vertex_labels=labels_v, light=False)
        labels = labels_from_mesh_and_matte(raster.labels, matte >= opts.matte_threshold)
        write_gray_png(out_dir / f"{i:06d}.png", labels)
    return count


def _densepose_backend(*args, **kwargs) -> int:
    raise ValueError("segment backend 'densepose' needs detectron2 (not on PyPI) and DensePose weights, which "
                     "this installation lacks; use backend 'smplx'")


BACKENDS: dict[str, Callable[..., int]] = {"smplx": _smplx_backend, "densepose": _densepose_backend}


def segment_subject(frames_dir: str | Path, matte_dir: str | Path, smplx_path: str | Path,
                    model_path: str | Path, out_dir: str | Path, opts: SegmentOptions) -> int:
    """Write parts/s/%06d.png for every fitted frame (atomically, as one folder); returns the frame count."""
    from talkinnerf.io import atomic_dir

    if opts.backend not in BACKENDS:
        raise ValueError(f"unknown segment backend {opts.backend!r}; known: {sorted(BACKENDS)}")
    for what, path in (("frames folder", frames_dir), ("matte folder", matte_dir)):
        if not Path(path).is_dir():
            raise FileNotFoundError(f"{what} {path} does not exist")
    if not Path(smplx_path).is_file():
        raise FileNotFoundError(f"fit {smplx_path} does not exist")
    with atomic_dir(out_dir) as tmp:
        return BACKENDS[opts.backend](Path(frames_dir), Path(matte_dir), Path(smplx_path), Path(model_path), tmp,
                                      opts)
