"""Matte backend `provided`: alpha PNGs the user supplies (`provided_dir/%06d.png`), one per decoded frame."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from talkinnerf.preprocess.matte import MatteOptions


def matte_provided(frames: np.ndarray, opts: MatteOptions, frames_dir: Path) -> np.ndarray:
    """The user's mattes as uint8 (T,H,W), checked against the frames' count and size."""
    from talkinnerf.video.frames import list_frames, read_image

    if not opts.provided_dir:
        raise ValueError(f"matte backend 'provided' needs option provided_dir (frames {frames_dir})")
    folder = Path(opts.provided_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"provided matte folder {folder} does not exist (frames {frames_dir})")
    files = list_frames(folder)
    if len(files) != len(frames):
        raise ValueError(f"provided matte folder {folder} has {len(files)} mattes but {frames_dir} has "
                         f"{len(frames)} frames")
    alphas = []
    for path in files:
        alpha = read_image(path, gray=True)
        if alpha.shape != frames.shape[1:3]:
            raise ValueError(f"provided matte {path} is {alpha.shape[1]}x{alpha.shape[0]}, frames are "
                             f"{frames.shape[2]}x{frames.shape[1]}")
        alphas.append(alpha)
    return np.stack(alphas)
