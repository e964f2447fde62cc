"""Throughput of one full training iteration (sampling, model, rendering, losses, backward, Adam step).

Prints rays/s, samples/s and peak memory for the demo and paper model sizes on synthetic inputs, with the LPIPS(VGG)
term on and off (its share of an iteration); LPIPS "on" needs `talkinnerf weights fetch lpips`:
python benchmarks/train_throughput.py [--quick] [--sizes demo paper] [--lpips on off] [--threads N] [--device auto]
(the modes alternate iteration by iteration, so a busy machine slows both alike)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _synthetic import box_rays, model_config, peak_memory_mb, start_runtime  # noqa: E402

# rays per iteration: demo = 4 patches of 16x16, paper = 6 patches of 32x32 (supp. B)
RAYS = {"demo": 4 * 16 * 16, "paper": 6 * 32 * 32}


def bench(size: str, iterations: int, warmup: int, device: torch.device, rays: int | None,
          modes: tuple[str, ...] = ("on", "off")) -> list[dict]:
    """Time ``iterations`` training iterations per LPIPS mode ("on"/"off"). The modes alternate iteration by
    iteration in one loop, so that both see the same load from other processes; the median is reported."""
    from talkinnerf.nerf.model import TalkinNeRF
    from talkinnerf.train.losses import LossWeights, TalkinLoss, make_lpips
    from talkinnerf.train.sampling import FrameMasks, sample_patches

    cfg = model_config(size)
    n_rays = rays or RAYS[size]
    patch = 16 if size == "demo" else 32
    n_patches = max(1, n_rays // (patch * patch))
    n_rays = n_patches * patch * patch
    model = TalkinNeRF(cfg, 10).to(device).train()
    opt = torch.optim.Adam(model.param_groups(5e-4))
    lpips_module, lpips_status = make_lpips("on" in modes, device, required="on" in modes, min_side=patch)
    loss_fn = TalkinLoss(LossWeights(), cfg.four_classes, lpips_module)
    gen = torch.Generator().manual_seed(0)
    masks = FrameMasks(256, torch.arange(256 * 256), torch.arange(1000), torch.arange(500))
    step = max(cfg.nr_kick_in, cfg.pose_refine_kick_in) + 1   # every module active
    times: dict[str, list[float]] = {m: [] for m in modes}
    for it in range(warmup + iterations):
        for mode in modes:
            t0 = time.perf_counter()
            sample_patches(masks, n_patches, patch, 0.8, 0.2, 0.6, gen)            # sampling cost
            cond, o, d, near, far, hit = box_rays(n_rays, gen)
            cond = type(cond)(**{k: v.to(device) for k, v in vars(cond).items()})
            out = model(o.to(device), d.to(device), near.to(device), far.to(device), cond, step)
            gt = torch.rand(n_patches, patch, patch, 3, generator=gen).to(device)
            labels = torch.randint(0, 5, (n_rays,), generator=gen).to(device)
            losses = loss_fn(out["rgb"].reshape(n_patches, patch, patch, 3), gt, out["seg_logits"], labels,
                             with_lpips=mode == "on")
            opt.zero_grad(set_to_none=True)
            losses["total"].backward()
            opt.step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if it >= warmup:
                times[mode].append(time.perf_counter() - t0)
    results = []
    for mode, ts in times.items():
        sec = sorted(ts)[len(ts) // 2]
        results.append({"size": size, "lpips": mode, "rays": n_rays, "samples_per_ray": cfg.samples_per_ray,
                        "s_per_it": sec, "mean_s_per_it": sum(ts) / len(ts), "rays_per_s": n_rays / sec,
                        "samples_per_s": n_rays * cfg.samples_per_ray / sec, **peak_memory_mb(device)})
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 warm-up + 2 timed iterations, fewer paper rays")
    ap.add_argument("--sizes", nargs="+", default=["demo", "paper"], choices=["demo", "paper"])
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--lpips", nargs="+", default=["on", "off"], choices=["on", "off"],
                    help="LPIPS(VGG) modes to time (on needs `talkinnerf weights fetch lpips`)")
    args = ap.parse_args(argv)
    device = start_runtime(args.device, args.threads)
    for size in args.sizes:
        rays = 1024 if (args.quick and size == "paper") else None    # paper size is ~15 s/it on a small CPU
        rows = bench(size, 2 if args.quick else args.iterations, 1 if args.quick else 2, device, rays,
                     tuple(dict.fromkeys(args.lpips)))
        for r in rows:
            mem = " ".join(f"{k}={v:.0f}" for k, v in r.items() if k.endswith("_mb"))
            print(f"{size:5s} lpips={r['lpips']:3s} rays/it={r['rays']:5d} S={r['samples_per_ray']:3d} "
                  f"{r['s_per_it']:.3f} s/it (median; mean {r['mean_s_per_it']:.3f}) {r['rays_per_s']:.0f} rays/s "
                  f"{r['samples_per_s']:.0f} samples/s {mem}")
        by = {r["lpips"]: r["s_per_it"] for r in rows}
        if len(by) == 2:
            extra = by["on"] - by["off"]
            print(f"{size:5s} LPIPS costs {extra:.3f} s/it ({extra / by['off']:+.0%}); with train.lpips_every k: "
                  + ", ".join(f"k={k}: {by['off'] + extra / k:.3f} s/it" for k in (1, 2, 4, 8)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
