"""iter_source_frames: the kept source frames of a decoded video, upright and downscaled, in kept order."""

from __future__ import annotations

import numpy as np
import pytest

from talkinnerf.video.decode import DecodeOptions, decode_video, iter_source_frames
from talkinnerf.video.encode import write_video


def _ramp_video(T=6, H=48, W=64):
    frames = np.zeros((T, H, W, 3), np.uint8)
    for i in range(T):
        frames[i, :, :, 0] = 40 * i          # frame number readable from the red level
    frames[:, 10:14, 50:54] = 255             # white marker centred on source pixel (52, 12)
    return frames


def test_iter_source_frames_yields_the_kept_frames_downscaled(tmp_path):
    write_video(tmp_path / "v.mp4", _ramp_video(), 10)
    meta = decode_video(tmp_path / "v.mp4", tmp_path / "f", DecodeOptions(size=32, stride=2, crop="center"))
    got = list(iter_source_frames(tmp_path / "v.mp4", meta, max_long_side=32))
    assert [k for k, _, _ in got] == [0, 1, 2]
    for k, image, scale in got:
        assert image.shape == (24, 32, 3) and image.dtype == np.uint8 and scale == pytest.approx(0.5)
        assert abs(float(np.median(image[:, :20, 0])) - 40 * meta["source_frames"][k]) < 6
    # the marker's centre in image coordinates / scale is its source-pixel position
    image, scale = got[0][1].astype(float).min(-1), got[0][2]
    ys, xs = np.mgrid[0:image.shape[0], 0:image.shape[1]]
    w = np.where(image > 60, image, 0)
    centre = np.array([((xs + 0.5) * w).sum(), ((ys + 0.5) * w).sum()]) / w.sum() / scale
    assert np.allclose(centre, [52, 12], atol=0.6)


def test_iter_source_frames_full_size_and_repeated_frames(tmp_path):
    write_video(tmp_path / "v.mp4", _ramp_video(T=4), 10)
    meta = {"source_frames": [1, 1, 3], "rotation": 0, "source_size": [64, 48]}
    got = list(iter_source_frames(tmp_path / "v.mp4", meta))
    assert [k for k, _, _ in got] == [0, 1, 2] and all(s == 1.0 for _, _, s in got)
    assert got[0][1].shape == (48, 64, 3)
    meta["source_frames"] = [1, 9]
    with pytest.raises(ValueError, match="v.mp4"):
        list(iter_source_frames(tmp_path / "v.mp4", meta))
