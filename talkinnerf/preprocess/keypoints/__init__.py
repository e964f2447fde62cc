"""2D keypoints per kept frame, in frame pixels: `keypoints/s.npz` (docs/contracts.md).

Layout (whatever the backend): OpenPose BODY_25, 21 points per hand (`left_hand` is the subject's own left),
70 face points; float32 (F,N,3) arrays whose last column is the confidence; a missing point (or one below
`min_confidence`) is all zeros. Each backend returns points in *source* pixels of the upright video, which
:func:`to_frame_pixels` maps through meta.json `transform`.

Backends (one module each):
- `openpose` (keypoints/openpose.py): OpenPose JSON per source frame, from the subject's `openpose/` folder.
- `mediapipe` (keypoints/mediapipe.py): MediaPipe Holistic in tracking mode over the video's kept frames.
- `auto` (the default): `openpose` when the subject's OpenPose folder exists, else `mediapipe`.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Callable

import numpy as np

from talkinnerf.io import read_json, save_npz
from talkinnerf.preprocess.keypoints.mediapipe import holistic_to_openpose, keypoints_mediapipe
from talkinnerf.preprocess.keypoints.openpose import (PARTS, keypoints_openpose, openpose_files, person_score,
                                                      read_openpose_frame)

__all__ = ["PARTS", "BACKENDS", "KeypointOptions", "KeypointSources", "extract_keypoints", "run_keypoints",
           "resolve_backend", "to_frame_pixels", "holistic_to_openpose", "openpose_files", "person_score",
           "read_openpose_frame"]


@dataclasses.dataclass
class KeypointOptions:
    """Options of `talkinnerf preprocess keypoints` (config.yaml section `keypoints`)."""

    backend: str = "auto"             # auto | openpose | mediapipe (auto: openpose when its folder exists)
    min_confidence: float = 0.05      # points below this confidence are treated as missing
    # mediapipe backend
    min_visibility: float = 0.5       # pose points whose MediaPipe visibility is lower are missing
    landmark_confidence: float = 1.0  # confidence of detected hand / face points (MediaPipe gives none per point)
    pose_hand_confidence: float = 0.5  # a hand the hand model missed: the pose's wrist and knuckle points at
                                       # visibility x this (0: such a hand stays missing; docs/fitting.md)
    max_long_side: int | None = 1280  # run on source frames downscaled to this long side (None: full size)
    min_detection_rate: float = 0.5   # fail when a person is found in fewer than this fraction of frames
    progress: bool = True             # progress bar (terminal) or one line per tenth of the frames (log file)

    def __post_init__(self):
        for name in ("min_confidence", "min_visibility", "landmark_confidence", "pose_hand_confidence",
                     "min_detection_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"keypoints.{name} must lie in [0, 1], got {value}")


@dataclasses.dataclass
class KeypointSources:
    """Where a backend reads from: the subject's OpenPose folder and/or its video; ``name`` for messages."""

    name: str
    openpose: Path | None = None
    video: Path | None = None


Backend = Callable[[KeypointSources, dict, KeypointOptions], dict]
BACKENDS: dict[str, Backend] = {"openpose": keypoints_openpose, "mediapipe": keypoints_mediapipe}


def resolve_backend(backend: str, openpose_dir: str | os.PathLike | None) -> str:
    """The backend that runs: ``auto`` is `openpose` when ``openpose_dir`` is an existing folder, else
    `mediapipe`; others pass through (unknown names raise ValueError)."""
    if backend == "auto":
        return "openpose" if openpose_dir is not None and Path(openpose_dir).is_dir() else "mediapipe"
    if backend not in BACKENDS:
        raise ValueError(f"unknown keypoint backend {backend!r}; known: {['auto', *sorted(BACKENDS)]}")
    return backend


def to_frame_pixels(points: np.ndarray, transform: dict, min_confidence: float) -> np.ndarray:
    """Map (...,3) [x, y, conf] source-pixel points to frame pixels; missing points become all zeros."""
    scale = float(transform["scale"])
    offset = np.asarray(transform["offset"], dtype=np.float64)
    out = np.array(points, dtype=np.float64, copy=True)
    out[..., :2] = out[..., :2] * scale + offset
    keep = out[..., 2] >= max(min_confidence, 1e-12)
    out[~keep] = 0.0
    return out.astype(np.float32)


def extract_keypoints(frames_dir: str | os.PathLike, source_dir: str | os.PathLike | None = None,
                      opts: KeypointOptions | None = None, *, video: str | os.PathLike | None = None,
                      ) -> dict[str, np.ndarray]:
    """Keypoints of the kept frames of ``frames_dir`` (its meta.json) in frame pixels.

    ``source_dir`` is the subject's OpenPose folder (may be missing for `auto`/`mediapipe`); ``video`` the
    subject's video for `mediapipe` (default: meta.json `source`). The subject is named after ``frames_dir``.
    """
    opts = opts or KeypointOptions()
    frames_dir = Path(frames_dir)
    meta = read_json(frames_dir / "meta.json")
    for key in ("source_frames", "transform", "count"):
        if key not in meta:
            raise ValueError(f"{frames_dir / 'meta.json'} lacks {key!r}; re-run `talkinnerf video decode`")
    backend = resolve_backend(opts.backend, source_dir)
    if opts.backend == "auto":
        why = "OpenPose folder found" if backend == "openpose" else f"no OpenPose folder at {source_dir}"
        print(f"keypoints of {frames_dir.name}: backend auto -> {backend} ({why})", flush=True)
    sources = KeypointSources(name=frames_dir.name,
                              openpose=Path(source_dir) if source_dir is not None else None,
                              video=Path(video) if video is not None else None)
    raw = BACKENDS[backend](sources, meta, opts)
    out = {name: to_frame_pixels(raw[name], meta["transform"], opts.min_confidence) for name in PARTS}
    if len(out["body"]) != meta["count"]:
        raise ValueError(f"keypoints for {frames_dir}: {len(out['body'])} frames, meta.json says {meta['count']}")
    return out


def run_keypoints(frames_dir: str | os.PathLike, source_dir: str | os.PathLike | None, out: str | os.PathLike,
                  opts: KeypointOptions | None = None, *, video: str | os.PathLike | None = None,
                  ) -> dict[str, np.ndarray]:
    """Stage: write `out` (.npz) with body/left_hand/right_hand/face (F,N,3) float32."""
    arrays = extract_keypoints(frames_dir, source_dir, opts, video=video)
    seen = (arrays["body"][..., 2] > 0).sum(axis=1) if len(arrays["body"]) else np.zeros(0)
    if not (seen >= MIN_BODY_POINTS).any():
        from talkinnerf.failures import SubjectInputError

        raise SubjectInputError(
            f"keypoints of {frames_dir}: no person found in any of its {len(seen)} frames (no frame has "
            f"{MIN_BODY_POINTS} or more body keypoints)",
            "use a video where one person's upper body and face are visible, or provide OpenPose JSON in "
            "<videos>/<name>/openpose/")
    save_npz(out, **arrays)
    return arrays


MIN_BODY_POINTS = 3  # fewer than this in every frame: there is nobody to fit a body to
