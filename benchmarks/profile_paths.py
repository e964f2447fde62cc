"""Where the time goes, before and after: torch.profiler tables of one frame render (dense vs fast path) and one
training iteration (no joint-box culling vs culling, float32 vs bf16 autocast), written under benchmarks/profiles/.

python benchmarks/profile_paths.py [--sizes demo paper] [--density opaque] [--rays 512] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch.profiler import profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
import render_fps  # noqa: E402
from _synthetic import box_rays, model_config, start_runtime  # noqa: E402

OUT = Path(__file__).resolve().parent / "profiles"


def table(fn, title: str, path: Path) -> None:
    fn()                                                          # warm-up
    with profile() as prof:
        fn()
    text = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20)
    path.write_text(f"{title}\n{text}\n")
    print(f"wrote {path}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["demo", "paper"], choices=["demo", "paper"])
    ap.add_argument("--density", default="opaque", choices=["untrained", "opaque"])
    ap.add_argument("--rays", type=int, default=512, help="rays of the training iteration")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    device = start_runtime("cpu", args.threads)
    OUT.mkdir(exist_ok=True)
    from talkinnerf.nerf.model import TalkinNeRF

    for size in args.sizes:
        res = 64 if size == "demo" else 32
        model, cfg, cond, step, rays = render_fps.setup(size, args.density, res, device, None)
        for path in ("dense", "fast"):
            table(lambda: render_fps.render(model, cond, step, rays, 4096, path, device),
                  f"render {size} {args.density} {res}px, path {path}, threads {args.threads}",
                  OUT / f"render_{size}_{path}.txt")
        torch.manual_seed(0)
        model = TalkinNeRF(model_config(size), 10).train()
        opt = torch.optim.Adam(model.param_groups(5e-4))
        gen = torch.Generator().manual_seed(0)
        train_step = max(cfg.nr_kick_in, cfg.pose_refine_kick_in) + 1

        def iteration():
            c, o, d, near, far, _ = box_rays(args.rays, gen)
            out = model(o, d, near, far, c, train_step)
            loss = ((out["rgb"] - 0.5) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        for name, cull, autocast in (("before", False, "off"), ("culling", True, "off"),
                                     ("culling_bf16", True, "bf16")):
            model.joint_box_culling, model.mlp_autocast = cull, autocast
            table(iteration, f"train {size} untrained, {args.rays} rays, joint-box culling {cull}, autocast "
                  f"{autocast}, threads {args.threads}", OUT / f"train_{size}_{name}.txt")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
