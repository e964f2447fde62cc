"""Sound for rendered videos: read a PCM WAV, fit it to a frame sequence (the shorter wins), mux it as AAC into
the H.264 mp4 that talkinnerf.video.encode writes, and read a muxed track back (tests, checks).

Kept out of talkinnerf/video/ on purpose: the decode and demo rules' code digests cover that folder, and a change
there would rerun every subject's preprocessing and training.

Timing: audio sample ``i`` plays at video time ``i / sample_rate`` (frame ``j`` at ``j / fps``), which is how
`video decode` writes ``audio.wav`` (its first sample at the first kept frame) and how motions are converted
(frame 0 at time 0). The mp4 muxer writes an edit list for the AAC encoder's priming samples, so a decoder that
honours it (ffmpeg, browsers, PyAV) plays the first sample with the first frame.
"""

from __future__ import annotations

import os
import shutil
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from talkinnerf.io import atomic_path

# sample rates the AAC encoder takes; other rates are resampled to 48 kHz (noted)
AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)
_AUDIO_BLOCK = 4096   # samples per frame handed to the encoder


@dataclass
class Audio:
    """16-bit PCM samples (N, channels) at ``rate`` Hz, and where they came from."""

    samples: np.ndarray
    rate: int
    source: str = ""

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate


