"""Train / held-out frame split per subject: `splits/s.json` = {"train": [...], "test": [...], "rule": "..."}."""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

from talkinnerf.io import read_json, write_json


@dataclasses.dataclass
class SplitOptions:
    """Options of `talkinnerf preprocess split` (config.yaml section `split`)."""

    mode: str = "every_nth"   # "every_nth": frames i with i % n == offset are held out
    n: int = 10               #   (spread over the whole video: poses seen in training, frames not)
    offset: int = 5
    fraction: float = 0.2     # "last_fraction": the last ceil(fraction × F) frames are held out (novel poses)


def split_frames(count: int, opts: SplitOptions) -> dict:
    """Split frame indices 0..count-1; both parts are non-empty and disjoint, union = all frames."""
    if count < 2:
        raise ValueError(f"cannot split {count} frame(s): need at least 2 (one to train, one to test)")
    if opts.mode == "every_nth":
        if opts.n < 2:
            raise ValueError(f"split n must be >= 2, got {opts.n}")
        offset = opts.offset % opts.n
        test = [i for i in range(count) if i % opts.n == offset]
        if not test:  # short clip: offset lies past its end, hold out the last frame instead
            test = [count - 1]
        rule = f"every_nth n={opts.n} offset={offset}"
    elif opts.mode == "last_fraction":
        if not 0 < opts.fraction < 1:
            raise ValueError(f"split fraction must be in (0, 1), got {opts.fraction}")
        held = min(count - 1, max(1, math.ceil(opts.fraction * count - 1e-9)))
        test = list(range(count - held, count))
        rule = f"last_fraction fraction={opts.fraction}"
    else:
        raise ValueError(f"unknown split mode {opts.mode!r}; known: every_nth, last_fraction")
    held_out = set(test)
    train = [i for i in range(count) if i not in held_out]
    return {"train": train, "test": test, "rule": rule}


def frame_count(frames_dir: str | os.PathLike) -> int:
    """Frame count from meta.json (or by listing the PNGs when it is absent)."""
    meta = Path(frames_dir) / "meta.json"
    if meta.is_file():
        return int(read_json(meta)["count"])
    from talkinnerf.video.frames import list_frames

    return len(list_frames(frames_dir))


def run_split(frames_dir: str | os.PathLike, out: str | os.PathLike, opts: SplitOptions | None = None) -> dict:
    try:
        split = split_frames(frame_count(frames_dir), opts or SplitOptions())
    except ValueError as err:
        raise ValueError(f"split of {frames_dir}: {err}") from None
    write_json(out, split)
    return split
