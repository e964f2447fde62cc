"""Rendering speed of one full frame (no grad, chunked), dense reference vs fast path, demo and paper model sizes.

python benchmarks/render_fps.py [--quick] [--sizes demo paper] [--resolution N] [--density untrained opaque]
    [--paths before dense fast fast-bf16] [--model results/train/talkinnerf/model.pt] [--memory] [--bound]
    [--device auto]
The paths render the same frames alternately (one frame each in turn), so a busy machine slows them alike; each
fast path's image is compared with the dense one (PSNR over the frame, max |acc| difference). "dense" is the
reference renderer (TalkinNeRF.forward per chunk, no joint boxes); "before" is the same with the MLPs'
per-frame conditions concatenated to every sample (mlp.set_folding off): the closest to the code before the
speed work.
Model weights: "untrained" is a freshly initialised model - a semi-transparent fog filling the skinned body, the
worst case for early termination; "opaque" is the same model with density_scale x OPAQUE_FACTOR, so that the
body is opaque from its skin inwards like a trained model's (where rays end a few samples past the surface);
--model renders a trained model file instead: its first identity in its first held-out frame (pose and camera
from the results root the file lies in, at the data's frame size unless --resolution). Rays that miss the
subject's box cost nothing; the box covers about 40% of a full-body frontal frame.
--bound adds the ceiling of any exact renderer of these fields on this device (benchmarks/_render_bound.py): the
samples per ray that carry compositing weight, the D_nr + F_body throughput alone, and their ratio in rays/s; and
what a canonical occupancy grid (F_body density, Instant-NGP style) and early termination would skip on the frame.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _render_bound import (  # noqa: E402
    OCCUPANCY_DENSITY, TERMINATION, THRESHOLDS, field_rates, sample_counts, skip_levers)
from _synthetic import model_config, rss_probe, start_runtime  # noqa: E402

OPAQUE_FACTOR = 50.0
PATHS = {"before": {"fast": False}, "dense": {"fast": False}, "fast": {}, "fast-bf16": {"autocast": "bf16"}}
UNFOLDED = {"before"}


def setup(size: str, density: str, resolution: int, device: torch.device, model_path: str | None):
    from talkinnerf.nerf.model import TalkinNeRF
    from talkinnerf.nerf.synthetic import synthetic_conditioning
    from talkinnerf.train.rays import pixel_rays, ray_box_intersect

    torch.manual_seed(0)
    if model_path:
        return setup_trained(model_path, resolution, device)
    else:
        cfg = model_config(size)
        if density == "opaque":
            cfg = cfg.replace(density_scale=cfg.density_scale * OPAQUE_FACTOR)
        model, step = TalkinNeRF(cfg, 10).to(device).eval(), 10**9
    cond = synthetic_conditioning(pose_scale=0.2)
    cond = type(cond)(**{k: v.to(device) for k, v in vars(cond).items()})
    f = resolution * 1.6
    K = torch.tensor([[f, 0, resolution / 2], [0, f, resolution / 2], [0, 0, 1.0]])
    R = torch.diag(torch.tensor([1.0, -1.0, -1.0]))
    t = torch.tensor([0.0, 0.0, 3.0])
    rows, cols = torch.meshgrid(torch.arange(resolution), torch.arange(resolution), indexing="ij")
    o, d = pixel_rays(K, R, t, rows.reshape(-1), cols.reshape(-1))
    near, far, hit = ray_box_intersect(o, d, cond.canonical_bbox.cpu())
    rays = tuple(x.to(device) for x in (o, d, near, far, hit))
    return model, cfg, cond, step, rays


def setup_trained(model_path: str, resolution: int, device: torch.device):
    """A trained model file with its first identity in its first test frame (pose, camera), from the results
    root the model file lies in (<root>/models/<setting>/model.pt); resolution 0 keeps the data's size."""
    from talkinnerf.train.data import load_subject
    from talkinnerf.train.rays import pixel_rays, ray_box_intersect
    from talkinnerf.train.trainer import load_model

    model, cfg, names, step = load_model(model_path, device)
    root = Path(model_path).resolve().parents[2]
    data = load_subject(root, names[0], 0, cfg.background, 0.05, cache_size=1)
    frame = (data.test_frames or data.train_frames)[0]
    K, R, t = data.camera(frame)
    size = resolution or data.size
    K = K.clone()
    K[:2] *= size / data.size
    rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    o, d = pixel_rays(K, R, t, rows.reshape(-1), cols.reshape(-1))
    o = o - data.params["transl"][frame]
    near, far, hit = ray_box_intersect(o, d, data.posed_box(frame))
    rays = tuple(x.to(device) for x in (o, d, near, far, hit))
    return model, cfg, data.conditioning(frame, device), step, rays


