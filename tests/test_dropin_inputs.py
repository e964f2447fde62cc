"""Every bad input a user can drop in gets one clear error naming the file and the fix, as the last log line.

(4K downscaling, variable frame rate, rotation and audio-only files are covered in test_decode_inputs.py; this
file checks the remaining cases and that each ends the stage's log with `FAILED ... Fix: ...`.)
"""

from __future__ import annotations

import json

import av
import numpy as np
import pytest

from talkinnerf.cli import main
from talkinnerf.failures import SubjectInputError
from talkinnerf.video.encode import write_video
from talkinnerf.video.frames import read_frames


def _good_video(path, frames=6, size=48):
    rng = np.random.default_rng(0)
    write_video(path, rng.integers(0, 255, (frames, size, size, 3), dtype=np.uint8), 10)
    return path


def _decode_fails(tmp_path, capsys, video, *needles):
    out = tmp_path / "frames"
    assert main(["video", "decode", "--video", str(video), "--out", str(out), "--subject", "s",
                 "--options", '{"crop": "center", "size": 16}']) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"FAILED talkinnerf video decode of subject s (file '{video.name}')"), last
    assert str(video.name) in last and "Fix:" in last, last
    for needle in needles:
        assert needle in last, (needle, last)
    assert not out.exists()       # nothing half-written
    return last


def test_zero_byte_file(tmp_path, capsys):
    video = tmp_path / "zero bytes.mp4"
    video.write_bytes(b"")
    _decode_fails(tmp_path, capsys, video, "is empty (0 bytes", "copy the video again")


def test_png_renamed_to_mp4(tmp_path, capsys):
    import cv2

    video = tmp_path / "photo.mp4"
    ok, png = cv2.imencode(".png", np.zeros((32, 32, 3), np.uint8))
    video.write_bytes(png.tobytes())
    _decode_fails(tmp_path, capsys, video, "still image (png), not a video", "put a video")


def test_truncated_mp4(tmp_path, capsys):
    good = _good_video(tmp_path / "good.mp4")
    video = tmp_path / "truncated.mp4"
    video.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    _decode_fails(tmp_path, capsys, video, "truncated", "copy the whole file again")


def test_random_bytes_named_mp4(tmp_path, capsys):
    video = tmp_path / "noise.mp4"
    video.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    _decode_fails(tmp_path, capsys, video, "cannot open video", "re-export")


def test_one_frame_video(tmp_path, capsys):
    video = _good_video(tmp_path / "one.mp4", frames=1)
    _decode_fails(tmp_path, capsys, video, "1 frame(s)", "at least 2", "longer video")


