"""Estimate the wall time of `snakemake --cores N <target>` from a dry run and the per-rule benchmarks of an
earlier run (docs/experiments.md, "Cost plan").

    python benchmarks/tables_time.py --benchmarks /tmp/fresh/results/benchmarks --models /tmp/fresh/results/models
    python benchmarks/tables_time.py --configfile config.yaml --target tables --cores 2 --by-rule

A training job costs its iterations times a per-iteration rate: the multi-identity TalkinNeRF's and body-only's
from their benchmark (wall seconds less start-up, over the iterations in their meta.json), fine-tuning's from its
own, HumanNeRF's (its own MLP field whatever train.model.field) from --humannerf-rate (measured in the last full
`tables` run: 1733 iterations in 278-284 s). A single-subject TalkinNeRF costs the multi-identity rate per
iteration (one frame of one subject either way, train.subjects_per_step 1). An evaluation costs a start-up plus a
time per held-out frame (fitted to the benchmarks' evaluations), a rule that already ran its own benchmark's wall
seconds, anything else --other-seconds. The estimate is the CPU-seconds over the cores (both kept busy: the
`tables` DAG has far more jobs than cores once preprocessing is done), or the longest training plus what precedes
it, whichever is longer. It assumes what the benchmarks' machine did at the time: the demo runs one thread per
training job, two side by side.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TRAIN_RULES = {"train", "train_run", "train_single", "train_single_run", "train_clip", "train_clip_run",
               "finetune", "finetune_run"}
STARTUP = 8.0          # seconds a training job spends before its first iteration (imports, data, model)


def wall_seconds(tsv: Path) -> float:
    with open(tsv) as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return float(rows[-1]["s"])


def dry_run(configfile: str, target: str, workdir: Path) -> str:
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    proc = subprocess.run([snakemake, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "-n", "-p",
                           target, "--configfile", str(REPO / configfile)], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(proc.stdout[-3000:] + proc.stderr[-3000:])
    return proc.stdout


def jobs_of(text: str) -> list[dict]:
    """Each planned job's rule, wildcards and shell command."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", text):
        head = re.match(r"(?:local)?rule (\w+):", block)
        if not head:
            continue
        wildcards = re.search(r"^\s+wildcards: (.*)$", block, re.M)
        shell = re.search(r"^Shell command: (.*)$", block, re.M)
        jobs.append({"rule": head.group(1), "wildcards": wildcards.group(1) if wildcards else "",
                     "shell": shell.group(1) if shell else ""})
    return jobs


def options_of(shell: str) -> dict:
    m = re.search(r"--options '(\{.*?\})'", shell)
    return json.loads(m.group(1)) if m else {}


def rates(bench: Path, models: Path, humannerf_rate: float) -> dict[str, float]:
    """Seconds per iteration of each kind of training, from the benchmarks and the models' meta.json."""
    out = {"humannerf": humannerf_rate}
    for setting, kind in (("talkinnerf", "talkinnerf"), ("body_only", "body_only")):
        tsv, meta = bench / "train" / f"{setting}.tsv", models / setting / "meta.json"
        if tsv.is_file() and meta.is_file():
            out[kind] = (wall_seconds(tsv) - STARTUP) / float(json.loads(meta.read_text())["iterations"])
    tuned = sorted((bench / "finetune").glob("*.tsv")) if (bench / "finetune").is_dir() else []
    for tsv in tuned:
        meta = models / "novel" / tsv.stem / "meta.json"
        if meta.is_file():
            out["finetune"] = (wall_seconds(tsv) - STARTUP) / float(json.loads(meta.read_text())["iterations"])
            break
    out.setdefault("talkinnerf", 0.313)
    out.setdefault("body_only", out["talkinnerf"] * 0.83)
    out.setdefault("finetune", out["talkinnerf"])
    return out


def eval_model(bench: Path, results: Path) -> tuple[float, float]:
    """(start-up s, s per held-out frame) of an evaluation, from the benchmarks' evaluations and their CSVs."""
    points = []
    for tsv in sorted((bench / "evaluate").rglob("*.tsv")) if (bench / "evaluate").is_dir() else []:
        rel = tsv.relative_to(bench / "evaluate").with_suffix("")
        metrics = results / "eval" / rel / "metrics.csv"
        if metrics.is_file():
            points.append((len(metrics.read_text().strip().splitlines()) - 1, wall_seconds(tsv)))
    frames = {f for f, _ in points}
    if len(frames) >= 2:
        fx = statistics.mean(f for f, _ in points)
        fy = statistics.mean(s for _, s in points)
        slope = (sum((f - fx) * (s - fy) for f, s in points) / sum((f - fx) ** 2 for f, _ in points))
        slope = max(slope, 0.1)
        return max(fy - slope * fx, 0.0), slope
    return 10.0, 0.4


