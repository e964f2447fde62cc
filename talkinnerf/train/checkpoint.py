"""Checkpoints that make a resumed run identical to an uninterrupted one.

A checkpoint holds the model, optimiser and scheduler states, the iteration and every RNG state the
trainer consumes (python, numpy, torch CPU, CUDA, and the sampling generator). All values are tensors,
numbers, strings, lists, tuples or dicts so ``torch.load(weights_only=True)`` can read them back.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from talkinnerf.io import save_torch

LATEST = "latest.pt"


def rng_states(generator: torch.Generator) -> dict[str, Any]:
    name, key, pos, has_gauss, cached = np.random.get_state(legacy=True)
    states: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": [name, torch.from_numpy(key.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
        "sampling": generator.get_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any], generator: torch.Generator) -> None:
    py = states["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    name, key, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((name, key.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(states["torch"])
    generator.set_state(states["sampling"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_checkpoint(folder: str | Path, step: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: Any, generator: torch.Generator, extra: dict[str, Any] | None = None,
                    keep: int = 3) -> Path:
    """Write ``folder/%07d.pt`` and ``folder/latest.pt`` atomically; keep the newest ``keep`` numbered ones."""
    folder = Path(folder)
    state = {
        "step": int(step),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": rng_states(generator),
        "extra": extra or {},
    }
    numbered = folder / f"{step:07d}.pt"
    for target in (numbered, folder / LATEST):
        save_torch(state, target)
    old = sorted(p for p in folder.glob("*.pt") if re.fullmatch(r"\d{7}\.pt", p.name))
    for p in old[:-keep] if keep > 0 else []:
        p.unlink()
    return numbered


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    return torch.load(path, map_location=map_location, weights_only=True)


def restore(state: dict[str, Any], model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
            generator: torch.Generator) -> int:
    """Load a checkpoint dict into the live objects; returns the iteration to continue from."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    set_rng_states(state["rng"], generator)
    return int(state["step"])


class TrainingDiverged(RuntimeError):
    """A loss or parameter became NaN / Inf; training stopped and the last good checkpoint was kept."""


def nonfinite_parameters(model: torch.nn.Module) -> list[str]:
    """Names of parameters holding NaN or Inf."""
    return [name for name, p in model.named_parameters() if not bool(torch.isfinite(p.detach()).all())]


class FiniteGuard:
    """Stops training at the first NaN/Inf in a loss or a parameter, before it reaches a checkpoint.

    ``observe`` folds each step's loss into a flag without a device sync (a GPU keeps running ahead); ``check``
    (called before every checkpoint and log line) syncs once and raises :class:`TrainingDiverged`, so no
    checkpoint or model file is ever written from diverged values and the last good checkpoint stays the newest.
    """

    def __init__(self, ckpt_dir: str | Path, what: str = "training"):
        self.ckpt_dir, self.what = Path(ckpt_dir), what
        self.flag: torch.Tensor | None = None
        self.first_bad: torch.Tensor | None = None
        self.since = 0

    def observe(self, step: int, losses: dict[str, torch.Tensor]) -> None:
        bad = torch.zeros((), dtype=torch.bool)
        for value in losses.values():
            if torch.is_tensor(value):
                bad = bad.to(value.device) | ~torch.isfinite(value.detach()).all()
        if self.flag is None:
            self.flag, self.first_bad = bad, torch.where(bad, step, -1)
        else:
            self.first_bad = torch.where(self.flag | ~bad, self.first_bad, torch.full_like(self.first_bad, step))
            self.flag = self.flag | bad

    def check(self, done: int, model: torch.nn.Module) -> None:
        bad_loss = self.flag is not None and bool(self.flag)
        bad_params = nonfinite_parameters(model)
        if not (bad_loss or bad_params):
            self.flag = None
            return
        where = []
        if bad_loss:
            where.append(f"the loss at iteration {int(self.first_bad) + 1}")
        if bad_params:
            where.append(f"parameters {bad_params[:5]}" + (" ..." if len(bad_params) > 5 else ""))
        kept = sorted(self.ckpt_dir.glob("[0-9]" * 7 + ".pt"))
        last = f"the last good checkpoint {kept[-1]} is kept" if kept else "no checkpoint had been written yet"
        raise TrainingDiverged(
            f"{self.what} diverged: NaN/Inf in {' and '.join(where)} (by iteration {done}); stopped without "
            f"writing a checkpoint or model from it; {last}. Fix: lower train.lr (or finetune.lr), check the "
            "subjects' fits (results/figures/subjects/), then rerun: changed options start from scratch")