def render(model, cond, step, rays, chunk: int, path: str, device: torch.device) -> dict:
    from talkinnerf.nerf.mlp import set_folding
    from talkinnerf.nerf.render import RenderOptions, render_image

    set_folding(model, path not in UNFOLDED)
    out = render_image(model, *rays, cond, step, chunk, options=RenderOptions(**PATHS[path]))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return out


def bench(size: str, density: str, resolution: int, frames: int, chunk: int, device: torch.device,
          paths: list[str], model_path: str | None = None) -> list[dict]:
    model, cfg, cond, step, rays = setup(size, density, resolution, device, model_path)
    times: dict[str, list[float]] = {p: [] for p in paths}
    images: dict[str, dict] = {}
    for i in range(frames + 1):
        for p in paths:
            t0 = time.perf_counter()
            images[p] = render(model, cond, step, rays, chunk, p, device)
            if i > 0:                                     # first frame is warm-up
                times[p].append(time.perf_counter() - t0)
    n_hit = int(rays[-1].sum())
    rows = []
    for p in paths:
        sec = sum(times[p]) / len(times[p])
        row = {"size": size, "density": "model file" if model_path else density, "path": p,
               "resolution": round(rays[-1].numel() ** 0.5), "hit_rays": n_hit, "s_per_frame": sec, "fps": 1 / sec,
               "rays_per_s": n_hit / sec, "samples_per_s": n_hit * cfg.samples_per_ray / sec}
        if "dense" in images and p != "dense":   # "before" too: the same function, float round-off apart
            mse = float(((images[p]["rgb"] - images["dense"]["rgb"]) ** 2).mean())
            row["psnr_vs_dense"] = math.inf if mse == 0 else -10 * math.log10(mse)
            row["acc_maxdiff"] = float((images[p]["acc"] - images["dense"]["acc"]).abs().max())
        rows.append(row)
    return rows


def print_bound(size: str, density: str, resolution: int, chunk: int, device: torch.device,
                model_path: str | None, by_path: dict[str, float]) -> None:
    """The exact-rendering ceiling (module _render_bound) in float32 and under bf16 autocast, against the paths
    measured in this run."""
    model, _, cond, step, rays = setup(size, density, resolution, device, model_path)
    density = "model file" if model_path else density                   # what the lines below are labelled
    counts = sample_counts(model, cond, step, rays, chunk)
    needed = counts[f"weight>{THRESHOLDS[0]:g}_per_ray"]
    above = ", ".join(f">{th:g}: {counts[f'weight>{th:g}_per_ray']:.2f}" for th in THRESHOLDS)
    print(f"{size:5s} {density:9s} bound: the fast path looks up {counts['evaluated_per_ray']:.2f} samples/ray; "
          f"samples/ray with weight {above}")
    levers = skip_levers(model, cond, step, rays, chunk)
    grid = ", ".join(f"density>{th:g}/m: {levers[f'occupied_fraction@{th:g}']:.1%} of the box occupied, skips "
                     f"{levers[f'grid_skips@{th:g}']:.2f}" for th in OCCUPANCY_DENSITY)
    print(f"{size:5s} {density:9s} levers: {levers['active']:.2f} active samples/ray; a 64^3 canonical occupancy grid "
          f"({grid}) active samples/ray")
    stops = ", ".join(f"T<{eps:g}: {levers[f'rays_T<{eps:g}']:.1%} of rays, {levers[f'active_before_T<{eps:g}']:.2f} "
                      "active samples/ray evaluated up to there" for eps in TERMINATION)
    print(f"{size:5s} {density:9s} levers: early termination {stops}")
    # without foresight a renderer cannot tell the samples that carry weight from the others before running the
    # fields on them: it must evaluate every active sample the grid cannot rule out, up to early termination
    # (the grid's skips are counted over all active samples, so this errs towards a higher ceiling)
    must = max(levers[f"active_before_T<{TERMINATION[0]:g}"] - levers[f"grid_skips@{OCCUPANCY_DENSITY[-1]:g}"], 1e-9)
    for mode in ("off", "bf16"):
        rates = field_rates(model, cond, step, device, mode)
        ceiling = rates["mlp_samples_per_s"] / max(needed, 1e-9)
        practical = rates["mlp_samples_per_s"] / must
        label = "float32" if mode == "off" else "bf16"
        print(f"{size:5s} {density:9s} bound {label}: D_nr+F_body {rates['mlp_samples_per_s']:.0f} samples/s, whole "
              f"per-sample pipeline {rates['pipeline_samples_per_s']:.0f} samples/s; exact ceiling {ceiling:.0f} "
              f"rays/s (D_nr+F_body only, on the weight>{THRESHOLDS[0]:g} samples only); "
              + ", ".join(f"/ {p} {ceiling / rate:.1f}x" for p, rate in by_path.items()))
        print(f"{size:5s} {density:9s} bound {label} without foresight: {practical:.0f} rays/s (D_nr+F_body only, on "
              f"the {must:.2f} active samples/ray up to T<{TERMINATION[0]:g} that a {OCCUPANCY_DENSITY[-1]:g}/m grid "
              "keeps); " + ", ".join(f"/ {p} {practical / rate:.1f}x" for p, rate in by_path.items()))


