"""The training loop shared by `train fit` and `train finetune`.

One iteration = one frame of one subject: sample patches (supp. B schedule), cast rays in the posed body
frame, render the rays that hit the posed box, LPIPS + 0.2 MSE + 0.05 CE, Adam step, lr decay.
All randomness of sampling comes from one ``torch.Generator`` saved in the checkpoints, so a run
resumed from ``checkpoints/latest.pt`` is bit-identical (on CPU) to an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from talkinnerf.io import save_torch, write_json
from talkinnerf.nerf.config import ModelConfig
from talkinnerf.nerf.field_factory import resolve_for_subjects
from talkinnerf.nerf.packed import effective_autocast
from talkinnerf.train.alignment import FrameAlignment
from talkinnerf.train.alignment import param_group as alignment_param_group
from talkinnerf.train.checkpoint import LATEST, FiniteGuard, load_checkpoint, restore, save_checkpoint
from talkinnerf.train.data import SubjectData, data_digest, load_subject
from talkinnerf.train.losses import (LPIPS_MIN_SIDE, LossWeights, TalkinLoss, make_lpips, misplaced_part_mass,
                                     psnr_from_mse)
from talkinnerf.train.sampling import part_shares, patch_pixels, sample_patches

MODEL_FORMAT = "talkinnerf-model-v1"
PAPER_DECAY_PER_ITERATION = 500_000 / 400_000   # paper: decay 0.1 over 500k steps for a 400k-iteration run
OPACITY_WHERE = ("all", "outside")     # train.loss_opacity_where
OPACITY_OUTSIDE = 0.05                 # matte below this: no person (a soft matte edge is neither side)


@dataclass
class TrainConfig:
    """Options of `train fit` (the config.yaml `train` section; `model` holds the nested ModelConfig)."""

    iterations: int = 2000
    lr: float = 5e-3                   # demo: 2000 iterations need a faster start than the paper's 5e-4
    decay_rate: float = 0.1            # lr multiplier reached after decay_steps (exponential)
    decay_steps: int | None = None     # None: iterations * 500k / 400k (the paper's ratio)
    patches: int = 4                   # paper: 6
    patch_size: int = 16               # paper: 32
    inside_share: float = 0.8          # share of patch centres inside the subject's projected box
    part_schedule: bool = True         # supp. B hands/arms shares; False: plain 80% inside sampling
    background_patch_redraws: int = 0  # a patch with no subject pixel is drawn again (up to this many times; 0: the
                                       # paper's draws, empty patches kept)
    random_background: bool = False    # each patch's ground truth and render composited over a random colour (with
                                       # the matte and the rendered opacity): a see-through body no longer matches
                                       # (the paper's fixed background: False; docs/training.md)
    loss_opacity: float = 0.0          # weight of mean |rendered opacity - matte| over the patches' pixels: a body the
                                       # matte calls opaque may not be rendered see-through over the fixed background
                                       # (not in the paper: 0; docs/training.md)
    loss_opacity_where: str = "all"    # "all" pixels, or only "outside" the person (matte < OPACITY_OUTSIDE): the
                                       # fog around the body alone (measured: it empties the body too; docs/training.md)
    loss_part: float = 0.0             # weight of the share of a person pixel's opacity drawn by samples whose skinning
                                       # weights belong to another body part than the pixel's label (the density
                                       # that draws a hand must skin with the hand: not in the paper: 0;
                                       # losses.misplaced_part_mass, docs/training.md)
    part_trust: bool = False           # loss_part only on the pixels whose label the fit vouches for (parts/<s>/trust:
                                       # mesh-covered, outside a lost hand's region; segment.py); False: every
                                       # person pixel
    face_share: float = 0.0            # share of the other in-subject patch centres on head pixels (not in supp. B;
                                       # 0: the paper's draws; docs/training.md)
    frame_alignment: bool = False      # learn per-frame offsets of the fit (talkinnerf/train/alignment.py; EVA's
                                       # per-frame correction; not in the paper; docs/training.md)
    alignment_joints: list[int] = field(default_factory=lambda: [0, 12, 15, 20, 21])  # global orient, neck, head,
                                       # wrists: the joints whose per-frame error moves the face and the hands
    alignment_lr: float = 1e-4         # Adam lr of the offsets (a row moves only when its frame is drawn)
    alignment_rotation_weight: float = 1.0     # L2 prior on the offsets (per rad², mean over frames)
    alignment_translation_weight: float = 100.0  # (per m²)
    subjects_per_step: int = 1         # distinct subjects one iteration's patches are split among (0: all, up to
                                       # `patches`); 1: one frame of one subject per iteration
    paper_iterations: int = 400_000    # the schedule's reference length (phase boundaries scale by iterations/this)
    lpips: bool = True                 # LPIPS term when the VGG weights are present (`talkinnerf weights fetch lpips`)
    lpips_required: bool = False       # fail instead of training without LPIPS (weights missing, patches < 16 px)
    lpips_every: int = 1               # LPIPS on every k-th iteration only (its CPU cost); the others as LPIPS off
    fused_adam: bool = True            # PyTorch's fused Adam (make_optimizer); False: the per-op implementation
    autocast: str = "off"              # "bf16": the MLPs under bf16 autocast (paper sizes: ~2x per iteration on
                                       # this CPU, demo sizes none; configs/paper.yaml; docs/speed.md); float32
                                       # where the device has no native bf16 (effective_autocast)
    loss_lpips: float = 1.0
    loss_mse: float = 0.2
    loss_ce: float = 0.05
    mse_takes_lpips_weight: bool = True   # LPIPS off -> MSE weight = loss_mse + loss_lpips (see effective_loss_weights)
    box_padding: float = 0.05          # metres around the posed mesh box for ray near/far
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    log_every: int = 10
    seed: int = 0
    threads: int = 0                   # torch CPU threads; 0: leave torch's default
    device: str = "auto"               # auto | cpu | cuda | cuda:N
    background: list[float] | None = None   # overrides model.background when set
    frame_cache: int = 4096            # decoded frames kept in memory per subject
    tensorboard: bool = True
    progress: bool = True
    model: ModelConfig = field(default_factory=ModelConfig)

    def __post_init__(self) -> None:
        if self.iterations < 1:
            raise ValueError(f"train.iterations must be >= 1, got {self.iterations}")
        if self.background_patch_redraws < 0:
            raise ValueError(f"train.background_patch_redraws must be >= 0, got {self.background_patch_redraws}")
        if not 0.0 <= self.face_share <= 1.0:
            raise ValueError(f"train.face_share must be in [0, 1], got {self.face_share}")
        if not 0.0 <= self.inside_share <= 1.0:
            raise ValueError(f"train.inside_share must be in [0, 1], got {self.inside_share}")
        if self.autocast not in ("off", "bf16"):
            raise ValueError(f"train.autocast must be off or bf16, got {self.autocast!r}")
        if self.loss_opacity < 0:
            raise ValueError(f"train.loss_opacity must be >= 0, got {self.loss_opacity}")
        if self.loss_part < 0:
            raise ValueError(f"train.loss_part must be >= 0, got {self.loss_part}")
        if self.loss_opacity_where not in OPACITY_WHERE:
            raise ValueError(f"train.loss_opacity_where must be one of {OPACITY_WHERE}, got "
                             f"{self.loss_opacity_where!r}")
        if self.lpips_every < 1:
            raise ValueError(f"train.lpips_every must be >= 1, got {self.lpips_every}")
        if self.alignment_lr < 0 or self.alignment_rotation_weight < 0 or self.alignment_translation_weight < 0:
            raise ValueError("train.alignment_lr, alignment_rotation_weight and alignment_translation_weight must be "
                             f">= 0, got {self.alignment_lr}, {self.alignment_rotation_weight}, "
                             f"{self.alignment_translation_weight}")
        if self.subjects_per_step < 0:
            raise ValueError(f"train.subjects_per_step must be >= 0 (0: all), got {self.subjects_per_step}")
        if self.lpips_required and not (self.lpips and self.loss_lpips > 0):
            raise ValueError("train.lpips_required needs lpips: true and loss_lpips > 0")
        if self.lpips_required and self.patch_size < LPIPS_MIN_SIDE:
            raise ValueError(f"train.lpips_required: LPIPS(VGG) needs patches of >= {LPIPS_MIN_SIDE} px, "
                             f"patch_size is {self.patch_size}")
        if self.background is not None:
            self.model = dataclasses.replace(self.model, background=tuple(self.background))

    def effective_decay_steps(self) -> int:
        return self.decay_steps or max(1, round(self.iterations * PAPER_DECAY_PER_ITERATION))


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available")
    return torch.device(name)


def seed_everything(seed: int) -> torch.Generator:
    """Seed python/numpy/torch; returns the sampling generator (seeded separately so it is saved on its own)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    gen = torch.Generator()
    gen.manual_seed(seed + 1)
    return gen


