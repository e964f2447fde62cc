"""Keep a video's audio beside its decoded frames: the span of the kept frames as 16-bit PCM WAV.

The WAV starts at the first kept frame's time and lasts as long as the kept frames do (count / fps); audio
gaps inside it and a track that ends early are filled with silence, so sample ``i`` of the WAV plays at video
time ``start + i / sample_rate`` (meta.json ``audio.start``, seconds from the video's first frame). Sample rate
and channel count are the track's own; only the sample format becomes 16-bit integers. Streams the audio frame
by frame (memory does not grow with the video's length).
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np


def _to_int16(frame) -> np.ndarray:
    """(samples, channels) int16 of a decoded PyAV audio frame, any sample format."""
    channels = len(frame.layout.channels)
    data = frame.to_ndarray()
    data = data.T if frame.format.is_planar else data.reshape(-1, channels)
    if data.dtype == np.int16:
        return np.ascontiguousarray(data)
    if data.dtype.kind == "f":
        return np.clip(np.round(data * 32767.0), -32768, 32767).astype(np.int16)
    if data.dtype == np.int32:
        return (data >> 16).astype(np.int16)
    if data.dtype == np.uint8:
        return ((data.astype(np.int16) - 128) << 8).astype(np.int16)
    raise ValueError(f"unsupported audio sample type {data.dtype}")


def extract_audio(video: str | Path, out_wav: str | Path, start: float, end: float) -> dict | None:
    """Write the first audio track of ``video`` between times ``start`` and ``end`` (seconds, stream clock) to
    ``out_wav``. Returns {"file", "sample_rate", "channels", "samples", "duration"}, or None without audio."""
    import av

    video, out_wav = Path(video), Path(out_wav)
    with av.open(str(video)) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        rate = int(stream.rate or stream.codec_context.sample_rate or 0)
        if rate <= 0:
            print(f"decode {video.name}: audio track without a sample rate; no audio.wav", flush=True)
            return None
        total = max(0, int(round((end - start) * rate)))
        tolerance = max(1, int(0.005 * rate))  # timestamps within 5 ms of contiguous count as contiguous
        pos, cursor, channels, writer = 0, None, None, None
        try:
            for frame in container.decode(stream):
                samples = _to_int16(frame)
                if channels is None:
                    channels = samples.shape[1]
                    writer = wave.open(str(out_wav), "wb")
                    writer.setnchannels(channels)
                    writer.setsampwidth(2)
                    writer.setframerate(rate)
                if samples.shape[1] != channels:
                    raise ValueError(f"audio of {video}: channel count changes mid-stream")
                first = cursor if frame.time is None else int(round((frame.time - start) * rate))
                if cursor is not None and abs(first - cursor) <= tolerance:
                    first = cursor
                cursor = first + len(samples)
                if first >= total:
                    break
                if first > pos:  # a gap in the track: silence
                    writer.writeframes(np.zeros((first - pos, channels), np.int16).tobytes())
                    pos = first
                lo, hi = pos - first, min(len(samples), total - first)
                if hi > lo:
                    writer.writeframes(np.ascontiguousarray(samples[lo:hi]).tobytes())
                    pos = first + hi
        except av.error.FFmpegError as err:
            if writer is not None:
                writer.close()
            out_wav.unlink(missing_ok=True)
            print(f"decode {video.name}: cannot decode its audio ({err}); no audio.wav", flush=True)
            return None
        if writer is None:
            return None
        if pos < total:  # the track ends before the kept frames do
            writer.writeframes(np.zeros((total - pos, channels), np.int16).tobytes())
        writer.close()
    return {"file": out_wav.name, "sample_rate": rate, "channels": channels, "samples": total,
            "duration": total / rate}