def probe_memory(size, density, resolution, chunk, path, device_name, model_path) -> dict:
    device = start_runtime(device_name, torch.get_num_threads(), quiet=True, trace=False)
    model, _, cond, step, rays = setup(size, density, resolution, device, model_path)
    render(model, cond, step, rays, chunk, path, device)
    return rss_probe(lambda: render(model, cond, step, rays, chunk, path, device), device)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 timed frame at 32 px (paper) / 64 px (demo)")
    ap.add_argument("--sizes", nargs="+", default=["demo", "paper"], choices=["demo", "paper"])
    ap.add_argument("--density", nargs="+", default=["untrained", "opaque"], choices=["untrained", "opaque"])
    ap.add_argument("--paths", nargs="+", default=["before", "dense", "fast", "fast-bf16"], choices=list(PATHS))
    ap.add_argument("--model", default=None, help="a trained model file (renders its identity 0; --sizes ignored)")
    ap.add_argument("--resolution", type=int, default=0, help="frame side (default demo 128, paper 512)")
    ap.add_argument("--frames", type=int, default=3)
    ap.add_argument("--chunk", type=int, default=4096)
    ap.add_argument("--memory", action="store_true", help="peak memory per frame of each path (fresh process)")
    ap.add_argument("--bound", action="store_true", help="the ceiling of any exact renderer of these fields")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--probe-memory", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.probe_memory:
        if args.threads:
            torch.set_num_threads(args.threads)
        print(json.dumps(probe_memory(*json.loads(args.probe_memory))))
        return 0
    device = start_runtime(args.device, args.threads)
    runs = [("model", "untrained")] if args.model else [(s, d) for s in args.sizes for d in args.density]
    for size, density in runs:
        res = args.resolution or ((64 if size != "paper" else 32) if args.quick else (128 if size != "paper" else 512))
        if args.model and not args.resolution:
            res = 0                                       # the data's frame size
        rows = bench(size, density, res, 1 if args.quick else args.frames, args.chunk, device, args.paths, args.model)
        for r in rows:
            extra = ""
            if "psnr_vs_dense" in r:
                extra = f" PSNR vs dense {r['psnr_vs_dense']:.1f} dB, max |acc diff| {r['acc_maxdiff']:.1e}"
            if args.memory:
                env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}   # freed tensors leave the RSS
                cmd = [sys.executable, __file__, "--probe-memory",
                       json.dumps([size, density, res, args.chunk, r["path"], args.device, args.model])]
                if args.threads:
                    cmd += ["--threads", str(args.threads)]
                m = json.loads(subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
                               .stdout.strip().splitlines()[-1])
                extra += " " + " ".join(f"{k}={v:.0f}" for k, v in m.items())
            print(f"{size:5s} {r['density']:9s} {r['path']:9s} {r['resolution']}px hit_rays={r['hit_rays']:6d} "
                  f"{r['s_per_frame']:.3f} s/frame {r['fps']:.2f} fps {r['rays_per_s']:.0f} rays/s "
                  f"{r['samples_per_s']:.0f} samples/s{extra}")
        by = {r["path"]: r["rays_per_s"] for r in rows}
        for p in by:
            for ref in ("dense", "before"):
                if p not in (ref, "before") and ref in by:
                    print(f"{size:5s} {rows[0]['density']:9s} {p} / {ref}: {by[p] / by[ref]:.1f}x rays/s")
        if args.bound:
            print_bound(size, density, res, args.chunk, device, args.model, by)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
