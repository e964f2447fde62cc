"""Our Robust Video Matting network against the published layout and outputs (conformance data in ../shared/rvm)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from shared_data import SHARED_DIR
from talkinnerf.preprocess.rvm import (
    MattingNetwork,
    auto_downsample_ratio,
    iter_mattes,
    load_matting_network,
    matte_frames,
)

RVM_DIR = Path(os.environ.get("TALKINNERF_RVM_CONFORMANCE", SHARED_DIR / "rvm"))
WEIGHTS = RVM_DIR / "rvm_golden_a_weights.safetensors"
GOLDEN_IO = RVM_DIR / "rvm_golden_a_io.npz"
SHAPES = RVM_DIR / "rvm_mobilenetv3_state_dict_shapes.json"

needs_data = pytest.mark.skipif(not (WEIGHTS.exists() and GOLDEN_IO.exists() and SHAPES.exists()),
                                reason=f"RVM conformance data not found in {RVM_DIR}")

# The README asks for ~1e-4; we hold a much tighter bound because, with these random weights and two frames,
# a swapped ConvGRU gate moves the outputs by only ~2.5e-5 (measured). Our implementation is at ~2e-7.
TOLERANCE = 2e-6


@pytest.fixture(scope="module")
def golden_state() -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(WEIGHTS))


@pytest.fixture(scope="module")
def golden_net(golden_state) -> MattingNetwork:
    return load_matting_network(golden_state)


@pytest.fixture(scope="module")
def golden_io() -> dict[str, np.ndarray]:
    with np.load(GOLDEN_IO) as data:
        return {key: data[key] for key in data.files}


@needs_data
def test_state_dict_layout_equals_the_published_one():
    spec = json.loads(SHAPES.read_text())
    ours = {key: list(value.shape) for key, value in MattingNetwork().state_dict().items()}
    assert ours == {key: list(shape) for key, shape in spec["shapes"].items()}
    assert len(ours) == spec["num_tensors"] == 380
    assert sum(p.numel() for p in MattingNetwork().parameters()) == spec["num_parameters"]


@needs_data
def test_strict_load_rejects_a_missing_key(golden_state):
    MattingNetwork().load_state_dict({k: v.float() for k, v in golden_state.items()}, strict=True)
    incomplete = {k: v.float() for k, v in golden_state.items() if k != "decoder.decode2.gru.ih.0.weight"}
    with pytest.raises(RuntimeError, match="Missing key"):
        MattingNetwork().load_state_dict(incomplete, strict=True)


@needs_data
def test_frame_by_frame_reproduces_the_reference(golden_net, golden_io):
    src = torch.from_numpy(golden_io["src"])  # (frames, 1, 3, H, W)
    ratio = float(golden_io["downsample_ratio"])
    rec: list[torch.Tensor | None] = [None] * 4
    with torch.inference_mode():
        for t in range(src.shape[0]):
            fgr, pha, *rec = golden_net(src[t], *rec, downsample_ratio=ratio)
            assert fgr.shape == (1, 3, 144, 256) and pha.shape == (1, 1, 144, 256)
            assert (fgr - torch.from_numpy(golden_io["fgr"][t])).abs().max().item() < TOLERANCE
            assert (pha - torch.from_numpy(golden_io["pha"][t])).abs().max().item() < TOLERANCE
    # states at 1/2..1/16 of the downsampled (72×128) image, half the decoder channels at each scale
    assert [tuple(r.shape) for r in rec] == [(1, 16, 36, 64), (1, 20, 18, 32), (1, 40, 9, 16), (1, 64, 5, 8)]


@needs_data
def test_time_series_call_reproduces_the_reference(golden_net, golden_io):
    series = torch.from_numpy(golden_io["src"]).transpose(0, 1)  # (1, frames, 3, H, W)
    with torch.inference_mode():
        fgr, pha, *_ = golden_net(series, downsample_ratio=float(golden_io["downsample_ratio"]))
    assert (fgr[0] - torch.from_numpy(golden_io["fgr"][:, 0])).abs().max().item() < TOLERANCE
    assert (pha[0] - torch.from_numpy(golden_io["pha"][:, 0])).abs().max().item() < TOLERANCE


@needs_data
def test_chunked_video_matting_equals_one_by_one(golden_net, golden_io):
    base = (golden_io["src"][:, 0].transpose(0, 2, 3, 1) * 255).round().astype(np.uint8)  # (2, H, W, 3)
    frames = np.concatenate([base, base[:, :, ::-1], base[::-1]])  # 6 frames: recurrence crosses chunk edges
    one_by_one = np.stack([a for a in iter_mattes(golden_net, iter(frames), 0.5, chunk=1)])
    chunked = matte_frames(golden_net, frames, 0.5, chunk=4)
    assert chunked.shape == (6, 144, 256) and chunked.dtype == np.uint8
    assert np.abs(chunked.astype(int) - one_by_one.astype(int)).max() <= 1  # float noise at a rounding edge
    assert (chunked == one_by_one).mean() > 0.999
    # the state really is carried: restarting it at frame 4 changes the result
    restarted = matte_frames(golden_net, frames[4:], 0.5, chunk=4)
    assert np.abs(restarted.astype(int) - chunked[4:].astype(int)).max() > 0
    assert not torch.is_inference_mode_enabled()
    assert matte_frames(golden_net, frames[:0], 0.5).shape == (0, 144, 256)


def test_odd_sizes_and_full_resolution_shapes():
    net = MattingNetwork().eval()
    src = torch.rand(2, 3, 67, 93)
    with torch.inference_mode():
        fgr, pha, *rec = net(src, downsample_ratio=0.37)  # odd low-res sizes: decoder crops, refiner upsamples
        assert fgr.shape == (2, 3, 67, 93) and pha.shape == (2, 1, 67, 93)
        fgr, pha, *rec = net(src, *rec, downsample_ratio=0.37)
        fgr, pha, *rec = net(src[None, :, :, :32, :48], downsample_ratio=1)  # no refiner at ratio 1
        assert fgr.shape == (1, 2, 3, 32, 48) and pha.shape == (1, 2, 1, 32, 48)
        assert float(pha.min()) >= 0 and float(pha.max()) <= 1
        seg, *_ = net(src, downsample_ratio=0.5, segmentation_pass=True)
        assert seg.shape == (2, 1, 33, 46)


def test_broadcastable_initial_state_equals_none():
    torch.manual_seed(0)
    net = MattingNetwork().eval()
    src = torch.rand(1, 2, 3, 40, 56)
    with torch.inference_mode():
        fgr_a, pha_a, *_ = net(src, downsample_ratio=0.5)
        fgr_b, pha_b, *_ = net(src, *[torch.zeros(1)] * 4, downsample_ratio=0.5)  # as the exported models
    assert torch.equal(fgr_a, fgr_b) and torch.equal(pha_a, pha_b)


def test_auto_downsample_ratio():
    assert auto_downsample_ratio(1080, 1920) == pytest.approx(512 / 1920)
    assert auto_downsample_ratio(720, 1280) == pytest.approx(0.4)
    assert auto_downsample_ratio(512, 384) == 1.0
    assert auto_downsample_ratio(256, 256) == 1.0
    assert auto_downsample_ratio(1920, 1080, long_side=768) == pytest.approx(0.4)


def test_matte_frames_rejects_bad_input():
    net = MattingNetwork().eval()
    with pytest.raises(ValueError, match="uint8"):
        matte_frames(net, np.zeros((2, 16, 16, 3), np.float32))
    with pytest.raises(ValueError, match="size changed"):
        matte_frames(net, [np.zeros((16, 16, 3), np.uint8), np.zeros((16, 24, 3), np.uint8)])