def test_too_few_frames_for_the_split(tmp_path, capsys):
    from talkinnerf.io import write_json

    write_json(tmp_path / "frames" / "meta.json", {"count": 1, "fps": 10.0, "source": "data/videos/short.mp4"})
    assert main(["preprocess", "split", "--frames", str(tmp_path / "frames"), "--out", str(tmp_path / "s.json"),
                 "--subject", "short"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("FAILED talkinnerf preprocess split of subject short (file 'short.mp4')"), last
    assert "1 frame" in last and "Fix: use a longer video" in last


def test_audio_only_file(tmp_path, capsys):
    video = tmp_path / "voice.m4a.mp4"
    with av.open(str(video), "w") as c:
        s = c.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 8000, 0
        for packet in [*s.encode(frame), *s.encode()]:
            c.mux(packet)
    _decode_fails(tmp_path, capsys, video, "no video stream", "audio-only")


def test_grayscale_video_decodes_to_rgb(tmp_path):
    video = tmp_path / "gray.mkv"
    rng = np.random.default_rng(1)
    with av.open(str(video), "w") as c:
        s = c.add_stream("ffv1", rate=10)
        s.width, s.height, s.pix_fmt = 40, 30, "gray"
        for i in range(4):
            img = rng.integers(0, 255, (30, 40), dtype=np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="gray")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    assert av.open(str(video)).streams.video[0].codec_context.pix_fmt == "gray"
    assert main(["video", "decode", "--video", str(video), "--out", str(tmp_path / "f"),
                 "--options", '{"crop": "center", "size": 16}']) == 0
    frames = read_frames(tmp_path / "f")
    assert frames.shape == (4, 16, 16, 3)
    assert np.array_equal(frames[..., 0], frames[..., 1])   # grey stays grey in every channel


def test_nobody_in_view_keypoints(tmp_path, capsys):
    """OpenPose found nobody in any frame (or MediaPipe, the same arrays): an error, not an empty fit later."""
    from talkinnerf.io import write_json

    frames = tmp_path / "frames"
    write_json(frames / "meta.json", {"count": 3, "size": 16, "fps": 10.0, "source": "data/videos/empty room.mp4",
                                      "source_frames": [0, 1, 2], "transform": {"scale": 1.0, "offset": [0, 0]}})
    openpose = tmp_path / "openpose"
    for i in range(3):
        write_json(openpose / f"room_{i:012d}_keypoints.json", {"version": 1.3, "people": []})
    assert main(["preprocess", "keypoints", "--frames", str(frames), "--openpose", str(openpose),
                 "--out", str(tmp_path / "k.npz"), "--subject", "room", "--options", '{"backend": "openpose"}']) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("FAILED talkinnerf preprocess keypoints of subject room (file 'empty room.mp4')"), last
    assert "no person found in any of its 3 frames" in last and "Fix:" in last
    assert not (tmp_path / "k.npz").exists()


def test_nobody_in_view_matte(tmp_path, capsys):
    """A static empty scene: the background matte finds nothing that moves in any frame."""
    import cv2

    from talkinnerf.io import write_json

    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(4):
        cv2.imwrite(str(frames / f"{i:06d}.png"), np.full((16, 16, 3), 90, np.uint8))
    write_json(frames / "meta.json", {"count": 4, "size": 16, "fps": 10.0, "source": "data/videos/wall.mp4"})
    assert main(["preprocess", "matte", "--frames", str(frames), "--out", str(tmp_path / "m"),
                 "--subject", "wall", "--options", '{"backend": "background"}']) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "of subject wall (file 'wall.mp4')" in last and "no person found" in last and "Fix:" in last
    assert not (tmp_path / "m").exists()


def test_fit_that_diverges_is_an_error_naming_what(tmp_path):
    from talkinnerf.preprocess.fit import check_fit_finite

    arrays = {"poses_body": np.zeros((2, 22, 3)), "transl": np.array([[0, 0, np.nan], [0, 0, 1.0]]),
              "reproj_error_body": np.array([np.nan, 1.0])}   # NaN reprojection errors are allowed (unseen)
    with pytest.raises(SubjectInputError, match=r"diverged: transl hold NaN or Inf") as info:
        check_fit_finite(arrays, tmp_path / "frames" / "s")
    assert "fit.optimizer" in info.value.fix
    check_fit_finite({"transl": np.zeros((2, 3)), "reproj_error_body": np.array([np.nan, 1.0])}, tmp_path)


def test_diverged_fit_in_skip_mode_leaves_the_subject_out(tmp_path, monkeypatch, capsys):
    """The whole CLI path: fit_subject raising on NaN writes the record and a marker npz, exit 0."""
    import talkinnerf.preprocess.fit as fit_module
    from talkinnerf.failures import left_out_subjects, marker_of

    def diverging(frames, keypoints, model, out, opts, **kw):
        fit_module.check_fit_finite({"transl": np.full((2, 3), np.inf)}, frames)

    monkeypatch.setattr(fit_module, "fit_subject", diverging)
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "meta.json").write_text(json.dumps({"source": "data/videos/jumpy.mp4"}))
    out = tmp_path / "smplx" / "jumpy.npz"
    assert main(["preprocess", "fit", "--frames", str(tmp_path / "frames"), "--keypoints", "k.npz", "--model",
                 "m.npz", "--out", str(out), "--subject", "jumpy", "--on-failure", "skip",
                 "--results", str(tmp_path)]) == 0
    assert marker_of(out)["stage"] == "fit"
    rec = left_out_subjects(tmp_path)["jumpy"]
    assert rec["file"] == "jumpy.mp4" and "diverged" in rec["reason"]


@pytest.mark.parametrize("section, value, needle", [
    ("decode", {"size": "large"}, "option size must be an integer, got 'large'"),
    ("fit", {"iterations": 5}, "option iterations must be list[int], got 5"),
    ("train", {"lr": "fast"}, "option lr must be a number"),
    ("train", {"model": {"samples_per_ray": 1.5}}, "option samples_per_ray must be an integer"),
    ("split", {"mode": 3}, "option mode must be a string"),
    ("matte", {"no_such_key": 1}, "unknown option(s) ['no_such_key']"),
    ("mesh", {"resolutoin": 64}, "unknown option(s) ['resolutoin']"),
])
def test_config_with_a_wrong_type_or_unknown_key_names_section_and_key(section, value, needle):
    import yaml

    from talkinnerf.config_check import check_stage_sections
    from workflow_utils import REPO

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config[section] = value
    with pytest.raises(ValueError) as info:
        check_stage_sections(config)
    assert needle in str(info.value) and f"'{section}'" in str(info.value)


def test_schema_takes_every_stage_section():
    """Every section the stage check knows (mesh included) is a key the workflow's schema accepts."""
    import jsonschema
    import yaml

    from talkinnerf.config_check import STAGE_OPTIONS
    from workflow_utils import REPO

    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for section in STAGE_OPTIONS:
        jsonschema.validate({**config, section: {}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**config, "meshes": {}}, schema)


def test_config_numbers_stay_lenient():
    """An integer where a number is expected, a list for a tuple and null for an optional value are fine."""
    from talkinnerf.options import from_dict
    from talkinnerf.train.trainer import TrainConfig
    from talkinnerf.video.decode import DecodeOptions

    assert from_dict(DecodeOptions, {"max_seconds": 3, "fps": None}).max_seconds == 3
    cfg = from_dict(TrainConfig, {"lr": 1, "model": {"background": [0, 0, 0]}})
    assert cfg.lr == 1
