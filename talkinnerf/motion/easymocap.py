"""EasyMocap motions: a folder of per-frame ``*.json`` (name order = frame order), each holding the people of
that frame: a list of dicts, ``{"annots": [...]}`` or a single dict, with ``Rh`` (1,3), ``Th`` (1,3),
``poses`` (1,N), optional ``expression`` (1,E) and, in newer releases, ``handl`` / ``handr``.

EasyMocap turns the body with ``Rh`` about the *model origin* (vertices = R(Rh) v + Th) while SMPL-X turns it
with global_orient about the *pelvis joint* J0; the same placement in SMPL-X terms is
global_orient = Rh (composed with poses[0:3] where that is not zero) and transl = Th + (R(Rh) - I) J0.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from talkinnerf.motion.format import Motion
from talkinnerf.motion.readers import (ReadOptions, add_hand_mean, build_motion, fit_expression,
                                       hand_pca_error, pca_components, resolve_fps)
from talkinnerf.motion.rotations import aa_to_matrix, compose_aa

# values per frame of `poses` we read, and what they are
POSES_LAYOUTS = {
    66: "SMPL/SMPL+H/SMPL-X body: 3 (zeros, Rh holds the root) + 63 body",
    72: "SMPL: 24 joints x 3 (the first 22 are the SMPL-X body joints)",
    156: "SMPL+H full pose: 66 body + 45 left hand + 45 right hand",
    165: "SMPL-X full pose: 66 body + 3 jaw + 6 eyes + 45 left hand + 45 right hand",
}


def _natural_key(path: Path) -> list[Any]:
    """Name order with digit runs compared as numbers (2.json before 10.json; padded names unchanged)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def frame_files(folder: Path) -> list[Path]:
    """The per-frame .json files of a folder in frame order."""
    files = sorted(folder.glob("*.json"), key=_natural_key)
    if not files:
        raise ValueError(f"motion {folder}: no *.json frame files in the folder")
    return files


def people_of(file: Path, folder: Path) -> list[dict[str, Any]]:
    """The people of one frame file (list, {"annots": list} or a single dict)."""
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"motion {folder}: frame file {file.name} is not readable JSON ({err})") from err
    if isinstance(data, dict):
        data = data["annots"] if "annots" in data else [data]
    if not isinstance(data, list) or not all(isinstance(p, dict) for p in data):
        raise ValueError(f"motion {folder}: frame file {file.name} holds no list of people")
    if not data:
        raise ValueError(f"motion {folder}: frame file {file.name} has no person")
    return data


