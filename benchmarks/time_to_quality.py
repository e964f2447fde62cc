"""Held-out PSNR against training wall-clock seconds for the demo, "before" vs "after" the speed work, in one run.

python benchmarks/time_to_quality.py --data /tmp/fresh_demo/results [--iterations 600] [--eval-every 100]
    [--after-autocast off] [--before reference] [--sizes demo] [--out benchmarks/results/time_to_quality.png]
Both runs train the demo model (config.yaml `train:` options, the subjects of --data, same seed and batches) in the
same process, iteration by iteration in turn, so that a busy machine slows both alike:
  before: --before reference: every sample through the K-joint weight lookup (no joint-box culling), conditions
          concatenated to every sample, evaluation by the dense renderer;
          --before float32: the default path in float32 (isolates --after-autocast);
  after:  joint-box culling, folded conditions, evaluation by the fast renderer, MLPs under --after-autocast.
--sizes paper swaps in the paper's network sizes (ModelConfig.paper_sizes, 128 samples per ray) on the demo data.
Every --eval-every iterations each model renders one held-out frame per subject (its own renderer); the x axis is
the training seconds plus that run's evaluation seconds so far. Writes a PNG and a CSV next to it.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import sys
import time
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _synthetic import start_runtime  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PAPER_SIZE_FIELDS = ("field_depth", "field_width", "field_pe_bands", "face_depth", "face_width", "hands_depth",
                     "hands_width", "nr_depth", "nr_width", "hand_def_depth", "hand_def_width", "volume_latent",
                     "volume_size", "volume_channels", "pose_refine_depth", "pose_refine_width", "samples_per_ray")


class Run:
    def __init__(self, name: str, cfg, data, device, cull: bool, autocast: str, render_options, fold: bool = True):
        from talkinnerf.nerf.mlp import set_folding
        from talkinnerf.train.losses import TalkinLoss, make_lpips
        from talkinnerf.train.trainer import default_model_factory, effective_loss_weights, seed_everything

        self.name, self.cfg, self.data, self.device, self.render_options = name, cfg, data, device, render_options
        self.gen = seed_everything(cfg.seed)
        self.model = default_model_factory(cfg.model, len(data)).to(device).train()
        self.model.joint_box_culling = cull
        self.model.mlp_autocast = autocast
        set_folding(self.model, fold)
        lpips_module, _ = make_lpips(cfg.lpips and cfg.loss_lpips > 0, device, min_side=cfg.patch_size)
        self.loss_fn = TalkinLoss(effective_loss_weights(cfg, lpips_module is not None), cfg.model.four_classes,
                                  lpips_module, weights_without_lpips=effective_loss_weights(cfg, False))
        self.opt = torch.optim.Adam(self.model.param_groups(cfg.lr), lr=cfg.lr)
        decay = cfg.effective_decay_steps()
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: cfg.decay_rate ** (s / decay))
        self.background = torch.tensor(cfg.model.background, dtype=torch.float32)
        self.seconds = 0.0
        self.rows: list[dict] = []
        self.rng = torch.get_rng_state()   # each run its own global stream (sample jitter): interleaving is neutral

    def step(self, step: int) -> None:
        from talkinnerf.train.trainer import render_batch, sample_batch

        torch.set_rng_state(self.rng)
        t0 = time.perf_counter()
        cfg = self.cfg
        self.model.prepare_step(step)
        batch = sample_batch(self.data, cfg, step, self.gen)
        rgb, seg_logits, hit_idx = render_batch(self.model, batch, step, self.background, self.device)
        n, p = cfg.patches, cfg.patch_size
        losses = self.loss_fn(rgb.reshape(n, p, p, 3), batch["gt"].to(self.device).reshape(n, p, p, 3), seg_logits,
                              batch["labels"].to(self.device)[hit_idx], with_lpips=step % cfg.lpips_every == 0)
        self.opt.zero_grad(set_to_none=True)
        if losses["total"].requires_grad:
            losses["total"].backward()
            self.opt.step()
        self.sched.step()
        self.seconds += time.perf_counter() - t0
        self.rng = torch.get_rng_state()

    def evaluate(self, step: int) -> None:
        from talkinnerf.evaluate.render_eval import render_view
        from talkinnerf.nerf.render import render_image
        from talkinnerf.train.losses import psnr_from_mse

        t0 = time.perf_counter()
        self.model.eval()
        psnrs = []
        for d in self.data:
            frame = d.test_frames[len(d.test_frames) // 2]
            K, R, t = d.camera(frame)
            pred = render_view(self.model, d.conditioning(frame, self.device), K, R, t, d.params["transl"][frame],
                               d.posed_box(frame), d.size, step, 4096, self.cfg.model.background, self.device,
                               render_image, self.render_options)
            psnrs.append(psnr_from_mse(float(((torch.from_numpy(pred) - d.image(frame)) ** 2).mean())))
        self.model.train()
        self.seconds += time.perf_counter() - t0
        self.rows.append({"run": self.name, "iteration": step, "seconds": round(self.seconds, 2),
                          "psnr": sum(psnrs) / len(psnrs)})
        print(f"{self.name:6s} it {step:5d} {self.seconds:8.1f} s held-out PSNR {self.rows[-1]['psnr']:.2f} dB",
              flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="a results root with the demo subjects' frames/smplx/splits")
    ap.add_argument("--subjects", nargs="+", default=["ava", "ben", "chloe"])
    ap.add_argument("--iterations", type=int, default=0, help="0: config.yaml train.iterations")
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--after-autocast", default="off", choices=["off", "bf16"])
    ap.add_argument("--before", default="reference", choices=["reference", "float32"])
    ap.add_argument("--sizes", default="demo", choices=["demo", "paper"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "time_to_quality.png"))
    args = ap.parse_args(argv)
    from talkinnerf.nerf.config import ModelConfig
    from talkinnerf.nerf.render import RenderOptions
    from talkinnerf.options import from_dict
    from talkinnerf.train.data import load_subject
    from talkinnerf.train.trainer import TrainConfig

    device = start_runtime("cpu", args.threads)
    section = dict(yaml.safe_load((REPO / "config.yaml").read_text())["train"])
    section.update(progress=False, tensorboard=False)
    if args.iterations:
        section["iterations"] = args.iterations
    cfg = from_dict(TrainConfig, section, "train")
    if args.sizes == "paper":        # the paper's network sizes, the demo's schedules (D_nr etc. start in the run)
        paper = ModelConfig.paper_sizes()
        cfg = dataclasses.replace(cfg, model=cfg.model.replace(**{k: getattr(paper, k) for k in PAPER_SIZE_FIELDS}))
    data = [load_subject(args.data, s, i, cfg.model.background, cfg.box_padding, 64)
            for i, s in enumerate(args.subjects)]
    before = (Run("before", cfg, data, device, False, "off", RenderOptions(fast=False), fold=False)
              if args.before == "reference" else Run("before", cfg, data, device, True, "off", RenderOptions()))
    runs = [before,
            Run("after", cfg, data, device, True, args.after_autocast, RenderOptions(autocast=args.after_autocast))]
    for step in range(cfg.iterations):
        for run in runs:
            run.step(step)
            if (step + 1) % args.eval_every == 0 or step + 1 == cfg.iterations:
                run.evaluate(step + 1)
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

    fig, ax = plt.subplots(figsize=(6, 4))
    for run in runs:
        ax.plot([r["seconds"] for r in run.rows], [r["psnr"] for r in run.rows], marker="o", label=run.name)
    ax.set_xlabel(f"wall-clock seconds (training + held-out evaluation, {args.threads} thread(s))")
    ax.set_ylabel("held-out PSNR (dB), 1 frame per subject")
    ax.set_title(f"demo data, {args.sizes} sizes, {cfg.iterations} iterations, before: {args.before}, "
                 f"after: autocast={args.after_autocast}", fontsize=9)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    for run in runs:
        print(f"{run.name}: {run.seconds:.1f} s for {cfg.iterations} iterations + evaluations, final PSNR "
              f"{run.rows[-1]['psnr']:.2f} dB")
    print(f"wrote {out} and {out.with_suffix('.csv')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
