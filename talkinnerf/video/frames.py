"""Read a decoded frame folder (`frames/s/%06d.png` + meta.json) back; shared by the preprocessing stages."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

_FRAME = re.compile(r"^(\d{6})\.png$")


def list_frames(folder: str | os.PathLike) -> list[Path]:
    """Sorted `%06d.png` files of ``folder``; they must be numbered 0..N-1 without gaps."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"frame folder {folder} does not exist (run `talkinnerf video decode` first)")
    files = sorted(p for p in folder.iterdir() if _FRAME.match(p.name))
    if not files:
        raise ValueError(f"frame folder {folder} holds no %06d.png frames")
    for i, p in enumerate(files):
        if int(p.stem) != i:
            raise ValueError(f"frame folder {folder}: expected {i:06d}.png, found {p.name} (gap in numbering)")
    return files


def read_image(path: str | os.PathLike, gray: bool = False) -> np.ndarray:
    """uint8 RGB (H,W,3), or (H,W) with ``gray`` (for alpha / label PNGs, read unchanged)."""
    import cv2

    flag = cv2.IMREAD_UNCHANGED if gray else cv2.IMREAD_COLOR
    image = cv2.imread(str(path), flag)
    if image is None:
        raise ValueError(f"cannot read image {path}")
    if gray:
        if image.ndim == 3:  # an RGB(A) mask: take the first channel (masks are grey in practice)
            image = image[..., 0]
        if image.dtype != np.uint8:
            raise ValueError(f"image {path} must be 8-bit, got {image.dtype}")
        return image
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_frames(folder: str | os.PathLike) -> np.ndarray:
    """All frames of ``folder`` as uint8 (T,H,W,3) RGB."""
    return np.stack([read_image(p) for p in list_frames(folder)])


def write_gray_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write a uint8 (H,W) PNG (no atomic rename: callers write into an atomic_dir)."""
    import cv2

    if not cv2.imwrite(str(path), np.ascontiguousarray(image, dtype=np.uint8)):
        raise ValueError(f"cannot write {path}")
