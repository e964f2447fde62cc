"""Train several model settings (and seeds) side by side on preprocessed subjects and tabulate held-out metrics.

Used to compare design choices (e.g. hand-field variants against the humannerf baseline) at a fixed budget and
to measure seed noise, which a single run cannot show. Each job = `train fit` + held-out `evaluate render`
(no video) for every subject, in its own process with one CPU thread.

    python benchmarks/setting_sweep.py --data-root results --out /tmp/sweep \
        --variant talkinnerf='{}' --variant humannerf='{"humannerf": true}' --seeds 0 1 --jobs 2

The train section of --config (default config.yaml) is the base; a variant's JSON overrides its `model` keys,
and the optional "train" key of the JSON overrides train keys (e.g. {"train": {"lr": 1e-3}}).
Writes OUT/sweep.csv (one row per variant, seed and subject) and prints per-variant means +- seed spread.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

COLUMNS = ("psnr", "ssim", "psnr_face", "ssim_face", "psnr_hands", "ssim_hands")


def run_job(job: dict) -> list[dict]:
    import torch

    torch.set_num_threads(1)
    from talkinnerf.evaluate.render_eval import EvalConfig, evaluate_render
    from talkinnerf.options import from_dict
    from talkinnerf.train.trainer import TrainConfig, fit

    out = Path(job["out"])
    cfg = from_dict(TrainConfig, job["train"], where=f"variant {job['name']}")
    t0 = time.perf_counter()
    summary = fit(job["subjects"], job["data_root"], out, cfg, setting=job["name"])
    train_s = time.perf_counter() - t0
    rows = []
    for subject in job["subjects"]:
        ev = evaluate_render(out / "model.pt", subject, job["data_root"], out / "eval" / subject,
                             EvalConfig(video=False, lpips=False, device=cfg.device, threads=1))
        rows.append({"variant": job["name"], "seed": job["seed"], "subject": subject,
                     **{c: ev["mean"][c] for c in COLUMNS}, "train_s": round(train_s, 1),
                     "it_per_s": summary.get("it_per_s")})
    return rows


def main() -> None:
    import pandas as pd
    import yaml

    from talkinnerf.config_check import setting_train_section

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", default="results")
    ap.add_argument("--config", default="config.yaml")
    ap.add_argument("--subjects", nargs="+", default=["ava", "ben", "chloe"])
    ap.add_argument("--variant", action="append", required=True, help="NAME=JSON model overrides")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--iterations", type=int, default=0, help="0: the config's")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    config = yaml.safe_load(Path(args.config).read_text())
    config.setdefault("settings", {})
    jobs = []
    for spec in args.variant:
        name, _, text = spec.partition("=")
        overrides = json.loads(text or "{}")
        train_overrides = overrides.pop("train", {})
        config["settings"][name] = overrides
        train = {**setting_train_section(config, name), **train_overrides,
                 "threads": 1, "device": args.device, "progress": False, "tensorboard": False, "lpips": False}
        if args.iterations:
            train["iterations"] = args.iterations
        for seed in args.seeds:
            jobs.append({"name": name, "seed": seed, "subjects": args.subjects, "data_root": args.data_root,
                         "train": {**train, "seed": seed}, "out": f"{args.out}/{name}_s{seed}"})
    rows: list[dict] = []
    Path(args.out).mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(run_job, job): job for job in jobs}
        for fut in as_completed(futures):
            job = futures[fut]
            try:
                rows += fut.result()
                print(f"done {job['name']} seed {job['seed']}", flush=True)
                pd.DataFrame(rows).to_csv(Path(args.out) / "sweep.csv", index=False)   # partial results survive
            except Exception as exc:  # one broken variant must not lose the others
                print(f"FAILED {job['name']} seed {job['seed']}: {exc!r}", flush=True)
    if not rows:
        raise SystemExit("no job finished")
    table = pd.DataFrame(rows).sort_values(["variant", "seed", "subject"])
    table.to_csv(Path(args.out) / "sweep.csv", index=False)
    per_seed = table.groupby(["variant", "seed"])[list(COLUMNS)].mean()
    summary = per_seed.groupby("variant").agg(["mean", "std"])
    with pd.option_context("display.width", 250, "display.max_columns", 40, "display.precision", 3):
        print(per_seed)
        print(summary)
        print(table.groupby("variant")[["train_s", "it_per_s"]].mean())


if __name__ == "__main__":
    main()
