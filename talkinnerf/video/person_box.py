"""Where to crop: the square crop box of `talkinnerf video decode` (centre, full frame, or around the person).

All boxes are in upright source pixels. ONE box serves the whole video, never one per frame: the NeRF and the
fit assume a static camera with fixed intrinsics, and a crop that moved or zoomed per frame would be a camera
that moves or zooms (a per-frame K and a background that slides); the box therefore covers the person's extent
over the whole clip.

Person routes:
- ``mediapipe``: MediaPipe Pose (static-image mode, model_complexity 1, offline in the wheel) on a few evenly
  spaced downscaled frames; visible landmarks plus an estimate of the head top and of the hands (the pose points
  stop at the eyes/ears and the knuckles) give the person's extent. The box side is ``margin ×`` the extent's
  longer side, may be smaller than the frame's short side (the person is zoomed in), and is floored so the
  output is never upsampled past the source resolution.
- ``motion``: pixels that differ from the median frame. It only sees what moved (a talking person may move just
  the mouth and hands), so its box is never smaller than the frame's short side (the pre-detector behaviour).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

Extent = tuple[float, float, float, float]  # x0, y0, x1, y1 (continuous source pixels)


@dataclasses.dataclass(frozen=True)
class CropBox:
    """Integer square in upright source pixels; may extend past the frame (padded)."""

    x0: int
    y0: int
    side: int

    def transform(self, size: int) -> dict:
        scale = size / self.side
        return {"scale": scale, "offset": [-scale * self.x0, -scale * self.y0]}


def center_box(width: int, height: int) -> CropBox:
    """Largest centred square inside the frame (side = short side)."""
    side = min(width, height)
    return CropBox((width - side) // 2, (height - side) // 2, side)


def full_box(width: int, height: int) -> CropBox:
    """The whole frame, centred in a square of the long side (padded on the short axis)."""
    side = max(width, height)
    return CropBox(-((side - width + 1) // 2), -((side - height + 1) // 2), side)


def _place(centre: float, side: int, extent: int, step: int = 1) -> int:
    """Start of a ``side`` interval around ``centre``: slid inside [0, extent) when it fits, else centred."""
    if side <= extent:
        start = float(np.clip(centre - side / 2, 0, extent - side))
        return int(math.floor(start / step + 0.5)) * step if step > 1 else int(round(start))
    return -int(math.ceil((side - extent) / 2 / step)) * step


def person_box(bbox: Extent | None, width: int, height: int, margin: float,
               min_side: float | None = None) -> CropBox:
    """Square around ``bbox`` (source pixels) of side ``margin ×`` its longer side, within [min_side, long side].

    ``min_side`` None keeps the motion route's rule: never smaller than the frame's short side. When the person
    fits the short side but the margin would not, the side is the short side (a margin beyond the frame would be
    padding only). The square slides to stay inside the frame where it fits and is centred (padded) where not.
    """
    short, long = min(width, height), max(width, height)
    if bbox is None:
        return center_box(width, height)
    x0, y0, x1, y1 = bbox
    extent = max(x1 - x0, y1 - y0, 1.0)
    floor = short if min_side is None else min(float(min_side), short)
    side = max(margin * extent, floor)
    if extent <= short < side:
        side = short
    side = int(round(min(side, long)))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return CropBox(_place(cx, side, width), _place(cy, side, height), side)


def snap_box(box: CropBox, width: int, height: int, step: int) -> CropBox:
    """``box`` with x0, y0 and side multiples of ``step`` (which divides width and height), still covering it.

    Lets the decoder downscale by the integer factor ``step`` while the crop stays on whole pixels.
    """
    if step <= 1:
        return box
    side = min(int(math.ceil(box.side / step)) * step, max(width, height))
    cx, cy = box.x0 + box.side / 2, box.y0 + box.side / 2
    return CropBox(_place(cx, side, width, step), _place(cy, side, height, step), side)


# ---------------------------------------------------------------------------------------------- motion


def motion_bbox(thumbs: np.ndarray, threshold: float) -> Extent | None:
    """Bbox (x0, y0, x1, y1) in thumbnail pixels of where frames differ from the median frame.

    thumbs: uint8 (T,h,w,3). A pixel counts when it differs in at least 2% of the frames (and in ≥1), which
    ignores compression flicker; returns None when nothing moves.
    """
    if len(thumbs) < 2:
        return None
    median = np.median(thumbs, axis=0)
    diff = np.abs(thumbs.astype(np.float32) - median[None]).max(axis=-1) > threshold  # (T,h,w)
    freq = diff.mean(axis=0)
    moving = freq >= max(0.02, 1.0 / len(thumbs) - 1e-9)
    import cv2

    moving = cv2.morphologyEx(moving.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0
    ys, xs = np.nonzero(moving)
    if len(xs) == 0:
        return None
    return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)


# ---------------------------------------------------------------------------------------------- detector

# MediaPipe Pose landmark indices (BlazePose topology)
_FACE = list(range(11))            # nose, eyes (inner, centre, outer), ears 7/8, mouth corners 9/10
_EARS, _EYES, _MOUTH = (7, 8), (2, 5), (9, 10)
_HANDS = ((15, (17, 19, 21), 13), (16, (18, 20, 22), 14))  # wrist, knuckle points, elbow (left, right)


def landmark_extent(points: np.ndarray, visible: np.ndarray) -> Extent | None:
    """Extent (x0, y0, x1, y1) of one person from 33 pose landmarks (33, 2) in pixels and their visibility mask.

    Pose landmarks stop at the eyes/ears and the finger knuckles, so the head and hands are grown: the head by
    a radius from the ear distance or the eye-mouth distance (the skull top lies about 1.4 radii above the face
    centre), each hand by a circle around the knuckles of the wrist-knuckle distance (fingertips lie about that far
    beyond the knuckles), or around the wrist of a third of the forearm.
    """
    if not visible.any():
        return None
    pts = [points[visible]]
    face = [i for i in _FACE if visible[i]]
    if face:
        c = points[face].mean(axis=0)
        radius = 0.0
        if all(visible[i] for i in _EARS):
            radius = max(radius, 0.7 * float(np.linalg.norm(points[_EARS[0]] - points[_EARS[1]])))
        if all(visible[i] for i in _EYES + _MOUTH):
            eyes, mouth = points[list(_EYES)].mean(0), points[list(_MOUTH)].mean(0)
            radius = max(radius, 1.5 * float(np.linalg.norm(eyes - mouth)))
        if all(visible[i] for i in (11, 12)):  # shoulders: a head is at least ~2/5 of the shoulder width across
            radius = max(radius, 0.2 * float(np.linalg.norm(points[11] - points[12])))
        if radius > 0:
            pts.append(np.array([[c[0] - radius, c[1] - 1.4 * radius], [c[0] + radius, c[1] + radius]]))
    for wrist, knuckles, elbow in _HANDS:
        if not visible[wrist]:
            continue
        seen = [k for k in knuckles if visible[k]]
        if seen:
            r = max(float(np.linalg.norm(points[k] - points[wrist])) for k in seen)
        elif visible[elbow]:
            r = float(np.linalg.norm(points[elbow] - points[wrist])) / 3.0
        else:
            continue
        centre = points[seen].mean(axis=0) if seen else points[wrist]
        pts.append(np.array([centre - r, centre + r]))
    allp = np.concatenate(pts, axis=0)
    x0, y0 = allp.min(axis=0)
    x1, y1 = allp.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def union_extent(boxes: list[Extent], width: int, height: int) -> Extent | None:
    """Union of per-frame extents, clipped to the frame, ignoring frames whose centre is far from the others.

    A frame counts as an outlier (a false detection) when its centre is more than one median box size away from
    the median centre.
    """
    if not boxes:
        return None
    arr = np.asarray(boxes, dtype=np.float64)
    centres = (arr[:, :2] + arr[:, 2:]) / 2
    sizes = np.maximum(arr[:, 2] - arr[:, 0], arr[:, 3] - arr[:, 1])
    far = np.linalg.norm(centres - np.median(centres, axis=0), axis=1) > max(float(np.median(sizes)), 1.0)
    arr = arr[~far]
    x0 = float(np.clip(arr[:, 0].min(), 0, width))
    y0 = float(np.clip(arr[:, 1].min(), 0, height))
    x1 = float(np.clip(arr[:, 2].max(), 0, width))
    y1 = float(np.clip(arr[:, 3].max(), 0, height))
    if x1 - x0 < 1 or y1 - y0 < 1:
        return None
    return x0, y0, x1, y1


def mediapipe_extent(images: list[np.ndarray], width: int, height: int, min_visibility: float = 0.5,
                     min_detected: float = 0.25) -> tuple[Extent | None, int]:
    """The person's extent in source pixels over ``images`` (upright RGB uint8, any scale of the source frame).

    Returns (extent or None, number of images with a person). None also when fewer than ``min_detected`` of the
    images hold a person (a rare detection is more likely a false one than the subject).
    """
    if not images:
        return None, 0
    import mediapipe as mp

    boxes: list[Extent] = []
    with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1, enable_segmentation=False,
                                min_detection_confidence=0.5) as pose:
        for image in images:
            result = pose.process(np.ascontiguousarray(image))
            if result.pose_landmarks is None:
                continue
            lm = np.array([[p.x * width, p.y * height, p.visibility] for p in result.pose_landmarks.landmark])
            box = landmark_extent(lm[:, :2], lm[:, 2] > min_visibility)
            if box is not None:
                boxes.append(box)
    if len(boxes) < max(1, min_detected * len(images)):
        return None, len(boxes)
    return union_extent(boxes, width, height), len(boxes)
