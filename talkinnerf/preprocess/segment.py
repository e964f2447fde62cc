"""Part segmentation (labels 0 background, 1 body, 2 arms, 3 hands, 4 head) per frame.

Backend ``smplx``: rasterise the fitted mesh with per-vertex part labels and intersect it with the matte:
matte pixels the mesh misses take the label of the nearest mesh-labelled pixel (Euclidean distance transform),
mesh pixels outside the matte become background. Backend ``densepose`` is a registered slot that explains
what it needs (detectron2 + DensePose weights are not installable here).

Beside the labels, ``trust/%06d.png`` marks (255) the person pixels whose label the fit vouches for: those the mesh
covers or misses by at most ``trust_fill`` of the frame, outside the region of a hand the keypoint detector lost in
that frame (the fit holds such a hand by its prior, so the real hand may be drawn anywhere near it). train.part_trust
charges train.loss_part only there (docs/real-videos.md).
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
    trust_fill: float = 0.02      # label trusted where the mesh misses by at most this fraction of the frame's side
    trust_hand_margin: float = 0.5   # a lost hand's projected box, grown by this fraction of its size on each side,
                                     # is untrusted

    def __post_init__(self) -> None:
        if not 0 <= self.matte_threshold <= 255:
            raise ValueError(f"segment.matte_threshold must be in 0..255, got {self.matte_threshold}")
        for name in ("trust_fill", "trust_hand_margin"):
            if getattr(self, name) < 0:
                raise ValueError(f"segment.{name} must be >= 0, got {getattr(self, name)}")


def _mesh_coverage(mesh_labels: np.ndarray, matte: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mesh labels, matte as bool, the pixels the mesh covers), after checking that the two images agree in size."""
    mesh_labels = np.asarray(mesh_labels)
    matte = np.asarray(matte, dtype=bool)
    if mesh_labels.shape != matte.shape:
        raise ValueError(f"mesh labels {mesh_labels.shape} and matte {matte.shape} differ in size")
    return mesh_labels, matte, mesh_labels > 0


def labels_from_mesh_and_matte(mesh_labels: np.ndarray, matte: np.ndarray) -> np.ndarray:
    """Combine rendered part labels with a binary person matte.

    mesh_labels: (H,W) uint8, 0 where the mesh is absent. matte: (H,W) bool, True on the person.
    Returns (H,W) uint8: inside the matte the mesh label, or for pixels the mesh misses the label of the
    nearest mesh pixel; 0 outside the matte. If the mesh covers nothing, the whole matte is labelled body (1).
    """
    mesh_labels, matte, covered = _mesh_coverage(mesh_labels, matte)
    if not covered.any():
        return np.where(matte, 1, 0).astype(np.uint8)
    # indices of the nearest covered pixel for every pixel (EDT over the uncovered region)
    _, (ii, jj) = ndimage.distance_transform_edt(~covered, return_indices=True)
    filled = mesh_labels[ii, jj]
    return np.where(matte, filled, 0).astype(np.uint8)


def trusted_labels(mesh_labels: np.ndarray, matte: np.ndarray, max_fill_px: float,
                   lost_hand_boxes: list[tuple[float, float, float, float]] = ()) -> np.ndarray:
    """Which person pixels' labels the fit vouches for: (H,W) bool, True inside the matte where the mesh covers
    the pixel or misses it by at most ``max_fill_px`` (a nearest-pixel label farther out is a guess: a hand the fit
    put elsewhere, hair, a loose sleeve), and outside every ``lost_hand_boxes`` (x0, y0, x1, y1) in pixels, the
    regions where a hand the detector lost may be. False outside the matte and everywhere if the mesh covers
    nothing."""
    mesh_labels, matte, covered = _mesh_coverage(mesh_labels, matte)
    if not covered.any():
        return np.zeros_like(matte)
    trusted = matte & (ndimage.distance_transform_edt(~covered) <= max_fill_px)
    rows, cols = np.arange(matte.shape[0])[:, None], np.arange(matte.shape[1])[None, :]
    for x0, y0, x1, y1 in lost_hand_boxes:
        trusted &= ~((cols >= x0) & (cols <= x1) & (rows >= y0) & (rows <= y1))
    return trusted


def grown_box(points: np.ndarray, margin: float) -> tuple[float, float, float, float]:
    """Pixel box (x0, y0, x1, y1) around ``points`` (N,2 xy), grown on each side by ``margin`` times its larger
    side (a box, not the points' extent alone: a lost hand is held by the prior in some pose, the real one may
    be open, closed or turned)."""
    lo, hi = points.min(0), points.max(0)
    pad = margin * float((hi - lo).max())
    return float(lo[0] - pad), float(lo[1] - pad), float(hi[0] + pad), float(hi[1] + pad)


def lost_hands(fit) -> dict[str, np.ndarray]:
    """Per side ("left", "right"), (F,) bool: the frames in which the detector found none of that hand's
    keypoints (`preprocess fit` writes a NaN reprojection error for them). A fit made elsewhere, without these
    errors, has no lost hands: its labels are trusted by the mesh's coverage alone."""
    count = len(fit["global_orient"])
    return {side: np.isnan(np.asarray(fit[key], dtype=float)) if (key := f"reproj_error_{side}_hand") in fit
            else np.zeros(count, dtype=bool) for side in ("left", "right")}


def _smplx_backend(frames_dir: Path, matte_dir: Path, smplx_path: Path, model_path: Path, out_dir: Path,
                   opts: SegmentOptions) -> int:
    from talkinnerf.body.model import fitted_vertices, load_body_model
    from talkinnerf.body.parts import hand_vertices, vertex_part_labels
    from talkinnerf.camera import project
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
    hands, lost = hand_vertices(model), lost_hands(fit)
    (out_dir / "trust").mkdir()
    for i in range(count):
        matte_path = matte_dir / f"{i:06d}.png"
        if not matte_path.is_file():
            raise FileNotFoundError(f"matte frame {matte_path} is missing")
        matte = read_image(matte_path, gray=True)
        if matte.shape != (size, size):
            raise ValueError(f"matte frame {i} of {matte_dir} is {matte.shape}, the fit says {size}x{size}")
        cam = verts[i] @ fit["R"][i].T + fit["t"][i]
        raster = rasterize(cam, faces, fit["K"][i], size, vertex_labels=labels_v, light=False)
        person = matte >= opts.matte_threshold
        labels = labels_from_mesh_and_matte(raster.labels, person)
        write_gray_png(out_dir / f"{i:06d}.png", labels)
        boxes = [grown_box(project(verts[i][hands[side]], fit["K"][i], fit["R"][i], fit["t"][i])[0],
                           opts.trust_hand_margin)
                 for side in ("left", "right") if lost[side][i] and len(hands[side])]
        trust = trusted_labels(raster.labels, person, opts.trust_fill * size, boxes)
        write_gray_png(out_dir / "trust" / f"{i:06d}.png", trust.astype(np.uint8) * 255)
    return count


def _densepose_backend(*args, **kwargs) -> int:
    raise ValueError("segment backend 'densepose' needs detectron2 (not on PyPI) and DensePose weights, which "
                     "this installation lacks; use backend 'smplx'")


BACKENDS: dict[str, Callable[..., int]] = {"smplx": _smplx_backend, "densepose": _densepose_backend}


def segment_subject(frames_dir: str | Path, matte_dir: str | Path, smplx_path: str | Path,
                    model_path: str | Path, out_dir: str | Path, opts: SegmentOptions) -> int:
    """Write parts/s/%06d.png and parts/s/trust/%06d.png for every fitted frame (atomically, as one folder);
    returns the frame count."""
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
