"""Decode real-world inputs: 4K (decoder downscale, bounded memory), variable frame rate, portrait and rotated
video, an audio track kept beside the frames, and clear errors for unusable files."""

from __future__ import annotations

import json
import tracemalloc
import wave
from fractions import Fraction
from types import SimpleNamespace

import av
import numpy as np
import pytest

from talkinnerf.video.decode import (
    DecodeOptions,
    _rotation_of,
    _upright,
    apply_transform,
    decode_video,
    frame_schedule,
    iter_source_frames,
)
from talkinnerf.video.frames import read_frames

CENTER = dict(crop="center")


def _write(path, frames, rate=25, pts_ms=None, fmt=None, audio=None, rotation=None, codec="libx264"):
    """Encode RGB frames (T,H,W,3) with PyAV; ``pts_ms`` sets each frame's time in ms (VFR); ``audio`` =
    (int16 samples (C,N), sample rate, codec) adds an audio track; ``rotation`` a display matrix."""
    with av.open(str(path), "w", format=fmt) as c:
        s = c.add_stream(codec, rate=rate)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        s.options = {"preset": "ultrafast", "crf": "12"}
        if pts_ms is not None:
            s.codec_context.time_base = Fraction(1, 1000)
        if rotation:
            s.set_display_rotation(rotation)
        a = None
        if audio is not None:
            samples, sr, acodec = audio
            a = c.add_stream(acodec, rate=sr)
            a.layout = "mono" if samples.shape[0] == 1 else "stereo"
        for i, image in enumerate(frames):
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            if pts_ms is not None:
                f.pts, f.time_base = int(pts_ms[i]), Fraction(1, 1000)
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
        if a is not None:
            for start in range(0, samples.shape[1], 1024):
                chunk = np.ascontiguousarray(samples[:, start:start + 1024])
                f = av.AudioFrame.from_ndarray(chunk.T.reshape(1, -1),  # packed s16: interleaved channels
                                              
                                               format="s16", layout=a.layout.name)
                f.sample_rate, f.pts, f.time_base = sr, start, Fraction(1, sr)
                for p in a.encode(f):
                    c.mux(p)
            for p in a.encode():
                c.mux(p)


