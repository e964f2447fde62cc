"""SyncNet's LSE-D / LSE-C with the user's weights (talkinnerf/evaluate/syncnet.py).

The released weights are not available here, so the network is checked by its parameter names and shapes (what
the released state dict must fit) and by random weights saved and loaded the way the release is; the scores by
embeddings with a known shift."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from talkinnerf.evaluate import syncnet as sn


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return sn.syncnet_network()


def test_network_has_the_released_names_and_embeds_both_streams(net):
    state = net.state_dict()
    # the four Sequentials at the positions the released syncnet_v2.model names
    for key, shape in {"netcnnaud.0.weight": (64, 1, 3, 3), "netcnnaud.18.weight": (512, 256, 5, 4),
                       "netcnnaud.19.running_mean": (512,), "netfcaud.0.weight": (512, 512),
                       "netfcaud.1.running_var": (512,), "netfcaud.3.weight": (1024, 512),
                       "netcnnlip.0.weight": (96, 3, 5, 7, 7), "netcnnlip.4.weight": (256, 96, 1, 5, 5),
                       "netcnnlip.18.weight": (512, 256, 1, 6, 6), "netcnnlip.19.num_batches_tracked": (),
                       "netfclip.3.bias": (1024,)}.items():
        assert tuple(state[key].shape) == shape, key
    assert not any(k.startswith(("netcnnaud.21", "netcnnlip.21", "netfcaud.4")) for k in state)
    with torch.no_grad():
        lip = net.lip_embedding(torch.rand(2, 3, 5, 224, 224) * 255)
        aud = net.audio_embedding(torch.randn(2, 1, 13, 20))
    # the convolutions reduce a 5-frame 224 px clip and a 20-frame MFCC window to 512 x 1 x 1 each
    assert lip.shape == aud.shape == (2, 1024) and torch.isfinite(lip).all() and torch.isfinite(aud).all()


def test_weights_saved_like_the_release_load_and_give_the_same_embeddings(net, tmp_path):
    path = tmp_path / "syncnet_v2.model"
    torch.save({f"module.{k}": v for k, v in net.state_dict().items()}, path)
    loaded = sn.load_syncnet(path)
    x = torch.randn(1, 1, 13, 20)
    with torch.no_grad():
        assert torch.equal(loaded.audio_embedding(x), net.audio_embedding(x))


def test_weights_that_do_not_fit_are_named(net, tmp_path):
    state = net.state_dict()
    bad = tmp_path / "bad.model"
    torch.save({k: v for k, v in state.items() if k != "netfclip.3.bias"}, bad)
    with pytest.raises(ValueError, match=r"bad.model.*missing netfclip.3.bias"):
        sn.load_syncnet(bad)
    torch.save({**state, "netfclip.3.bias": torch.zeros(7)}, bad)
    with pytest.raises(ValueError, match="wrong shape netfclip.3.bias"):
        sn.load_syncnet(bad)
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a PyTorch state dict"):
        sn.load_syncnet(bad)


def test_where_the_weights_come_from(tmp_path, monkeypatch):
    monkeypatch.setenv("TALKINNERF_WEIGHTS", str(tmp_path))
    assert sn.resolve_weights(None) is None and sn.weights_identity(None).endswith(":absent")
    assert sn.resolve_weights("off") is None and sn.weights_identity("off") == "off"
    with pytest.raises(FileNotFoundError, match=r"nowhere/s.model does not exist.*syncnet_v2.model"):
        sn.resolve_weights(str(tmp_path / "nowhere" / "s.model"))
    cached = tmp_path / "syncnet" / "syncnet_v2.model"
    cached.parent.mkdir()
    cached.write_bytes(b"x")
    assert sn.resolve_weights(None) == cached
    before = sn.weights_identity(None)
    cached.write_bytes(b"xy")      # a replaced file is a new identity: the workflow reruns Table 4
    assert sn.weights_identity(None) != before and str(cached) in before


@pytest.mark.parametrize("shift", [3, -2, 0])
def test_lse_finds_a_known_shift(shift):
    rng = np.random.default_rng(1)
    audio = rng.normal(size=(60, 16))
    lip = rng.normal(size=(60, 16))
    for i in range(60):
        if 0 <= i - shift < 60:    # lip embedding i matches audio embedding i - shift: the mouth trails by shift
            lip[i] = audio[i - shift] + 0.05 * rng.normal(size=16)
    lse = sn.lse_scores(lip, audio, vshift=5)
    d = sn.sync_distances(lip, audio, vshift=5)
    assert lse.offset == shift and lse.frames == 60
    assert lse.distance == pytest.approx(d.min()) and lse.confidence == pytest.approx(np.median(d) - d.min())
    assert lse.confidence > 1.0


def test_mfcc_at_100_hz_from_any_rate():
    t44 = np.arange(44100) / 44100
    t16 = np.arange(16000) / 16000
    a = sn.mfcc_features((8000 * np.sin(2 * np.pi * 440 * t44)).astype(np.int16), 44100)
    b = sn.mfcc_features((8000 * np.sin(2 * np.pi * 440 * t16)).astype(np.int16)[:, None], 16000)
    assert a.shape[0] == b.shape[0] == 13 and 98 <= a.shape[1] <= 100 and a.shape == b.shape
    # the same tone at either rate: the same cepstrum away from the ends
    assert np.abs(a[:, 5:-5] - b[:, 5:-5]).max() < 0.5


def test_frames_are_resampled_to_25_fps():
    idx = sn.resample_indices(30, 30.0)
    assert len(idx) == 25 and idx[0] == 0 and idx[-1] <= 29 and (np.diff(idx) >= 1).all()
    assert (sn.resample_indices(10, 25.0) == np.arange(10)).all()
    with pytest.raises(ValueError):
        sn.resample_indices(10, 0.0)


def test_boxes_fill_gaps_and_the_crop_is_the_authors_window():
    boxes = sn.fill_boxes([None, (10.0, 20.0, 5.0), None, (30.0, 40.0, 9.0), None])
    # interpolated (held at the ends) then median-filtered over 5 frames with the end boxes repeated
    assert np.allclose(boxes, [[10, 20, 5], [10, 20, 5], [20, 30, 7], [30, 40, 9], [30, 40, 9]])
    assert sn.fill_boxes([None, None]) is None
    # an image whose red channel is the column and green the row: the crop's corners tell where it was cut
    h, w = 200, 240
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = np.arange(w)[None, :] % 256
    img[..., 1] = np.arange(h)[:, None] % 256
    crop = sn.face_crop(img, cx=120, cy=80, half=40, crop_scale=0.4)     # BGR out
    assert crop.shape == (224, 224, 3)
    # columns 120 -/+ 56, rows 80 - 40 .. 80 + 72
    assert abs(int(crop[0, 0, 2]) - 64) <= 2 and abs(int(crop[0, 0, 1]) - 40) <= 2
    assert abs(int(crop[-1, -1, 2]) - 175) <= 2 and abs(int(crop[-1, -1, 1]) - 151) <= 2
    edge = sn.face_crop(img, cx=5, cy=5, half=40)                        # beyond the frame: grey 110
    assert (edge[0, 0] == sn.PAD_GREY).all()


def test_scorer_runs_a_video_against_its_audio(net, tmp_path):
    path = tmp_path / "syncnet_v2.model"
    torch.save(net.state_dict(), path)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (96, 96, 3), dtype=np.uint8) for _ in range(36)]     # 1.2 s at 30 fps
    audio = (3000 * rng.normal(size=24000)).astype(np.int16)                             # 1.5 s at 16 kHz
    scorer = sn.SyncNetScorer(path, vshift=3, detector=lambda img: (48.0, 40.0, 20.0))
    lse = scorer.score(frames, 30.0, audio, 16000)
    # 30 frames at 25 fps, 5-frame windows -> 26 lip embeddings, each with its audio window inside 1.5 s
    assert lse is not None and lse.frames == 26 and math.isfinite(lse.distance) and lse.confidence >= 0
    assert -3 <= lse.offset <= 3
    nobody = sn.SyncNetScorer(path, detector=lambda img: None)
    assert nobody.score(frames, 30.0, audio, 16000) is None
