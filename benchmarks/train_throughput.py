"""Throughput of one full training iteration (sampling, model, rendering, losses, backward, Adam step).

Prints rays/s, samples/s and peak memory for the demo and paper model sizes on synthetic inputs, with the LPIPS(VGG)
term on and off (its share of an iteration) and the MLPs in float32 or under bf16 autocast (train.autocast);
LPIPS "on" needs `talkinnerf weights fetch lpips`:
python benchmarks/train_throughput.py [--quick] [--sizes demo paper] [--lpips on off] [--autocast off bf16]
    [--culling on off] [--fold on off] [--compile off on] [--compare-humannerf] [--memory] [--threads N]
    [--device auto]
All modes alternate iteration by iteration in one loop, so a busy machine slows them alike. --compare-humannerf
adds a network of HumanNeRF's published sizes (benchmarks/_humannerf_arch.py: our code, every sample through the
MLPs, MSE) to the same loop and prints TalkinNeRF's rays/s as a multiple of it. --memory measures each mode's peak
memory of one iteration in a fresh process (CPU: peak RSS growth over the iteration, with glibc returning freed
blocks to the system; CUDA: max_memory_allocated).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _synthetic import box_rays, model_config, peak_memory_mb, rss_probe, start_runtime  # noqa: E402

# rays per iteration: demo = 4 patches of 16x16, paper = 6 patches of 32x32 (supp. B)
RAYS = {"demo": 4 * 16 * 16, "paper": 6 * 32 * 32}
HUMANNERF = "humannerf-arch"


def compile_fields(model) -> list[str]:
    """torch.compile the model's MLPs in place (nn.Module.compile: state_dict keys unchanged) with dynamic shapes
    (the number of active samples changes every iteration); rigid maps, lookups and compositing stay eager."""
    done = []
    for name in ("body", "face", "hands", "hands_left", "hands_right", "non_rigid", "hand_deform",
                 "hand_deform_left", "hand_deform_right", "pose_refiner"):
        module = getattr(model, name, None)
        if module is not None:
            module.compile(dynamic=True)
            done.append(name)
    return done


class Iteration:
    """One training iteration of one mode: ``kind`` talkinnerf (our model, TalkinLoss) or humannerf-arch."""

    def __init__(self, size: str, kind: str, lpips: str, autocast: str, n_rays: int, device: torch.device,
                 lpips_module=None, culling: str = "on", compile: str = "off", fold: str = "on"):
        from talkinnerf.nerf.mlp import set_folding
        from talkinnerf.nerf.model import TalkinNeRF
        from talkinnerf.train.losses import LossWeights, TalkinLoss

        self.size, self.kind, self.lpips, self.autocast, self.device = size, kind, lpips, autocast, device
        self.culling, self.compile, self.fold = culling, compile, fold
        self.cfg = model_config(size)
        self.patch = 16 if size == "demo" else 32
        self.n_patches = max(1, n_rays // (self.patch * self.patch))
        self.n_rays = self.n_patches * self.patch * self.patch
        if kind == HUMANNERF:
            from _humannerf_arch import SAMPLES, HumanNeRFArch

            self.samples = SAMPLES
            self.model = HumanNeRFArch().to(device).train()
            self.opt = torch.optim.Adam(self.model.parameters(), 5e-4)
        else:
            self.samples = self.cfg.samples_per_ray
            torch.manual_seed(0)      # every mode starts from the same weights: same active samples, same work
            self.model = TalkinNeRF(self.cfg, 10).to(device).train()
            self.model.mlp_autocast = autocast
            self.model.joint_box_culling = culling == "on"     # off: every sample through all K joints (before)
            set_folding(self.model, fold == "on")                # off: conditions concatenated per sample (before)
            self.opt = torch.optim.Adam(self.model.param_groups(5e-4))
            if compile == "on":
                compile_fields(self.model)
            self.loss_fn = TalkinLoss(LossWeights(), self.cfg.four_classes, lpips_module)
        self.step = max(self.cfg.nr_kick_in, self.cfg.pose_refine_kick_in) + 1   # every module active

    @property
    def name(self) -> str:
        if self.kind == HUMANNERF:
            return HUMANNERF
        return (f"lpips={self.lpips} autocast={self.autocast}" + ("" if self.culling == "on" else " culling=off")
                + ("" if self.fold == "on" else " fold=off") + (" compile=on" if self.compile == "on" else ""))

    def run(self, gen: torch.Generator) -> None:
        from talkinnerf.train.sampling import FrameMasks, sample_patches

        dev = self.device
        masks = FrameMasks(256, torch.arange(256 * 256), torch.arange(1000), torch.arange(500))
        sample_patches(masks, self.n_patches, self.patch, 0.8, 0.2, 0.6, gen)            # sampling cost
        cond, o, d, near, far, hit = box_rays(self.n_rays, gen)
        cond = type(cond)(**{k: v.to(dev) for k, v in vars(cond).items()})
        o, d, near, far = o.to(dev), d.to(dev), near.to(dev), far.to(dev)
        gt = torch.rand(self.n_patches, self.patch, self.patch, 3, generator=gen).to(dev)
        if self.kind == HUMANNERF:
            loss = ((self.model(o, d, near, far, cond).reshape_as(gt) - gt) ** 2).mean()
        else:
            out = self.model(o, d, near, far, cond, self.step)
            labels = torch.randint(0, 5, (self.n_rays,), generator=gen).to(dev)
            loss = self.loss_fn(out["rgb"].reshape_as(gt), gt, out["seg_logits"], labels,
                                with_lpips=self.lpips == "on")["total"]
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)


def make_modes(size: str, lpips: tuple[str, ...], autocast: tuple[str, ...], humannerf: bool, n_rays: int,
               device: torch.device, culling: tuple[str, ...] = ("on",), compile: tuple[str, ...] = ("off",),
               fold: tuple[str, ...] = ("on",)) -> list[Iteration]:
    from talkinnerf.train.losses import make_lpips

    patch = 16 if size == "demo" else 32
    lpips_module = make_lpips("on" in lpips, device, required="on" in lpips, min_side=patch)[0] if "on" in lpips \
        else None
    modes = [Iteration(size, "talkinnerf", lp, ac, n_rays, device, lpips_module, cu, co, fo)
             for cu in culling for fo in fold for co in compile for lp in lpips for ac in autocast
             if (cu == "on" or (ac == "off" and co == "off")) and (fo == "on" or co == "off")]
    if humannerf:
        modes.append(Iteration(size, HUMANNERF, "off", "off", n_rays, device))
    return modes


def bench(size: str, iterations: int, warmup: int, device: torch.device, rays: int | None,
          lpips: tuple[str, ...] = ("on", "off"), autocast: tuple[str, ...] = ("off",),
          humannerf: bool = False, culling: tuple[str, ...] = ("on",), compile: tuple[str, ...] = ("off",),
          fold: tuple[str, ...] = ("on",)) -> list[dict]:
    """Time ``iterations`` training iterations per mode, the modes alternating iteration by iteration in one loop
    (both see the same load from other processes); the median is reported."""
    modes = make_modes(size, lpips, autocast, humannerf, rays or RAYS[size], device, culling, compile, fold)
    # one generator per mode, seeded alike: every mode trains on the same rays, iteration by iteration
    gens = {m.name: torch.Generator().manual_seed(0) for m in modes}
    times: dict[str, list[float]] = {m.name: [] for m in modes}
    for it in range(warmup + iterations):
        for mode in modes:
            t0 = time.perf_counter()
            mode.run(gens[mode.name])
            if it >= warmup:
                times[mode.name].append(time.perf_counter() - t0)
    results = []
    for mode in modes:
        ts = times[mode.name]
        sec = sorted(ts)[len(ts) // 2]
        results.append({"size": size, "mode": mode.name, "kind": mode.kind, "lpips": mode.lpips,
                        "culling": mode.culling, "compile": mode.compile, "fold": mode.fold,
                        "autocast": mode.autocast, "rays": mode.n_rays, "samples_per_ray": mode.samples,
                        "s_per_it": sec, "mean_s_per_it": sum(ts) / len(ts), "rays_per_s": mode.n_rays / sec,
                        "samples_per_s": mode.n_rays * mode.samples / sec})
    return results


def probe_memory(size: str, kind: str, lpips: str, autocast: str, rays: int, device_name: str, culling: str,
                 compile: str = "off", fold: str = "on") -> dict:
    """Peak memory of one iteration (after one warm-up iteration) of one mode; run in a fresh process."""
    device = start_runtime(device_name, torch.get_num_threads(), quiet=True, trace=False)
    mode = make_modes(size, (lpips,), (autocast,), False, rays, device, (culling,), (compile,), (fold,))[0] \
        if kind != HUMANNERF else \
        Iteration(size, HUMANNERF, "off", "off", rays, device)
    gen = torch.Generator().manual_seed(0)
    mode.run(gen)
    return rss_probe(lambda: mode.run(gen), device)


def memory_in_subprocess(args, size: str, row: dict, rays: int) -> dict:
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}   # freed tensors go back to the system: RSS = live
    cmd = [sys.executable, __file__, "--probe-memory", json.dumps([size, row["kind"], row["lpips"], row["autocast"],
                                                                   rays, args.device, row["culling"],
                                                                   row["compile"], row["fold"]])]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 warm-up + 2 timed iterations, fewer paper rays")
    ap.add_argument("--sizes", nargs="+", default=["demo", "paper"], choices=["demo", "paper"])
    ap.add_argument("--iterations", type=int, default=None, help="timed iterations per mode (default 10; --quick 2)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed iterations per mode (default 2; --quick 1)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--lpips", nargs="+", default=["on", "off"], choices=["on", "off"],
                    help="LPIPS(VGG) modes to time (on needs `talkinnerf weights fetch lpips`)")
    ap.add_argument("--autocast", nargs="+", default=["off", "bf16"], choices=["off", "bf16"],
                    help="MLPs in float32 (off) and/or under bf16 autocast")
    ap.add_argument("--culling", nargs="+", default=["on"], choices=["on", "off"],
                    help="joint-box culling and sparse skinning (off: the code before them, float32 only)")
    ap.add_argument("--fold", nargs="+", default=["on"], choices=["on", "off"],
                    help="per-frame conditions folded into the MLPs' biases (off: concatenated to every sample)")
    ap.add_argument("--compile", nargs="+", default=["off"], choices=["off", "on"],
                    help="torch.compile the fields (compile_fields above; warm-up iterations absorb the compiles)")
    ap.add_argument("--compare-humannerf", action="store_true",
                    help="time a network of HumanNeRF's published sizes in the same loop and print the ratios")
    ap.add_argument("--memory", action="store_true", help="peak memory per iteration of each mode (fresh process)")
    ap.add_argument("--probe-memory", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.probe_memory:
        if args.threads:
            torch.set_num_threads(args.threads)
        print(json.dumps(probe_memory(*json.loads(args.probe_memory))))
        return 0
    device = start_runtime(args.device, args.threads)
    for size in args.sizes:
        rays = 1024 if (args.quick and size == "paper") else None    # paper size is ~15 s/it on a small CPU
        warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
        if "on" in args.compile:
            warmup = max(warmup, 3)     # the first call compiles static shapes, the next recompiles them dynamic
        rows = bench(size, args.iterations or (2 if args.quick else 10), warmup, device, rays,
                     tuple(dict.fromkeys(args.lpips)), tuple(dict.fromkeys(args.autocast)), args.compare_humannerf,
                     tuple(dict.fromkeys(args.culling)), tuple(dict.fromkeys(args.compile)),
                     tuple(dict.fromkeys(args.fold)))
        for r in rows:
            mem = ""
            if args.memory:
                m = memory_in_subprocess(args, size, r, r["rays"])
                mem = " ".join(f"{k}={v:.0f}" for k, v in m.items())
            print(f"{size:5s} {r['mode']:24s} rays/it={r['rays']:5d} S={r['samples_per_ray']:3d} "
                  f"{r['s_per_it']:.3f} s/it (median; mean {r['mean_s_per_it']:.3f}) {r['rays_per_s']:.0f} rays/s "
                  f"{r['samples_per_s']:.0f} samples/s {mem}".rstrip())
        before = {(r["lpips"], r["fold"]): r for r in rows if r["kind"] != HUMANNERF and r["culling"] == "off"}
        for r in rows:
            if r["kind"] != HUMANNERF and r["culling"] == "on" and (r["lpips"], r["fold"]) in before:
                ratio = r["rays_per_s"] / before[(r["lpips"], r["fold"])]["rays_per_s"]
                print(f"{size:5s} {r['mode']:24s} / culling off: {ratio:.2f}x rays/s")
        unfolded = {(r["lpips"], r["autocast"], r["culling"]): r for r in rows
                    if r["kind"] != HUMANNERF and r["fold"] == "off"}
        for r in rows:
            key = (r["lpips"], r["autocast"], r["culling"])
            if r["kind"] != HUMANNERF and r["fold"] == "on" and r["compile"] == "off" and key in unfolded:
                print(f"{size:5s} {r['mode']:24s} / fold off: {r['rays_per_s'] / unfolded[key]['rays_per_s']:.2f}x "
                      "rays/s")
        ours = [r for r in rows if r["kind"] != HUMANNERF and r["culling"] == "on" and r["compile"] == "off"
                and r["fold"] == "on"]
        plain = {(r["lpips"], r["autocast"]): r for r in ours}
        for r in rows:
            if r["kind"] != HUMANNERF and r["compile"] == "on" and (r["lpips"], r["autocast"]) in plain:
                ratio = r["rays_per_s"] / plain[(r["lpips"], r["autocast"])]["rays_per_s"]
                print(f"{size:5s} {r['mode']:24s} / compile off: {ratio:.2f}x rays/s")
        for ac in dict.fromkeys(r["autocast"] for r in ours):
            by = {r["lpips"]: r["s_per_it"] for r in ours if r["autocast"] == ac}
            if len(by) == 2:
                extra = by["on"] - by["off"]
                print(f"{size:5s} autocast={ac}: LPIPS costs {extra:.3f} s/it ({extra / by['off']:+.0%}); with "
                      "train.lpips_every k: " + ", ".join(f"k={k}: {by['off'] + extra / k:.3f} s/it"
                                                          for k in (1, 2, 4, 8)))
        base = {r["autocast"]: r["rays_per_s"] for r in ours if r["lpips"] == ours[0]["lpips"]}
        if len(base) == 2:
            print(f"{size:5s} bf16 autocast / float32: {base['bf16'] / base['off']:.2f}x rays/s "
                  f"(lpips={ours[0]['lpips']})")
        ref = [r for r in rows if r["kind"] == HUMANNERF]
        if ref:
            for r in [r for r in rows if r["kind"] != HUMANNERF]:
                print(f"{size:5s} {r['mode']:24s} {r['rays_per_s']:.0f} rays/s = "
                      f"{r['rays_per_s'] / ref[0]['rays_per_s']:.1f}x {HUMANNERF} ({ref[0]['rays_per_s']:.0f} rays/s)")
    if device.type == "cpu" or device.type == "cuda":
        mem = " ".join(f"{k}={v:.0f}" for k, v in peak_memory_mb(device).items())
        print(f"process peak memory over the run: {mem}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