def read_wav(path: str | os.PathLike) -> Audio:
    """A PCM WAV file as int16 (N, channels). 8-, 16-, 24- and 32-bit integer PCM are read; anything else (or a
    file that is not a WAV) is a ValueError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"audio file {path} does not exist")
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, rate, count = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            raw = w.readframes(count)
    except (wave.Error, EOFError, OSError) as err:
        raise ValueError(f"audio file {path} is not a readable PCM WAV file ({err}); replace it with a 16-bit PCM "
                         "WAV (ffmpeg -i IN -c:a pcm_s16le OUT.wav) or remove it") from err
    if rate <= 0 or channels <= 0:
        raise ValueError(f"audio file {path}: sample rate {rate}, {channels} channels")
    if width == 1:
        samples = ((np.frombuffer(raw, np.uint8).astype(np.int16) - 128) << 8).astype(np.int16)
    elif width == 2:
        samples = np.frombuffer(raw, "<i2").astype(np.int16)
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3)
        samples = b[:, 2].astype(np.int8).astype(np.int16) * 256 + b[:, 1].astype(np.int16)
        samples = samples.astype(np.int16)
    elif width == 4:
        samples = (np.frombuffer(raw, "<i4") >> 16).astype(np.int16)
    else:
        raise ValueError(f"audio file {path}: {8 * width}-bit samples are not supported (8/16/24/32-bit PCM)")
    samples = samples[: (len(samples) // channels) * channels].reshape(-1, channels)
    return Audio(samples=np.ascontiguousarray(samples), rate=int(rate), source=str(path))


def copy_audio(source: str | os.PathLike, out: str | os.PathLike) -> None:
    """Copy a WAV file byte for byte, atomically (a motion's audio into results/motions/)."""
    source = Path(source)
    if not source.is_file():
        raise FileNotFoundError(f"audio file {source} does not exist")
    with atomic_path(out) as tmp:
        shutil.copyfile(source, tmp)


def fit_to_frames(audio: Audio, frames: int, fps: float) -> tuple[Audio, int, str | None]:
    """The shorter of audio and video wins: returns (audio cut to the kept frames, frames kept, a note or None).

    Frames kept: all of them when the audio lasts at least as long, else ``floor(audio seconds * fps)`` (at least
    one). The audio is then cut to ``round(kept / fps * rate)`` samples, so both end together to one sample."""
    if frames < 1 or fps <= 0:
        raise ValueError(f"fit_to_frames: {frames} frames at {fps} fps")
    video_seconds = frames / fps
    kept = frames
    note = None
    if audio.seconds + 0.5 / audio.rate < video_seconds:
        kept = max(1, int(np.floor(audio.seconds * fps + 1e-9)))
        note = (f"audio ({audio.seconds:.3f} s) shorter than the motion ({frames} frames, {video_seconds:.3f} s): "
                f"video cut to {kept} frames ({kept / fps:.3f} s)")
    samples = min(len(audio.samples), int(round(kept / fps * audio.rate)))
    if note is None and samples < len(audio.samples):
        note = (f"audio ({audio.seconds:.3f} s) longer than the motion ({frames} frames, {video_seconds:.3f} s): "
                f"audio cut to {samples / audio.rate:.3f} s")
    return Audio(samples=audio.samples[:samples], rate=audio.rate, source=audio.source), kept, note


def _layout(channels: int) -> str:
    return {1: "mono", 2: "stereo"}[channels]


def write_video_with_audio(path: str | os.PathLike, frames: np.ndarray, fps: float, audio: Audio | None = None,
                           crf: int = 18, bitrate: int = 128000) -> dict | None:
    """``talkinnerf.video.encode.write_video`` plus an AAC track of ``audio`` (sample 0 with frame 0), atomically.

    Without audio this is write_video itself. More than two channels are mixed down to mono; a rate AAC does
    not take is resampled to 48 kHz. Returns what was muxed (rate, channels, samples, seconds, notes) or None."""
    from talkinnerf.video.encode import _fps_fraction, _pad_even, write_video

    if audio is None or len(audio.samples) == 0:
        write_video(path, frames, fps, crf=crf)
        return None
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(f"write_video_with_audio({path}): frames must be uint8 (T,H,W,3) with T > 0, got "
                         f"{frames.dtype} {frames.shape}")
    import av

    notes = []
    samples = np.asarray(audio.samples, np.int16)
    if samples.ndim == 1:
        samples = samples[:, None]
    if samples.shape[1] > 2:
        samples = samples.astype(np.float64).mean(1, keepdims=True).round().astype(np.int16)
        notes.append(f"{audio.samples.shape[1]} channels mixed down to mono")
    layout = _layout(samples.shape[1])
    rate = int(audio.rate)
    out_rate = rate if rate in AAC_RATES else 48000
    if out_rate != rate:
        notes.append(f"resampled {rate} -> {out_rate} Hz (AAC)")
    frames = _pad_even(frames)
    path = Path(path)
    with atomic_path(path, suffix=path.suffix or ".mp4") as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            vstream = container.add_stream("libx264", rate=_fps_fraction(fps))
            vstream.width, vstream.height = int(frames.shape[2]), int(frames.shape[1])
            vstream.pix_fmt = "yuv420p"
            vstream.options = {"crf": str(int(crf)), "preset": "medium"}
            astream = container.add_stream("aac", rate=out_rate)
            astream.layout = layout
            astream.bit_rate = int(bitrate)
            for image in frames:
                for packet in vstream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")):
                    container.mux(packet)
            for packet in vstream.encode():
                container.mux(packet)
            resampler = av.AudioResampler(format="s16", layout=layout, rate=out_rate) if out_rate != rate else None
            for start in range(0, len(samples), _AUDIO_BLOCK):
                # packed s16: one row of interleaved samples
                block = np.ascontiguousarray(samples[start:start + _AUDIO_BLOCK]).reshape(1, -1)
                frame = av.AudioFrame.from_ndarray(block, format="s16", layout=layout)
                frame.sample_rate = rate
                frame.pts = start
                frame.time_base = Fraction(1, rate)
                for f in (resampler.resample(frame) if resampler else [frame]):
                    for packet in astream.encode(f):
                        container.mux(packet)
            if resampler is not None:
                for f in resampler.resample(None):
                    for packet in astream.encode(f):
                        container.mux(packet)
            for packet in astream.encode():
                container.mux(packet)
    return {"sample_rate": out_rate, "channels": samples.shape[1], "samples": int(len(samples)),
            "seconds": round(len(samples) / rate, 6), "codec": "aac", "notes": notes}


def read_audio_track(path: str | os.PathLike) -> tuple[np.ndarray, int, float]:
    """Decode the first audio track of a video: (float32 (N, channels) in [-1, 1], rate, the stream's duration in
    seconds as the container states it, encoder padding excluded). ValueError when there is none."""
    import av

    path = Path(path)
    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise ValueError(f"{path} has no audio track")
        stream = container.streams.audio[0]
        rate = int(stream.codec_context.sample_rate)
        duration = float(stream.duration * stream.time_base) if stream.duration is not None else float("nan")
        chunks = []
        for frame in container.decode(stream):
            data = frame.to_ndarray()
            data = data if frame.format.is_planar else data.reshape(-1, len(frame.layout.channels)).T
            chunks.append(np.asarray(data, np.float32))
    if not chunks:
        return np.zeros((0, 1), np.float32), rate, duration
    return np.concatenate(chunks, axis=1).T, rate, duration
