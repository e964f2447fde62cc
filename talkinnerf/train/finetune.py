"""`talkinnerf train finetune`: adapt a trained model to a novel identity from a short video (paper §3.3).

One identity code is appended (initialised at the mean of the learned codes, or left at its random
initialisation), then the model trains at a small learning rate (paper 1e-5) on the first N seconds of
the subject's train frames. Which parameters train is an option: all (default) or only the
identity-dependent ones (the paper's "learn their identity code").
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from talkinnerf.nerf.config import ModelConfig
from talkinnerf.nerf.field_factory import resolve_for_subjects
from talkinnerf.train.data import data_digest, file_digest, load_subject
from talkinnerf.train.trainer import (MODEL_FORMAT, TrainConfig, default_model_factory, model_config_from_file,
                                      run_training, seed_everything, setup_runtime)


@dataclass
class FinetuneConfig(TrainConfig):
    """Options of `train finetune`; `model` is ignored (the base model's configuration is used)."""

    iterations: int = 500              # paper ~50k
    lr: float = 1e-5                   # paper 1e-5
    trainable: str = "all"             # all | identity
    identity_init: str = "mean"        # mean | random

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.trainable not in ("all", "identity"):
            raise ValueError(f"finetune.trainable must be 'all' or 'identity', got {self.trainable!r}")
        if self.identity_init not in ("mean", "random"):
            raise ValueError(f"finetune.identity_init must be 'mean' or 'random', got {self.identity_init!r}")


def extend_identities(base_state: dict[str, torch.Tensor], model: nn.Module, old_count: int,
                      init: str) -> list[str]:
    """Load ``base_state`` (trained with ``old_count`` identities) into ``model`` (one more identity).

    Tensors whose first axis grew from old_count to old_count + 1 are identity tables: the old rows are
    copied and the new row is their mean (init="mean") or keeps the model's fresh initialisation.
    Returns the names of those identity-dependent tensors.
    """
    new_state = model.state_dict()
    grown = []
    for name, value in base_state.items():
        if name not in new_state:
            raise ValueError(f"base model has parameter {name!r} that the new model lacks")
        target = new_state[name]
        if target.shape == value.shape:
            new_state[name] = value
        elif (value.ndim >= 1 and value.shape[0] == old_count and target.shape[0] == old_count + 1
              and target.shape[1:] == value.shape[1:]):
            merged = target.clone()
            merged[:old_count] = value
            if init == "mean":
                merged[old_count] = value.float().mean(0).to(value.dtype)
            new_state[name] = merged
            grown.append(name)
        else:
            raise ValueError(f"parameter {name!r}: base shape {tuple(value.shape)} does not fit "
                             f"{tuple(target.shape)} with one more identity")
    missing = sorted(set(new_state) - set(base_state))
    if missing:
        raise ValueError(f"base model lacks parameters {missing[:5]}")
    model.load_state_dict(new_state)
    if not grown:
        raise ValueError("found no identity-dependent parameter to extend in the base model")
    return grown


def first_seconds(frames: list[int], fps: float, seconds: float) -> list[int]:
    """Train frames within the first ``seconds`` of the video counted from the first train frame (>= 1 frame)."""
    if seconds <= 0:
        raise ValueError(f"finetune: seconds must be > 0, got {seconds}")
    frames = sorted(frames)
    limit = frames[0] + max(1, int(math.ceil(seconds * fps - 1e-9)))
    return [f for f in frames if f < limit]


def finetune(base: str | Path, subject: str, seconds: float, data_root: str | Path, out: str | Path,
             cfg: FinetuneConfig, stop_at: int | None = None,
             model_factory: Callable[[ModelConfig, int], nn.Module] = default_model_factory) -> dict[str, Any]:
    base = Path(base)
    if not base.is_file():
        raise FileNotFoundError(f"base model {base} does not exist")
    device, dist_info = setup_runtime(cfg)
    gen = seed_everything(cfg.seed + dist_info.rank)
    state = torch.load(base, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format") != MODEL_FORMAT:
        raise ValueError(f"{base} is not a talkinnerf model file")
    model_cfg = model_config_from_file(state["model_config"])
    if cfg.background is not None:
        model_cfg = dataclasses.replace(model_cfg, background=tuple(cfg.background))
    cfg = dataclasses.replace(cfg, model=model_cfg)
    names = list(state["subjects"])
    if subject in names:
        raise ValueError(f"subject {subject} is already identity {names.index(subject)} of {base}")
    model = model_factory(model_cfg, len(names) + 1)
    grown = extend_identities(state["state_dict"], model, len(names), cfg.identity_init)
    model = model.to(device)

    data = load_subject(data_root, subject, len(names), model_cfg.background, cfg.box_padding, cfg.frame_cache)
    if not data.train_frames:
        raise ValueError(f"subject {subject}: splits/{subject}.json has no train frames")
    data.train_frames = first_seconds(data.train_frames, data.fps, seconds)

    if cfg.trainable == "identity":
        for name, p in model.named_parameters():
            p.requires_grad_(name in grown)
        groups = [{"params": [p for n, p in model.named_parameters() if n in grown], "lr": cfg.lr,
                   "name": "identity"}]
    else:
        groups = model.param_groups(cfg.lr)
    meta = {"setting": "finetune", "base": str(base), "subject": subject, "seconds": seconds,
            "frames": data.train_frames, "identity_params": grown, "data_root": str(data_root),
            "config": dataclasses.asdict(cfg), "device": str(device)}
    return run_training(model, [data], cfg, out, meta, groups, gen, device, names + [subject], stop_at=stop_at,
                        dist_info=dist_info, model_step_offset=int(state["step"]),
                        inputs={"data": data_digest(data_root, [subject]),
                                "base": file_digest([base], base.parent).hexdigest()[:16],
                                "seconds": str(seconds)})


def fit_clip(subject: str, seconds: float, data_root: str | Path, out: str | Path, cfg: TrainConfig,
             setting: str = "", stop_at: int | None = None,
             model_factory: Callable[[ModelConfig, int], nn.Module] = default_model_factory) -> dict[str, Any]:
    """Train a fresh single-subject model on the first ``seconds`` of ``subject``'s train frames.

    Fig. 7b's reference: a baseline trained from scratch on exactly the clip that fine-tuning sees
    (the same :func:`first_seconds` frames), so the two curves differ only in where the weights start.
    """
    device, dist_info = setup_runtime(cfg)
    gen = seed_everything(cfg.seed + dist_info.rank)
    data = load_subject(data_root, subject, 0, cfg.model.background, cfg.box_padding, cfg.frame_cache)
    if not data.train_frames:
        raise ValueError(f"subject {subject}: splits/{subject}.json has no train frames")
    data.train_frames = first_seconds(data.train_frames, data.fps, seconds)
    cfg = dataclasses.replace(cfg, model=resolve_for_subjects(cfg.model, [data]))   # planes' boxes, if unset
    model = model_factory(cfg.model, 1).to(device)
    # "clip_seconds": run_training records its wall time as "seconds"
    meta = {"setting": setting, "subjects": [subject], "clip_seconds": seconds, "frames": data.train_frames,
            "data_root": str(data_root), "config": dataclasses.asdict(cfg), "device": str(device)}
    return run_training(model, [data], cfg, out, meta, model.param_groups(cfg.lr), gen, device, [subject],
                        stop_at=stop_at, dist_info=dist_info,
                        inputs={"data": data_digest(data_root, [subject]), "seconds": str(seconds)})