def default_model_factory(cfg: ModelConfig, num_identities: int) -> nn.Module:
    from talkinnerf.nerf.model import TalkinNeRF

    return TalkinNeRF(cfg, num_identities)


def effective_loss_weights(cfg: "TrainConfig", lpips_on: bool) -> LossWeights:
    """The loss weights a run uses. Without LPIPS (VGG weights missing or switched off) and with
    ``mse_takes_lpips_weight``, the LPIPS weight moves to the MSE term: at the paper's 0.2 MSE alone the colour
    term (~0.2 x 0.01) is smaller than the 0.05 CE term (~0.05 x 0.1), so the shared MLP trunk would mostly learn
    segmentation and the renders stay blurry."""
    mse = cfg.loss_mse
    if not lpips_on and cfg.mse_takes_lpips_weight:
        mse += cfg.loss_lpips
    return LossWeights(cfg.loss_lpips if lpips_on else 0.0, mse, cfg.loss_ce)


def make_optimizer(param_groups: list[dict], cfg: "TrainConfig") -> torch.optim.Optimizer:
    """Adam over the model's groups; ``cfg.fused_adam``: PyTorch's fused kernel (CPU and CUDA), one pass over each
    tensor instead of a dozen elementwise ops: on this CPU 9x faster over the planes' 6.3M texels (10 vs 90 ms per
    step), the same update to float round-off."""
    return torch.optim.Adam(param_groups, lr=cfg.lr, fused=True if cfg.fused_adam else None)


