"""Where one training iteration's time goes, on real data with config.yaml's trainer, and what each part's removal
would leave: the floor of time to quality for any field design.

python benchmarks/iteration_breakdown.py --data results [--subjects ava ben chloe] [--model M.pt] [--step 2000]
    [--iterations 30] [--warmup 5] [--threads 1] [--to-quality 2600] [--out docs/measurements/iteration_breakdown]

Each timed iteration draws one batch (config.yaml's `train:` section: patches, face share, redraws) and measures on
that same batch, in turn:
  full       the trainer's iteration: draw, forward (model + losses, LPIPS included), backward, Adam step;
  no_lpips   forward + backward without the LPIPS term (its weight moved to MSE, as train.lpips_every does);
  no_volume  forward + backward with the blend-weight volume decoded once and held fixed (no decoder work);
and alone, on the inputs that iteration gave them:
  fields     F_body, F_face, F_hands forward + backward on the points they received (the part a field backend owns);
  decoder    the weight-volume decoder forward + backward;
  lpips      LPIPS(VGG) forward + backward on the patches.
The rest of the model (skinning lookups, D_r, D_nr, pose refiner, D_hands, routing, compositing, the MSE/CE losses)
is `full` minus the parts above. A trained model (--model, e.g. the main job's results/models/talkinnerf/model.pt)
gives realistic active-sample counts; without one the model is config.yaml's, untrained. Writes a CSV of every
iteration's timings and prints the table in Markdown.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _synthetic import start_runtime  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FIELDS = ("body", "face", "hands", "hands_left", "hands_right")


class FieldInputs:
    """Forward hooks that keep the (points, condition) each radiance field received in the last forward."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.seen: list[tuple[torch.nn.Module, tuple]] = []
        self.handles = [getattr(model, name).register_forward_hook(self._keep)
                        for name in FIELDS if getattr(model, name, None) is not None]

    def _keep(self, module, inputs, output) -> None:
        self.seen.append((module, tuple(x.detach() for x in inputs)))

    def points(self) -> int:
        return sum(int(inputs[0].shape[0]) for _, inputs in self.seen)


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def fields_alone(seen: list[tuple[torch.nn.Module, tuple]]) -> None:
    total = None
    for module, inputs in seen:
        out = module(*inputs)
        part = sum(o.float().sum() for o in out if torch.is_tensor(o) and o.is_floating_point())
        total = part if total is None else total + part
    if total is not None:
        total.backward()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="a results root with the subjects' frames/smplx/splits/parts")
    ap.add_argument("--subjects", nargs="+", default=["ava", "ben", "chloe"])
    ap.add_argument("--model", default=None, help="a trained model.pt over these subjects (default: untrained)")
    ap.add_argument("--step", type=int, default=2000, help="the model step the iterations run at (its kick-ins)")
    ap.add_argument("--iterations", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--to-quality", type=int, default=2600,
                    help="iterations the main job trains to its held-out quality: the floors are this many iterations")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "iteration_breakdown"))
    args = ap.parse_args(argv)
    from talkinnerf.nerf.field_factory import resolve_for_subjects
    from talkinnerf.options import from_dict
    from talkinnerf.train.data import load_subject
    from talkinnerf.train.losses import TalkinLoss, make_lpips
    from talkinnerf.train.trainer import (TrainConfig, default_model_factory, effective_loss_weights,
                                          iteration_losses, load_model, make_optimizer, sample_step,
                                          seed_everything)

    device = start_runtime("cpu", args.threads, trace=False)
    section = dict(yaml.safe_load((REPO / "config.yaml").read_text())["train"])
    section.update(progress=False, tensorboard=False)
    cfg = from_dict(TrainConfig, section, "train")
    data = [load_subject(args.data, s, i, cfg.model.background, cfg.box_padding, 64)
            for i, s in enumerate(args.subjects)]
    if args.model:
        model, model_cfg, names, _ = load_model(args.model, device)
        if names != list(args.subjects):
            raise SystemExit(f"--model {args.model} was trained on {names}, not --subjects {args.subjects}")
        cfg = dataclasses.replace(cfg, model=model_cfg)
    else:
        cfg = dataclasses.replace(cfg, model=resolve_for_subjects(cfg.model, data))
        model = default_model_factory(cfg.model, len(data)).to(device)
    model.train()
    gen = seed_everything(cfg.seed)
    opt = make_optimizer(model.param_groups(cfg.lr), cfg)
    lpips_module, lpips_status = make_lpips(cfg.lpips and cfg.loss_lpips > 0, device, min_side=cfg.patch_size)
    loss_fn = TalkinLoss(effective_loss_weights(cfg, lpips_module is not None), cfg.model.four_classes, lpips_module,
                         weights_without_lpips=effective_loss_weights(cfg, False))
    background = torch.tensor(cfg.model.background, dtype=torch.float32)
    hooks = FieldInputs(model)
    decoder = model.weight_volume
    decode = decoder.forward

    def forward_backward(batches, with_lpips: bool) -> tuple:
        losses, rgb, gt = iteration_losses(model, model, batches, args.step, cfg, loss_fn, background, device,
                                           with_lpips)
        if losses["total"].requires_grad:
            losses["total"].backward()
        return rgb, gt

    rows = []
    for it in range(args.warmup + args.iterations):
        row: dict[str, float] = {}
        model.prepare_step(args.step)
        batches: list = []
        row["draw"] = timed(lambda: batches.extend(sample_step(data, cfg, args.step, gen)))
        hooks.seen.clear()
        opt.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        losses, rgb, gt = iteration_losses(model, model, batches, args.step, cfg, loss_fn, background, device,
                                           lpips_module is not None)
        row["forward"] = time.perf_counter() - t0
        row["backward"] = timed(lambda: losses["total"].backward() if losses["total"].requires_grad else None)
        seen, row["field_points"] = list(hooks.seen), hooks.points()
        opt.zero_grad(set_to_none=True)
        row["no_lpips"] = timed(lambda: forward_backward(batches, False))
        opt.zero_grad(set_to_none=True)
        fixed = decode().detach()
        decoder.forward = lambda: fixed                      # the volume held fixed: no decoder forward/backward
        try:
            row["no_volume"] = timed(lambda: forward_backward(batches, lpips_module is not None))
        finally:
            decoder.forward = decode
        opt.zero_grad(set_to_none=True)
        row["fields"] = timed(lambda: fields_alone(seen))
        opt.zero_grad(set_to_none=True)
        row["decoder"] = timed(lambda: decode().sum().backward())
        if lpips_module is not None:
            n, p = cfg.patches, cfg.patch_size
            pred = rgb.detach().reshape(n, p, p, 3).requires_grad_(True)
            row["lpips"] = timed(lambda: loss_fn(pred, gt.reshape(n, p, p, 3), torch.zeros(0, 5),
                                                 torch.zeros(0, dtype=torch.long))["total"].backward())
        # the real step last, on the real iteration's gradients. The full pass runs again for it on purpose: timed
        # after the variants instead of first, it came out faster than no_lpips (LPIPS at -92 ms in a try)
        opt.zero_grad(set_to_none=True)
        losses, _, _ = iteration_losses(model, model, batches, args.step, cfg, loss_fn, background, device,
                                        lpips_module is not None)
        if losses["total"].requires_grad:
            losses["total"].backward()
        row["adam"] = timed(opt.step)
        hooks.seen.clear()
        if it >= args.warmup:
            rows.append(row)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_suffix(".csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)

    def med(key: str) -> float:
        return statistics.median(r[key] for r in rows) if key in rows[0] else float("nan")

    full = med("draw") + med("forward") + med("backward") + med("adam")
    parts = {
        "draw (patches, rays, ground truth)": med("draw"),
        "Adam step": med("adam"),
        "LPIPS forward + backward (full - no_lpips)": med("forward") + med("backward") - med("no_lpips"),
        "weight-volume decoder (full - no_volume)": med("forward") + med("backward") - med("no_volume"),
        "F_body, F_face, F_hands forward + backward (alone)": med("fields"),
    }
    parts["the rest of the model and losses"] = full - sum(parts.values())
    print(f"\n{len(rows)} iterations (median each), {args.threads} thread(s), step {args.step}, "
          f"{'trained model ' + args.model if args.model else 'untrained model'}, field {cfg.model.field}, "
          f"{cfg.patches} x {cfg.patch_size}^2 rays, {statistics.median(r['field_points'] for r in rows):.0f} "
          f"field points per iteration, LPIPS {lpips_status}")
    print(f"alone: decoder {med('decoder') * 1e3:.1f} ms, LPIPS {med('lpips') * 1e3:.1f} ms\n")
    print(f"| part | ms per iteration | share | {args.to_quality} iterations without it (s) |")
    print("| --- | --- | --- | --- |")
    for name, sec in parts.items():
        print(f"| {name} | {sec * 1e3:.1f} | {sec / full:.0%} | {(full - sec) * args.to_quality:.0f} |")
    print(f"| **whole iteration** | **{full * 1e3:.1f}** | 100% | {full * args.to_quality:.0f} (with it) |")
    print(f"\nwrote {out.with_suffix('.csv')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