def _levels(T, H, W):
    """Frame i is grey level 30*i % 240 with a white 8x8 marker centred on source pixel (W*3/4, H/4)."""
    frames = np.zeros((T, H, W, 3), np.uint8)
    for i in range(T):
        frames[i] = 30 * i % 240
    frames[:, H // 4 - 4:H // 4 + 4, 3 * W // 4 - 4:3 * W // 4 + 4] = 255
    return frames


def _marker_centroid(image, background):
    """Centre (x, y) of what is brighter than ``background``, weighted by how much (pixel centres at +0.5)."""
    w = np.clip(image.astype(np.float64).mean(-1) - background - 8, 0, None)
    ys, xs = np.mgrid[0:w.shape[0], 0:w.shape[1]]
    return np.array([((xs + 0.5) * w).sum(), ((ys + 0.5) * w).sum()]) / w.sum()


# ---------------------------------------------------------------------------------------------- 4K


def test_4k_video_is_downscaled_by_the_decoder_with_an_exact_transform(tmp_path):
    H, W = 2160, 3840
    frames = np.full((3, H, W, 3), 40, np.uint8)
    frames[:, 1000:1080, 2000:2080] = 255            # marker centred on source pixel (2040, 1040)
    _write(tmp_path / "uhd.mp4", frames, rate=30)
    tracemalloc.start()
    meta = decode_video(tmp_path / "uhd.mp4", tmp_path / "f", DecodeOptions(size=64, **CENTER))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert meta["source_size"] == [3840, 2160] and meta["count"] == 3
    step = meta["crop"]["decode_step"]
    assert step >= 8 and 3840 % step == 0 and 2160 % step == 0
    assert peak < 8e6  # one full-size RGB frame alone is 25 MB; the decoder hands over a downscaled one
    x0, y0, side = meta["crop"]["box"]
    assert side == 2160 and x0 == 840 and y0 == 0
    out = read_frames(tmp_path / "f")[1]
    expected = apply_transform([2040.0, 1040.0], meta["transform"])
    assert np.allclose(_marker_centroid(out, 40), expected, atol=0.35)
    k, image, scale = next(iter_source_frames(tmp_path / "uhd.mp4", meta))
    assert image.shape == (720, 1280, 3) and scale == pytest.approx(1 / 3)


# ---------------------------------------------------------------------------------------------- frame rate


def test_frame_schedule_constant_rate_dropped_frames_and_vfr():
    t = np.arange(10) / 30
    assert frame_schedule(t, 30.0, stride=3) == ([0, 3, 6, 9], 10.0, False)
    assert frame_schedule(t, 30.0, max_seconds=0.2) == ([0, 1, 2, 3, 4, 5], 30.0, False)
    dropped = np.delete(t, 2)                        # frame at 2/30 s lost: the one before repeats
    assert frame_schedule(dropped, 30.0) == ([0, 1, 1, 2, 3, 4, 5, 6, 7, 8], 30.0, True)
    vfr = np.array([0.0, 0.045, 0.07, 0.2, 0.21, 0.3])  # irregular, nominal rate far off
    kept, fps, resampled = frame_schedule(vfr, 60.0)
    assert resampled and fps == pytest.approx(5 / 0.3)
    assert kept == [0, 2, 2, 3, 4, 5]                # uniform times 0, 0.06, 0.12, 0.18, 0.24, 0.3
    assert frame_schedule(vfr, 60.0, fps=10.0) == ([0, 2, 3, 5], 10.0, True)


def test_variable_frame_rate_video_is_resampled_to_a_constant_rate(tmp_path):
    frames = _levels(7, 32, 32)
    pts = [0, 40, 80, 200, 240, 280, 320]            # 25 fps clock, two frames missing after 80 ms
    _write(tmp_path / "vfr.mkv", frames, rate=25, pts_ms=pts)
    meta = decode_video(tmp_path / "vfr.mkv", tmp_path / "f", DecodeOptions(size=32, audio=False, **CENTER))
    assert meta["resampled"] is True and meta["fps"] == pytest.approx(25)
    assert meta["source_frames"] == [0, 1, 2, 2, 3, 3, 4, 5, 6]
    assert meta["times"] == pytest.approx([0, 0.04, 0.08, 0.08, 0.2, 0.2, 0.24, 0.28, 0.32])
    out = read_frames(tmp_path / "f")
    assert len(out) == meta["count"] == 9
    grey = np.median(out[:, 16:, :8, 0].reshape(len(out), -1), axis=1)
    assert np.allclose(grey, [30 * i for i in meta["source_frames"]], atol=6)
    # asking for a rate resamples too; stride applies after resampling
    meta = decode_video(tmp_path / "vfr.mkv", tmp_path / "g",
                        DecodeOptions(size=32, fps=12.5, stride=2, audio=False, **CENTER))
    assert meta["fps"] == pytest.approx(6.25) and meta["source_frames"] == [0, 3, 6]
    # a VFR mp4 (no constant-rate grid at all) still gives uniform output times near the frames' own
    _write(tmp_path / "vfr.mp4", frames, rate=25, pts_ms=[0, 30, 90, 100, 190, 250, 330], fmt="mp4")
    meta = decode_video(tmp_path / "vfr.mp4", tmp_path / "h", DecodeOptions(size=32, audio=False, **CENTER))
    grid = np.arange(meta["count"]) / meta["fps"]
    assert meta["resampled"] and np.all(np.abs(np.array(meta["times"]) - grid) <= 0.06)
    assert np.all(np.diff(meta["source_frames"]) >= 0)


def test_constant_rate_video_keeps_every_frame_and_its_times(tmp_path):
    _write(tmp_path / "c.mp4", _levels(5, 32, 48), rate=10)
    meta = decode_video(tmp_path / "c.mp4", tmp_path / "f", DecodeOptions(size=16, **CENTER))
    assert meta["resampled"] is False and meta["source_frames"] == [0, 1, 2, 3, 4]
    assert meta["times"] == pytest.approx([0, 0.1, 0.2, 0.3, 0.4]) and meta["audio"] is None


# ---------------------------------------------------------------------------------------------- orientation


def test_portrait_video(tmp_path):
    frames = _levels(2, 426, 240)                    # marker centred on (180, 106)
    _write(tmp_path / "p.mp4", frames, rate=30)
    meta = decode_video(tmp_path / "p.mp4", tmp_path / "f", DecodeOptions(size=60, **CENTER))
    assert meta["source_size"] == [240, 426] and meta["rotation"] == 0
    assert meta["crop"]["box"] == [0, 93, 240] and 93 % meta["crop"]["decode_step"] == 0
    expected = apply_transform([180.0, 106.0], meta["transform"])
    assert np.allclose(_marker_centroid(read_frames(tmp_path / "f")[0], 0), expected, atol=0.4)
    meta = decode_video(tmp_path / "p.mp4", tmp_path / "g", DecodeOptions(size=60, crop="full"))
    x0, y0, side = meta["crop"]["box"]               # whole frame, padded left and right (centred to a step)
    step = meta["crop"]["decode_step"]
    assert (y0, side) == (0, 426) and x0 % step == 0 and abs(x0 + 93) < step
    assert np.allclose(apply_transform([0, 0], meta["transform"]), [-x0 * 60 / 426, 0])
    expected = apply_transform([180.0, 106.0], meta["transform"])
    assert np.allclose(_marker_centroid(read_frames(tmp_path / "g")[0], 0), expected, atol=0.4)


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_display_matrix_rotation_is_undone(tmp_path, rotation):
    upright = _levels(2, 64, 48)                     # portrait as displayed; marker at (36, 16)
    stored = np.ascontiguousarray(np.rot90(upright, -rotation // 90, axes=(1, 2)))
    _write(tmp_path / "r.mp4", stored, rate=10, rotation=rotation)
    meta = decode_video(tmp_path / "r.mp4", tmp_path / "f", DecodeOptions(size=48, crop="full"))
    assert meta["rotation"] == rotation and meta["source_size"] == [48, 64]
    expected = apply_transform([36.0, 16.0], meta["transform"])
    assert np.allclose(_marker_centroid(read_frames(tmp_path / "f")[0], 0), expected, atol=0.6)


def test_legacy_rotate_tag():
    """FFmpeg no longer writes a `rotate` tag into mp4 (it writes the display matrix, tested above), so the
    legacy tag path is tested on an object carrying it: "rotate" = clockwise degrees to display."""
    stream = SimpleNamespace(metadata={"rotate": "90"})
    frame = SimpleNamespace(rotation=0)
    assert _rotation_of(stream, frame) == 270        # counter-clockwise convention
    stored = np.arange(6).reshape(2, 3, 1)           # [[0 1 2], [3 4 5]] turned clockwise: [[3 0], [4 1], [5 2]]
    assert _upright(stored, 270)[..., 0].tolist() == [[3, 0], [4, 1], [5, 2]]
    assert _rotation_of(SimpleNamespace(metadata={"rotate": "x"}), frame) == 0
    assert _rotation_of(SimpleNamespace(metadata={}), SimpleNamespace(rotation=-90.0)) == 270


# ---------------------------------------------------------------------------------------------- audio


def test_audio_track_is_kept_for_the_kept_span(tmp_path):
    sr = 16000
    t = np.arange(2 * sr) / sr
    tone = (np.sin(2 * np.pi * 440 * t) * 12000 * (t < 0.5)).astype(np.int16)  # 440 Hz for 0.5 s, then silence
    _write(tmp_path / "a.mkv", _levels(20, 32, 32), rate=10, audio=(tone[None], sr, "pcm_s16le"))
    meta = decode_video(tmp_path / "a.mkv", tmp_path / "f", DecodeOptions(size=16, max_seconds=1.0, **CENTER))
    assert meta["count"] == 10
    audio = meta["audio"]
    assert audio == {"file": "audio.wav", "sample_rate": sr, "channels": 1, "samples": sr, "duration": 1.0,
                     "start": 0.0}
    with wave.open(str(tmp_path / "f" / "audio.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()) == (sr, 1, 2, sr)
        pcm = np.frombuffer(w.readframes(w.getnframes()), np.int16)
    assert np.array_equal(pcm, tone[:sr])            # lossless track: the same samples, aligned to frame 0
    assert json.loads((tmp_path / "f" / "meta.json").read_text())["audio"] == audio


def test_compressed_stereo_audio_is_aligned(tmp_path):
    sr = 48000
    t = np.arange(int(1.2 * sr)) / sr
    burst = (np.abs(t - 0.6) < 0.1) * np.sin(2 * np.pi * 1000 * t) * 15000
    stereo = np.stack([burst, 0.5 * burst]).astype(np.int16)
    _write(tmp_path / "a.mp4", _levels(12, 32, 32), rate=10, audio=(stereo, sr, "aac"), fmt="mp4")
    meta = decode_video(tmp_path / "a.mp4", tmp_path / "f", DecodeOptions(size=16, **CENTER))
    assert meta["audio"]["channels"] == 2 and meta["audio"]["sample_rate"] == sr
    with wave.open(str(tmp_path / "f" / "audio.wav")) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), np.int16).reshape(-1, 2).astype(float)
    assert len(pcm) == round(12 / 10 * sr)
    env = np.abs(pcm[:, 0])
    loud = np.nonzero(env > 3000)[0] / sr
    assert abs(loud.min() - 0.5) < 0.01 and abs(loud.max() - 0.7) < 0.01  # the burst stays at 0.5..0.7 s
    assert np.abs(pcm[:, 1] - 0.5 * pcm[:, 0]).mean() < 200


# ---------------------------------------------------------------------------------------------- errors


def _mux_silence(container) -> None:
    """Add a 0.1 s silent mono PCM track to an open output container."""
    stream = container.add_stream("pcm_s16le", rate=8000)
    stream.layout = "mono"
    frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
    frame.sample_rate, frame.pts = 8000, 0
    for packet in [*stream.encode(frame), *stream.encode()]:
        container.mux(packet)


def test_audio_only_file_is_rejected_by_name(tmp_path):
    with av.open(str(tmp_path / "voice.mkv"), "w") as c:
        _mux_silence(c)
    with pytest.raises(ValueError, match=r"voice\.mkv has no video stream \(streams: audio\)"):
        decode_video(tmp_path / "voice.mkv", tmp_path / "f")
    assert not (tmp_path / "f").exists()


def test_video_stream_without_frames_is_rejected_by_name(tmp_path):
    with av.open(str(tmp_path / "empty.mkv"), "w") as c:
        v = c.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = 32, 32, "yuv420p"
        _mux_silence(c)
        for p in v.encode():
            c.mux(p)
    with pytest.raises(ValueError, match=r"empty\.mkv contains no decodable frames"):
        decode_video(tmp_path / "empty.mkv", tmp_path / "f")


def test_frame_that_changes_size_is_rejected_by_name(tmp_path):
    """MJPEG frames are independent pictures: one of another size can be muxed into the same stream."""
    with av.open(str(tmp_path / "sizes.mkv"), "w") as c:
        s = c.add_stream("mjpeg", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuvj420p"
        other = av.CodecContext.create("mjpeg", "w")
        other.width, other.height, other.pix_fmt, other.time_base = 32, 32, "yuvj420p", Fraction(1, 10)
        for i in range(2):
            f = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24").reformat(format="yuvj420p")
            for p in s.encode(f):
                c.mux(p)
        f = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24").reformat(format="yuvj420p")
        f.pts = 2
        for p in other.encode(f):
            p.stream, p.pts, p.dts, p.time_base = s, 2, 2, Fraction(1, 10)
            c.mux(p)
        for p in s.encode():
            c.mux(p)
    with pytest.raises(ValueError, match=r"sizes\.mkv: frame 2 is 32x32 but the frames before it are 64x48"):
        decode_video(tmp_path / "sizes.mkv", tmp_path / "f", DecodeOptions(**CENTER))
