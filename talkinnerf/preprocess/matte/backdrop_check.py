"""Clean a learned matte (rvm, mediapipe) against the video's own static backdrop.

A learned matte sometimes takes a piece of the wall as person (a bright patch beside the head, a detached blob);
the avatar then wears it. With a static camera the video tells what the wall looks like: wherever the learned
matte says background, the pixel shows the backdrop. So

1. **Plate.** Per pixel, the median colour over the (≤ `max_frames`, evenly spaced) frames whose alpha is below
   `bg_alpha`, how many of them saw it, and its spread (median |I − plate|, RGB Euclidean). A pixel's plate is
   *trusted* when it was backdrop in ≥ `min_seen` of the sampled frames (and ≥ `MIN_SEEN_FRAMES`) and its spread
   is ≤ `spread_factor` × the footage noise (the median spread of the seen pixels, i.e.
   `background.noise_level` measured on backdrop samples only). Behind a torso that never moves the plate is
   never seen, so nothing can be removed there.
2. **Static check.** A moving camera or changing light makes the spread large everywhere: if the noise exceeds
   `MAX_NOISE` or fewer than `MIN_TRUSTED` of the pixels are trusted, nothing is removed (the report says why).
3. **Per frame.** Candidates = foreground pixels (alpha ≥ 0.5) on a trusted plate whose colour lies within
   `match` × noise (at least `MATCH_FLOOR`) of it. Removed whole: detached foreground components (not the largest)
   made of ≥ `BLOB_SHARE` candidates, and candidate regions (8-connected) that cover ≥ `min_region` of the image,
   lie on the matte's outline (≥ `outline_share` of their boundary pixels: a wall-coloured shirt inside the body
   is never touched) and reach no deeper than `max_depth` × the short image side into the matte (a region reaching
   deeper is something the person wears, or a matte too wrong to guess: kept). Then leftovers of the removal
   (small components whose boundary mostly borders removed pixels) and the removed region's soft rim go too; a
   component that borders the background (a detached hand, a head cut off at a thin neck) stays.

Pure numpy/cv2; about 6 ms per 256 px frame on one CPU thread. See docs/matting.md (section "Backdrop check").
"""

from __future__ import annotations

import dataclasses

import numpy as np

MIN_SEEN_FRAMES = 5     # a plate needs at least this many backdrop samples, whatever min_seen says
MAX_NOISE = 8.0         # footage noise (RGB, 0..255) above which the backdrop is not static: skip the clean-up
MIN_TRUSTED = 0.05      # skip the clean-up when fewer than this fraction of the pixels have a trusted plate
MATCH_FLOOR = 6.0       # smallest match distance (RGB), for noise-free footage
NOISE_FLOOR = 1.0       # smallest noise level the spread test scales with
MIN_CONTACT = 3         # outline pixels a candidate region needs to count as attached at the matte's edge
BLOB_SHARE = 0.8        # a detached foreground component this much backdrop is a blob of wall
FRAGMENT_SHARE = 0.5    # a small leftover component whose boundary borders removed pixels this much goes too


@dataclasses.dataclass
class Plate:
    """The backdrop as the learned matte's background pixels show it."""

    colour: np.ndarray   # float32 (H,W,3): median backdrop colour (0 where never seen)
    seen: np.ndarray     # int32 (H,W): sampled frames in which the pixel was backdrop
    spread: np.ndarray   # float32 (H,W): median |I - colour| over those frames (inf where never seen)
    sampled: int         # frames sampled


