"""Train / held-out frame split per subject: `splits/s.json` = {"train": [...], "test": [...], "rule": "..."}.

A second split of the same data (the `tables` target's unseen-motion split, docs/experiments.md) lives in a *view*:
a folder with its own `splits/<s>.json` and relative links to the subject's frames, mattes, part labels, keypoints
and fit under the results folder (:func:`link_view`), so training and evaluation read it with
`--data-root <view>` and nothing else changes.
"""

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
    after_seconds: float = 0.0  # "after_seconds": frames from this time on are held out, every n-th of them
                                #   (novel identities: test frames lie after the longest fine-tuning window)


def describe_split(opts: SplitOptions) -> str:
    """What a split holds out, in words (table captions)."""
    if opts.mode == "every_nth":
        offset = opts.offset % max(opts.n, 1)
        return f"every {opts.n}th frame held out (from frame {offset}): poses near training frames"
    if opts.mode == "last_fraction":
        return (f"the last {opts.fraction:.0%} of each video held out: poses and expressions never seen in "
                "training")
    return f"frames from {opts.after_seconds:g} s on held out, every {opts.n}th"


def split_frames(count: int, opts: SplitOptions, fps: float | None = None) -> dict:
    """Split frame indices 0..count-1; both parts are non-empty and disjoint.

    Union = all frames, except in "after_seconds" mode, where the frames after the window that are not every
    n-th one are in neither part (neither seen in training nor scored). ``fps`` is needed by that mode only.
    """
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
    elif opts.mode == "after_seconds":
        if fps is None or fps <= 0:
            raise ValueError("split mode after_seconds needs the video's fps (frames/meta.json)")
        if opts.n < 1:
            raise ValueError(f"split n must be >= 1, got {opts.n}")
        # fine-tuning takes the first ceil(seconds * fps) frames (train.finetune.first_seconds): hold out after them
        start = max(1, int(math.ceil(opts.after_seconds * fps - 1e-9)))
        if start >= count:
            raise ValueError(f"after_seconds={opts.after_seconds} at {fps:g} fps leaves no frame to test in a "
                             f"{count}-frame video ({count / fps:.2f} s): lengthen the video or shorten the window")
        test = list(range(start, count, opts.n))
        return {"train": list(range(start)), "test": test,
                "rule": f"after_seconds after_seconds={opts.after_seconds} n={opts.n} start={start}"}
    else:
        raise ValueError(f"unknown split mode {opts.mode!r}; known: every_nth, last_fraction, after_seconds")
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


def frame_rate(frames_dir: str | os.PathLike) -> float | None:
    meta = Path(frames_dir) / "meta.json"
    fps = read_json(meta).get("fps") if meta.is_file() else None
    return float(fps) if fps else None


def run_split(frames_dir: str | os.PathLike, out: str | os.PathLike, opts: SplitOptions | None = None) -> dict:
    try:
        split = split_frames(frame_count(frames_dir), opts or SplitOptions(), frame_rate(frames_dir))
    except ValueError as err:
        raise ValueError(f"split of {frames_dir}: {err}") from None
    write_json(out, split)
    return split


# what a split's view links from the results folder, per subject (training and evaluation read these)
VIEW_LINKS = ("frames/{s}", "matte/{s}", "parts/{s}", "keypoints/{s}.npz", "smplx/{s}.npz")


def link_view(results_dir: str | os.PathLike, view_dir: str | os.PathLike, subject: str) -> list[Path]:
    """Link ``subject``'s data under ``results_dir`` into ``view_dir`` (relative symlinks, replaced atomically);
    returns the links. ``view_dir/splits/<subject>.json`` is the view's own split, written beside them."""
    links = []
    for pattern in VIEW_LINKS:
        rel = pattern.format(s=subject)
        link = Path(view_dir) / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        target = os.path.relpath(os.path.abspath(Path(results_dir) / rel), os.path.abspath(link.parent))
        if link.exists() and not link.is_symlink():
            raise FileExistsError(f"{link} is a real file or folder, not a link into {results_dir}: remove it")
        if not (link.is_symlink() and os.readlink(link) == target):
            tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
            if tmp.is_symlink():
                tmp.unlink()
            os.symlink(target, tmp)
            os.replace(tmp, link)
        links.append(link)
    return links