def held_out_frames(job: dict, frames: dict[str, int], config: dict) -> int:
    """Held-out frames of an evaluation: the unseen split's last fraction, else the split of the frames' count."""
    subject = re.search(r"subject=([^,\s]+)", job["wildcards"])
    count = frames.get(subject.group(1), 60) if subject else 60
    if "/views/" in job["shell"]:
        split = re.search(r"views/(\w+)", job["shell"]).group(1)
        fraction = config["experiments"]["splits"][split]["split"].get("fraction", 0.2)
        return max(1, int(round(count * fraction)))
    if job["rule"] in ("evaluate_novel", "evaluate_novel_run", "evaluate_clip", "evaluate_clip_run"):
        return 8
    return max(1, count // int((config.get("split") or {}).get("n", 10)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configfile", default="config.yaml")
    ap.add_argument("--target", default="tables")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--benchmarks", default="/tmp/fresh/results/benchmarks", help="benchmarks/ of an earlier run")
    ap.add_argument("--models", default=None, help="its models/ (default: beside --benchmarks)")
    ap.add_argument("--humannerf-rate", type=float, default=281.0 / 1733, help="HumanNeRF s per iteration")
    ap.add_argument("--other-seconds", type=float, default=4.0, help="a job without a benchmark (tables, figures)")
    ap.add_argument("--frames", type=int, default=60, help="frames of a training subject's video (demo: 5 s × 12)")
    ap.add_argument("--by-rule", action="store_true", help="print CPU-seconds per rule")
    args = ap.parse_args(argv)
    import yaml

    bench = Path(args.benchmarks)
    results = bench.parent
    models = Path(args.models) if args.models else results / "models"
    config = yaml.safe_load((REPO / args.configfile).read_text())
    per_it = rates(bench, models, args.humannerf_rate)
    start, per_frame = eval_model(bench, results)
    with tempfile.TemporaryDirectory() as tmp:
        jobs = jobs_of(dry_run(args.configfile, args.target, Path(tmp)))
    frames: dict[str, int] = {}
    by_rule: dict[str, float] = {}
    longest_training = 0.0
    for job in jobs:
        rule, shell = job["rule"], job["shell"]
        if rule in TRAIN_RULES:
            opts = options_of(shell)
            model = opts.get("model") or {}
            kind = ("finetune" if rule.startswith("finetune") else
                    "humannerf" if model.get("baseline") == "humannerf" else
                    "body_only" if model.get("humannerf") else "talkinnerf")
            factor = 1.5 if model.get("hand_joints_in_canonical") else 1.0   # its ablation run took 1.5x
            seconds = STARTUP + int(opts.get("iterations", 0)) * per_it[kind] * factor
            longest_training = max(longest_training, seconds)
        elif rule.startswith("evaluate_") and "evaluate render" in shell:
            seconds = start + per_frame * held_out_frames(job, frames, config)
        else:
            name = rule
            wc = dict(kv.split("=", 1) for kv in job["wildcards"].split(", ") if "=" in kv)
            tsv = bench / name / f"{wc.get('subject', '')}.tsv" if wc.get("subject") else bench / f"{name}.tsv"
            candidates = [tsv, bench / "report" / f"{name.removeprefix('report_')}.tsv"]
            if rule == "animate" or rule == "animate_single":
                candidates += sorted((bench / "animate").rglob("*.tsv"))
            seconds = next((wall_seconds(c) for c in candidates if c.is_file()), args.other_seconds)
        by_rule[rule] = by_rule.get(rule, 0.0) + seconds
    total = sum(by_rule.values())
    preprocess = sum(by_rule.get(r, 0.0) for r in ("body_model", "demo_synthesize", "decode", "matte", "keypoints",
                                                    "fit", "segment"))
    wall = max(total / args.cores, preprocess / args.cores + longest_training)
    print(f"{len(jobs)} jobs; s/iteration: " + ", ".join(f"{k} {v:.3f}" for k, v in per_it.items())
          + f"; evaluation {start:.1f} s + {per_frame:.2f} s/frame")
    if args.by_rule:
        for rule, seconds in sorted(by_rule.items(), key=lambda kv: -kv[1]):
            print(f"  {rule:28s} {seconds:8.0f} s")
    print(f"CPU-seconds {total:.0f} -> about {wall / 60:.0f} min on {args.cores} cores "
          f"(longest training {longest_training:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
