"""Matte backend `rvm`: Robust Video Matting (MobileNetV3) over the whole video, recurrent state carried along.

The network is talkinnerf.preprocess.rvm.MattingNetwork (the published `rvm_mobilenetv3.pth` layout). Its
weights are not shipped: either the user's own `rvm_mobilenetv3.pth` (option `rvm_weights`, or the pretrained
cache `$TALKINNERF_WEIGHTS/rvm/rvm_mobilenetv3.pth`), or the GPL-3.0 weights converted on the user's explicit
request by `talkinnerf weights fetch rvm --accept-gpl`. Frames run `rvm_chunk` at a time as one time series;
the four recurrent states pass from chunk to chunk, so the result does not depend on the chunk size.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from talkinnerf.preprocess.matte import MatteOptions


def pick_device(name: str) -> str:
    """`auto` → cuda when torch sees a GPU, else cpu; anything else is passed through (cpu, cuda, cuda:1)."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"matte option device={name!r}, but torch sees no CUDA device; use 'auto' or 'cpu'")
    return name


def load_weights(path: Path) -> dict:
    """State dict of an `rvm_mobilenetv3.pth` (tensors only; checked against its `.sha256` record when there is
    one) or of a `.safetensors` file."""
    from talkinnerf.pretrained import load_tensors

    if not path.is_file():
        raise FileNotFoundError(
            f"matte backend 'rvm' needs the weights file {path}: put your own rvm_mobilenetv3.pth there "
            f"(or set matte option rvm_weights), or convert the GPL-3.0 weights with "
            f"`talkinnerf weights fetch rvm --accept-gpl`; backend 'mediapipe' needs no weights")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    return load_tensors(path)


def matte_rvm(frames: np.ndarray, opts: MatteOptions, frames_dir: Path) -> np.ndarray:
    """Backend `rvm`: frames uint8 (T,H,W,3) → alpha uint8 (T,H,W)."""
    from talkinnerf.preprocess.matte import rvm_weights_path
    from talkinnerf.preprocess.rvm import load_matting_network, matte_frames

    if opts.rvm_chunk < 1:
        raise ValueError(f"matte option rvm_chunk must be >= 1, got {opts.rvm_chunk}")
    if opts.rvm_downsample is not None and not 0.0 < opts.rvm_downsample <= 1.0:
        raise ValueError(f"matte option rvm_downsample must lie in (0, 1], got {opts.rvm_downsample}")
    path = rvm_weights_path(opts)
    device = pick_device(opts.device)
    if opts.threads:
        import torch

        torch.set_num_threads(opts.threads)
    try:
        net = load_matting_network(load_weights(path), device=device)
    except RuntimeError as err:  # strict load: a file of another layout
        raise ValueError(f"{path} is not an rvm_mobilenetv3 state dict ({err})".splitlines()[0]) from None
    return matte_frames(net, frames, downsample_ratio=opts.rvm_downsample, chunk=opts.rvm_chunk, device=device)
