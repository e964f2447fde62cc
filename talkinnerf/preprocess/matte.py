"""Foreground alpha per frame: `matte/s/%06d.png` (uint8 0..255). Backends are a name → function registry.

A backend is ``fn(frames: uint8 (T,H,W,3), opts: MatteOptions, frames_dir: Path) -> uint8 (T,H,W)``.

`background` assumes a static camera: the backdrop is the temporal median of the frames, except where the
person never moves (a talking person's legs and torso sit in the median too). Those pixels are found as the
part of the median that a flood fill from the image border cannot reach and that touches the moving region;
the backdrop there is inpainted from its surroundings, which is exact for plain or smoothly shaded backdrops.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Callable

import numpy as np

from talkinnerf.io import atomic_dir


@dataclasses.dataclass
class MatteOptions:
    """Options of `talkinnerf preprocess matte` (config.yaml section `matte`)."""

    backend: str = "background"     # background | provided | rvm
    provided_dir: str | None = None  # folder of %06d.png alpha mattes (backend `provided`)
    # background backend
    median_frames: int = 60          # frames sampled (evenly) for the temporal median
    threshold: float = 30.0          # RGB Euclidean distance (0..255 scale) above which a pixel is foreground
    softness: float = 10.0           # alpha ramps from threshold-softness to threshold+softness
    fill_static: bool = True         # recover the backdrop behind parts of the person that never move
    flood_tolerance: float = 4.0     # per-channel neighbour tolerance of the border flood fill
    min_component: float = 0.1       # keep components with area >= this fraction of the largest one
    max_hole: float = 0.002          # fill enclosed holes smaller than this fraction of the image
    feather: float = 0.7             # Gaussian sigma (px) softening the mask edge; 0 = hard


Backend = Callable[[np.ndarray, MatteOptions, Path], np.ndarray]


# ---------------------------------------------------------------------------------------------- background


def _border_flood(image: np.ndarray, tolerance: float) -> np.ndarray:
    """bool (H,W): pixels reached from the image border through neighbours differing by ≤ tolerance."""
    import cv2

    h, w = image.shape[:2]
    mask = np.zeros((h + 2, w + 2), np.uint8)
    img = np.ascontiguousarray(image)
    tol = (tolerance,) * 3
    flags = 4 | cv2.FLOODFILL_MASK_ONLY | (1 << 8)
    # seeding from every border pixel is cheap: floodFill skips seeds already filled
    border = [(x, 0) for x in range(w)] + [(x, h - 1) for x in range(w)]
    border += [(0, y) for y in range(h)] + [(w - 1, y) for y in range(h)]
    for x, y in border:
        if not mask[y + 1, x + 1]:
            cv2.floodFill(img, mask, (x, y), 0, tol, tol, flags)
    return mask[1:-1, 1:-1] > 0


def estimate_background(frames: np.ndarray, opts: MatteOptions) -> np.ndarray:
    """Backdrop image float32 (H,W,3) from frames uint8 (T,H,W,3) of a static camera."""
    import cv2

    idx = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), opts.median_frames)).round().astype(int))
    sample = frames[idx]
    median = np.median(sample, axis=0).astype(np.float32)
    if not opts.fill_static:
        return median
    # Where does anything move? Those pixels' median is (mostly) backdrop already.
    dist = np.linalg.norm(sample.astype(np.float32) - median[None], axis=-1)
    moving = (dist > opts.threshold).mean(axis=0) > 0.02
    reached = _border_flood(median.round().astype(np.uint8), opts.flood_tolerance)
    unreached = ~reached
    count, labels = cv2.connectedComponents(unreached.astype(np.uint8), connectivity=8)
    near_motion = cv2.dilate(moving.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    static_person = np.zeros_like(unreached)
    for label in range(1, count):
        comp = labels == label
        # only blobs attached to the moving person: backdrop texture elsewhere stays untouched
        if (comp & near_motion).any():
            static_person |= comp
    if not static_person.any() or static_person.mean() > 0.8:
        return median  # nothing to fix, or the flood fill failed (textured backdrop): trust the median
    hole = cv2.dilate(static_person.astype(np.uint8), np.ones((3, 3), np.uint8))
    filled = cv2.inpaint(median.round().astype(np.uint8), hole, 5, cv2.INPAINT_TELEA).astype(np.float32)
    return np.where(hole[..., None] > 0, filled, median)


def clean_mask(mask: np.ndarray, opts: MatteOptions) -> np.ndarray:
    """Tidy a bool (H,W) foreground mask: open/close, keep large components, fill small enclosed holes."""
    import cv2

    m = mask.astype(np.uint8)
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if count <= 1:
        return np.zeros(mask.shape, bool)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.flatnonzero(areas >= opts.min_component * areas.max()) + 1
    fg = np.isin(labels, keep)
    # holes = background components that do not touch the border
    count, labels, stats, _ = cv2.connectedComponentsWithStats((~fg).astype(np.uint8), connectivity=4)
    h, w = fg.shape
    limit = opts.max_hole * h * w
    for label in range(1, count):
        x, y, bw, bh, area = stats[label]
        touches = x == 0 or y == 0 or x + bw == w or y + bh == h
        if not touches and area <= limit:
            fg[labels == label] = True
    return fg


def alpha_from_background(frame: np.ndarray, background: np.ndarray, opts: MatteOptions) -> np.ndarray:
    """uint8 (H,W) alpha of one frame uint8 (H,W,3) against a backdrop float32 (H,W,3)."""
    import cv2

    dist = np.linalg.norm(frame.astype(np.float32) - background, axis=-1)
    fg = clean_mask(dist > opts.threshold, opts)
    lo, hi = opts.threshold - opts.softness, opts.threshold + opts.softness
    soft = np.clip((dist - lo) / max(hi - lo, 1e-6), 0.0, 1.0)
    # inside the cleaned mask keep full opacity except a soft rim; outside nothing survives
    alpha = np.where(fg, np.maximum(soft, cv2.erode(fg.astype(np.uint8), np.ones((3, 3), np.uint8))), 0.0)
    if opts.feather > 0:
        alpha = cv2.GaussianBlur(alpha.astype(np.float32), (0, 0), opts.feather)
    return np.clip(alpha * 255.0 + 0.5, 0, 255).astype(np.uint8)


def matte_background(frames: np.ndarray, opts: MatteOptions, frames_dir: Path) -> np.ndarray:
    background = estimate_background(frames, opts)
    return np.stack([alpha_from_background(f, background, opts) for f in frames])


# ---------------------------------------------------------------------------------------------- others


def matte_provided(frames: np.ndarray, opts: MatteOptions, frames_dir: Path) -> np.ndarray:
    """Alpha PNGs the user supplies (`provided_dir/%06d.png`), checked against the frames' count and size."""
    from talkinnerf.video.frames import list_frames, read_image

    if not opts.provided_dir:
        raise ValueError(f"matte backend 'provided' needs option provided_dir (frames {frames_dir})")
    folder = Path(opts.provided_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"provided matte folder {folder} does not exist (frames {frames_dir})")
    files = list_frames(folder)
    if len(files) != len(frames):
        raise ValueError(f"provided matte folder {folder} has {len(files)} mattes but {frames_dir} has "
                         f"{len(frames)} frames")
    alphas = []
    for path in files:
        alpha = read_image(path, gray=True)
        if alpha.shape != frames.shape[1:3]:
            raise ValueError(f"provided matte {path} is {alpha.shape[1]}x{alpha.shape[0]}, frames are "
                             f"{frames.shape[2]}x{frames.shape[1]}")
        alphas.append(alpha)
    return np.stack(alphas)


