"""Our motion format: one ``.npz`` of per-frame SMPL-X parameters plus a sibling ``.json`` saying where it came from.

Arrays follow our body model (use_pca=False, flat_hand_mean=True, 10 expression coefficients) in our world
(y up, the body faces +z at zero global orient); see docs/motion.md. ``evaluate animate`` reads these files
as they are (``talkinnerf.evaluate.animate.load_motion``).
"""

from __future__ import annotations

import dataclasses
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from talkinnerf.io import load_npz, read_json, save_npz, write_json

# key -> per-frame shape; every array is (T, *shape)
ARRAY_SHAPES: dict[str, tuple[int, ...]] = {
    "global_orient": (3,), "body_pose": (21, 3), "jaw_pose": (3,), "leye_pose": (3,), "reye_pose": (3,),
    "left_hand_pose": (15, 3), "right_hand_pose": (15, 3), "expression": (10,), "transl": (3,),
}
ROTATION_KEYS = ("global_orient", "body_pose", "jaw_pose", "leye_pose", "reye_pose", "left_hand_pose",
                 "right_hand_pose")
EXPRESSION_SIZE = 10
# rotation vectors longer than a full turn are not radians (degrees, or a wrong slice): refuse them
MAX_ANGLE = 2.0 * np.pi
_ANGLE_SLACK = 1e-6


@dataclass
class Motion:
    """Per-frame parameters (float64 in memory, float32 on disk) plus provenance (the sidecar .json)."""

    global_orient: np.ndarray          # (T,3) axis-angle, our world
    body_pose: np.ndarray              # (T,21,3)
    jaw_pose: np.ndarray               # (T,3)
    leye_pose: np.ndarray              # (T,3)
    reye_pose: np.ndarray              # (T,3)
    left_hand_pose: np.ndarray         # (T,15,3) relative to the flat hand
    right_hand_pose: np.ndarray        # (T,15,3)
    expression: np.ndarray             # (T,10)
    transl: np.ndarray                 # (T,3) metres
    fps: float
    source_format: str = "ours"
    source_file: str = ""
    source_fps: float = 0.0
    conversions: list[str] = field(default_factory=list)
    audio: str | None = None

    @property
    def frames(self) -> int:
        return int(len(self.global_orient))

    def arrays(self) -> dict[str, np.ndarray]:
        """The per-frame arrays by key (ARRAY_SHAPES order)."""
        return {k: getattr(self, k) for k in ARRAY_SHAPES}

    def replace(self, **changes) -> Motion:
        """A copy with some fields changed (conversions list copied, never shared)."""
        changes.setdefault("conversions", list(self.conversions))
        return dataclasses.replace(self, **changes)


def neutral_arrays(frames: int) -> dict[str, np.ndarray]:
    """Zero arrays of every key: rest pose, flat hands, neutral face, no translation."""
    return {k: np.zeros((frames, *s)) for k, s in ARRAY_SHAPES.items()}


def validate(motion: Motion, source: str | Path) -> None:
    """Raise one ValueError naming ``source`` for the first problem: shapes, lengths, no frames, NaN/inf,
    rotation vectors longer than 2*pi, a non-positive fps."""
    where = f"motion {source}"
    arrays = motion.arrays()
    for key, arr in arrays.items():
        expected = ARRAY_SHAPES[key]
        if np.ndim(arr) != 1 + len(expected) or tuple(np.shape(arr)[1:]) != expected:
            raise ValueError(f"{where}: {key} has shape {tuple(np.shape(arr))}, expected (frames, "
                             f"{', '.join(map(str, expected))})")
    lengths = {k: len(a) for k, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{k} {n}" for k, n in lengths.items())
        raise ValueError(f"{where}: arrays of different lengths (frames: {listed})")
    if motion.frames == 0:
        raise ValueError(f"{where}: has zero frames")
    for key, arr in arrays.items():
        bad = ~np.isfinite(arr)
        if bad.any():
            frame = int(np.argwhere(bad)[0][0])
            kind = "NaN" if np.isnan(arr).any() else "inf"
            raise ValueError(f"{where}: {key} holds {kind} ({int(bad.sum())} values, first at frame {frame})")
    for key in ROTATION_KEYS:
        arr = arrays[key]
        norms = np.linalg.norm(arr.reshape(len(arr), -1, 3), axis=-1)
        if (norms > MAX_ANGLE + _ANGLE_SLACK).any():
            frame, joint = (int(i) for i in np.argwhere(norms > MAX_ANGLE + _ANGLE_SLACK)[0])
            at = f"frame {frame}" + (f" joint {joint}" if norms.shape[1] > 1 else "")
            raise ValueError(f"{where}: {key} at {at} has axis-angle norm {norms[frame, joint]:.3f} > 2*pi: "
                             "not a rotation vector in radians (degrees? a wrong slice?)")
    if not (np.isfinite(motion.fps) and motion.fps > 0):
        raise ValueError(f"{where}: fps {motion.fps!r} is not a positive number")


def sidecar_path(path: str | Path) -> Path:
    """The provenance .json beside a motion .npz."""
    return Path(path).with_suffix(".json")


def save_motion(path: str | Path, motion: Motion) -> None:
    """Validate, then write ``path`` (.npz, float32) and its sidecar .json, each atomically.

    The sidecar goes first so a finished .npz always has its provenance beside it.
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"motion output {path}: must end in .npz")
    validate(motion, path)
    write_json(sidecar_path(path), {
        "source_format": motion.source_format, "source_file": motion.source_file, "frames": motion.frames,
        "fps": float(motion.fps), "source_fps": float(motion.source_fps), "conversions": list(motion.conversions),
        "audio": motion.audio})
    save_npz(path, fps=np.float64(motion.fps),
             **{k: np.asarray(v, dtype=np.float32) for k, v in motion.arrays().items()})


def load_motion_file(path: str | Path) -> Motion:
    """Read a motion written by :func:`save_motion` (sidecar optional) and validate it."""
    path = Path(path)
    arrays = load_npz(path)
    missing = [k for k in (*ARRAY_SHAPES, "fps") if k not in arrays]
    if missing:
        raise ValueError(f"motion {path}: not in our motion format, missing {missing} "
                         "(convert it with `talkinnerf motion convert`)")
    side = sidecar_path(path)
    meta = read_json(side) if side.is_file() else {}
    motion = Motion(**{k: arrays[k].astype(np.float64) for k in ARRAY_SHAPES}, fps=float(arrays["fps"]),
                    source_format=meta.get("source_format", "ours"), source_file=meta.get("source_file", ""),
                    source_fps=float(meta.get("source_fps", arrays["fps"])),
                    conversions=list(meta.get("conversions", [])), audio=meta.get("audio"))
    validate(motion, path)
    return motion


def check_audio(audio: str | Path, source: str | Path) -> float:
    """Duration (s) of a PCM .wav; a file that is not one raises a ValueError naming both files."""
    try:
        with wave.open(str(audio), "rb") as w:
            frames, rate = w.getnframes(), w.getframerate()
    except (wave.Error, EOFError, OSError) as err:
        raise ValueError(f"motion {source}: audio file {audio} is not a readable PCM WAV file ({err}); "
                         "replace or remove it, or convert without the audio check") from err
    if frames == 0 or rate <= 0:
        raise ValueError(f"motion {source}: audio file {audio} holds no samples")
    return frames / rate
