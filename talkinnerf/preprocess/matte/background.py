"""Matte backend `background`: a static camera's backdrop estimated from the video, then a per-frame threshold.

It assumes a static camera: the backdrop is the temporal median of the frames, except where the
person never moves (a talking person's legs and torso sit in the median too). Those pixels are found as the
part of the median that a flood fill from the image border cannot reach and that touches the moving region.
There the backdrop is continued from the visible wall by copying along its repeat (the shift under which the
known backdrop best matches itself: stripes, tiles, or any shift for a plain wall), and the hole is shrunk to
where the median disagrees with that estimate (a textured wall stops the flood fill short, e.g. between the
legs). Each frame is then thresholded against the backdrop (threshold raised on noisy footage), cleaned, and the
rim alpha is the pixel's coverage between backdrop and nearby person colour. See docs/matting.md.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from talkinnerf.preprocess.matte import MatteOptions


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


def _static_candidates(median: np.ndarray, sample: np.ndarray, opts: MatteOptions) -> np.ndarray:
    """bool (H,W): median pixels that may show a person part that never moves (a generous superset).

    The part of the median a border flood fill cannot reach and that touches the moving region.
    """
    import cv2

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
    return static_person


def _shifted(image: np.ndarray, dy: int, dx: int) -> tuple[np.ndarray, np.ndarray]:
    """(image[y+dy, x+dx], inside) for every (y,x): the shifted copy (zeros outside) and its validity mask."""
    h, w = image.shape[:2]
    out = np.zeros_like(image)
    inside = np.zeros((h, w), bool)
    if abs(dy) >= h or abs(dx) >= w:
        return out, inside
    ys, yd = slice(max(0, -dy), min(h, h - dy)), slice(max(0, dy), min(h, h + dy))
    xs, xd = slice(max(0, -dx), min(w, w - dx)), slice(max(0, dx), min(w, w + dx))
    out[ys, xs] = image[yd, xd]
    inside[ys, xs] = True
    return out, inside


def backdrop_period(image: np.ndarray, known: np.ndarray, opts: MatteOptions) -> tuple[int, int, float]:
    """Shift (dy, dx) under which the known backdrop best repeats itself, and its mean |ΔRGB| (sum of channels).

    image float32 (H,W,3), known bool (H,W). Shifts are searched over |dy| ≤ period_max_dy (nearly horizontal:
    a horizontal shift keeps a floor line in place) and period_min ≤ dx ≤ period_max (a half-plane suffices:
    the error of v and -v is the same). A plain backdrop repeats under any shift; stripes or tiles under their
    period.
    """
    best = (0, 0, np.inf)
    for dy in range(-opts.period_max_dy, opts.period_max_dy + 1):
        for dx in range(opts.period_min, opts.period_max + 1):
            other, inside = _shifted(image, dy, dx)
            k_other, _ = _shifted(known, dy, dx)
            both = known & k_other & inside
            if both.sum() < 0.05 * known.size:
                continue
            err = float(np.abs(image - other).sum(-1)[both].mean())
            if err < best[2]:
                best = (dy, dx, err)
    return best


def fill_periodic(image: np.ndarray, hole: np.ndarray, dy: int, dx: int, max_steps: int = 8) -> np.ndarray:
    """Fill hole pixels of image float32 (H,W,3) by copying along ±k·(dy,dx) from the nearest known pixels.

    Both directions are blended, weighted by inverse step count; pixels no copy reaches stay NaN.
    """
    total = np.zeros(image.shape, np.float32)
    weight = np.zeros(hole.shape, np.float32)
    known = ~hole
    for sign in (1, -1):
        todo = hole.copy()
        for k in range(1, max_steps + 1):
            src, inside = _shifted(image, sign * k * dy, sign * k * dx)
            src_known, _ = _shifted(known, sign * k * dy, sign * k * dx)
            take = todo & inside & src_known
            total[take] += src[take] / k
            weight[take] += 1.0 / k
            todo &= ~take
            if not todo.any():
                break
    out = image.copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        filled = total / weight[..., None]
    out[hole] = filled[hole]
    out[hole & (weight == 0)] = np.nan
    return out


def _fill_backdrop(median: np.ndarray, hole: np.ndarray, opts: MatteOptions) -> np.ndarray:
    """median float32 (H,W,3) with its hole bool (H,W) filled: periodic copy, then smooth inpainting for the rest."""
    import cv2

    filled = median.copy()
    if opts.fill_mode == "periodic":
        dy, dx, err = backdrop_period(median, ~hole, opts)
        if np.isfinite(err):
            filled = fill_periodic(median, hole, dy, dx)
    rest = hole & np.isnan(filled).any(-1) if opts.fill_mode == "periodic" else hole
    if rest.any():
        base = np.nan_to_num(filled).round().clip(0, 255).astype(np.uint8)
        inpainted = cv2.inpaint(base, rest.astype(np.uint8), 5, cv2.INPAINT_TELEA).astype(np.float32)
        filled[rest] = inpainted[rest]
    return filled


def estimate_background(frames: np.ndarray, opts: MatteOptions) -> np.ndarray:
    """Backdrop image float32 (H,W,3) from frames uint8 (T,H,W,3) of a static camera."""
    import cv2

    idx = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), opts.median_frames)).round().astype(int))
    sample = frames[idx]
    median = np.median(sample, axis=0).astype(np.float32)
    if not opts.fill_static:
        return median
    if opts.fill_mode not in ("periodic", "inpaint"):
        raise ValueError(f"matte option fill_mode must be 'periodic' or 'inpaint', not {opts.fill_mode!r}")
    static_person = _static_candidates(median, sample, opts)
    if not static_person.any() or static_person.mean() > 0.8:
        return median  # nothing to fix, or the flood fill failed: trust the median
    # an opening drops 1-px seams the flood fill could not cross (e.g. the blurred wall/floor line): a person is thick
    static_person = cv2.morphologyEx(static_person.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    if not static_person.any():
        return median
    hole = cv2.dilate(static_person, np.ones((3, 3), np.uint8)) > 0
    filled = _fill_backdrop(median, hole, opts)
    for _ in range(opts.refine_steps):
        # The flood-fill hole is generous (a textured wall stops the fill short of the person, e.g. between the
        # legs); where the median already agrees with the filled-in backdrop it shows backdrop, so shrink the hole
        # to the disagreeing pixels and fill again from the larger known area.
        differs = np.linalg.norm(median - filled, axis=-1) > opts.threshold * opts.refine_factor
        differs = cv2.morphologyEx(differs.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        new_hole = hole & (cv2.dilate(differs, np.ones((3, 3), np.uint8)) > 0)
        if new_hole.sum() == hole.sum():
            break
        hole = new_hole
        filled = _fill_backdrop(median, hole, opts)
    return np.where(hole[..., None], filled, median)


def clean_mask(mask: np.ndarray, opts: MatteOptions) -> np.ndarray:
    """Tidy a bool (H,W) foreground mask: open/close, keep large components, fill small enclosed holes."""
    import cv2

    m = mask.astype(np.uint8)
    if opts.open_size > 1:
        m = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((opts.open_size,) * 2, np.uint8))
    if opts.close_size > 1:
        ellipse = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (opts.close_size,) * 2)
        m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, ellipse)
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


def rim_coverage(frame: np.ndarray, background: np.ndarray, fg: np.ndarray, opts: MatteOptions
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Fractional coverage of the mask's rim pixels: (coverage float32 (H,W), trusted bool (H,W)).

    frame float32 (H,W,3), background float32 (H,W,3), fg bool (H,W). A rim pixel mixes backdrop B with the
    person's colour F, which is borrowed from the nearby interior (mask eroded by one pixel); its coverage is
    the projection of I - B on F - B. It is trusted only where F stands out from B (|F - B| > edge_contrast),
    otherwise the projection is noise. A plain threshold on |I - B| counts a half-covered pixel of a
    high-contrast edge as person, which bloats the silhouette by about a pixel.
    """
    import cv2

    interior = cv2.erode(fg.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(np.float32)
    near = cv2.GaussianBlur(interior, (0, 0), 1.5)
    colour = cv2.GaussianBlur(frame * interior[..., None], (0, 0), 1.5)
    with np.errstate(invalid="ignore", divide="ignore"):
        fg_colour = colour / near[..., None]
    d = fg_colour - background
    d2 = (d * d).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        coverage = ((frame - background) * d).sum(-1) / d2
    trusted = fg & (interior == 0) & (near > 0.05) & (d2 > opts.edge_contrast ** 2)
    return np.nan_to_num(np.clip(coverage, 0.0, 1.0)).astype(np.float32), trusted


def alpha_from_background(frame: np.ndarray, background: np.ndarray, opts: MatteOptions) -> np.ndarray:
    """uint8 (H,W) alpha of one frame uint8 (H,W,3) against a backdrop float32 (H,W,3)."""
    import cv2

    image = frame.astype(np.float32)
    dist = np.linalg.norm(image - background, axis=-1)
    fg = clean_mask(dist > opts.threshold, opts)
    lo, hi = opts.threshold - opts.softness, opts.threshold + opts.softness
    soft = np.clip((dist - lo) / max(hi - lo, 1e-6), 0.0, 1.0)
    # inside the cleaned mask keep full opacity except a soft rim; outside nothing survives
    alpha = np.where(fg, np.maximum(soft, cv2.erode(fg.astype(np.uint8), np.ones((3, 3), np.uint8))), 0.0)
    if opts.edge_refine:
        coverage, trusted = rim_coverage(image, background, fg, opts)
        alpha = np.where(trusted, coverage, alpha)
    if opts.feather > 0:
        alpha = cv2.GaussianBlur(alpha.astype(np.float32), (0, 0), opts.feather)
    return np.clip(alpha * 255.0 + 0.5, 0, 255).astype(np.uint8)


def noise_level(frames: np.ndarray, background: np.ndarray) -> float:
    """Typical |I - B| (RGB Euclidean) of a backdrop pixel: the median over pixels of each pixel's temporal median.

    frames uint8 (T,H,W,3), background float32 (H,W,3). Most pixels show backdrop most of the time, so the
    median of medians measures camera noise and compression, not the person.
    """
    step = max(1, len(frames) // 16)  # a subsample is enough for a noise level
    dist = np.linalg.norm(frames[::step].astype(np.float32) - background, axis=-1)
    return float(np.median(np.median(dist, axis=0)))


def matte_background(frames: np.ndarray, opts: MatteOptions, frames_dir: Path) -> np.ndarray:
    """Backend `background`: frames uint8 (T,H,W,3) of a static camera → alpha uint8 (T,H,W)."""
    background = estimate_background(frames, opts)
    if opts.noise_factor > 0:
        # noisy footage raises the threshold; clean footage keeps the (low) configured one
        opts = dataclasses.replace(opts, threshold=max(opts.threshold,
                                                       opts.noise_factor * noise_level(frames, background)))
    return np.stack([alpha_from_background(f, background, opts) for f in frames])
