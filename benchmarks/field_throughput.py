"""Samples per second of one canonical field alone (forward + backward + one Adam step), for every field backend.

python benchmarks/field_throughput.py [--samples 65536] [--reps 6] [--threads 1] [--device auto]

Backends: the paper's PE + MLP at the demo's sizes (4 x 64, PE 6) and the paper's (8 x 256, PE 10), the planes
(config.yaml's default: 4 scales x 3 planes x 8 channels + 2 x 64 decoder) and the hash grid (16 levels x 2**15 x 2 +
the same decoder), each F_body-shaped (13 + 32 condition entries, 5 logits), with the trainer's fused Adam. Points
are uniform in a 2 m box. The backends alternate rep by rep in one loop, so that a busy machine slows them alike;
the first rep of each is a warm-up. This is the field's own ceiling; a training iteration adds skinning, D_nr,
compositing and LPIPS (benchmarks/train_throughput.py, time_to_quality.py).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _synthetic import start_runtime  # noqa: E402

BOX = (-1.0, -1.0, -1.0, 1.0, 1.0, 1.0)
COND = 13 + 32          # [psi; jaw] + identity code, as F_face sees; F_body's is the code alone
LOGITS = 5


def build(name: str) -> torch.nn.Module:
    from talkinnerf.nerf.fields import RadianceField
    from talkinnerf.nerf.fields_hashgrid import HashGridRadianceField
    from talkinnerf.nerf.fields_planes import PlaneRadianceField

    if name == "mlp-demo":
        return RadianceField(COND, 4, 64, 6, LOGITS)
    if name == "mlp-paper":
        return RadianceField(COND, 8, 256, 10, LOGITS)
    if name == "planes":
        return PlaneRadianceField(COND, BOX, (32, 64, 128, 256), 8, 2, 64, LOGITS)
    if name == "hashgrid":
        return HashGridRadianceField(COND, BOX, 16, 2, 15, 16, 512, 2, 64, LOGITS)
    raise ValueError(name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=65536)
    ap.add_argument("--reps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--backends", nargs="+", default=["mlp-demo", "mlp-paper", "planes", "hashgrid"])
    args = ap.parse_args()
    device = start_runtime(args.device, args.threads, trace=False)
    gen = torch.Generator().manual_seed(0)
    fields = {n: build(n).to(device) for n in args.backends}
    opts = {n: torch.optim.Adam(f.parameters(), 1e-3, fused=True) for n, f in fields.items()}
    times: dict[str, list[float]] = {n: [] for n in fields}
    cond = torch.randn(COND, generator=gen).to(device)
    for rep in range(args.reps + 1):
        x = (torch.rand(args.samples, 3, generator=gen) * 2 - 1).to(device)
        for name, field in fields.items():
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            rgb, raw, logits = field(x, cond)
            (rgb.sum() + raw.sum() + logits.sum()).backward()
            opts[name].step()
            opts[name].zero_grad(set_to_none=True)
            if device.type == "cuda":
                torch.cuda.synchronize()
            if rep:                       # rep 0 warms up allocators and kernels
                times[name].append(time.perf_counter() - t0)
    print(f"{'backend':10s} {'parameters':>11s} {'samples/s':>10s}  (median of {args.reps} reps of {args.samples})")
    for name, field in fields.items():
        rate = args.samples / statistics.median(times[name])
        params = sum(p.numel() for p in field.parameters())
        print(f"{name:10s} {params:11d} {rate:10.0f}")


if __name__ == "__main__":
    main()
