"""Held-out quality (PSNR / SSIM / LPIPS: full frame, face, hands) against training wall-clock seconds, for several
training arms side by side in one run (by default the two field backends, `model.field: mlp | planes`).

python benchmarks/time_to_quality.py --data results [--subjects ava ben chloe] [--arms mlp planes]
    [--iterations 600] [--eval-every 100] [--eval-frames 2] [--train-frames 0] [--threads 1]
    [--set planes.model.plane_channels=16 --set planes.train.face_share=0.3 ...]
    [--save-models DIR] [--out docs/measurements/time_to_quality.png]

Every arm trains from config.yaml's `train:` section (the subjects of --data, same seed) with its own overrides:
  mlp:       the paper's PE + MLP fields (model.field: mlp) at the config's sizes, with the defaults the demo had
             before the planes (F_face replacing F_body's face, supp. B draws: no face share, empty patches kept,
             the paper's loss: no loss_part);
  planes:    config.yaml as it is (model.field: planes, face_residual, face share, empty patches redrawn);
  reference: the MLP fields without the speed work (no joint-box culling, conditions concatenated, dense renderer),
             the "before" of docs/speed.md;
  bf16:      the MLP fields under bf16 autocast;
and `--set ARM.SECTION.KEY=VALUE` (SECTION model or train, VALUE parsed as YAML) changes any option of one arm;
`--arms planes planes:big --set planes:big.model.plane_channels=16` runs two variants of one arm side by side.
The arms train iteration by iteration in turn in the same process, so that a busy machine slows them alike. Every
--eval-every iterations each arm renders --eval-frames held-out frames per subject; the x axis is the training
seconds only (evaluation is timed apart and printed). Writes a PNG with one panel per metric and a CSV beside it.
With `train.frame_alignment` an arm renders the frames it trained on with their learned offsets (held-out frames
with the fit as it is): on a split that trains and scores the same frames, what the model reaches apart from the
fit's own error. Every row also splits the full-frame SSIM into the person's and the background's parts
(metrics.ssim_split).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _synthetic import start_runtime  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PAPER_SIZE_FIELDS = ("field_depth", "field_width", "field_pe_bands", "face_depth", "face_width", "hands_depth",
                     "hands_width", "nr_depth", "nr_width", "hand_def_depth", "hand_def_width", "volume_latent",
                     "volume_size", "volume_channels", "pose_refine_depth", "pose_refine_width", "samples_per_ray")
# arm -> (model overrides, train overrides, joint-box culling, folded conditions, fast renderer, autocast)
PREVIOUS_DEFAULTS = ({"field": "mlp", "face_residual": False}, {"face_share": 0.0, "background_patch_redraws": 0,
                                                               "loss_part": 0.0})
ARMS = {
    "mlp": (*PREVIOUS_DEFAULTS, True, True, True, "off"),
    "planes": ({"field": "planes"}, {}, True, True, True, "off"),
    "reference": (*PREVIOUS_DEFAULTS, False, False, False, "off"),
    "bf16": (*PREVIOUS_DEFAULTS, True, True, True, "bf16"),
}
METRICS = ("psnr", "ssim", "lpips", "psnr_face", "ssim_face", "lpips_face", "psnr_hands", "ssim_hands")


class Run:
    def __init__(self, name: str, cfg, data, device, cull: bool, autocast: str, render_options, fold: bool,
                 lpips_metric, eval_frames: int, eval_data=None, train_frames: int = 0):
        from talkinnerf.nerf.mlp import set_folding
        from talkinnerf.train.losses import TalkinLoss, make_lpips
        from talkinnerf.train.alignment import param_group
        from talkinnerf.train.trainer import (default_model_factory, effective_loss_weights, make_alignment,
                                              make_optimizer, seed_everything)

        self.name, self.cfg, self.data, self.device, self.render_options = name, cfg, data, device, render_options
        self.lpips_metric, self.eval_frames, self.train_frames = lpips_metric, eval_frames, train_frames
        self.eval_data = eval_data or data     # --eval-data: the held-out frames rendered with other fits
        self.gen = seed_everything(cfg.seed)
        self.model = default_model_factory(cfg.model, len(data)).to(device).train()
        self.model.joint_box_culling = cull
        self.model.mlp_autocast = autocast
        set_folding(self.model, fold)
        lpips_module, _ = make_lpips(cfg.lpips and cfg.loss_lpips > 0, device, min_side=cfg.patch_size)
        self.loss_fn = TalkinLoss(effective_loss_weights(cfg, lpips_module is not None), cfg.model.four_classes,
                                  lpips_module, weights_without_lpips=effective_loss_weights(cfg, False))
        self.alignment = make_alignment(data, cfg, device)     # train.frame_alignment: per-frame fit offsets
        groups = self.model.param_groups(cfg.lr)
        if self.alignment is not None:
            groups.append(param_group(self.alignment, cfg.alignment_lr))
        self.opt = make_optimizer(groups, cfg)
        decay = cfg.effective_decay_steps()
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: cfg.decay_rate ** (s / decay))
        self.background = torch.tensor(cfg.model.background, dtype=torch.float32)
        self.seconds = 0.0
        self.eval_seconds = 0.0
        self.eval_count = 0
        self.rows: list[dict] = []
        self.last_renders: dict = {}       # (subject, frame) -> (render, region boxes) of the latest evaluation
        self.rng = torch.get_rng_state()   # each run its own global stream (sample jitter): interleaving is neutral

    def step(self, step: int) -> None:
        from talkinnerf.train.trainer import iteration_losses, sample_step

        torch.set_rng_state(self.rng)
        t0 = time.perf_counter()
        cfg = self.cfg
        self.model.prepare_step(step)
        batches = sample_step(self.data, cfg, step, self.gen)
        losses, _, _ = iteration_losses(self.model, self.model, batches, step, cfg, self.loss_fn, self.background,
                                        self.device, step % cfg.lpips_every == 0, self.alignment)
        total = losses["total"]
        self.opt.zero_grad(set_to_none=True)
        if total.requires_grad:
            total.backward()
            self.opt.step()
        self.sched.step()
        self.seconds += time.perf_counter() - t0
        self.rng = torch.get_rng_state()

    @torch.no_grad()
    def fit_of(self, d, frame: int):
        """The conditioning and root translation a frame is rendered with: the fit, corrected by the frame's learned
        offsets (train.frame_alignment) where the model trained on the frame: with a split whose training and test
        frames are the same, the fit the model could reach apart from the fit's own error."""
        cond, transl = d.conditioning(frame, self.device), d.params["transl"][frame]
        if self.alignment is None or not any(d is x for x in self.data) or frame not in set(d.train_frames):
            return cond, transl             # (--eval-data's fits are not the ones the offsets corrected)
        poses, moved = self.alignment(cond.poses_body, cond.poses_body.new_zeros(1, 3), d.name, frame)
        return dataclasses.replace(cond, poses_body=poses), transl - moved[0].to(transl)   # rays -dt = body +dt

    def evaluate(self, step: int) -> None:
        from talkinnerf.evaluate.metrics import ssim_split
        from talkinnerf.evaluate.regions import RegionFinder
        from talkinnerf.evaluate.render_eval import EvalConfig, coverage, frame_metrics, render_view, select_frames
        from talkinnerf.nerf.render import render_image

        t0 = time.perf_counter()
        self.model.eval()
        rows, fitted = [], []
        for d in self.eval_data:
            # --train-frames: frames the model trained on, to tell what it cannot fit from what it cannot generalise
            picks = [(f, False) for f in select_frames(d.test_frames, self.eval_frames)]
            picks += [(f, True) for f in select_frames(d.train_frames, self.train_frames)] if self.train_frames else []
            for frame, trained in picks:
                K, R, t = d.camera(frame)
                cond, transl = self.fit_of(d, frame)
                pred, acc = render_view(self.model, cond, K, R, t, transl, d.posed_box(frame), d.size, step, 4096,
                                        self.cfg.model.background, self.device, render_image, self.render_options,
                                        with_acc=True)
                # `evaluate render`'s default boxes (face detector, hands from the part labels), the same for every arm
                if d.name not in REGION_FINDERS:
                    REGION_FINDERS[d.name] = RegionFinder(d, EvalConfig().region_options())
                boxes = REGION_FINDERS[d.name].boxes(frame)
                gt, alpha = d.image(frame).numpy(), d.alpha(frame).numpy()
                row = {**frame_metrics(pred, gt, boxes, self.lpips_metric), "coverage": coverage(acc, alpha),
                       **ssim_split(pred, gt, alpha)}
                (fitted if trained else rows).append(row)
                self.eval_count += 1
                if not trained:
                    self.last_renders[(d.name, frame)] = (pred, boxes)
        self.model.train()
        self.eval_seconds += time.perf_counter() - t0
        mean = mean_metrics(rows)
        row = {"run": self.name, "iteration": step, "seconds": round(self.seconds, 2),
               **{m: round(v, 4) for m, v in mean.items()}}
        if fitted:
            train_mean = mean_metrics(fitted)
            row.update({f"{m}_train": round(train_mean[m], 4) for m in TRAIN_METRICS})
            print(f"{self.name:9s} it {step:5d} training frames: PSNR {train_mean['psnr']:.2f} SSIM "
                  f"{train_mean['ssim']:.3f} face {train_mean['psnr_face']:.2f}/{train_mean['ssim_face']:.3f}",
                  flush=True)
        self.rows.append(row)
        print(f"{self.name:9s} it {step:5d} {self.seconds:8.1f} s  PSNR {mean['psnr']:.2f} SSIM {mean['ssim']:.3f} "
              f"face {mean['psnr_face']:.2f}/{mean['ssim_face']:.3f} hands {mean['psnr_hands']:.2f}/"
              f"{mean['ssim_hands']:.3f} coverage {mean['coverage']:.3f} person SSIM {mean['ssim_person']:.3f} "
              f"(share {mean['person_share']:.2f})", flush=True)


