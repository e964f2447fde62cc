"""The inverse of the readers: our motion written in each published layout (AMASS SMPL-X / SMPL+H, TalkSHOW,
EasyMocap, ours), so that ``convert_motion(write_layout(m, layout, path))`` gives ``m`` back.

Each writer undoes convert.py's world turn for the layout's default source world (AMASS / EasyMocap z-up,
TalkSHOW y-down): global orient ``W^T R``, translation ``W^T t``; convert turns both about the origin again, so
rotations come back equal as rotations and translations exactly (to float64 rounding). What a layout cannot
hold is noted in ``notes`` (SMPL+H: jaw, eyes, expression; TalkSHOW: translation, expression past 10 is zero,
rate fixed at 30 fps; EasyMocap: no frame rate). See docs/motion.md ("Writing the published layouts").
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from talkinnerf.io import atomic_dir, atomic_path
from talkinnerf.motion.convert import DEFAULT_WORLD, WORLD_TURN, turn_about_x
from talkinnerf.motion.format import Motion, save_motion, validate
from talkinnerf.motion.readers import TALKSHOW_FPS
from talkinnerf.motion.resample import resample_motion
from talkinnerf.motion.rotations import aa_to_matrix

WRITE_LAYOUTS = ("amass-smplx", "amass-smplh", "talkshow", "easymocap", "ours")
TALKSHOW_EXPRESSION = 100
AMASS_BETAS = 16


def from_our_world(motion: Motion, world: str) -> Motion:
    """The inverse of convert.to_our_world: our world (y up) -> the source world ``world``."""
    if world not in WORLD_TURN:
        raise ValueError(f"unknown source world {world!r}; known: {', '.join(WORLD_TURN)}")
    angle = WORLD_TURN[world]
    if angle == 0.0:
        return motion
    return turn_about_x(motion, -angle)      # W^T = the turn by -angle


def _flat(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, np.float64).reshape(len(x), -1)


def _write_npz(path: Path, **arrays: np.ndarray) -> None:
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)


def _amass_smplx(m: Motion, path: Path, notes: list[str]) -> None:
    poses = np.concatenate([m.global_orient, _flat(m.body_pose), m.jaw_pose, m.leye_pose, m.reye_pose,
                            _flat(m.left_hand_pose), _flat(m.right_hand_pose)], 1)
    notes.append(f"betas: zeros ({AMASS_BETAS}), gender neutral: the avatar keeps its own shape")
    _write_npz(path, poses=poses, trans=m.transl, betas=np.zeros(AMASS_BETAS),
               mocap_frame_rate=np.array(float(m.fps)), expression=m.expression, gender=np.array("neutral"),
               surface_model_type=np.array("smplx"))


def _amass_smplh(m: Motion, path: Path, notes: list[str]) -> None:
    poses = np.concatenate([m.global_orient, _flat(m.body_pose), _flat(m.left_hand_pose),
                            _flat(m.right_hand_pose)], 1)
    dropped = [k for k in ("jaw_pose", "leye_pose", "reye_pose", "expression") if np.any(getattr(m, k))]
    notes.append("face: SMPL+H has no jaw, eyes or expression: dropped"
                 + (f" (non-zero: {', '.join(dropped)})" if dropped else " (all zero)"))
    _write_npz(path, poses=poses, trans=m.transl, betas=np.zeros(AMASS_BETAS),
               mocap_framerate=np.array(float(m.fps)), gender=np.array("neutral"))


def _talkshow(m: Motion, path: Path, notes: list[str], hand_mean: tuple[np.ndarray, np.ndarray] | None) -> None:
    left, right = _flat(m.left_hand_pose), _flat(m.right_hand_pose)
    if hand_mean is not None:
        # TalkSHOW's hands are relative to the SMPL-X mean hand (smplx adds it to the vector): subtract it
        left, right = left - hand_mean[0], right - hand_mean[1]
        notes.append("hands: SMPL-X mean hand subtracted (TalkSHOW is mean-relative); convert with the same "
                     "--hand-mean to get them back")
    else:
        notes.append("hands: written flat-relative (no hand-mean model): TalkSHOW's own renders add the mean "
                     "hand; `motion convert` without --hand-mean reads them back unchanged")
    expression = np.pad(m.expression, ((0, 0), (0, TALKSHOW_EXPRESSION - m.expression.shape[1])))
    if np.any(m.transl):
        notes.append("translation: TalkSHOW has none: dropped")
    data = np.concatenate([m.jaw_pose, m.leye_pose, m.reye_pose, m.global_orient, _flat(m.body_pose), left, right,
                           expression], 1)
    with atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, data)


def _easymocap(m: Motion, path: Path, notes: list[str], pelvis: np.ndarray | None) -> None:
    rh = m.global_orient
    if pelvis is not None:
        # the reader's transl = Th + (R(Rh) - I) pelvis, inverted
        pelvis = np.asarray(pelvis, np.float64).reshape(3)
        th = m.transl - (aa_to_matrix(rh) @ pelvis - pelvis)
        notes.append(f"translation: Th = transl - (R(Rh) - I) pelvis with pelvis {np.round(pelvis, 4).tolist()}")
    else:
        th = m.transl
        notes.append("translation: Th = transl (no pelvis given: convert without --pelvis reads it back)")
    poses = np.concatenate([np.zeros((m.frames, 3)), _flat(m.body_pose), m.jaw_pose, m.leye_pose, m.reye_pose,
                            _flat(m.left_hand_pose), _flat(m.right_hand_pose)], 1)
    notes.append(f"fps: EasyMocap files do not store it: convert with --source-fps {m.fps:g}")
    with atomic_dir(path) as tmp:
        for f in range(m.frames):
            person = {"id": 0, "Rh": [rh[f].tolist()], "Th": [th[f].tolist()], "poses": [poses[f].tolist()],
                      "shapes": [[0.0] * 10], "expression": [m.expression[f].tolist()]}
            # Python floats print their shortest exact repr: float64 round-trips through the JSON bit for bit
            (tmp / f"{f:06d}.json").write_text(json.dumps([person]))


def write_layout(motion: Motion, layout: str, path: str | Path, *, world: str = "auto", fps: float = 0.0,
                 hand_mean: tuple[np.ndarray, np.ndarray] | None = None, pelvis: np.ndarray | None = None,
                 notes: list[str] | None = None) -> Path:
    """Write ``motion`` (our format, our world) at ``path`` in ``layout``; returns ``path``.

    ``world``: the layout's source world to turn into ('auto': convert.DEFAULT_WORLD, what `motion convert`
    assumes). ``fps`` > 0 resamples first; TalkSHOW is always written at 30 fps (resampled to it). ``hand_mean``
    (TalkSHOW): the SMPL-X mean hand subtracted; ``pelvis`` (EasyMocap): the rest pelvis joint for Th. What the
    layout cannot hold is appended to ``notes``. An EasyMocap ``path`` (a folder) is replaced as a whole.
    """
    if layout not in WRITE_LAYOUTS:
        raise ValueError(f"unknown layout {layout!r} to write; known: {', '.join(WRITE_LAYOUTS)}")
    path = Path(path)
    notes = [] if notes is None else notes
    validate(motion, path)
    suffix = {"amass-smplx": ".npz", "amass-smplh": ".npz", "talkshow": ".npy", "ours": ".npz"}.get(layout)
    if suffix is not None and path.suffix != suffix:
        raise ValueError(f"{layout} output {path}: must end in {suffix}")
    if layout == "easymocap" and path.exists() and not path.is_dir():
        raise ValueError(f"easymocap output {path}: is a file; an EasyMocap motion is a folder")
    if layout == "easymocap" and path.is_dir() and any(p.suffix != ".json" for p in path.iterdir()):
        raise ValueError(f"easymocap output {path}: holds files other than .json frames; not replacing it")
    if layout == "talkshow":
        if fps > 0 and fps != TALKSHOW_FPS:
            raise ValueError(f"talkshow output {path}: TalkSHOW motions run at {TALKSHOW_FPS:g} fps (the .npy does "
                             f"not store a rate), not {fps:g}")
        fps = TALKSHOW_FPS
    if fps > 0 and fps != motion.fps:
        resampled = resample_motion(motion, fps)
        notes.append(f"resampled {motion.fps:g} -> {fps:g} fps by slerp: {motion.frames} -> "
                     f"{resampled.frames} frames")
        motion = resampled
    if layout == "ours":
        save_motion(path, motion)
        return path
    world = DEFAULT_WORLD[layout] if world == "auto" else world
    if WORLD_TURN.get(world, 0.0) != 0.0:
        notes.append(f"world: ours (y up) -> {world}: global orient and translation turned "
                     f"{-np.degrees(WORLD_TURN[world]):g} deg about x")
    motion = from_our_world(motion, world)
    if layout == "amass-smplx":
        _amass_smplx(motion, path, notes)
    elif layout == "amass-smplh":
        _amass_smplh(motion, path, notes)
    elif layout == "talkshow":
        _talkshow(motion, path, notes, hand_mean)
    else:
        _easymocap(motion, path, notes, pelvis)
    return path
