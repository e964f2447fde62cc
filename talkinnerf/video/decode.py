"""Decode a talking-person video into square frames + meta.json (docs/contracts.md, `frames/s/`).

Coordinates: "source pixels" are pixels of the *upright* video (after applying its rotation metadata), so
OpenPose run on the displayed video and ground truth in video pixels both go through ``meta["transform"]``.
The square crop is an integer source box ``[x0, y0, x0+L) × [y0, y0+L)`` (padded where it leaves the frame)
resized to ``size``; with pixel centres at +0.5 (contracts) the map is exactly ``frame = a*source + offset``
with ``a = size / L`` and ``offset = -a * (x0, y0)``, which is what cv2.resize's half-pixel convention does.

Two passes over the video, one frame in memory at a time:
1. scan: every frame's timestamp and size, small thumbnails (motion) and a few evenly spaced frames for the
   person detector (talkinnerf.video.person_box) -> which source frames to keep and one crop box;
2. write: the kept frames. Large frames are downscaled by the decoder (swscale, area filter) by an integer factor
   ``n`` that divides both frame sides, and the box is snapped to multiples of ``n``, so the crop stays on whole
   pixels of the downscaled image and the transform above stays exact (swscale is centre-aligned).

Frame times: a frame's time is its pts × time_base. When the times lie on the nominal constant-rate clock the
kept frames are every ``stride``-th frame; otherwise (variable frame rate, dropped frames) the video is resampled
to a constant rate (see ``frame_schedule``) by taking the frame nearest each uniform time: frames may repeat or
drop, and a dropped frame of a constant-rate video becomes a repeated one, so frame k still plays at k / fps.
``meta["times"]`` holds each kept frame's own time, in seconds from the video's first frame.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from talkinnerf.failures import SubjectInputError
from talkinnerf.io import atomic_dir, write_json
from talkinnerf.video.person_box import (  # re-exported: callers import the crop helpers from here
    CropBox,
    center_box,
    full_box,
    mediapipe_extent,
    motion_bbox,
    person_box,
    snap_box,
)

__all__ = ["CropBox", "DecodeOptions", "VideoInfo", "apply_transform", "center_box", "crop_resize", "decode_video",
           "frame_schedule", "full_box", "iter_source_frames", "motion_bbox", "person_box"]

CROPS = ("person", "center", "full")
DETECTORS = ("auto", "mediapipe", "motion")
_DETECT_LONG_SIDE = 512   # frames for the person detector are decoded at about this long side
_THUMB_LONG_SIDE = 160    # motion thumbnails
MIN_FRAMES = 2            # one frame to train on and one held out (the split needs both)


@dataclasses.dataclass
class DecodeOptions:
    """Options of `talkinnerf video decode` (config.yaml section `decode`)."""

    size: int = 128                 # output frames are size × size
    stride: int = 1                 # keep every stride-th frame (after resampling to a constant rate)
    max_seconds: float | None = None  # keep only the first max_seconds of the video (None: all)
    fps: float | None = None        # resample to this constant rate (None: the video's own; VFR: its average)
    crop: str = "person"            # "person": one square around the person; "center": centre square;
                                    # "full": the whole frame padded to a square
    person_detector: str = "auto"   # "mediapipe" (pose landmarks), "motion" (frame differences),
                                    # "auto": mediapipe, motion when it finds nobody
    person_margin: float = 1.25     # box side = margin × the person's extent (longer side)
    person_min_side: float = 0.1    # detector box floor, fraction of the short side (never below `size` either)
    person_samples: int = 24        # frames the detector looks at, evenly spaced
    pad: str = "black"              # fill where the square leaves the frame: "black" | "edge"
    motion_threshold: float = 25.0  # per-channel |frame - median| (0..255) that counts as motion
    audio: bool = True              # keep the audio track as audio.wav beside the frames

    def validate(self) -> None:
        if self.size < 8:
            raise ValueError(f"decode size must be >= 8, got {self.size}")
        if self.stride < 1:
            raise ValueError(f"decode stride must be >= 1, got {self.stride}")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ValueError(f"decode max_seconds must be positive or null, got {self.max_seconds}")
        if self.fps is not None and not (self.fps > 0 and math.isfinite(self.fps)):
            raise ValueError(f"decode fps must be positive or null, got {self.fps}")
        if self.crop not in CROPS:
            raise ValueError(f"decode crop must be one of {CROPS}, got {self.crop!r}")
        if self.person_detector not in DETECTORS:
            raise ValueError(f"decode person_detector must be one of {DETECTORS}, got {self.person_detector!r}")
        if not self.person_margin >= 1.0:
            raise ValueError(f"decode person_margin must be >= 1, got {self.person_margin}")
        if not 0 < self.person_min_side <= 1:
            raise ValueError(f"decode person_min_side must lie in (0, 1], got {self.person_min_side}")
        if self.person_samples < 1:
            raise ValueError(f"decode person_samples must be >= 1, got {self.person_samples}")
        if self.pad not in ("black", "edge"):
            raise ValueError(f"decode pad must be 'black' or 'edge', got {self.pad!r}")


@dataclasses.dataclass
class VideoInfo:
    """What probing a video tells: nominal fps, upright size (w, h), display rotation (degrees counter-clockwise)."""

    fps: float
    width: int
    height: int
    rotation: int


# ---------------------------------------------------------------------------------------------- reading


def _open(path: Path):
    import av

    if not path.is_file():
        raise FileNotFoundError(f"video {path} does not exist")
    if path.stat().st_size == 0:
        raise SubjectInputError(f"video {path} is empty (0 bytes; an interrupted copy or download?)",
                                "copy the video again, or remove it from the videos folder")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as err:
        raise SubjectInputError(
            f"cannot open video {path}: {err} (not a video, or truncated: a copy or download that stopped early "
            "leaves an mp4 without its index)",
            "copy the whole file again or re-export it as an H.264 mp4 (ffmpeg -i IN -c:v libx264 OUT.mp4); "
            "or remove it from the videos folder") from err
    if container.format.name.endswith("_pipe") or container.format.name == "image2":
        kind = container.format.name.removesuffix("_pipe")
        container.close()
        raise SubjectInputError(f"{path} is a still image ({kind}), not a video",
                                "put a video of the person talking in its place, or remove it")
    if not container.streams.video:
        kinds = ", ".join(sorted({s.type for s in container.streams})) or "none"
        container.close()
        raise SubjectInputError(f"{path} has no video stream (streams: {kinds}): an audio-only file?",
                                "use the video file itself (with picture), or remove this file")
    return container


def _nominal_fps(stream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else 0.0
    return fps if fps > 0 and math.isfinite(fps) else 0.0


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


def _divisors(n: int) -> list[int]:
    return sorted({d for i in range(1, int(math.isqrt(n)) + 1) if n % i == 0 for d in (i, n // i)})


def _fit_long_side(width: int, height: int, max_long_side: int | None) -> tuple[int, int, float]:
    """Decoded-image size (w, h) with long side <= max_long_side, and its scale (image px per source px).

    Only downscales. Prefers an integer factor dividing both sides (then the scale is exact on both axes) when
    it keeps at least half of ``max_long_side``; otherwise the scale is exact on the long axis and rounding to
    whole pixels leaves the short axis off by less than half an image pixel at the far edge.
    """
    long_side = max(width, height)
    if not max_long_side or long_side <= max_long_side:
        return width, height, 1.0
    for n in _divisors(math.gcd(width, height)):
        if long_side / n <= max_long_side:
            if long_side / n >= max_long_side / 2:
                return width // n, height // n, 1.0 / n
            break
    scale = max_long_side / long_side
    return (max(2, int(round(width * scale))), max(2, int(round(height * scale))),
            (max_long_side if width >= height else int(round(height * scale))) / long_side)


def _to_rgb(frame, width: int, height: int) -> np.ndarray:
    """RGB uint8 (height, width, 3) of a decoded frame, scaled by the decoder when smaller than the frame."""
    if (width, height) == (frame.width, frame.height):
        return frame.to_ndarray(format="rgb24")
    return frame.reformat(width=width, height=height, format="rgb24", interpolation="AREA").to_ndarray()


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
            image = _upright(_to_rgb(frame, tw, th), rotation)
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


# ---------------------------------------------------------------------------------------------- timing


def frame_schedule(times: np.ndarray, nominal_fps: float, stride: int = 1, max_seconds: float | None = None,
                   fps: float | None = None) -> tuple[list[int], float, bool]:
    """Which decoded frames to keep: (frame indices in output order, output fps, resampled?).

    ``times``: each decoded frame's time in seconds (increasing). When they lie on the ``nominal_fps`` clock
    (within a quarter period) and no other ``fps`` is asked for, every ``stride``-th frame is kept. Otherwise the
    video is resampled to a constant rate by taking, for each uniform time t0 + j/rate, the frame nearest to it;
    then every ``stride``-th of those. The rate is ``fps`` when given, else the nominal rate when the times lie
    on its grid with frames missing (a dropped frame keeps its time slot: the frame before it repeats) or when it
    is within 25% of the measured average rate (frames - 1) / span, else the measured rate. ``max_seconds`` keeps
    the first floor(max_seconds × rate) frames / uniform times.
    """
    times = np.asarray(times, dtype=np.float64)
    n = len(times)
    if n == 0:
        return [], nominal_fps / stride, False
    span = float(times[-1] - times[0])
    measured = (n - 1) / span if n > 1 and span > 0 else 0.0
    on_grid = on_clock = False
    if nominal_fps > 0:  # on the grid: every time is a multiple of the nominal period (some may be missing)
        slots = np.round((times - times[0]) * nominal_fps)
        on_grid = bool(np.all(np.abs(times - times[0] - slots / nominal_fps) <= 0.25 / nominal_fps)
                       and np.all(np.diff(slots) >= 1))
        on_clock = on_grid and bool(np.all(slots == np.arange(n)))
    same_rate = fps is None or (nominal_fps > 0 and abs(fps - nominal_fps) <= 1e-6 * nominal_fps)
    if same_rate and (on_clock or measured == 0.0):
        rate = nominal_fps if nominal_fps > 0 else measured
        if not rate > 0:
            raise ValueError("no usable frame rate (no rate in the stream, timestamps do not tell one)")
        limit = n if max_seconds is None else min(n, max(1, math.floor(max_seconds * rate + 1e-6)))
        return list(range(0, limit, stride)), rate / stride, False
    if fps is not None:
        rate = float(fps)
    elif on_grid or (nominal_fps > 0 and abs(nominal_fps / measured - 1) <= 0.25):
        rate = nominal_fps  # dropped frames of a constant-rate video keep their time slot (a repeated frame)
    else:
        rate = measured
    count = math.floor(span * rate + 0.5) + 1
    if max_seconds is not None:
        count = min(count, max(1, math.floor(max_seconds * rate + 1e-6)))
    grid = times[0] + np.arange(count) / rate
    right = np.clip(np.searchsorted(times, grid), 1, n - 1) if n > 1 else np.zeros(count, int)
    left = np.maximum(right - 1, 0)
    nearest = np.where(np.abs(times[left] - grid) <= np.abs(times[right] - grid), left, right)
    return [int(i) for i in nearest[::stride]], rate / stride, True


# ---------------------------------------------------------------------------------------------- scan pass


@dataclasses.dataclass
class _Scan:
    info: VideoInfo
    raw_size: tuple[int, int]          # stored (not upright) frame size
    times: np.ndarray                  # seconds, per decoded frame (absolute: pts × time_base)
    timestamps: str                    # "pts" or why the frame index was used instead
    thumbs: list[np.ndarray]           # motion thumbnails (upright), evenly spaced
    thumb_scale: float                 # thumbnail px per source px (x)
    samples: list[np.ndarray]          # detector frames (upright), evenly spaced


class _Reservoir:
    """Keeps about ``target``..2×``target`` evenly spaced items of a stream of unknown length (bounded memory)."""

    def __init__(self, target: int):
        self.target, self.step, self.items = max(1, target), 1, []

    def wants(self, index: int) -> bool:
        return index % self.step == 0

    def add(self, item) -> None:
        self.items.append(item)
        if len(self.items) > 2 * self.target:
            self.items, self.step = self.items[::2], self.step * 2

    def evenly(self, count: int) -> list:
        if len(self.items) <= count:
            return list(self.items)
        pick = np.linspace(0, len(self.items) - 1, count).round().astype(int)
        return [self.items[i] for i in pick]


def _scan(path: Path, opts: DecodeOptions) -> _Scan:
    """Pass 1: timestamps and sizes of all frames (up to max_seconds), thumbnails and detector samples."""
    import av

    person = opts.crop == "person"
    want_motion = person and opts.person_detector in ("auto", "motion")
    want_detector = person and opts.person_detector in ("auto", "mediapipe")
    thumbs, samples = _Reservoir(200), _Reservoir(opts.person_samples)
    times: list[float | None] = []
    info = raw = thumb_size = sample_size = None
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        nominal = _nominal_fps(stream)
        for index, frame in enumerate(container.decode(stream)):
            if info is None:
                rotation = _rotation_of(stream, frame)
                raw = (frame.width, frame.height)
                w, h = (raw[1], raw[0]) if rotation in (90, 270) else raw
                info = VideoInfo(fps=nominal, width=w, height=h, rotation=rotation)
                t = _THUMB_LONG_SIDE / max(raw)  # up or down: the motion mask's 3x3 opening assumes this scale
                thumb_size = (max(2, int(round(raw[0] * t))), max(2, int(round(raw[1] * t))))
                thumb_size += ((thumb_size[1] if rotation in (90, 270) else thumb_size[0]) / w,)
                sample_size = _fit_long_side(*raw, _DETECT_LONG_SIDE)
            elif (frame.width, frame.height) != raw:
                raise ValueError(f"video {path}: frame {index} is {frame.width}x{frame.height} but the frames "
                                 f"before it are {raw[0]}x{raw[1]} (the frame size changes mid-stream; "
                                 f"re-encode the video to one size)")
            times.append(frame.time)
            if opts.max_seconds is not None and _past(times, nominal, opts.max_seconds + 2.0 / max(nominal, 1.0)):
                break
            if want_motion and thumbs.wants(index):
                thumbs.add(_upright(_to_rgb(frame, *thumb_size[:2]), info.rotation))
            if want_detector and samples.wants(index):
                samples.add(_upright(_to_rgb(frame, *sample_size[:2]), info.rotation))
    except av.error.FFmpegError as err:
        raise ValueError(f"cannot decode video {path}: {err}") from err
    finally:
        container.close()
    if info is None:
        raise SubjectInputError(f"video {path} contains no decodable frames (zero frames in its video stream)",
                                "re-export the video (ffmpeg -i IN -c:v libx264 OUT.mp4), or remove it")
    stamps, how = _clean_times(times, info.fps)
    if stamps is None:
        raise ValueError(f"video {path} has no usable frame rate (none in the stream, no frame timestamps)")
    return _Scan(info=info, raw_size=raw, times=stamps, timestamps=how, thumbs=thumbs.evenly(len(thumbs.items)),
                 thumb_scale=thumb_size[2], samples=samples.evenly(opts.person_samples))


def _past(times: list, nominal: float, seconds: float) -> bool:
    if times[-1] is not None and times[0] is not None:
        return times[-1] - times[0] > seconds
    return nominal > 0 and (len(times) - 1) / nominal > seconds


def _clean_times(times: list, nominal: float) -> tuple[np.ndarray | None, str]:
    """Frame times in seconds; the frame index / nominal fps where timestamps are missing or not increasing."""
    if all(t is not None for t in times):
        stamps = np.asarray(times, dtype=np.float64)
        if len(stamps) < 2 or np.all(np.diff(stamps) > 0):
            return stamps, "pts"
        why = "timestamps not increasing"
    else:
        why = "timestamps missing"
    if not nominal > 0:
        return None, why
    return np.arange(len(times)) / nominal, f"{why}: frame index / nominal fps"


# ---------------------------------------------------------------------------------------------- cropping


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


def _choose_box(path: Path, scan: _Scan, opts: DecodeOptions) -> tuple[CropBox, dict]:
    """The crop box (unsnapped) and what chose it (meta["crop"] fields)."""
    w, h = scan.info.width, scan.info.height
    if opts.crop == "center":
        return center_box(w, h), {"detector": None}
    if opts.crop == "full":
        return full_box(w, h), {"detector": None}
    detail: dict = {}
    if opts.person_detector in ("auto", "mediapipe"):
        extent, found = mediapipe_extent(scan.samples, w, h)
        detail = {"detector": "mediapipe", "detected": [found, len(scan.samples)]}
        if extent is not None:
            floor = max(float(opts.size), opts.person_min_side * min(w, h))
            detail["person"] = [round(v, 1) for v in extent]
            print(f"decode {path.name}: mediapipe found the person in {found}/{len(scan.samples)} sampled frames, "
                  f"extent {detail['person']}", flush=True)
            return person_box(extent, w, h, opts.person_margin, min_side=floor), detail
        if opts.person_detector == "mediapipe":
            print(f"decode {path.name}: mediapipe found no person in {len(scan.samples)} sampled frames "
                  f"({found} detections); using the centre square", flush=True)
            return center_box(w, h), detail
        print(f"decode {path.name}: mediapipe found no person ({found}/{len(scan.samples)} sampled frames); "
              f"falling back to motion", flush=True)
    bbox = motion_bbox(np.stack(scan.thumbs), opts.motion_threshold) if scan.thumbs else None
    if bbox is not None:
        s = 1.0 / scan.thumb_scale
        bbox = tuple(v * s for v in bbox)
        detail["person"] = [round(v, 1) for v in bbox]
    detail["detector"] = "motion"
    print(f"decode {path.name}: motion box {detail.get('person', 'none (nothing moves): centre square')}", flush=True)
    return person_box(bbox, w, h, opts.person_margin), detail


def _decode_step(raw_size: tuple[int, int], side: int, size: int) -> int:
    """Largest integer factor dividing both frame sides that keeps the box at >= ``size`` pixels."""
    best = 1
    for n in _divisors(math.gcd(*raw_size)):
        if side / n >= size:
            best = n
    return best


# ---------------------------------------------------------------------------------------------- stage


def decode_video(video: str | os.PathLike, out: str | os.PathLike, opts: DecodeOptions | None = None) -> dict:
    """Decode ``video`` into ``out/%06d.png`` + ``out/meta.json`` (+ ``audio.wav``), as one atomic folder.

    Returns the meta dict. Raises FileNotFoundError / ValueError naming the file on unusable input.
    """
    import av
    import cv2

    from talkinnerf.video.audio import extract_audio

    opts = opts or DecodeOptions()
    opts.validate()
    video, out = Path(video), Path(out)
    started = time.perf_counter()
    scan = _scan(video, opts)
    info = scan.info
    if scan.timestamps != "pts":
        print(f"decode {video.name}: {scan.timestamps}", flush=True)
    try:
        kept, fps, resampled = frame_schedule(scan.times, info.fps, opts.stride, opts.max_seconds, opts.fps)
    except ValueError as err:
        raise ValueError(f"video {video}: {err}") from err
    if len(kept) < MIN_FRAMES:
        raise SubjectInputError(
            f"video {video} gives {len(kept)} frame(s) (stride {opts.stride}, max_seconds {opts.max_seconds}); a "
            f"subject needs at least {MIN_FRAMES}: one to train on and one held out",
            "use a longer video (a few seconds or more of the person talking), or lower decode.stride")
    if resampled:
        print(f"decode {video.name}: frame times are not on a {info.fps:.3f} fps clock (variable frame rate) or "
              f"another rate was asked: resampled to {fps * opts.stride:.3f} fps by nearest frame", flush=True)
    box, detail = _choose_box(video, scan, opts)
    step = _decode_step(scan.raw_size, box.side, opts.size)
    box = snap_box(box, info.width, info.height, step)
    image_box = CropBox(box.x0 // step, box.y0 // step, box.side // step)
    work = (scan.raw_size[0] // step, scan.raw_size[1] // step)

    wanted = sorted(set(kept))
    positions: dict[int, list[int]] = {}
    for k, index in enumerate(kept):
        positions.setdefault(index, []).append(k)
    written = 0
    with atomic_dir(out) as tmp:
        container = _open(video)
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for index, frame in enumerate(container.decode(stream)):
                if index not in positions:
                    if index > wanted[-1]:
                        break
                    continue
                if (frame.width, frame.height) != scan.raw_size:
                    raise ValueError(f"video {video}: frame {index} changes size mid-stream")
                image = _upright(_to_rgb(frame, *work), info.rotation)
                bgr = cv2.cvtColor(crop_resize(image, image_box, opts.size, opts.pad), cv2.COLOR_RGB2BGR)
                for k in positions[index]:
                    if not cv2.imwrite(str(tmp / f"{k:06d}.png"), bgr):
                        raise ValueError(f"cannot write frame {k} of {video} to {out}")
                    written += 1
        except av.error.FFmpegError as err:
            raise ValueError(f"cannot decode video {video}: {err}") from err
        finally:
            container.close()
        if written != len(kept):
            raise ValueError(f"video {video} decoded {written} of {len(kept)} frames on the second pass")
        t0 = float(scan.times[0])
        times = [round(float(scan.times[i]) - t0, 6) for i in kept]
        audio = None
        if opts.audio:
            start = float(scan.times[kept[0]])
            audio = extract_audio(video, tmp / "audio.wav", start, start + len(kept) / fps)
            if audio is not None:
                audio["start"] = round(start - t0, 6)
        meta = {
            "fps": fps,
            "count": len(kept),
            "size": opts.size,
            "source": str(video),
            "source_size": [info.width, info.height],
            "source_fps": info.fps,
            "rotation": info.rotation,
            "stride": opts.stride,
            "transform": box.transform(opts.size),
            "crop": {"mode": opts.crop, "box": [box.x0, box.y0, box.side], "decode_step": step, **detail},
            "source_frames": kept,
            "times": times,
            "resampled": resampled,
            "audio": audio,
        }
        write_json(tmp / "meta.json", meta)
    seconds = time.perf_counter() - started
    span = times[-1] + 1.0 / fps if times else 0.0
    print(f"decode {video.name}: {len(kept)} frames, box {meta['crop']['box']} (decoder step {step}), "
          f"audio {'yes' if audio else 'no'}, {seconds:.2f} s ({seconds / max(span, 1e-9):.2f} s per video second)",
          flush=True)
    return meta


def apply_transform(points: np.ndarray, transform: dict) -> np.ndarray:
    """Map source-pixel points (..., 2) to frame pixels with a meta.json ``transform``."""
    points = np.asarray(points, dtype=np.float64)
    scale = float(transform["scale"])
    offset = np.asarray(transform["offset"], dtype=np.float64)
    return points * scale + offset
