"""Rendering speed of one full frame (no grad, chunked) for demo and paper model sizes on synthetic inputs.

python benchmarks/render_fps.py [--quick] [--sizes demo paper] [--resolution N] [--device auto]
Rays that miss the subject's box cost nothing; the box covers about 40% of a full-body frontal frame.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _synthetic import model_config, peak_memory_mb, start_runtime  # noqa: E402


def bench(size: str, resolution: int, frames: int, chunk: int, device: torch.device) -> dict:
    from talkinnerf.nerf.model import TalkinNeRF
    from talkinnerf.nerf.render import render_image
    from talkinnerf.nerf.synthetic import synthetic_conditioning
    from talkinnerf.train.rays import pixel_rays, ray_box_intersect

    cfg = model_config(size)
    model = TalkinNeRF(cfg, 10).to(device).eval()
    cond = synthetic_conditioning(pose_scale=0.2)
    cond = type(cond)(**{k: v.to(device) for k, v in vars(cond).items()})
    f = resolution * 1.6
    K = torch.tensor([[f, 0, resolution / 2], [0, f, resolution / 2], [0, 0, 1.0]])
    R = torch.diag(torch.tensor([1.0, -1.0, -1.0]))
    t = torch.tensor([0.0, 0.0, 3.0])
    rows, cols = torch.meshgrid(torch.arange(resolution), torch.arange(resolution), indexing="ij")
    times = []
    for i in range(frames + 1):
        t0 = time.perf_counter()
        o, d = pixel_rays(K, R, t, rows.reshape(-1), cols.reshape(-1))
        near, far, hit = ray_box_intersect(o, d, cond.canonical_bbox.cpu())
        render_image(model, o.to(device), d.to(device), near.to(device), far.to(device), hit.to(device), cond,
                     10**9, chunk)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i > 0:                                     # first frame is warm-up
            times.append(time.perf_counter() - t0)
    sec = sum(times) / len(times)
    n_hit = int(hit.sum())
    return {"size": size, "resolution": resolution, "hit_rays": n_hit, "s_per_frame": sec, "fps": 1 / sec,
            "rays_per_s": n_hit / sec, "samples_per_s": n_hit * cfg.samples_per_ray / sec, **peak_memory_mb(device)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 timed frame at 32 px (paper) / 64 px (demo)")
    ap.add_argument("--sizes", nargs="+", default=["demo", "paper"], choices=["demo", "paper"])
    ap.add_argument("--resolution", type=int, default=0, help="frame side (default demo 128, paper 512)")
    ap.add_argument("--frames", type=int, default=3)
    ap.add_argument("--chunk", type=int, default=4096)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args(argv)
    device = start_runtime(args.device, args.threads)
    for size in args.sizes:
        res = args.resolution or ((64 if size == "demo" else 32) if args.quick else (128 if size == "demo" else 512))
        r = bench(size, res, 1 if args.quick else args.frames, args.chunk, device)
        mem = " ".join(f"{k}={v:.0f}" for k, v in r.items() if k.endswith("_mb"))
        print(f"{size:5s} {res}px hit_rays={r['hit_rays']:6d} {r['s_per_frame']:.3f} s/frame {r['fps']:.2f} fps "
              f"{r['rays_per_s']:.0f} rays/s {r['samples_per_s']:.0f} samples/s {mem}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
