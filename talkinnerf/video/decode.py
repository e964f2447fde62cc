"""Decode a talking-person video into square frames + meta.json (docs/contracts.md, `frames/s/`).

Coordinates: "source pixels" are pixels of the *upright* video (after applying its rotation metadata), so
OpenPose run on the displayed video and ground truth in video pixels both go through ``meta["transform"]``.
The square crop is an integer source box ``[x0, y0, x0+L) × [y0, y0+L)`` (padded where it leaves the frame)
resized to ``size``; with pixel centres at +0.5 (contracts) the map is exactly ``frame = a*source + offset``
with ``a = size / L`` and ``offset = -a * (x0, y0)``, which is what cv2.resize's half-pixel convention does.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Iterator

import numpy as np

from talkinnerf.io import atomic_dir, write_json


@dataclasses.dataclass
class DecodeOptions:
    """Options of `talkinnerf video decode` (config.yaml section `decode`)."""

    size: int = 128                 # output frames are size × size
    stride: int = 1                 # keep every stride-th source frame
    max_seconds: float | None = None  # keep only the first max_seconds of the video (None: all)
    crop: str = "person"            # "person": square around the moving person; "center": centre square
    pad: str = "black"              # fill where the square leaves the frame: "black" | "edge"
    person_margin: float = 1.25     # person box side = margin × largest side of the motion bbox
    motion_threshold: float = 25.0  # per-channel |frame - median| (0..255) that counts as motion

    def validate(self) -> None:
        if self.size < 8:
            raise ValueError(f"decode size must be >= 8, got {self.size}")
        if self.stride < 1:
            raise ValueError(f"decode stride must be >= 1, got {self.stride}")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ValueError(f"decode max_seconds must be positive or null, got {self.max_seconds}")
        if self.crop not in ("person", "center"):
            raise ValueError(f"decode crop must be 'person' or 'center', got {self.crop!r}")
        if self.pad not in ("black", "edge"):
            raise ValueError(f"decode pad must be 'black' or 'edge', got {self.pad!r}")


@dataclasses.dataclass
class VideoInfo:
    """What probing a video tells: fps, upright size (w, h), display rotation (degrees counter-clockwise)."""

    fps: float
    width: int
    height: int
    rotation: int


@dataclasses.dataclass(frozen=True)
class CropBox:
    """Integer square in upright source pixels; may extend past the frame (padded)."""

    x0: int
    y0: int
    side: int

    def transform(self, size: int) -> dict:
        scale = size / self.side
        return {"scale": scale, "offset": [-scale * self.x0, -scale * self.y0]}


# ---------------------------------------------------------------------------------------------- reading


def _open(path: Path):
    import av

    if not path.is_file():
        raise FileNotFoundError(f"video {path} does not exist")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as err:
        raise ValueError(f"cannot open video {path}: {err}") from err
    if not container.streams.video:
        container.close()
        raise ValueError(f"{path} has no video stream")
    return container


def _rotation_of(stream, first_frame) -> int:
    """Counter-clockwise display rotation in degrees, snapped to a multiple of 90.

    Modern files carry a display matrix (read by PyAV as ``frame.rotation``); older ones a ``rotate`` tag that
    means "turn clockwise by this much to display".
    """
    angle = float(getattr(first_frame, "rotation", 0) or 0)
    if angle == 0:
        tag = stream.metadata.get("rotate")
        if tag:
            try:
                angle = -float(tag)
            except ValueError:
                angle = 0.0
    return int(round(angle / 90.0)) * 90 % 360


def _upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """Apply a counter-clockwise display rotation to an (H,W,C) array (np.rot90 turns counter-clockwise)."""
    k = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


def _frames(path: Path, opts: DecodeOptions, thumb_long_side: int | None = None
            ) -> Iterator[tuple[int, np.ndarray, VideoInfo]]:
    """Yield (source index, upright RGB uint8 frame, info) for the kept source frames.

    With ``thumb_long_side`` frames are downscaled by the decoder (cheap analysis pass).
    """
    import av

    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        if not fps > 0 or not math.isfinite(fps):
            raise ValueError(f"video {path} has no usable frame rate")
        limit = math.inf if opts.max_seconds is None else max(1, math.floor(opts.max_seconds * fps + 1e-6))
        info = None
        index = -1
        for frame in container.decode(stream):
            index += 1
            if index >= limit:
                break
            if info is None:
                rotation = _rotation_of(stream, frame)
                w, h = frame.width, frame.height
                if rotation in (90, 270):
                    w, h = h, w
                info = VideoInfo(fps=fps, width=w, height=h, rotation=rotation)
            if index % opts.stride:
                continue
            if thumb_long_side:
                scale = thumb_long_side / max(frame.width, frame.height)
                tw = max(2, int(round(frame.width * scale)))
                th = max(2, int(round(frame.height * scale)))
                image = frame.reformat(width=tw, height=th, format="rgb24").to_ndarray()
            else:
                image = frame.to_ndarray(format="rgb24")
            yield index, _upright(image, info.rotation), info
    except av.error.FFmpegError as err:
        raise ValueError(f"cannot decode video {path}: {err}") from err
    finally:
        container.close()


def _fit_long_side(width: int, height: int, max_long_side: int | None) -> tuple[int, int, float]:
    """Decoded-image size (w, h) with long side <= max_long_side, and its scale (image px per source px).

    Only downscales. The scale is exact on the long axis; on the short axis rounding to whole pixels makes the
    image off by less than half an image pixel at the far edge.
    """
    long_side = max(width, height)
    if not max_long_side or long_side <= max_long_side:
        return width, height, 1.0
    scale = max_long_side / long_side
    return (max(2, int(round(width * scale))), max(2, int(round(height * scale))),
            (max_long_side if width >= height else int(round(height * scale))) / long_side)


def iter_source_frames(video: str | os.PathLike, meta: dict, max_long_side: int | None = 1280
                       ) -> Iterator[tuple[int, np.ndarray, float]]:
    """Yield ``(k, image, scale)`` for every kept frame ``k`` of a decoded ``meta`` (frames/s/meta.json).

    ``image`` is the upright RGB uint8 *source* frame ``meta["source_frames"][k]`` of ``video``, downscaled by the
    decoder so its long side is <= ``max_long_side`` (None: full size); ``scale`` is image pixels per source pixel
    (1.0 when not downscaled), so source-pixel coordinates = image coordinates / scale (continuous coordinates,
    pixel centres at +0.5). Frames come in order of k; one full-size frame is held at a time.
    """
    import av

    path = Path(video)
    wanted = [int(i) for i in meta["source_frames"]]
    if not wanted:
        return
    if any(b < a for a, b in zip(wanted, wanted[1:])):
        raise ValueError(f"meta of {path}: source_frames must be non-decreasing")
    rotation = int(meta.get("rotation", 0)) % 360
    k = 0
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for index, frame in enumerate(container.decode(stream)):
            if index < wanted[k]:
                continue
            w, h = frame.width, frame.height
            uw, uh = (h, w) if rotation in (90, 270) else (w, h)
            if "source_size" in meta and [uw, uh] != [int(v) for v in meta["source_size"]]:
                raise ValueError(f"video {path}: frame {index} is {uw}x{uh} upright, meta.json says "
                                 f"{meta['source_size'][0]}x{meta['source_size'][1]} (wrong video or meta?)")
            tw, th, scale = _fit_long_side(w, h, max_long_side)
            if scale == 1.0:
                image = frame.to_ndarray(format="rgb24")
            else:
                image = frame.reformat(width=tw, height=th, format="rgb24", interpolation="AREA").to_ndarray()
            image = _upright(image, rotation)
            while k < len(wanted) and wanted[k] == index:
                yield k, image, scale
                k += 1
            if k == len(wanted):
                return
    except av.error.FFmpegError as err:
        raise ValueError(f"cannot decode video {path}: {err}") from err
    finally:
        container.close()
    raise ValueError(f"video {path} ended before source frame {wanted[k]} listed in its meta.json")


# ---------------------------------------------------------------------------------------------- cropping


def center_box(width: int, height: int) -> CropBox:
    """Largest centred square inside the frame (side = short side)."""
    side = min(width, height)
    return CropBox((width - side) // 2, (height - side) // 2, side)


def motion_bbox(thumbs: np.ndarray, threshold: float) -> tuple[float, float, float, float] | None:
    """Bbox (x0, y0, x1, y1) in thumbnail pixels of where frames differ from the median frame.

    thumbs: uint8 (T,h,w,3). A pixel counts when it differs in at least 2% of the frames (and in ≥1), which
    ignores compression flicker; returns None when nothing moves.
    """
    if len(thumbs) < 2:
        return None
    median = np.median(thumbs, axis=0)
    diff = np.abs(thumbs.astype(np.float32) - median[None]).max(axis=-1) > threshold  # (T,h,w)
    freq = diff.mean(axis=0)
    moving = freq >= max(0.02, 1.0 / len(thumbs) - 1e-9)
    import cv2

    moving = cv2.morphologyEx(moving.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0
    ys, xs = np.nonzero(moving)
    if len(xs) == 0:
        return None
    return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)


def person_box(bbox: tuple[float, float, float, float] | None, width: int, height: int,
               margin: float) -> CropBox:
    """Square around ``bbox`` (source pixels): side = clip(margin × longest bbox side, short, long frame side).

    Never zooms in past the frame's short side (a full body in a landscape video keeps its legs); the square is
    slid to stay inside the frame when it fits, and centred (padded) on the axis where it does not.
    """
    if bbox is None:
        return center_box(width, height)
    x0, y0, x1, y1 = bbox
    side = int(round(np.clip(margin * max(x1 - x0, y1 - y0), min(width, height), max(width, height))))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2

    def place(centre: float, extent: int) -> int:
        if side <= extent:
            return int(round(np.clip(centre - side / 2, 0, extent - side)))
        return -((side - extent + 1) // 2)

    return CropBox(place(cx, width), place(cy, height), side)


def crop_resize(image: np.ndarray, box: CropBox, size: int, pad: str) -> np.ndarray:
    """Cut ``box`` out of ``image`` (H,W,3), padding outside the frame, and resize to (size,size,3)."""
    import cv2

    h, w = image.shape[:2]
    left, top = max(0, -box.x0), max(0, -box.y0)
    right, bottom = max(0, box.x0 + box.side - w), max(0, box.y0 + box.side - h)
    if left or top or right or bottom:
        border = cv2.BORDER_REPLICATE if pad == "edge" else cv2.BORDER_CONSTANT
        image = cv2.copyMakeBorder(image, top, bottom, left, right, border, value=(0, 0, 0))
    x0, y0 = box.x0 + left, box.y0 + top
    square = image[y0:y0 + box.side, x0:x0 + box.side]
    if box.side == size:
        return np.ascontiguousarray(square)
    interp = cv2.INTER_AREA if box.side > size else cv2.INTER_LINEAR
    return cv2.resize(square, (size, size), interpolation=interp)


def choose_box(path: Path, opts: DecodeOptions) -> tuple[CropBox, VideoInfo, int]:
    """Analysis pass: probe the video and pick the crop box; returns (box, info, kept frame count)."""
    thumbs: list[np.ndarray] = []
    step, count, info = 1, 0, None
    for _, thumb, info in _frames(path, opts, thumb_long_side=160):
        if count % step == 0:
            thumbs.append(thumb)
            if len(thumbs) > 400:  # bounded memory on long videos: keep every other, sample half as often
                thumbs, step = thumbs[::2], step * 2
        count += 1
    if info is None:
        raise ValueError(f"video {path} contains no decodable frames")
    if opts.crop == "center":
        return center_box(info.width, info.height), info, count
    bbox = motion_bbox(np.stack(thumbs), opts.motion_threshold)
    if bbox is not None:
        s = info.width / thumbs[0].shape[1]  # thumbnails keep the aspect ratio
        bbox = tuple(v * s for v in bbox)
    return person_box(bbox, info.width, info.height, opts.person_margin), info, count


# ---------------------------------------------------------------------------------------------- stage


def decode_video(video: str | os.PathLike, out: str | os.PathLike, opts: DecodeOptions | None = None) -> dict:
    """Decode ``video`` into ``out/%06d.png`` + ``out/meta.json`` (written as one atomic folder).

    Returns the meta dict. Raises FileNotFoundError / ValueError naming the file on unusable input.
    """
    import cv2

    opts = opts or DecodeOptions()
    opts.validate()
    video, out = Path(video), Path(out)
    box, info, expected = choose_box(video, opts)
    kept: list[int] = []
    with atomic_dir(out) as tmp:
        for index, image, _ in _frames(video, opts):
            if image.shape[1] != info.width or image.shape[0] != info.height:
                raise ValueError(f"video {video}: frame {index} changes size mid-stream")
            frame = crop_resize(image, box, opts.size, opts.pad)
            if not cv2.imwrite(str(tmp / f"{len(kept):06d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)):
                raise ValueError(f"cannot write frame {len(kept)} of {video} to {out}")
            kept.append(index)
        if len(kept) != expected:
            raise ValueError(f"video {video} decoded {len(kept)} frames on the second pass, {expected} on the first")
        meta = {
            "fps": info.fps / opts.stride,
            "count": len(kept),
            "size": opts.size,
            "source": str(video),
            "source_size": [info.width, info.height],
            "source_fps": info.fps,
            "rotation": info.rotation,
            "stride": opts.stride,
            "transform": box.transform(opts.size),
            "crop": {"mode": opts.crop, "box": [box.x0, box.y0, box.side]},
            "source_frames": kept,
        }
        write_json(tmp / "meta.json", meta)
    return meta


def apply_transform(points: np.ndarray, transform: dict) -> np.ndarray:
    """Map source-pixel points (..., 2) to frame pixels with a meta.json ``transform``."""
    points = np.asarray(points, dtype=np.float64)
    scale = float(transform["scale"])
    offset = np.asarray(transform["offset"], dtype=np.float64)
    return points * scale + offset
