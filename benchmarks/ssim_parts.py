"""Where a trained model's full-frame SSIM comes from: the person's pixels and the background's, and what the faint
fog that a NeRF leaves around the person costs.

python benchmarks/ssim_parts.py --model results/models/talkinnerf/model.pt --data results [--subjects ava ben]
    [--frames 3] [--floors 0.02 0.05 0.1 0.2 0.5] [--smoothing] [--threads 2] [--out benchmarks/results/ssim_parts.csv]

SSIM is the mean of a per-pixel map (metrics.ssim_split), so the full-frame figure is the person's share of the
pixels times the person's SSIM plus the rest times the background's. Where the ground truth is black (matted on
the model's black background), SSIM's luminance term is (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1) with
C1 = 1e-4: a render of 0.02 there scores ~0.2, so a fog of a few grey levels outside the person weighs on the
figure as much as the person's detail does, and a frame framed with more background scores higher with the same
person. `fog_empty` is the share of the pixels the matte calls empty (< 0.05, the soft rim excluded) whose
rendered opacity exceeds 0.02. The test poses are the fit's as they are (as time_to_quality.py renders them);
--smoothing applies `evaluate render`'s temporal smoothing first, as the main job's metrics.csv does.
For --floors each held-out frame is re-scored with the pixels whose rendered opacity is below the floor drawn as
background (a diagnostic of the fog's cost, not a renderer option). Prints the means per subject and overall and
writes a CSV row per (subject, frame, floor).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
import torch


def fog_empty(acc: np.ndarray, alpha: np.ndarray, empty_below: float) -> float:
    """Share of the pixels the matte calls empty (alpha < empty_below) whose rendered opacity exceeds 0.02."""
    empty = alpha < empty_below
    return float((acc[empty] > 0.02).mean()) if empty.any() else float("nan")


def write_rows(path: str | Path, rows: list[dict]) -> Path:
    """One CSV row per dict (floats to 5 decimals), the folder made; returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: (round(v, 5) if isinstance(v, float) else v) for k, v in r.items()} for r in rows)
    return out


def saved_model_parser(doc: str, out: str) -> argparse.ArgumentParser:
    """The arguments the saved-model benchmarks share (this one, shell_skips.py, part_mass.py): --model, --data,
    --subjects, --frames, --threads and --out (default ``out``); each adds its own."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="a trained model.pt")
    ap.add_argument("--data", required=True, help="the results root it trained on (frames, smplx, splits, parts)")
    ap.add_argument("--subjects", nargs="+", help="default: every identity of the model")
    ap.add_argument("--frames", type=int, default=3, help="frames per subject (evenly spaced)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=out)
    return ap


def saved_avatars(args: argparse.Namespace):
    """For each of ``args.subjects`` (default: the model's identities): (subject, model in eval mode, model config,
    trained step, the subject's data, device), loaded as `evaluate render` loads them."""
    from talkinnerf.evaluate.render_eval import EvalConfig, load_avatar
    from talkinnerf.train.trainer import load_model, resolve_device

    for subject in args.subjects or load_model(args.model, resolve_device("cpu"))[2]:
        model, model_cfg, step, data, device = load_avatar(args.model, subject, args.data, "cpu", args.threads,
                                                           EvalConfig().box_padding)
        yield subject, model.eval(), model_cfg, step, data, device


def main(argv: list[str] | None = None) -> int:
    ap = saved_model_parser(__doc__, "benchmarks/results/ssim_parts.csv")
    ap.add_argument("--floors", type=float, nargs="*", default=[0.02, 0.05, 0.1, 0.2, 0.5])
    ap.add_argument("--smoothing", action="store_true", help="smooth the test poses as evaluate render does")
    args = ap.parse_args(argv)

    from talkinnerf.evaluate.metrics import psnr, ssim, ssim_split
    from talkinnerf.evaluate.render_eval import EvalConfig, render_view, select_frames, smooth_subject
    from talkinnerf.nerf.render import RenderOptions, render_image
    from talkinnerf.train.trainer import OPACITY_OUTSIDE

    floors = [0.0, *sorted(set(args.floors) - {0.0})]
    rows = []
    subjects = []
    for subject, model, model_cfg, step, data, device in saved_avatars(args):
        subjects.append(subject)
        if args.smoothing:
            smooth_subject(data, EvalConfig().smoothing_window, EvalConfig().smoothing_sigma)
        background = np.asarray(model_cfg.background, dtype=np.float32)
        for frame in select_frames(data.test_frames, args.frames):
            K, R, t = data.camera(frame)
            with torch.no_grad():
                pred, acc = render_view(model, data.conditioning(frame, device), K, R, t, data.params["transl"][frame],
                                        data.posed_box(frame), data.size, step, 4096, model_cfg.background, device,
                                        render_image, RenderOptions(), with_acc=True)
            gt, alpha = data.image(frame).numpy(), data.alpha(frame).numpy()
            for floor in floors:
                shown = np.where((acc < floor)[..., None], background, pred) if floor > 0 else pred
                rows.append({"subject": subject, "frame": frame, "floor": floor, "psnr": psnr(shown, gt),
                             "ssim": ssim(shown, gt), **ssim_split(shown, gt, alpha),
                             "fog_empty": fog_empty(acc, alpha, OPACITY_OUTSIDE)})
        print(f"{subject}: {len(select_frames(data.test_frames, args.frames))} frames", flush=True)

    out = write_rows(args.out, rows)
    cols = ("psnr", "ssim", "ssim_person", "ssim_background", "person_share", "fog_empty")
    print("floor  " + "  ".join(f"{c:>15s}" for c in cols))
    for floor in floors:
        sel = [r for r in rows if r["floor"] == floor]
        print(f"{floor:5.2f}  " + "  ".join(f"{np.nanmean([r[c] for r in sel]):15.4f}" for c in cols))
    for subject in subjects:
        mean = {c: np.nanmean([r[c] for r in rows if r["floor"] == 0.0 and r["subject"] == subject]) for c in cols}
        print(f"{subject}: SSIM {mean['ssim']:.3f} = person {mean['ssim_person']:.3f} x share "
              f"{mean['person_share']:.2f} + background {mean['ssim_background']:.3f} x the rest")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