def rvm_weights_path() -> Path:
    """Where the RVM backend will look for its weights."""
    root = os.environ.get("TALKINNERF_WEIGHTS")
    base = Path(root) / "rvm" if root else Path.home() / ".cache" / "talkinnerf" / "rvm"
    return base / "rvm_mobilenetv3.pth"


def matte_rvm(frames: np.ndarray, opts: MatteOptions, frames_dir: Path) -> np.ndarray:
    raise ValueError(
        f"matte backend 'rvm' (Robust Video Matting) is not implemented yet; it will need the weights file "
        f"rvm_mobilenetv3.pth at {rvm_weights_path()} ($TALKINNERF_WEIGHTS/rvm/ or ~/.cache/talkinnerf/rvm/). "
        f"Use backend 'background' (static camera) or 'provided' for {frames_dir}")


BACKENDS: dict[str, Backend] = {
    "background": matte_background,
    "provided": matte_provided,
    "rvm": matte_rvm,
}


def compute_mattes(frames: np.ndarray, opts: MatteOptions, frames_dir: Path = Path(".")) -> np.ndarray:
    """Dispatch to the backend: frames uint8 (T,H,W,3) → alpha uint8 (T,H,W)."""
    try:
        backend = BACKENDS[opts.backend]
    except KeyError:
        raise ValueError(f"unknown matte backend {opts.backend!r}; known: {sorted(BACKENDS)}") from None
    alphas = backend(frames, opts, Path(frames_dir))
    if alphas.shape != frames.shape[:3] or alphas.dtype != np.uint8:
        raise ValueError(f"matte backend {opts.backend} returned {alphas.shape} {alphas.dtype} for {frames_dir}")
    return alphas


def run_matte(frames_dir: str | os.PathLike, out: str | os.PathLike, opts: MatteOptions | None = None) -> int:
    """Stage: `frames_dir/%06d.png` → `out/%06d.png` alpha (atomic folder). Returns the frame count.

    Provided mattes are decoded and rewritten as 8-bit grey PNGs (lossless, whatever their channels were).
    """
    from talkinnerf.video.frames import read_frames, write_gray_png

    opts = opts or MatteOptions()
    frames_dir, out = Path(frames_dir), Path(out)
    frames = read_frames(frames_dir)
    alphas = compute_mattes(frames, opts, frames_dir)
    with atomic_dir(out) as tmp:
        for i, alpha in enumerate(alphas):
            write_gray_png(tmp / f"{i:06d}.png", alpha)
    return len(alphas)