REGION_FINDERS: dict = {}   # subject -> RegionFinder (boxes cached per frame, shared by the arms)
SPLIT_METRICS = ("coverage", "ssim_person", "ssim_background", "person_share")   # render_eval.EXTRA_COLUMNS
TRAIN_METRICS = ("psnr", "ssim", "lpips", "psnr_face", "ssim_face", "psnr_hands", "ssim_hands", "ssim_person")


def mean_metrics(rows: list[dict]) -> dict[str, float]:
    """Mean of every metric over the frames that have it (a region the detector missed is NaN on that frame)."""
    return {m: float(np.nanmean([r[m] for r in rows])) if any(not math.isnan(r[m]) for r in rows) else math.nan
            for m in (*METRICS, *SPLIT_METRICS)}


def parse_sets(items: list[str], arms: list[str]) -> dict[str, dict[str, dict]]:
    """--set ARM.SECTION.KEY=VALUE -> {arm: {"model": {...}, "train": {...}}}."""
    out: dict[str, dict[str, dict]] = {a: {"model": {}, "train": {}} for a in arms}
    for item in items:
        key, _, value = item.partition("=")
        parts = key.split(".")
        if len(parts) != 3 or parts[0] not in out or parts[1] not in ("model", "train") or not _:
            raise SystemExit(f"--set {item!r}: expected ARM.model.KEY=VALUE or ARM.train.KEY=VALUE, ARM in {arms}")
        out[parts[0]][parts[1]][parts[2]] = yaml.safe_load(value)
    return out


