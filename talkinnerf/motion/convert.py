"""Convert a motion of any supported layout into our motion format: read, turn into our world (y up),
resample, find and check the audio beside it, write (.npz + .json). Every change is listed in the sidecar."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from talkinnerf.motion.format import Motion, check_audio, save_motion, validate
from talkinnerf.motion.readers import ReadOptions, detect_layout, load_arrays, read_motion, summarize
from talkinnerf.motion.resample import resample_motion
from talkinnerf.motion.rotations import aa_to_matrix, compose_aa

# the source world's up axis per layout: AMASS and calibrated EasyMocap worlds are z-up, TalkSHOW poses are in
# OpenCV camera coordinates (y down), our fits are already in our world
DEFAULT_WORLD = {"amass-smplx": "z-up", "amass-smplh": "z-up", "talkshow": "y-down", "easymocap": "z-up",
                 "ours": "y-up"}
# rotation about x (radians) taking each source world to ours (y up)
WORLD_TURN = {"y-up": 0.0, "z-up": -np.pi / 2, "y-down": np.pi, "z-down": np.pi / 2}


@dataclass
class ConvertOptions:
    """Options of `motion convert`."""

    fps: float = 30.0                # output rate; 0 keeps the source's
    source_fps: float = 0.0          # > 0: the source's rate (overrides the file; files without one need it)
    layout: str = "auto"             # auto (detected) or one of readers.LAYOUTS
    source_world: str = "auto"       # the source's up axis: auto (per layout), y-up, z-up, y-down, z-down
    hand_mean: str = ""              # SMPL-X model .npz with hands_meanl/r, for mean-relative hands (TalkSHOW)
    pelvis: tuple[float, float, float] | None = None   # EasyMocap: rest pelvis joint of the fitted body (m)
    check_audio: bool = True         # a name.wav beside the source must be a readable PCM WAV


def load_hand_mean(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """hands_meanl, hands_meanr (45,) of a SMPL-X model .npz (read without pickle)."""
    arrays = load_arrays(path)
    if "hands_meanl" not in arrays or "hands_meanr" not in arrays:
        raise ValueError(f"hand-mean model {path}: no hands_meanl / hands_meanr (found: {summarize(arrays)}); "
                         "use the official SMPLX_NEUTRAL.npz")
    left, right = (np.asarray(arrays[k], np.float64).reshape(-1) for k in ("hands_meanl", "hands_meanr"))
    if left.size != 45 or right.size != 45:
        raise ValueError(f"hand-mean model {path}: hands_meanl/r have {left.size}/{right.size} values, expected 45")
    if not (left.any() or right.any()):
        raise ValueError(f"hand-mean model {path}: its hand means are all zero (the open model has none); use the "
                         "official SMPLX_NEUTRAL.npz")
    return left, right


def turn_about_x(motion: Motion, angle: float) -> Motion:
    """The motion with its global orientation and translation turned ``angle`` radians about the world's x axis
    (about the origin: R <- W R, t <- t W^T for row vectors)."""
    turn = np.array([angle, 0.0, 0.0])
    return motion.replace(global_orient=compose_aa(np.broadcast_to(turn, motion.global_orient.shape),
                                                   motion.global_orient),
                          transl=motion.transl @ aa_to_matrix(turn).T)


def to_our_world(motion: Motion, world: str) -> Motion:
    """Turn a motion from a source world (its up axis) into ours: y up."""
    if world not in WORLD_TURN:
        raise ValueError(f"unknown source world {world!r}; known: {', '.join(WORLD_TURN)}")
    angle = WORLD_TURN[world]
    if angle == 0.0:
        return motion
    out = turn_about_x(motion, angle)
    # W turns the body about the world origin; SMPL-X turns about the pelvis, so the exact transl also gets
    # (W - I) pelvis: a constant that animate's first-frame-relative translation cancels
    out.conversions.append(f"world: source {world} -> ours (y up): global orient and translation turned "
                           f"{np.degrees(angle):g} deg about x (constant pelvis offset not applied)")
    return out


def find_audio(source: str | Path, layout: str) -> Path | None:
    """The audio beside a motion: <name>.wav next to the file or folder (our fits: frames/<s>/audio.wav too)."""
    source = Path(source)
    name = source.name if source.is_dir() else source.stem
    candidates = [source.parent / f"{name}.wav"]
    if name.endswith("_stageii"):
        candidates.append(source.parent / f"{name[:-len('_stageii')]}.wav")
    if layout == "ours":
        candidates.append(source.parent.parent / "frames" / source.stem / "audio.wav")
    return next((c for c in candidates if c.is_file()), None)


def read_options(opts: ConvertOptions) -> ReadOptions:
    """What the readers need from the convert options (the hand-mean model loaded)."""
    mean = load_hand_mean(opts.hand_mean) if opts.hand_mean else None
    pelvis = np.asarray(opts.pelvis, np.float64) if opts.pelvis is not None else None
    # a source without a stored rate is taken to run at the output rate unless --source-fps says otherwise
    return ReadOptions(source_fps=opts.source_fps, default_fps=opts.fps if opts.fps > 0 else 30.0,
                       hand_mean=mean, hand_mean_source=str(opts.hand_mean), pelvis=pelvis)


def prepare_motion(source: str | Path, opts: ConvertOptions) -> Motion:
    """Read, turn into our world, resample and attach the (checked) audio; nothing written."""
    layout = detect_layout(source) if opts.layout == "auto" else opts.layout
    motion = read_motion(source, layout, read_options(opts))
    world = DEFAULT_WORLD[layout] if opts.source_world == "auto" else opts.source_world
    motion = to_our_world(motion, world)
    if opts.fps > 0:
        motion = resample_motion(motion, opts.fps)
    audio = find_audio(source, layout)
    if audio is not None and opts.check_audio:
        check_audio(audio, source)
    motion = motion.replace(audio=str(audio) if audio is not None else None)
    validate(motion, source)
    return motion


def convert_motion(source: str | Path, out: str | Path, opts: ConvertOptions | None = None) -> Motion:
    """Convert ``source`` into our motion format at ``out`` (.npz + .json, atomic); returns the motion."""
    motion = prepare_motion(source, opts or ConvertOptions())
    save_motion(out, motion)
    return motion


def source_summary(path: str | Path, layout: str = "auto") -> dict[str, Any]:
    """What `motion info` prints: layout, frames, source fps, keys and shapes, audio, conversions to ours."""
    path = Path(path)
    layout = detect_layout(path) if layout == "auto" else layout
    motion = prepare_motion(path, ConvertOptions(fps=0, layout=layout, check_audio=False))
    if path.is_dir():
        from talkinnerf.motion.easymocap import frame_files, people_of

        files = frame_files(path)
        person = {k: v for k, v in people_of(files[0], path)[0].items() if isinstance(v, list)}
        keys = f"{len(files)} frame files ({files[0].name} .. {files[-1].name}), person: {summarize(person)}"
    else:
        keys = summarize(load_arrays(path))
    return {"layout": layout, "frames": motion.frames, "fps": motion.fps, "keys": keys, "audio": motion.audio,
            "conversions": motion.conversions}