# ------------------------------------------------------------------------------------------------- one iteration
MAX_BATCH_DRAWS = 10


def sample_batch(subjects: list[SubjectData], cfg: TrainConfig, step: int, gen: torch.Generator,
                 n_patches: int | None = None) -> dict[str, Any]:
    """Pick a frame and its patches; everything random comes from ``gen``. A draw whose rays all miss the body box
    teaches nothing and, under DDP, would leave that rank without a backward pass while the others wait in the
    gradient all-reduce: such draws are repeated (up to MAX_BATCH_DRAWS)."""
    for _ in range(MAX_BATCH_DRAWS):
        batch = _draw_batch(subjects, cfg, step, gen, n_patches)
        if bool(batch["hit"].any()):
            break
    return batch


def sample_step(subjects: list[SubjectData], cfg: TrainConfig, step: int, gen: torch.Generator
                ) -> list[dict[str, Any]]:
    """One iteration's batches: ``cfg.patches`` patches split among ``subjects_per_step`` distinct subjects, one
    frame each (one batch = one subject's frame). Spreading an iteration over identities keeps every Adam step's
    gradient from being one subject's alone, whose momentum then pushes the shared fields towards that subject's
    clothes while the next subject is rendered."""
    k = min(cfg.subjects_per_step or len(subjects), len(subjects), cfg.patches)
    if k <= 1:
        return [sample_batch(subjects, cfg, step, gen)]      # the single-subject draw sequence, unchanged
    chosen = torch.randperm(len(subjects), generator=gen)[:k].tolist()
    counts = [cfg.patches // k + (1 if i < cfg.patches % k else 0) for i in range(k)]
    return [sample_batch([subjects[i]], cfg, step, gen, n) for i, n in zip(chosen, counts)]


def _draw_batch(subjects: list[SubjectData], cfg: TrainConfig, step: int, gen: torch.Generator,
                n_patches: int | None = None) -> dict[str, Any]:
    subject = subjects[int(torch.randint(len(subjects), (1,), generator=gen))]
    frame = subject.train_frames[int(torch.randint(len(subject.train_frames), (1,), generator=gen))]
    # HumanNeRF samples patches 80% inside the subject's box, without TalkinNeRF's hands/arms shares
    parts = cfg.part_schedule and not cfg.model.faithful_humannerf
    hands, arms = part_shares(step, cfg.iterations, cfg.paper_iterations) if parts else (0.0, 0.0)
    face = cfg.face_share if parts else 0.0
    masks, n = subject.masks(frame), n_patches or cfg.patches
    corners, cats = sample_patches(masks, n, cfg.patch_size, cfg.inside_share, hands, arms, gen, face)
    if cfg.background_patch_redraws and not cfg.model.faithful_humannerf:   # HumanNeRF keeps its own draws
        # a patch without one subject pixel (part label 0 everywhere) only re-teaches empty space: draw it again
        labels = subject.labels(frame)
        for _ in range(cfg.background_patch_redraws):
            rows, cols = patch_pixels(corners, cfg.patch_size)
            empty = (labels[rows, cols].reshape(n, -1) == 0).all(1)
            if not bool(empty.any()):
                break
            corners[empty], cats[empty] = sample_patches(masks, int(empty.sum()), cfg.patch_size,
                                                         cfg.inside_share, hands, arms, gen, face)
    rows, cols = patch_pixels(corners, cfg.patch_size)
    origins, dirs, near, far, hit = subject.rays(frame, rows, cols)
    batch = dict(subject=subject, frame=frame, rows=rows, cols=cols, origins=origins, dirs=dirs, near=near,
                 far=far, hit=hit, gt=subject.image(frame)[rows, cols], labels=subject.labels(frame)[rows, cols],
                 cats=cats)
    if cfg.part_trust and uses_part_loss(cfg):
        # the part term's labels: those the fit does not vouch for count as unlabelled (left out of the term)
        batch["part_labels"] = batch["labels"] * subject.label_trust(frame)[rows, cols]
    if not cfg.model.faithful_humannerf:                        # HumanNeRF keeps its published loss
        if cfg.random_background or cfg.loss_opacity > 0:
            batch["alpha"] = subject.alpha(frame)[rows, cols]
        if cfg.random_background:
            batch["patch_background"] = torch.rand(n, 3, generator=gen)
    return batch


def over_patch_background(colour: torch.Tensor, opacity: torch.Tensor, batch: dict[str, Any],
                          background: torch.Tensor) -> torch.Tensor:
    """``colour`` (N,3), composited over ``background``, moved onto each patch's own random colour: the part of
    the pixel that ``opacity`` (N,) leaves uncovered shows ``batch["patch_background"]`` (P,3) instead. For the
    ground truth ``opacity`` is the matte, for the render the ray's accumulated opacity."""
    per_patch = batch["patch_background"].to(colour.device)
    n = per_patch.shape[0]
    shift = (per_patch - background.to(colour.device)).repeat_interleave(colour.shape[0] // n, dim=0)
    return colour + (1.0 - opacity.to(colour.device))[:, None] * shift


def render_batch(net: nn.Module, batch: dict[str, Any], step: int, background: torch.Tensor,
                 device: torch.device, alignment: FrameAlignment | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Run the model on the rays that hit the posed box; misses get the background colour. With ``alignment`` the
    frame's fitted pose and root are corrected by its learned offsets first.

    Returns rgb (N,3) for all rays, seg_logits (H,C) and hit indices (H,) for the hit rays, acc (N,) for all
    rays (0 for misses; None where the model returns no "acc"), and the hit rays' part_mass (H,5) where the model
    returns it (model.render_parts), else None.
    """
    hit_idx = torch.nonzero(batch["hit"]).reshape(-1).to(device)
    n = len(batch["hit"])
    rgb = background.to(device).expand(n, 3)
    acc = torch.zeros(n, device=device)
    if len(hit_idx) == 0:
        return rgb, torch.zeros(0, 1, device=device), hit_idx, acc, None
    cond = batch["subject"].conditioning(batch["frame"], device)
    hit_cpu = hit_idx.cpu()
    origins = batch["origins"][hit_cpu].to(device)
    if alignment is not None:
        poses, origins = alignment(cond.poses_body, origins, batch["subject"].name, batch["frame"])
        cond = dataclasses.replace(cond, poses_body=poses)
    out = net(origins, batch["dirs"][hit_cpu].to(device),
              batch["near"][hit_cpu].to(device), batch["far"][hit_cpu].to(device), cond, step)
    rgb = rgb.index_put((hit_idx,), out["rgb"])   # out-of-place, keeps the graph
    acc = acc.index_put((hit_idx,), out["acc"]) if "acc" in out else None
    return rgb, out["seg_logits"], hit_idx, acc, out.get("part_mass")


def iteration_losses(net: nn.Module, model: nn.Module, batches: list[dict[str, Any]], model_step: int,
                     cfg: TrainConfig, loss_fn: TalkinLoss, background: torch.Tensor, device: torch.device,
                     with_lpips: bool, alignment: FrameAlignment | None = None
                     ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    """One iteration's forward: render every batch of ``sample_step`` with ``net`` (the model, or its DDP wrapper),
    the losses over all patches, plus the model's own prior where it has one (``model.regularisation()``: the
    planes' total variation; logged as "field_prior"), and with ``alignment`` the per-frame offsets and their L2
    prior ("alignment_prior"). Returns the losses, rgb (N,3) and ground truth (N,3)."""
    model.render_parts = uses_part_loss(cfg)    # the part term needs the opacity split (stand-ins ignore the flag)
    rendered = [render_batch(net, b, model_step, background, device, alignment) for b in batches]
    if all("patch_background" in b for b in batches):
        if any(r[3] is None for r in rendered):
            raise ValueError("train.random_background needs the model's accumulated opacity (\"acc\")")
        rgb = torch.cat([over_patch_background(r[0], r[3], b, background) for r, b in zip(rendered, batches)])
        gt = torch.cat([over_patch_background(b["gt"].to(device), b["alpha"], b, background) for b in batches])
    else:
        rgb = torch.cat([r[0] for r in rendered])
        gt = torch.cat([b["gt"] for b in batches]).to(device)
    hit = [(r[1], b["labels"].to(device)[r[2]], b.get("part_labels", b["labels"]).to(device)[r[2]])
           for r, b in zip(rendered, batches) if len(r[2])]
    seg_logits = torch.cat([h[0] for h in hit]) if hit else rendered[0][1]
    labels = torch.cat([h[1] for h in hit]) if hit else rendered[0][1].new_zeros(0, dtype=torch.long)
    n, p = cfg.patches, cfg.patch_size
    losses = loss_fn(rgb.reshape(n, p, p, 3), gt.reshape(n, p, p, 3), seg_logits, labels, with_lpips=with_lpips)
    if all("alpha" in b for b in batches) and cfg.loss_opacity > 0:
        if any(r[3] is None for r in rendered):
            raise ValueError("train.loss_opacity needs the model's accumulated opacity (\"acc\")")
        gap = opacity_gap(torch.cat([r[3] for r in rendered]), torch.cat([b["alpha"] for b in batches]).to(device),
                          cfg.loss_opacity_where)
        losses = {**losses, "opacity": gap, "total": losses["total"] + cfg.loss_opacity * gap}
    if uses_part_loss(cfg):
        part_mass = [r[4] for r in rendered if len(r[2])]      # the hit rays, in the order of ``labels``
        if any(m is None for m in part_mass):
            raise ValueError("train.loss_part needs the model's part_mass (TalkinNeRF with render_parts)")
        if part_mass:
            gap = misplaced_part_mass(torch.cat(part_mass), torch.cat([h[2] for h in hit]))
            losses = {**losses, "part": gap, "total": losses["total"] + cfg.loss_part * gap}
    regularisation = getattr(model, "regularisation", None)     # stand-in models have none
    prior = regularisation() if regularisation is not None else None
    if prior is not None:
        losses = {**losses, "field_prior": prior, "total": losses["total"] + prior}
    if alignment is not None:
        pull = alignment.prior(cfg.alignment_rotation_weight, cfg.alignment_translation_weight)
        losses = {**losses, "alignment_prior": pull, "total": losses["total"] + pull}
    return losses, rgb, gt


def uses_part_loss(cfg: TrainConfig) -> bool:
    """Whether a run adds train.loss_part (the HumanNeRF baseline keeps its published loss): its model must then
    render part_mass (``model.render_parts = True``, which ``iteration_losses`` sets)."""
    return cfg.loss_part > 0 and not cfg.model.faithful_humannerf


def opacity_gap(acc: torch.Tensor, alpha: torch.Tensor, where: str) -> torch.Tensor:
    """train.loss_opacity's term: mean |rendered opacity - matte| over every pixel (``where`` "all"), or the mean
    rendered opacity over the pixels the matte calls empty (< OPACITY_OUTSIDE; "outside": 0 when there is none). A
    faint fog around the body costs SSIM where the ground truth is black as much as the person's detail does
    (benchmarks/ssim_parts.py); "outside" charges that fog alone. Measured on real clips it empties the body as well
    (the density is shared): docs/training.md."""
    if where == "all":
        return (acc - alpha).abs().mean()
    empty = (alpha < OPACITY_OUTSIDE).to(acc.dtype)
    return (acc * empty).sum() / empty.sum().clamp_min(1.0)


def make_alignment(subjects: list[SubjectData], cfg: TrainConfig, device: torch.device) -> FrameAlignment | None:
    """The per-frame offsets of ``subjects`` (every fitted frame, held-out ones stay at zero) when
    ``cfg.frame_alignment``; None otherwise and for the HumanNeRF baseline, which trains on the fit as published."""
    if not cfg.frame_alignment or cfg.model.faithful_humannerf:
        return None
    return FrameAlignment({s.name: len(s.params["poses_body"]) for s in subjects}, cfg.alignment_joints,
                          {s.name: s.train_frames for s in subjects}).to(device)


# ------------------------------------------------------------------------------------------------- model files
def save_model(path: str | Path, model: nn.Module, model_cfg: ModelConfig, subjects: list[str], step: int,
               extra: dict[str, Any] | None = None) -> None:
    """Final model file: config, weights, identity names (index = identity) and the trained step."""
    state = {"format": MODEL_FORMAT, "model_config": dataclasses.asdict(model_cfg),
             "state_dict": model.state_dict(), "subjects": list(subjects), "step": int(step),
             "extra": extra or {}}
    save_torch(state, path)


# Options added after model files were first written, with the value that reproduces those older files.
LEGACY_MODEL_OPTIONS = {"density_scale": 1.0, "density_bias": 0.0, "canonical_arm_raise": 0.0}


def model_config_from_file(stored: dict[str, Any]) -> ModelConfig:
    """ModelConfig of a saved model; options missing from older files take their legacy (not current) values."""
    return ModelConfig(**{**LEGACY_MODEL_OPTIONS, **dict(stored)})


def load_model(path: str | Path, device: str | torch.device = "cpu",
               model_factory: Callable[[ModelConfig, int], nn.Module] = default_model_factory):
    """-> (model in eval mode, ModelConfig, subject names, trained step)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist")
    state = torch.load(path, map_location=device, weights_only=True)
    if not isinstance(state, dict) or state.get("format") != MODEL_FORMAT:
        raise ValueError(f"{path} is not a talkinnerf model file (format {MODEL_FORMAT})")
    cfg = model_config_from_file(state["model_config"])
    subjects = list(state["subjects"])
    model = model_factory(cfg, len(subjects))
    model.load_state_dict(state["state_dict"])
    return model.to(device).eval(), cfg, subjects, int(state["step"])


# ------------------------------------------------------------------------------------------------- the loop
@dataclass
class Distributed:
    world_size: int = 1
    rank: int = 0
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> "Distributed":
        return cls(int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("RANK", 0)),
                   int(os.environ.get("LOCAL_RANK", 0)))

    @property
    def main(self) -> bool:
        return self.rank == 0


# Options that change how a run is logged or scheduled on the machine, not what it computes.
_NOT_IN_FINGERPRINT = ("progress", "threads", "checkpoint_every", "keep_checkpoints", "log_every", "tensorboard",
                       "frame_cache", "device", "lpips_required")


# The package code a training run executes: a checkpoint written by other code is not resumed.
TRAINING_CODE = ("nerf", "train")


def run_fingerprint(cfg: TrainConfig, identity_names: list[str], inputs: dict[str, str] | None = None) -> str:
    """What a checkpoint must match to be resumed: every option that changes the result, the subjects, the
    digests of the ``inputs`` (training data, base model) and of the training code."""
    from talkinnerf.provenance import source_digest

    options = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in _NOT_IN_FINGERPRINT}
    return json.dumps({"options": options, "identities": list(identity_names), "inputs": inputs or {},
                       "code": source_digest(TRAINING_CODE)}, sort_keys=True, default=str)


def run_training(model: nn.Module, subjects: list[SubjectData], cfg: TrainConfig, out: str | Path,
                 meta: dict[str, Any], param_groups: list[dict], gen: torch.Generator, device: torch.device,
                 identity_names: list[str], stop_at: int | None = None,
                 dist_info: Distributed | None = None, model_step_offset: int = 0,
                 inputs: dict[str, str] | None = None) -> dict[str, Any]:
    """Optimise ``model`` for ``cfg.iterations`` steps, resuming from ``out/checkpoints/latest.pt``.

    The model sees step ``model_step_offset + step`` (its kick-ins and windows): fine-tuning continues a trained
    model's schedule instead of switching D_nr, pose refinement and the hand field off again. The sampling
    schedule and the lr decay follow this run's own steps.

    ``inputs`` names digests of what the run reads (see run_fingerprint); a checkpoint is resumed only when they,
    the options and the code match. ``stop_at`` ends the run early after that many iterations without writing
    model.pt (it simulates a killed job in tests). Returns a summary dict (also merged into ``out/meta.json``).
    """
    out = Path(out)
    dist_info = dist_info or Distributed()
    ckpt_dir = out / "checkpoints"
    lpips_module, lpips_status = make_lpips(cfg.lpips and cfg.loss_lpips > 0, device, required=cfg.lpips_required,
                                            min_side=cfg.patch_size)
    loss_fn = TalkinLoss(effective_loss_weights(cfg, lpips_module is not None), cfg.model.four_classes,
                         lpips_module, weights_without_lpips=effective_loss_weights(cfg, False))
    # whether LPIPS ran changes the result: a checkpoint trained without it is not resumed with it (and vice versa)
    inputs = {**(inputs or {}), "lpips": "on" if lpips_module is not None else "off"}
    alignment = make_alignment(subjects, cfg, device)
    if alignment is not None:
        param_groups = [*param_groups, alignment_param_group(alignment, cfg.alignment_lr)]
    optimizer = make_optimizer(param_groups, cfg)
    decay_steps = cfg.effective_decay_steps()
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: cfg.decay_rate ** (s / decay_steps))
    start = 0
    fingerprint = run_fingerprint(cfg, identity_names, inputs)
    if (ckpt_dir / LATEST).is_file():
        state = load_checkpoint(ckpt_dir / LATEST, device)
        if state.get("extra", {}).get("fingerprint") == fingerprint:
            start = restore(state, model, optimizer, scheduler, gen)
            if alignment is not None:
                alignment.load_state_dict(state["extra"]["alignment"])
        else:
            # a checkpoint of another configuration (changed options, subjects, data or code): resuming would mix
            # two runs, or return a model finished on the old data
            warnings.warn(f"{ckpt_dir / LATEST} was written by a different training configuration, data or code; "
                          "starting from scratch", stacklevel=2)
            for stale in ckpt_dir.glob("*.pt"):
                stale.unlink()

    net: nn.Module = model
    if dist_info.world_size > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        # D_nr / pose refinement stay unused until their kick-in steps
        net = DDP(model, device_ids=[device.index] if device.type == "cuda" else None,
                  find_unused_parameters=True)

    writer = None
    if cfg.tensorboard and dist_info.main:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tb"), purge_step=start)
    background = torch.tensor(cfg.model.background, dtype=torch.float32)
    autocast, autocast_note = effective_autocast(cfg.autocast, device)
    if autocast_note:
        warnings.warn(autocast_note)
    meta = {**meta, "lpips": lpips_status, "autocast": autocast, "loss_weights": dataclasses.asdict(loss_fn.weights),
            "lpips_every": cfg.lpips_every if lpips_module is not None else None,
            "loss_weights_without_lpips": (dataclasses.asdict(loss_fn.weights_without_lpips)
                                           if lpips_module is not None and cfg.lpips_every > 1 else None),
            "iterations": cfg.iterations, "decay_steps": decay_steps, "identities": identity_names,
            "world_size": dist_info.world_size, "resumed_from": start, "model_step_offset": model_step_offset}
    if dist_info.main:
        write_json(out / "meta.json", {**meta, "status": "running"})

    progress = None
    if cfg.progress and dist_info.main:
        from talkinnerf.progress import Progress  # a bar on a terminal, one line per tenth in a log file

        progress = Progress(cfg.iterations, f"train {meta.get('setting') or out.name}", unit="it", initial=start)
    end = cfg.iterations if stop_at is None else min(cfg.iterations, stop_at)
    model.train()
    model.mlp_autocast = autocast          # read by TalkinNeRF.forward (stand-in models ignore it)
    t0 = time.perf_counter()
    last: dict[str, float] = {}
    prepare_step = getattr(model, "prepare_step", None)
    last_lpips = torch.zeros(())
    finite_guard = FiniteGuard(ckpt_dir, f"training {meta.get('setting') or out.name}")
    for step in range(start, end):
        model_step = model_step_offset + step
        if prepare_step is not None:
            prepare_step(model_step)
        batches = sample_step(subjects, cfg, step, gen)
        with_lpips = step % cfg.lpips_every == 0
        losses, rgb, gt = iteration_losses(net, model, batches, model_step, cfg, loss_fn, background, device,
                                           with_lpips, alignment)
        if with_lpips:
            last_lpips = losses["lpips"]       # logged as the latest computed value (lpips_every > 1)
        finite_guard.observe(step, losses)     # NaN/Inf stop training before a checkpoint holds them
        optimizer.zero_grad(set_to_none=True)
        if losses["total"].requires_grad:
            losses["total"].backward()
            if alignment is not None and dist_info.world_size > 1:
                average_gradients(alignment, dist_info.world_size)   # it lives outside DDP's all-reduce
            optimizer.step()
        scheduler.step()
        done = step + 1
        if done % cfg.log_every == 0 or done == end or done % cfg.checkpoint_every == 0:
            finite_guard.check(done, model)
        if done % cfg.log_every == 0 or done == end:
            last = {k: float(v.detach()) for k, v in {**losses, "lpips": last_lpips}.items()}
            last["psnr"] = psnr_from_mse(float(((rgb.detach() - gt) ** 2).mean()))
            last["lr"] = optimizer.param_groups[0]["lr"]
            if writer is not None:
                for k, v in last.items():
                    writer.add_scalar(f"train/{k}", v, done)
            if progress is not None:
                progress.set_postfix(loss=f"{last['total']:.4f}", psnr=f"{last['psnr']:.2f}")
        if progress is not None:
            progress.update(1)
        if dist_info.main and (done % cfg.checkpoint_every == 0 or done == end):
            extra = {"fingerprint": fingerprint}
            if alignment is not None:
                extra["alignment"] = alignment.state_dict()
            save_checkpoint(ckpt_dir, done, model, optimizer, scheduler, gen, keep=cfg.keep_checkpoints,
                            extra=extra)
    seconds = time.perf_counter() - t0
    if progress is not None:
        progress.close()
    if writer is not None:
        writer.close()
    summary = {"steps_run": end - start, "seconds": round(seconds, 3),
               "it_per_s": round((end - start) / seconds, 3) if seconds > 0 and end > start else None,
               "final": last}
    if alignment is not None:
        summary["frame_alignment"] = alignment.summary()
    if dist_info.main:
        finished = end == cfg.iterations
        if finished:
            save_model(out / "model.pt", model, cfg.model, identity_names, model_step_offset + cfg.iterations,
                       extra={"setting": meta.get("setting", "")})
        write_json(out / "meta.json", {**meta, **summary, "status": "done" if finished else "stopped"})
    return summary


