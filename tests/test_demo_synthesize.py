"""The synthetic talking subjects: video, masks, part labels, keypoints and OpenPose files agree."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from talkinnerf.demo.options import SynthesizeOptions
from talkinnerf.demo.subjects import DEFAULT_SUBJECTS, NOVEL_SUBJECTS, TRAIN_SUBJECTS, resolve_identity
from talkinnerf.io import load_npz, read_json
from talkinnerf.options import from_dict
from talkinnerf.video.encode import read_video

SIZE = 48


def _opts(**kw):
    base = dict(resolution=SIZE, fps=12.0, seconds=1.5, seed=3)
    base.update(kw)
    return from_dict(SynthesizeOptions, base)


@pytest.fixture(scope="module")
def encoded():
    """Video path -> the frames the synthesizer handed to the encoder (filled by the demo fixture)."""
    return {}


@pytest.fixture(scope="module")
def demo(tmp_path_factory, encoded):
    import talkinnerf.evaluate.media as media
    from talkinnerf.demo.synthesize import synthesize

    root = tmp_path_factory.mktemp("demo")
    write_video = media.write_video_with_audio

    def keep_frames(path, frames, *args, **kwargs):
        encoded[Path(path)] = np.array(frames)
        return write_video(path, frames, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(media, "write_video_with_audio", keep_frames)
        for name, sub in (("ava", "a"), ("ben", "b")):
            synthesize(name, root / sub / f"{name}.mp4", _opts(), resolve_identity(name), progress=False)
        synthesize("ava", root / "a2" / "ava.mp4", _opts(), resolve_identity("ava"), progress=False)
    return root


def _load(root, sub, name):
    frames, fps = read_video(root / sub / f"{name}.mp4")
    gt = root / sub / name / "gt"
    alpha = np.stack([np.array(Image.open(p)) for p in sorted((gt / "alpha").glob("*.png"))])
    parts = np.stack([np.array(Image.open(p)) for p in sorted((gt / "parts").glob("*.png"))])
    return frames, fps, alpha, parts, gt


def test_files_and_shapes(demo):
    frames, fps, alpha, parts, gt = _load(demo, "a", "ava")
    n = 18
    assert frames.shape == (n, SIZE, SIZE, 3) and fps == pytest.approx(12.0)
    assert alpha.shape == parts.shape == (n, SIZE, SIZE)
    cam = read_json(gt / "camera.json")
    assert cam["width"] == cam["height"] == SIZE and np.allclose(cam["R"], np.diag([1, -1, -1]))
    joints = np.load(gt / "joints3d.npy")
    assert joints.shape == (n, 55, 3) and joints.dtype == np.float32
    kp = load_npz(gt / "keypoints2d.npz")
    for g, k in (("body", 25), ("left_hand", 21), ("right_hand", 21), ("face", 70)):
        assert kp[g].shape == (n, k, 2) and kp[f"{g}_visible"].shape == (n, k)
    params = load_npz(gt / "anny_params.npz")
    assert params["pose_parameters"].shape[:2] == (n, len(params["bone_labels"]))
    assert params["facial_actions"].shape == (n, len(params["facial_action_labels"]))
    assert len(list((gt.parent / "openpose").glob("*_keypoints.json"))) == n


def test_masks_and_part_labels_agree_with_rgb(demo):
    frames, _, alpha, parts, gt = _load(demo, "a", "ava")
    assert set(np.unique(alpha)) <= {0, 255}
    assert set(np.unique(parts)) <= {0, 1, 2, 3, 4}
    np.testing.assert_array_equal(parts > 0, alpha > 0)  # no person pixel is background and vice versa
    person = alpha > 0
    assert 0.08 < person.mean() < 0.5
    for label in (1, 2, 3, 4):  # every part shows up
        assert (parts == label).any()
    # the video shows the backdrop exactly where alpha is 0 and something else on the body (away from edges,
    # where H.264's 4:2:0 chroma blurs colours)
    bg = np.array(Image.open(gt / "background.png")).astype(float)
    diff = np.abs(frames.astype(float) - bg[None]).max(-1)
    pad = np.pad(person, ((0, 0), (2, 2), (2, 2)))
    near = np.zeros_like(person)
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            near |= pad[:, 2 + dy:2 + dy + SIZE, 2 + dx:2 + dx + SIZE]
    far_bg = ~near
    interior = person.copy()
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            interior &= pad[:, 2 + dy:2 + dy + SIZE, 2 + dx:2 + dx + SIZE]
    assert np.median(diff[far_bg]) < 6
    assert (diff[far_bg] < 25).mean() > 0.99
    assert (diff[interior] > 25).mean() > 0.8


def test_visible_keypoints_fall_on_the_body(demo):
    _, _, alpha, _, gt = _load(demo, "a", "ava")
    kp = load_npz(gt / "keypoints2d.npz")
    dil = alpha > 0
    pad = np.pad(dil, ((0, 0), (1, 1), (1, 1)))
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            dil = dil | pad[:, 1 + dy:1 + dy + SIZE, 1 + dx:1 + dx + SIZE]
    for g in ("body", "left_hand", "right_hand", "face"):
        uv, vis = kp[g], kp[f"{g}_visible"]
        f_idx, p_idx = np.nonzero(vis)
        assert len(f_idx) > 0.5 * vis.size, g  # most points are visible from the front
        col = np.floor(uv[f_idx, p_idx, 0]).astype(int)
        row = np.floor(uv[f_idx, p_idx, 1]).astype(int)
        on_body = dil[f_idx, row, col]
        # fingers are thinner than a pixel at this size, so a fingertip may fall between covered pixels
        assert on_body.mean() >= (1.0 if g == "body" else 0.95), g


def test_openpose_json_lengths_and_noise(demo):
    gt = demo / "a" / "ava" / "gt"
    kp = load_npz(gt / "keypoints2d.npz")
    files = sorted((gt.parent / "openpose").glob("*_keypoints.json"))
    errs = []
    for i, f in enumerate(files):
        person = json.loads(f.read_text())["people"][0]
        for key, g, n in (("pose_keypoints_2d", "body", 25), ("hand_left_keypoints_2d", "left_hand", 21),
                          ("hand_right_keypoints_2d", "right_hand", 21), ("face_keypoints_2d", "face", 70)):
            arr = np.array(person[key]).reshape(-1, 3)
            assert arr.shape == (n, 3)
            kept = arr[:, 2] > 0
            assert ((arr[~kept] == 0).all()) and (arr[kept, 2] <= 1).all()
            errs.append(np.linalg.norm(arr[kept, :2] - kp[g][i][kept], axis=1))
    errs = np.concatenate(errs)
    assert 0.1 < np.median(errs) < 3.0  # noisy, but close to the truth


def test_same_seed_same_video_and_subjects_differ(demo, encoded):
    a, _, alpha_a, parts_a, gt_a = _load(demo, "a", "ava")
    a2, _, alpha_a2, parts_a2, gt_a2 = _load(demo, "a2", "ava")
    b, _, alpha_b, _, _ = _load(demo, "b", "ben")
    # the rendered frames are bit-identical; libx264 is not on frames this small (measured at 48 px: 2-8 distinct
    # files over 60 encodes of the same frames in one process, none at 128 px, up to 2 grey levels apart on
    # average), so the decoded videos are compared within that
    np.testing.assert_array_equal(encoded[demo / "a" / "ava.mp4"], encoded[demo / "a2" / "ava.mp4"])
    assert np.abs(a.astype(float) - a2.astype(float)).mean() < 2.5
    np.testing.assert_array_equal(alpha_a, alpha_a2)
    np.testing.assert_array_equal(parts_a, parts_a2)
    for name in ("keypoints2d.npz", "anny_params.npz"):
        pa, pb = load_npz(gt_a / name), load_npz(gt_a2 / name)
        assert pa.keys() == pb.keys() and all(np.array_equal(pa[k], pb[k]) for k in pa), name
    np.testing.assert_array_equal(np.load(gt_a / "joints3d.npy"), np.load(gt_a2 / "joints3d.npy"))
    assert np.abs(a.astype(float) - b.astype(float)).mean() > 10
    assert (alpha_a != alpha_b).mean() > 0.02


def test_jaw_moves_with_speech(demo):
    gt = demo / "a" / "ava" / "gt"
    params = load_npz(gt / "anny_params.npz")
    jaw = params["jaw_open"]
    assert jaw.std() > 0.05 and jaw.max() > 0.2
    # the lips (outer midpoints, iBUG 51 / 57) part when the jaw opens: the geometry follows the parameter
    face = load_npz(gt / "keypoints2d.npz")["face"]
    gap = np.linalg.norm(face[:, 57] - face[:, 51], axis=1)
    assert np.corrcoef(gap, jaw)[0, 1] > 0.7


def test_presets_and_option_errors():
    assert len(DEFAULT_SUBJECTS) >= 4 and len(TRAIN_SUBJECTS) == 3 and len(NOVEL_SUBJECTS) >= 1
    assert set(TRAIN_SUBJECTS + NOVEL_SUBJECTS) <= set(DEFAULT_SUBJECTS)
    ids = [resolve_identity(s) for s in DEFAULT_SUBJECTS]
    assert len({(i.gender, i.skin_tone, tuple(i.shirt_color)) for i in ids}) == len(ids)
    assert resolve_identity("ava", {"skin_tone": 0.9}).skin_tone == 0.9
    with pytest.raises(ValueError, match="skin_tone"):
        resolve_identity("ava", {"skin_tone": 2.0})
    with pytest.raises(ValueError, match="unknown option"):
        resolve_identity("ava", {"hat": 1})
    with pytest.raises(ValueError, match="shirt_pattern"):
        resolve_identity("zoe", {"shirt_pattern": "dots"})


def test_synthesize_then_decode_keeps_count_and_size(demo, tmp_path):
    from talkinnerf.video.decode import DecodeOptions, decode_video

    frames, _, _, _, _ = _load(demo, "a", "ava")
    meta = decode_video(demo / "a" / "ava.mp4", tmp_path / "frames", DecodeOptions(size=SIZE))
    decoded = sorted((tmp_path / "frames").glob("*.png"))
    assert meta["count"] == len(decoded) == len(frames)
    assert Image.open(decoded[0]).size == (SIZE, SIZE)
    # same resolution in and out: the crop transform is the identity and the pixels survive the round trip
    assert meta["transform"]["scale"] == pytest.approx(1.0)
    first = np.array(Image.open(decoded[0])).astype(float)
    assert np.abs(first - frames[0]).mean() < 3.0


def test_gestures_happen_in_front_of_the_body(demo):
    # SMPL-X world: the body faces +z. Conversational gestures bring the hands forward; elbows never swing behind.
    joints = np.load(demo / "a" / "ava" / "gt" / "joints3d.npy")
    shoulders, elbows, wrists = joints[:, [16, 17], 2], joints[:, [18, 19], 2], joints[:, [20, 21], 2]
    assert (elbows - shoulders).min() > -0.03
    assert (wrists - shoulders).mean() > 0.05


def test_synthesis_leaves_autograd_on(demo):
    # the demo runs Anny without gradients, but must not switch them off for the rest of the process
    import torch

    assert torch.is_grad_enabled()


def test_the_video_talks_and_decode_keeps_the_voice(demo, tmp_path):
    from talkinnerf.evaluate.lipsync import audio_envelope
    from talkinnerf.evaluate.media import read_audio_track, read_wav
    from talkinnerf.video.decode import DecodeOptions, decode_video

    video = demo / "a" / "ava.mp4"
    gt = demo / "a" / "ava" / "gt"
    voice = read_wav(gt / "audio.wav")
    assert voice.rate == 16000 and voice.samples.shape == (24000, 1)        # 18 frames at 12 fps: 1.5 s, mono
    track, rate, seconds = read_audio_track(video)                           # the mp4 carries it (AAC)
    assert rate == 16000 and track.shape[1] == 1 and seconds == pytest.approx(1.5, abs=0.03)
    meta = decode_video(video, tmp_path / "frames", DecodeOptions(size=SIZE))
    assert meta["audio"]["sample_rate"] == 16000 and meta["audio"]["duration"] == pytest.approx(1.5)
    kept = read_wav(tmp_path / "frames" / "audio.wav")
    assert kept.samples.shape == (24000, 1)
    # the decoded voice is the written one, sample for sample in time (AAC's priming trimmed by the edit list)
    a, b = voice.samples[:, 0].astype(float), kept.samples[:, 0].astype(float)
    lags = {lag: np.corrcoef(a[max(lag, 0):len(a) + min(lag, 0)], b[max(-lag, 0):len(b) + min(-lag, 0)])[0, 1]
            for lag in range(-20, 21)}
    assert max(lags, key=lags.get) == 0 and lags[0] > 0.99
    # and its loudness is the jaw's, frame by frame
    jaw = load_npz(gt / "anny_params.npz")["jaw_open"]
    assert np.corrcoef(audio_envelope(kept.samples, 16000, 12.0, len(jaw)), jaw)[0, 1] > 0.9
    assert read_json(gt / "voice.json")["samples"] == 24000
    from talkinnerf.demo.voice import subject_voice

    np.testing.assert_array_equal(subject_voice("ava", _opts(), resolve_identity("ava"))[0], voice.samples[:, 0])
    # same seed, same voice; another subject, another voice
    np.testing.assert_array_equal(read_wav(demo / "a2" / "ava" / "gt" / "audio.wav").samples, voice.samples)
    assert not np.array_equal(read_wav(demo / "b" / "ben" / "gt" / "audio.wav").samples, voice.samples)
