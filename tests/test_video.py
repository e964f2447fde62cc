"""Video encode/decode: round trip, rotation metadata, stride/max_seconds, exact transform, crop, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from talkinnerf.video.decode import CropBox, DecodeOptions, apply_transform, crop_resize, decode_video, person_box
from talkinnerf.video.encode import read_video, write_video
from talkinnerf.video.frames import read_frames


def _block_video(T=6, H=48, W=64, centre=(40, 20), half=3):
    """Black frames with a white square centred on source pixel centre (x, y)."""
    frames = np.zeros((T, H, W, 3), np.uint8)
    x, y = centre
    frames[:, y - half:y + half, x - half:x + half] = 255  # pixels x-half..x+half-1: centre of mass at x
    return frames


def _centroid(image):
    w = image.astype(np.float64).mean(-1)
    ys, xs = np.mgrid[0:w.shape[0], 0:w.shape[1]]
    return np.array([((xs + 0.5) * w).sum() / w.sum(), ((ys + 0.5) * w).sum() / w.sum()])


def test_write_read_round_trip_pads_odd_sizes(tmp_path):
    frames = np.tile(np.linspace(0, 255, 21, dtype=np.uint8)[None, None, :, None], (5, 15, 1, 3))
    write_video(tmp_path / "a.mp4", frames, 25)
    back, fps = read_video(tmp_path / "a.mp4")
    assert back.shape == (5, 16, 22, 3) and fps == pytest.approx(25)
    assert np.abs(back[:, :15, :21].astype(int) - frames).mean() < 3
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left behind


def test_decode_round_trip_keeps_count_and_size(tmp_path):
    write_video(tmp_path / "v.mp4", _block_video(T=7), 12)
    meta = decode_video(tmp_path / "v.mp4", tmp_path / "frames", DecodeOptions(size=32, crop="center"))
    frames = read_frames(tmp_path / "frames")
    assert frames.shape == (7, 32, 32, 3)
    on_disk = json.loads((tmp_path / "frames" / "meta.json").read_text())
    assert on_disk == meta
    assert meta["count"] == 7 and meta["size"] == 32 and meta["source_size"] == [64, 48]
    assert meta["fps"] == pytest.approx(12) and meta["rotation"] == 0 and meta["stride"] == 1
    assert meta["source_frames"] == list(range(7))


def test_transform_maps_a_known_source_point(tmp_path):
    write_video(tmp_path / "v.mp4", _block_video(centre=(40, 20)), 10)
    meta = decode_video(tmp_path / "v.mp4", tmp_path / "f", DecodeOptions(size=24, crop="center"))
    # centre square of a 64x48 video: side 48 from x=8, so scale 0.5, offset (-4, 0)
    assert meta["transform"]["scale"] == pytest.approx(0.5)
    assert meta["transform"]["offset"] == pytest.approx([-4.0, 0.0])
    expected = apply_transform([40.0, 20.0], meta["transform"])
    assert np.allclose(expected, [16.0, 10.0])
    assert np.allclose(_centroid(read_frames(tmp_path / "f")[0]), expected, atol=0.3)


def test_padded_crop_keeps_the_transform_exact():
    image = np.zeros((40, 30, 3), np.uint8)
    image[10:12, 4:6] = 255  # centre (5, 11)
    box = CropBox(x0=-10, y0=0, side=40)  # leaves the frame on the left and right
    out = crop_resize(image, box, 20, "black")
    expected = apply_transform([5.0, 11.0], box.transform(20))
    assert np.allclose(_centroid(out), expected, atol=1e-6)


def test_rotated_video_is_decoded_upright(tmp_path):
    upright = np.zeros((4, 48, 32, 3), np.uint8)  # portrait, as the phone shows it
    upright[:, 12:20, 2:10] = (255, 0, 0)         # red marker top-left of the centre square
    upright[:, 28:36, 22:30] = (0, 255, 0)        # green marker bottom-right
    stored = np.ascontiguousarray(np.rot90(upright, -1, axes=(1, 2)))  # sensor pixels: landscape
    write_video(tmp_path / "r.mp4", stored, 10, rotation=90)
    meta = decode_video(tmp_path / "r.mp4", tmp_path / "f", DecodeOptions(size=32, crop="center"))
    assert meta["rotation"] == 90 and meta["source_size"] == [32, 48]
    frame = read_frames(tmp_path / "f")[0].astype(int)
    red = _centroid(np.where((frame[..., 0] > 128) & (frame[..., 1] < 100), 255, 0)[..., None])
    green = _centroid(np.where((frame[..., 1] > 128) & (frame[..., 0] < 100), 255, 0)[..., None])
    assert np.allclose(red, apply_transform([6.0, 16.0], meta["transform"]), atol=1.0)
    assert np.allclose(green, apply_transform([26.0, 32.0], meta["transform"]), atol=1.0)


def test_stride_and_max_seconds(tmp_path):
    write_video(tmp_path / "v.mp4", _block_video(T=30, H=16, W=16, centre=(8, 8)), 10)
    meta = decode_video(tmp_path / "v.mp4", tmp_path / "f",
                        DecodeOptions(size=16, stride=3, max_seconds=2.0, crop="center"))
    assert meta["source_frames"] == [0, 3, 6, 9, 12, 15, 18]
    assert meta["count"] == 7 and len(read_frames(tmp_path / "f")) == 7
    assert meta["fps"] == pytest.approx(10 / 3)


def test_person_crop_follows_the_moving_person(tmp_path):
    T, H, W = 12, 48, 128
    frames = np.full((T, H, W, 3), 90, np.uint8)
    for t in range(T):
        frames[t, 10:40, 100 + t % 3:112 + t % 3] = (250, 40, 40)  # gesturing person near the right edge
    write_video(tmp_path / "v.mp4", frames, 10)
    meta = decode_video(tmp_path / "v.mp4", tmp_path / "f", DecodeOptions(size=24))
    x0, y0, side = meta["crop"]["box"]
    assert side == 48 and y0 == 0
    assert x0 <= 100 and x0 + side >= 114 and x0 > 40  # person inside, not the centre square (x0=40)


def test_person_box_rules():
    assert person_box(None, 100, 50, 1.2) == CropBox(25, 0, 50)
    box = person_box((10, 0, 20, 90), 60, 100, 1.25)  # tall person in a portrait video: side capped at 100
    assert box.side == 100 and box.x0 == -20 and box.y0 == 0


def test_corrupt_and_missing_files(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(ValueError, match="bad.mp4"):
        decode_video(bad, tmp_path / "f")
    with pytest.raises(FileNotFoundError, match="nope.mp4"):
        decode_video(tmp_path / "nope.mp4", tmp_path / "f")
    assert not (tmp_path / "f").exists()


def test_cli_decode_and_option_errors(tmp_path, capsys):
    from talkinnerf.cli import main

    write_video(tmp_path / "v.mp4", _block_video(T=3), 10)
    assert main(["video", "decode", "--video", str(tmp_path / "v.mp4"), "--out", str(tmp_path / "f"),
                 "--options", '{"size": 16, "crop": "center"}']) == 0
    assert len(read_frames(tmp_path / "f")) == 3
    assert main(["video", "decode", "--video", str(tmp_path / "v.mp4"), "--out", str(tmp_path / "g"),
                 "--options", '{"crop": "face"}']) == 2
    assert "crop" in capsys.readouterr().err
