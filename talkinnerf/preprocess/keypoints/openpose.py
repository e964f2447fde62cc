"""Backend `openpose`: OpenPose JSON written per *source* video frame (BODY_25, 2×21 hand, 70 face points,
video pixel coordinates of the upright video). The main person of each kept frame (meta.json `source_frames`),
in source pixels; the package maps them through meta.json `transform`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from talkinnerf.preprocess.keypoints import KeypointOptions, KeypointSources

PARTS = {  # npz key -> (OpenPose JSON key, number of points)
    "body": ("pose_keypoints_2d", 25),
    "left_hand": ("hand_left_keypoints_2d", 21),
    "right_hand": ("hand_right_keypoints_2d", 21),
    "face": ("face_keypoints_2d", 70),
}


_NUMBER = re.compile(r"(\d+)_keypoints\.json$")


def openpose_files(folder: str | os.PathLike) -> dict[int, Path]:
    """Map source frame index → JSON file for `*_keypoints.json` in ``folder``.

    The index is the number right before `_keypoints.json`, counted from the smallest one present (OpenPose
    numbers frames from 0; some tools from 1).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"OpenPose folder {folder} does not exist: run OpenPose on the video with --write_json {folder} "
            f"(--hand --face for hands and face) so it holds one <name>_<frame>_keypoints.json per video frame")
    numbered = {}
    for path in folder.glob("*_keypoints.json"):
        match = _NUMBER.search(path.name)
        if match:
            numbered[int(match.group(1))] = path
    if not numbered:
        raise FileNotFoundError(f"OpenPose folder {folder} holds no *_keypoints.json files "
                                f"(expected one per video frame, e.g. 000000_keypoints.json)")
    first = min(numbered)
    return {n - first: p for n, p in sorted(numbered.items())}


def _points(person: dict, key: str, count: int) -> np.ndarray:
    """(count,3) float array of one person's part; zeros when the part is absent."""
    flat = person.get(key) or []
    arr = np.asarray(flat, dtype=np.float64)
    if arr.size != count * 3:
        return np.zeros((count, 3))
    return arr.reshape(count, 3)


def person_score(body: np.ndarray) -> float:
    """Size × confidence of a (25,3) body: bbox diagonal of its confident points times their mean confidence.

    Picks the talking subject (close to the camera, well detected) over small or ghost detections.
    """
    seen = body[:, 2] > 0
    if seen.sum() < 2:
        return float(body[:, 2].sum())
    xy = body[seen, :2]
    diagonal = float(np.linalg.norm(xy.max(0) - xy.min(0)))
    return diagonal * float(body[seen, 2].mean()) + 1e-6 * float(seen.sum())


def read_openpose_frame(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Parts of the main person in one OpenPose JSON file (source pixels); zeros when nobody is detected."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read OpenPose file {path}: {err}") from err
    people = data.get("people") or []
    if not people:
        return {name: np.zeros((n, 3)) for name, (_, n) in PARTS.items()}
    parsed = [{name: _points(p, key, n) for name, (key, n) in PARTS.items()} for p in people]
    return max(parsed, key=lambda parts: person_score(parts["body"]))


def keypoints_openpose(sources: KeypointSources, meta: dict, opts: KeypointOptions) -> dict[str, np.ndarray]:
    """(F,N,3) source-pixel arrays per part for the kept frames, from ``sources.openpose``."""
    if sources.openpose is None:
        raise FileNotFoundError(f"keypoints of {sources.name}: backend openpose needs the OpenPose folder "
                                f"(--openpose)")
    openpose_dir = Path(sources.openpose)
    files = openpose_files(openpose_dir)
    missing = [i for i in meta["source_frames"] if i not in files]
    if missing:
        raise ValueError(f"OpenPose folder {openpose_dir} has no JSON for source frame(s) {missing[:5]}"
                         f"{'...' if len(missing) > 5 else ''} of {meta.get('source', 'the video')}")
    frames = [read_openpose_frame(files[i]) for i in meta["source_frames"]]
    return {name: np.stack([f[name] for f in frames]) for name in PARTS}