def _masked_median(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Median along axis 0 of values (S,...) over the entries where valid (S,...) is True (NaN where none).

    Vectorised: invalid entries sort to the end as +inf, then the middle of the valid ones is picked per pixel
    (the mean of the two middle ones for an even count).
    """
    data = np.where(valid, values, np.inf).astype(np.float32)
    data.sort(axis=0)
    count = valid.sum(0)
    lo = np.clip((count - 1) // 2, 0, len(values) - 1)
    hi = np.clip(count // 2, 0, len(values) - 1)
    a = np.take_along_axis(data, lo[None], 0)[0]
    b = np.take_along_axis(data, hi[None], 0)[0]
    with np.errstate(invalid="ignore"):
        out = 0.5 * (a + b)
    return np.where(count > 0, out, np.nan).astype(np.float32)


def estimate_plate(frames: np.ndarray, alphas: np.ndarray, max_frames: int = 60, bg_alpha: float = 0.1) -> Plate:
    """Backdrop plate of frames uint8 (T,H,W,3) from the learned alphas uint8 (T,H,W): see the module doc."""
    idx = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), max_frames)).round().astype(int))
    sample = frames[idx]
    background = alphas[idx] < bg_alpha * 255.0
    colour = np.stack([_masked_median(sample[..., c], background) for c in range(3)], -1)
    seen = background.sum(0).astype(np.int32)
    colour = np.nan_to_num(colour)
    dist = np.stack([np.linalg.norm(f.astype(np.float32) - colour, axis=-1) for f in sample])
    spread = np.nan_to_num(_masked_median(dist, background), nan=np.inf)
    return Plate(colour=colour, seen=seen, spread=spread, sampled=len(idx))


def plate_noise(plate: Plate, min_seen: float = 0.2) -> float:
    """Footage noise (RGB): the median spread of the pixels seen as backdrop often enough (inf if there are none)."""
    enough = plate.seen >= max(MIN_SEEN_FRAMES, min_seen * plate.sampled)
    return float(np.median(plate.spread[enough])) if enough.any() else float("inf")


def trusted_plate(plate: Plate, noise: float, min_seen: float = 0.2, spread_factor: float = 3.0) -> np.ndarray:
    """bool (H,W): pixels whose plate was seen often enough and is stable (spread ≤ spread_factor × noise)."""
    enough = plate.seen >= max(MIN_SEEN_FRAMES, min_seen * plate.sampled)
    return enough & (plate.spread <= spread_factor * max(noise, NOISE_FLOOR))


def _drop_labels(labels: np.ndarray, drop: np.ndarray) -> np.ndarray:
    """bool mask of the pixels whose label is flagged in drop (bool per label, label 0 never)."""
    drop = drop.copy()
    drop[0] = False
    return drop[labels]


def clean_frame(frame: np.ndarray, alpha: np.ndarray, plate: Plate, trusted: np.ndarray, match_dist: float,
                min_region_px: int, max_depth_px: float, outline_share: float = 0.25, keep_fraction: float = 0.1
                ) -> tuple[np.ndarray, int]:
    """One frame: (alpha uint8 (H,W) with the backdrop regions removed, number of foreground pixels removed).

    Removed whole: detached foreground components (not the largest) that are ≥ `BLOB_SHARE` backdrop candidates,
    and candidate regions (8-connected) of ≥ min_region_px pixels that sit on the matte's outline (≥ outline_share
    of the region's boundary pixels, and ≥ `MIN_CONTACT`, lie on it) and reach no deeper than max_depth_px into the
    matte (a region reaching deeper is something the person wears, or a matte too wrong to guess: kept).
    """
    import cv2

    fg = alpha >= 128
    dist = np.linalg.norm(frame.astype(np.float32) - plate.colour, axis=-1)
    cand = fg & trusted & (dist <= match_dist)
    if cand.sum() < min_region_px:
        return alpha, 0
    box = np.ones((3, 3), np.uint8)
    removed = np.zeros_like(fg)
    # detached blobs: foreground components other than the largest made (nearly) only of backdrop
    count, labels, stats, _ = cv2.connectedComponentsWithStats(fg.astype(np.uint8), connectivity=8)
    if count > 2:
        areas = stats[:, cv2.CC_STAT_AREA].copy()
        areas[0] = 0
        share = np.bincount(labels[cand], minlength=count) / np.maximum(areas, 1)
        blob = (share >= BLOB_SHARE) & (areas >= min_region_px)
        blob[np.argmax(areas)] = False
        removed |= _drop_labels(labels, blob)
    # regions on the outline of what is left
    depth = cv2.distanceTransform(fg.astype(np.uint8), cv2.DIST_L2, 3)  # the image border is no outline
    outline = fg & (depth < 1.5)
    cand &= ~removed
    count, labels, stats, _ = cv2.connectedComponentsWithStats(cand.astype(np.uint8), connectivity=8)
    if count > 1:
        boundary = cand & (cv2.erode(cand.astype(np.uint8), box, borderValue=1) == 0)
        contact = np.bincount(labels[outline & cand], minlength=count)
        perimeter = np.bincount(labels[boundary], minlength=count)
        deepest = np.zeros(count, np.float32)
        np.maximum.at(deepest, labels[cand], depth[cand])
        keep = ((stats[:, cv2.CC_STAT_AREA] >= min_region_px) & (contact >= MIN_CONTACT)
                & (contact >= outline_share * perimeter) & (deepest <= max_depth_px))
        removed |= _drop_labels(labels, keep)
    if not removed.any():
        return alpha, 0
    # fragments the removal left behind: leftovers inside the removed region (noise pixels that missed the match,
    # slivers), i.e. small components whose boundary mostly borders the removed pixels; a head that is its own
    # component (a thin neck) borders the background and stays
    rest = fg & ~removed
    near = cv2.dilate(removed.astype(np.uint8), box) > 0
    count, labels, stats, _ = cv2.connectedComponentsWithStats(rest.astype(np.uint8), connectivity=8)
    if count > 1:
        areas = stats[:, cv2.CC_STAT_AREA].copy()
        areas[0] = 0
        edge = rest & (cv2.erode(rest.astype(np.uint8), box, borderValue=1) == 0)
        edge_px = np.bincount(labels[edge], minlength=count)
        edge_near = np.bincount(labels[edge & near], minlength=count)
        fragment = (edge_near >= FRAGMENT_SHARE * edge_px) & (edge_near > 0) & (areas < keep_fraction * areas.max())
        removed |= _drop_labels(labels, fragment)
    # the removed region's soft rim (alpha < 0.5 just outside it) goes too, but not the person's own rim
    kept = cv2.dilate((fg & ~removed).astype(np.uint8), box) > 0
    rim = (cv2.dilate(removed.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0) & ~fg & ~kept
    out = alpha.copy()
    out[removed | rim] = 0
    return out, int(removed.sum())


def check_backdrop(frames: np.ndarray, alphas: np.ndarray, *, match: float = 4.0, min_seen: float = 0.2,
                   spread_factor: float = 3.0, min_region: float = 0.0005, max_depth: float = 0.1,
                   outline_share: float = 0.25, keep_fraction: float = 0.1, max_frames: int = 60,
                   bg_alpha: float = 0.1
                   ) -> tuple[np.ndarray, dict]:
    """Learned alphas uint8 (T,H,W) of frames uint8 (T,H,W,3) cleaned against the static backdrop, and a report.

    The report (JSON-ready) says whether it ran (`applied`; else `skipped`: why), the footage `noise`, the
    `trusted` fraction of pixels, the `match` distance, `removed` (fraction of all foreground pixels, alpha ≥ 0.5),
    `frames_touched` and `worst_frames` (index and removed fraction of the foreground, most first).
    """
    if frames.shape[:3] != alphas.shape or alphas.dtype != np.uint8:
        raise ValueError(f"backdrop check: frames {frames.shape} and alphas {alphas.shape} {alphas.dtype} disagree")
    if len(frames) == 0:
        return alphas, {"applied": False, "skipped": "no frames", "removed": 0.0, "frames_touched": 0}
    plate = estimate_plate(frames, alphas, max_frames=max_frames, bg_alpha=bg_alpha)
    noise = plate_noise(plate, min_seen)
    trusted = trusted_plate(plate, noise, min_seen, spread_factor)
    report: dict = {"applied": False, "noise": round(noise, 3) if np.isfinite(noise) else None,
                    "trusted": round(float(trusted.mean()), 4), "removed": 0.0, "frames_touched": 0}
    if not np.isfinite(noise):
        report["skipped"] = f"no pixel was background in enough frames (≥ {min_seen:g} and ≥ {MIN_SEEN_FRAMES})"
        return alphas, report
    if noise > MAX_NOISE:
        report["skipped"] = f"backdrop not static (noise {noise:.1f} > {MAX_NOISE})"
        return alphas, report
    if trusted.mean() < MIN_TRUSTED:
        report["skipped"] = f"too little trusted backdrop ({trusted.mean():.3f} < {MIN_TRUSTED} of the pixels)"
        return alphas, report
    h, w = alphas.shape[1:]
    match_dist = max(match * noise, MATCH_FLOOR)
    min_region_px = max(1, int(round(min_region * h * w)))
    max_depth_px = max_depth * min(h, w)
    out = alphas.copy()
    removed = np.zeros(len(alphas), np.int64)
    for t in range(len(alphas)):
        out[t], removed[t] = clean_frame(frames[t], alphas[t], plate, trusted, match_dist, min_region_px,
                                         max_depth_px, outline_share, keep_fraction)
    fg = (alphas >= 128).sum((1, 2))
    share = removed / np.maximum(fg, 1)
    worst = np.argsort(-share, kind="stable")[: min(5, int((removed > 0).sum()))]
    report.update(applied=True, match=round(match_dist, 2), removed=round(float(removed.sum() / max(fg.sum(), 1)), 6),
                  frames_touched=int((removed > 0).sum()),
                  worst_frames=[[int(t), round(float(share[t]), 4)] for t in worst])
    return out, report