def region_grid(runs: list[Run], region: str, side: int = 160) -> np.ndarray:
    """One row per (subject, evaluated frame): ground truth | each arm's latest render, cropped to ``region``
    (face, left_hand, right_hand; full: the whole frame, to see whose clothes each subject wears) and resized to
    ``side`` px squares (nearest; the detector's boxes differ in size between subjects and frames), for looking at
    the faces and hands."""
    from talkinnerf.evaluate.render_eval import compare_grid

    def square(crop: np.ndarray) -> np.ndarray:
        rows = (np.arange(side) * crop.shape[0] // side).clip(0, crop.shape[0] - 1)
        cols = (np.arange(side) * crop.shape[1] // side).clip(0, crop.shape[1] - 1)
        return crop[rows][:, cols]

    rows = []
    data = runs[0].eval_data
    for (name, frame), (_, boxes) in runs[0].last_renders.items():
        d = next(x for x in data if x.name == name)
        box = (0, d.size, 0, d.size) if region == "full" else boxes.get(region)
        if box is None:
            continue
        r0, r1, c0, c1 = box
        rows.append((square(d.image(frame).numpy()[r0:r1, c0:c1]),
                     *(square(run.last_renders[(name, frame)][0][r0:r1, c0:c1]) for run in runs)))
    if not rows:
        return np.ones((8, 8, 3))
    return compare_grid(rows)


def first_reaching(rows: list[dict], metric: str, target: float) -> float | None:
    """Training seconds of the first evaluation at or above ``target`` (None if never)."""
    for r in rows:
        if not math.isnan(r[metric]) and r[metric] >= target:
            return r["seconds"]
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="a results root with the subjects' frames/smplx/splits/parts")
    ap.add_argument("--subjects", nargs="+", default=["ava", "ben", "chloe"])
    ap.add_argument("--arms", nargs="+", default=["mlp", "planes"],
                    help=f"arms of {sorted(ARMS)}; ARM:LABEL runs another copy of ARM under that label (its own --set)")
    ap.add_argument("--set", action="append", default=[], metavar="ARM.SECTION.KEY=VALUE")
    ap.add_argument("--iterations", type=int, default=0, help="0: config.yaml train.iterations")
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--eval-frames", type=int, default=2, help="held-out frames per subject per evaluation")
    ap.add_argument("--eval-data", default=None,
                    help="a results root with the same subjects whose fits render the held-out frames (e.g. the "
                         "clean fits of a --data root whose fits were perturbed): the model's quality apart from "
                         "the test pose's error")
    ap.add_argument("--train-frames", type=int, default=0,
                    help="also render this many training frames per subject per evaluation (columns *_train)")
    ap.add_argument("--save-models", default=None, metavar="DIR",
                    help="write each arm's trained model to DIR/<arm>/model.pt (for evaluate, iteration_breakdown)")
    ap.add_argument("--sizes", default="demo", choices=["demo", "paper"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--title", default="", help="what the data is (plot title)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "time_to_quality.png"))
    args = ap.parse_args(argv)
    from talkinnerf.evaluate.metrics import LpipsMetric
    from talkinnerf.nerf.config import ModelConfig
    from talkinnerf.nerf.field_factory import resolve_for_subjects
    from talkinnerf.nerf.render import RenderOptions
    from talkinnerf.options import from_dict
    from talkinnerf.train.data import load_subject
    from talkinnerf.train.trainer import TrainConfig

    device = start_runtime("cpu", args.threads)
    base = dict(yaml.safe_load((REPO / "config.yaml").read_text())["train"])
    base.update(progress=False, tensorboard=False)
    if args.iterations:
        base["iterations"] = args.iterations
    sets = parse_sets(args.set, args.arms)
    lpips_metric = LpipsMetric(True, device)
    runs, data, eval_data = [], None, None
    for arm in args.arms:
        if arm.split(":")[0] not in ARMS:
            raise SystemExit(f"--arms: unknown arm {arm!r} (known: {sorted(ARMS)})")
        model_over, train_over, cull, fold, fast, autocast = ARMS[arm.split(":")[0]]
        section = {**base, **train_over, **sets[arm]["train"],
                   "model": {**base.get("model", {}), **model_over, **sets[arm]["model"]}}
        cfg = from_dict(TrainConfig, section, "train")
        if args.sizes == "paper":    # the paper's network sizes, the demo's schedules
            paper = ModelConfig.paper_sizes()
            cfg = dataclasses.replace(cfg, model=cfg.model.replace(**{k: getattr(paper, k)
                                                                       for k in PAPER_SIZE_FIELDS}))
        if data is None:
            data = [load_subject(args.data, s, i, cfg.model.background, cfg.box_padding, 64)
                    for i, s in enumerate(args.subjects)]
        cfg = dataclasses.replace(cfg, model=resolve_for_subjects(cfg.model, data))   # as train fit does
        if args.eval_data and eval_data is None:     # loaded once, like --data: every arm renders the same
            eval_data = [load_subject(args.eval_data, s, i, cfg.model.background, cfg.box_padding, 64)
                         for i, s in enumerate(args.subjects)]
        runs.append(Run(arm, cfg, data, device, cull, autocast, RenderOptions(fast=fast, autocast=autocast), fold,
                        lpips_metric, args.eval_frames, eval_data, args.train_frames))
    iterations = runs[0].cfg.iterations
    for step in range(iterations):
        for run in runs:
            run.step(step)
            if (step + 1) % args.eval_every == 0 or step + 1 == iterations:
                run.evaluate(step + 1)
    if args.save_models:
        from talkinnerf.train.trainer import save_model

        for run in runs:
            path = Path(args.save_models) / run.name.replace(":", "_") / "model.pt"
            path.parent.mkdir(parents=True, exist_ok=True)
            save_model(path, run.model, run.cfg.model, list(args.subjects), iterations,
                       extra={"setting": f"time_to_quality {run.name}"})
            print(f"wrote {path}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = [r for run in runs for r in run.rows]
    with open(out.with_suffix(".csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 5, figsize=(20, 7))
    for ax, metric in zip(axes.reshape(-1), (*METRICS, "ssim_person", "ssim_background")):
        for run in runs:
            ax.plot([r["seconds"] for r in run.rows], [r[metric] for r in run.rows], marker="o", ms=3,
                    label=run.name)
        ax.set_title(metric.replace("_", " "), fontsize=10)
        ax.set_xlabel("training seconds")
        ax.grid(alpha=0.3)
    axes[0, 0].legend()
    fig.suptitle(f"{args.title or ', '.join(args.subjects)}: {iterations} iterations, {args.threads} thread(s), "
                 f"{args.eval_frames} held-out frame(s) per subject per point; "
                 + "; ".join(f"{r.name}: {r.cfg.model.field}" for r in runs), fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    from PIL import Image

    for region in ("full", "face", "right_hand"):
        grid = region_grid(runs, region, 192 if region == "full" else 160)
        path = out.with_name(f"{out.stem}_{region}_crops.png")
        Image.fromarray((np.clip(grid, 0, 1) * 255).round().astype(np.uint8)).save(path)
        print(f"wrote {path} (columns: ground truth, {', '.join(r.name for r in runs)})")
    ref = runs[0]
    for run in runs:
        last = run.rows[-1]
        print(f"{run.name}: {run.seconds:.1f} s for {iterations} iterations ({run.seconds / iterations * 1000:.0f} "
              f"ms/it), evaluation {run.eval_seconds / max(run.eval_count, 1):.2f} s/frame; final PSNR "
              f"{last['psnr']:.2f} SSIM {last['ssim']:.3f} LPIPS {last['lpips']:.3f} face {last['psnr_face']:.2f}/"
              f"{last['ssim_face']:.3f} hands {last['psnr_hands']:.2f}/{last['ssim_hands']:.3f} person SSIM "
              f"{last['ssim_person']:.3f} background SSIM {last['ssim_background']:.3f}")
        if run is not ref:
            for metric in ("psnr", "ssim"):
                target = ref.rows[-1][metric]
                t = first_reaching(run.rows, metric, target)
                print(f"  {run.name} reaches {ref.name}'s final {metric} ({target:.3f}) after "
                      + (f"{t:.0f} s vs {ref.seconds:.0f} s: {ref.seconds / t:.1f}x" if t else "never"))
    print(f"wrote {out} and {out.with_suffix('.csv')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
