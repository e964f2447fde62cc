"""Write frame arrays to H.264 mp4 (and read short videos back whole), through PyAV.

Kept free of torch so demo rendering and evaluation can call it without heavy imports.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from talkinnerf.io import atomic_path


def _fps_fraction(fps: float) -> Fraction:
    """A rational frame rate PyAV accepts; 29.97-style rates survive via limit_denominator."""
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be a positive number, got {fps}")
    return Fraction(float(fps)).limit_denominator(1001)


def _pad_even(frames: np.ndarray) -> np.ndarray:
    """Pad (T,H,W,3) on the bottom/right by edge replication so H and W are even (yuv420p needs it)."""
    pad_h = frames.shape[1] % 2
    pad_w = frames.shape[2] % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return frames


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: float, crf: int = 18,
                rotation: int | None = None) -> None:
    """Encode ``frames`` uint8 (T,H,W,3) RGB to an H.264/yuv420p mp4 at ``path``, atomically.

    Odd sizes are padded by one edge pixel. ``crf`` trades size for quality (18 ≈ visually lossless).
    ``rotation`` (degrees counter-clockwise, multiple of 90, as ``av.VideoFrame.rotation`` reads it back)
    stores a display matrix without touching the pixels; it exists so tests can produce phone-style
    rotated videos. Not bit-reproducible on tiny frames: measured, libx264 (preset medium) gave 2-8 distinct
    files over 60 encodes of the same 48 px frames in one process, with or without threads; one at 64 and 128 px.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"write_video({path}): frames must be (T,H,W,3), got {frames.shape}")
    if frames.shape[0] == 0:
        raise ValueError(f"write_video({path}): no frames to write")
    if frames.dtype != np.uint8:
        raise ValueError(f"write_video({path}): frames must be uint8, got {frames.dtype}")
    frames = _pad_even(frames)
    import av  # lazy: keeps `import talkinnerf.video` cheap

    path = Path(path)
    with atomic_path(path, suffix=path.suffix or ".mp4") as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=_fps_fraction(fps))
            stream.width = int(frames.shape[2])
            stream.height = int(frames.shape[1])
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": str(int(crf)), "preset": "medium"}
            if rotation:
                stream.set_display_rotation(int(rotation))
            for image in frames:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)


def read_video(path: str | os.PathLike) -> tuple[np.ndarray, float]:
    """Decode a whole video to (frames uint8 (T,H,W,3) RGB, fps). No rotation handling: see decode.py."""
    import av

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video {path} does not exist")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ValueError(f"{path} has no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.base_rate or stream.guessed_rate
            fps = float(rate) if rate else 0.0
            frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    except av.error.FFmpegError as err:
        raise ValueError(f"cannot read video {path}: {err}") from err
    if not frames:
        raise ValueError(f"video {path} contains no decodable frames")
    return np.stack(frames), fps