def average_gradients(module: nn.Module, world_size: int) -> None:
    """Mean of ``module``'s gradients over the ranks (as DDP does for the model)."""
    for p in module.parameters():
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        torch.distributed.all_reduce(p.grad)
        p.grad /= world_size


def setup_runtime(cfg: TrainConfig) -> tuple[torch.device, Distributed]:
    """Threads, device and (under torchrun) the process group."""
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    dist_info = Distributed.from_env()
    device = resolve_device(cfg.device)
    if dist_info.world_size > 1:
        import torch.distributed as dist

        if device.type == "cuda":
            device = torch.device("cuda", dist_info.local_rank)
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device, dist_info


def fit(subjects: list[str], data_root: str | Path, out: str | Path, cfg: TrainConfig, setting: str = "",
        stop_at: int | None = None,
        model_factory: Callable[[ModelConfig, int], nn.Module] = default_model_factory) -> dict[str, Any]:
    """`talkinnerf train fit`: train one model over ``subjects`` (identity = position in the list)."""
    if not subjects:
        raise ValueError("train fit: no subjects given")
    if len(set(subjects)) != len(subjects):
        raise ValueError(f"train fit: duplicate subjects in {subjects}")
    device, dist_info = setup_runtime(cfg)
    gen = seed_everything(cfg.seed + dist_info.rank)
    data = [load_subject(data_root, s, i, cfg.model.background, cfg.box_padding, cfg.frame_cache)
            for i, s in enumerate(subjects)]
    for d in data:
        if not d.train_frames:
            raise ValueError(f"subject {d.name}: splits/{d.name}.json has no train frames")
    cfg = dataclasses.replace(cfg, model=resolve_for_subjects(cfg.model, data))   # planes' boxes, if unset
    model = model_factory(cfg.model, len(subjects)).to(device)
    meta = {"setting": setting, "subjects": subjects, "data_root": str(data_root),
            "config": dataclasses.asdict(cfg), "device": str(device)}
    return run_training(model, data, cfg, out, meta, model.param_groups(cfg.lr), gen, device, list(subjects),
                        stop_at=stop_at, dist_info=dist_info, inputs={"data": data_digest(data_root, subjects)})


def frame_psnr(rgb: torch.Tensor, gt: torch.Tensor) -> float:
    return psnr_from_mse(float(((rgb - gt) ** 2).mean())) if rgb.numel() else math.nan