def _vector(person: dict[str, Any], key: str, file: Path, folder: Path) -> np.ndarray:
    if key not in person:
        raise ValueError(f"motion {folder}: frame file {file.name} has no '{key}' (keys: {sorted(person)})")
    try:
        return np.asarray(person[key], dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as err:
        raise ValueError(f"motion {folder}: frame file {file.name}: '{key}' is not a list of numbers") from err


def _stack(people: list[dict[str, Any]], files: list[Path], key: str, folder: Path) -> np.ndarray:
    """(T, n) of one key over the frames; every frame must have the same length."""
    rows = [_vector(p, key, f, folder) for p, f in zip(people, files)]
    for row, file in zip(rows, files):
        if len(row) != len(rows[0]):
            raise ValueError(f"motion {folder}: '{key}' has {len(rows[0])} values in {files[0].name} but "
                             f"{len(row)} in {file.name}")
    return np.stack(rows)


def _select(folder: Path, files: list[Path], notes: list[str]) -> list[dict[str, Any]]:
    """One person per frame: the first frame's first person, followed by its id where people have ids."""
    frames = [people_of(f, folder) for f in files]
    first = frames[0][0]
    if max(len(p) for p in frames) > 1:
        notes.append(f"several people per frame: took {'id ' + str(first['id']) if 'id' in first else 'the first'}")
    if "id" not in first:
        return [people[0] for people in frames]
    chosen = []
    for f, people in zip(files, frames):
        match = [p for p in people if p.get("id") == first["id"]]
        if not match:
            raise ValueError(f"motion {folder}: frame file {f.name} has no person with id {first['id']} "
                             f"(the person of {files[0].name})")
        chosen.append(match[0])
    return chosen


def read_easymocap(path: str | Path, opts: ReadOptions) -> Motion:
    """A folder of EasyMocap per-frame JSON -> Motion (poses layouts in POSES_LAYOUTS)."""
    folder, notes = Path(path), []
    if not folder.is_dir():
        raise ValueError(f"motion {folder}: an EasyMocap motion is a folder of per-frame .json files")
    files = frame_files(folder)
    people = _select(folder, files, notes)
    rh, th = _stack(people, files, "Rh", folder), _stack(people, files, "Th", folder)
    poses = _stack(people, files, "poses", folder)
    for name, arr in (("Rh", rh), ("Th", th)):
        if arr.shape[1] != 3:
            raise ValueError(f"motion {folder}: '{name}' has {arr.shape[1]} values per frame, expected 3")
    n, frames = poses.shape[1], len(poses)
    if n not in POSES_LAYOUTS:
        k = pca_components(n, 66)
        if k is not None and n != 72:
            raise hand_pca_error(folder, k)
        known = "; ".join(f"{k}: {v}" for k, v in POSES_LAYOUTS.items())
        raise ValueError(f"motion {folder}: 'poses' has {n} values per frame, a layout we do not know "
                         f"(supported: {known})")
    parts: dict[str, np.ndarray] = {"body_pose": poses[:, 3:66]}
    if n == 72:
        notes.append("body: SMPL 24-joint pose: joints 0-21 used as the SMPL-X body, SMPL hand joints 22-23 dropped")
    if n == 165:
        parts.update(jaw_pose=poses[:, 66:69], leye_pose=poses[:, 69:72], reye_pose=poses[:, 72:75],
                     left_hand_pose=poses[:, 75:120], right_hand_pose=poses[:, 120:165])
    else:
        notes.append("jaw, eyes: none in the source: neutral (zeros)")
    if n == 156:
        # EasyMocap writes full poses with its hand mean already added: relative to the flat hand, like ours
        parts.update(left_hand_pose=poses[:, 66:111], right_hand_pose=poses[:, 111:156])
    elif n in (66, 72):
        _compact_hands(people, files, folder, parts, opts, notes)
    # global orientation: Rh, composed with the pose's own root rotation where a file sets one
    root = poses[:, 0:3]
    turned = np.any(root != 0.0, axis=1)
    glob = rh.copy()
    if turned.any():
        glob[turned] = compose_aa(rh[turned], root[turned])
        notes.append(f"global orient: Rh composed with poses[0:3] (non-zero in {int(turned.sum())} frames)")
    parts["global_orient"] = glob
    if opts.pelvis is not None:
        pelvis = np.asarray(opts.pelvis, np.float64).reshape(3)
        parts["transl"] = th + aa_to_matrix(rh) @ pelvis - pelvis
        notes.append(f"translation: Th + (R(Rh) - I) pelvis with pelvis {np.round(pelvis, 4).tolist()} "
                     "(EasyMocap turns about the model origin, SMPL-X about the pelvis)")
    else:
        parts["transl"] = th
        notes.append("translation: Th taken as SMPL-X transl; EasyMocap turns about the model origin, SMPL-X about "
                     "the pelvis, and the difference (R(Rh) - I) pelvis is not applied (set --pelvis X Y Z)")
    has_expr = ["expression" in p for p in people]
    if any(has_expr) and not all(has_expr):
        missing = files[has_expr.index(False)].name
        raise ValueError(f"motion {folder}: 'expression' is in some frame files but not in {missing}")
    expression = _stack(people, files, "expression", folder) if all(has_expr) else None
    parts["expression"] = fit_expression(expression, frames, notes)
    fps = resolve_fps(opts, None, notes, f"source fps: EasyMocap files do not store it, {opts.default_fps:g} "
                                         "assumed (set --source-fps)")
    return build_motion(parts, frames, fps, "easymocap", folder, notes)


def _compact_hands(people: list[dict[str, Any]], files: list[Path], folder: Path, parts: dict[str, np.ndarray],
                   opts: ReadOptions, notes: list[str]) -> None:
    """Newer EasyMocap keeps hands apart (handl / handr), relative to its hand mean; none: flat hands."""
    if not all("handl" in p and "handr" in p for p in people):
        notes.append("hands: none in the source: flat")
        return
    left, right = _stack(people, files, "handl", folder), _stack(people, files, "handr", folder)
    if left.shape[1] != 45 or right.shape[1] != 45:
        raise hand_pca_error(folder, left.shape[1])
    parts["left_hand_pose"], parts["right_hand_pose"] = left, right
    add_hand_mean(parts, opts, "EasyMocap handl/handr", notes)
