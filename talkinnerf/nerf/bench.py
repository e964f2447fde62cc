"""Training-iteration throughput of the model on this machine: `python -m talkinnerf.nerf.bench [--paper]`.

One iteration = forward of R rays x S samples through everything + backward + Adam step, synthetic skeleton,
rays through the body's square (not a test; numbers depend on the machine's load).
"""

from __future__ import annotations

import argparse
import time

import torch

from talkinnerf.nerf.config import ModelConfig
from talkinnerf.nerf.model import TalkinNeRF
from talkinnerf.nerf.synthetic import frontal_rays, synthetic_conditioning


def measure(cfg: ModelConfig, rays: int, iters: int, step: int) -> dict[str, float]:
    torch.manual_seed(0)
    model = TalkinNeRF(cfg, 2).train()
    opt = torch.optim.Adam(model.param_groups(5e-4))
    cond = synthetic_conditioning()
    batch = frontal_rays(rays)

    def one() -> dict:
        out = model(*batch, cond, step=step)
        loss = out["rgb"].square().mean() + 0.05 * out["seg_logits"].logsumexp(-1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return out

    out = one()
    start = time.perf_counter()
    for _ in range(iters):
        out = one()
    sec = (time.perf_counter() - start) / iters
    active = float((out["classes"] >= 0).float().mean())
    return {"sec_per_iter": sec, "iters_per_sec": 1.0 / sec, "active_sample_fraction": active}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rays", type=int, default=1024)
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--paper", action="store_true", help="paper sizes instead of the demo defaults")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = ModelConfig.paper_sizes() if args.paper else ModelConfig()
    for label, changes in (("full", {}), ("humannerf", {"humannerf": True})):
        res = measure(cfg.replace(**changes), args.rays, args.iters, step=10 ** 6)
        print(f"{label:10s} rays={args.rays} samples={cfg.samples_per_ray} "
              f"{res['iters_per_sec']:.2f} it/s ({res['sec_per_iter'] * 1000:.0f} ms/it), "
              f"active samples {res['active_sample_fraction']:.2f}")


if __name__ == "__main__":
    main()
