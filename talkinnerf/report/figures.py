"""Summary plots and image grids for the report (Fig. 7b, novel-pose and cross-identity grids, Fig. 3a, bleed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from talkinnerf.io import atomic_path


def plot_quality(table: pd.DataFrame, out: str | Path) -> None:
    """Grouped bars of PSNR / SSIM per subject and setting (full frame, face, hands where present)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in ("psnr", "psnr_face", "psnr_hands", "ssim", "ssim_face", "ssim_hands") if m in table]
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 3.2), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        pivot = table.pivot(index="subject", columns="setting", values=metric)
        pivot.plot.bar(ax=ax, rot=30, legend=ax is axes[0][0])
        ax.set_title(metric)
        ax.set_xlabel("")
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out: str | Path, dpi: int = 110) -> None:
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    _plt().close(fig)


def plot_novel_series(table: pd.DataFrame, out: str | Path, metrics=("psnr", "ssim", "lpips")) -> None:
    """Fig. 7b: held-out quality of the novel identity against the seconds of video it was given, one line per
    method (TalkinNeRF fine-tuned from the multi-identity model vs the baseline trained from scratch); error bars:
    the seeds' spread (half their range) where the table has one."""
    plt = _plt()
    shown = [m for m in metrics if m in table and table[m].notna().any()]
    fig, axes = plt.subplots(1, len(shown), figsize=(3.4 * len(shown), 3.0), squeeze=False)
    labels = {"psnr": "PSNR ↑ (dB)", "ssim": "SSIM ↑", "lpips": "LPIPS* ↓ (×1e3)"}
    for ax, metric in zip(axes[0], shown):
        for method, rows in table.groupby("method", sort=False):
            rows = rows.sort_values("seconds")
            scale = 1e3 if metric.startswith("lpips") else 1.0
            spread = rows.get(f"{metric}_spread")
            ax.errorbar(rows["seconds"], rows[metric] * scale, marker="o", label=method, capsize=3,
                        yerr=None if spread is None or spread.isna().all() else spread.fillna(0) * scale)
        ax.set_xscale("log")
        ax.set_xticks(sorted(table["seconds"].unique()))
        ax.set_xticklabels([f"{s:g}" for s in sorted(table["seconds"].unique())])
        ax.minorticks_off()           # a log axis labels minor ticks too ("3x10^0" beside the chosen seconds)
        ax.set_xlabel("seconds of the novel identity's video")
        ax.set_title(labels.get(metric, metric))
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    _save(fig, out)


def image_grid(rows: list[list[np.ndarray]], titles: list[str], out: str | Path, row_labels: list[str] | None = None,
               cell: float = 1.8) -> None:
    """A grid of RGB images (float [0,1] or uint8), one title per column."""
    plt = _plt()
    n_rows, n_cols = len(rows), len(titles)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(cell * n_cols, cell * n_rows), squeeze=False)
    for r, row in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.axis("off")
            if c < len(row) and row[c] is not None:
                ax.imshow(row[c], interpolation="nearest")
            if r == 0:
                ax.set_title(titles[c], fontsize=8)
            if c == 0 and row_labels:
                ax.text(-0.04, 0.5, row_labels[r], transform=ax.transAxes, rotation=90, va="center", ha="right",
                        fontsize=7)
    fig.tight_layout(pad=0.3)
    _save(fig, out)


def _ground_truth(data_root: Path, subject: str, frame: int, background=(0.0, 0.0, 0.0)) -> np.ndarray:
    from talkinnerf.video.frames import read_image

    rgb = read_image(data_root / "frames" / subject / f"{frame:06d}.png").astype(np.float64) / 255.0
    alpha = read_image(data_root / "matte" / subject / f"{frame:06d}.png", gray=True).astype(np.float64) / 255.0
    return rgb * alpha[..., None] + np.asarray(background) * (1.0 - alpha[..., None])


def _renders(eval_dir: Path) -> tuple[list[int], np.ndarray]:
    from talkinnerf.video.encode import read_video

    frames = pd.read_csv(eval_dir / "metrics.csv")["frame"].astype(int).tolist()
    video, _ = read_video(eval_dir / "render.mp4")
    return frames, video


def eval_grid(columns: list[tuple[str, str | Path]], subject: str, data_root: str | Path, out: str | Path,
              rows: int = 3, closeups: bool = True) -> None:
    """Held-out frames of ``subject``: ground truth | each model's render (columns = (title, eval dir)), with face
    and hand close-ups (the crops the region metrics score, from the first eval dir's summary.json; joint boxes
    for evaluations written before issue 18) under each full frame when ``closeups``."""
    import json

    from talkinnerf.evaluate.regions import crop, region_boxes
    from talkinnerf.io import load_npz

    root = Path(data_root)
    loaded = [(title, *_renders(Path(d))) for title, d in columns]
    frames = loaded[0][1]
    picks = sorted(set(np.linspace(0, len(frames) - 1, min(rows, len(frames))).round().astype(int).tolist()))
    fit = load_npz(root / "smplx" / f"{subject}.npz")
    size = int(fit["size"])
    summary = Path(columns[0][1]) / "summary.json" if columns else None
    scored = {}
    if summary is not None and summary.is_file():
        scored = (json.loads(summary.read_text()).get("regions") or {}).get("boxes") or {}
    grid, labels = [], []
    for i in picks:
        frame = frames[i]
        images = [_ground_truth(root, subject, frame)]
        for _, model_frames, video in loaded:
            j = model_frames.index(frame) if frame in model_frames else None
            images.append(video[j, :size, :size] / 255.0 if j is not None else None)
        grid.append(images)
        labels.append(f"{subject} frame {frame}")
        if closeups:
            boxes = ({k: (tuple(b) if b is not None else None) for k, b in scored[str(frame)].items()}
                     if str(frame) in scored else
                     region_boxes(fit["joints"][frame], fit["K"][frame], fit["R"][frame], fit["t"][frame], size))
            for region in ("face", "right_hand", "left_hand"):
                if boxes[region] is not None:
                    grid.append([crop(img, boxes[region]) if img is not None else None for img in images])
                    labels.append(region.replace("_", " "))
    image_grid(grid, ["ground truth", *[t for t, _ in columns]], out, labels)


def animation_grid(driver: str, driver_frames: str | Path, columns: list[tuple[str, str | Path]],
                   out: str | Path, rows: int = 3) -> None:
    """Cross-identity animation: the driving subject's frame (target pose) | each model's render of another
    identity under that pose (columns = (title, animation mp4))."""
    from talkinnerf.video.encode import read_video
    from talkinnerf.video.frames import list_frames, read_image

    paths = list_frames(driver_frames)
    videos = [(t, read_video(p)[0]) for t, p in columns]
    n = min([len(paths), *[len(v) for _, v in videos]])
    picks = sorted(set(np.linspace(0, n - 1, min(rows, n)).round().astype(int).tolist()))
    grid = []
    for i in picks:
        target = read_image(paths[i])
        grid.append([target, *[v[i, :target.shape[0], :target.shape[1]] for _, v in videos]])
    image_grid(grid, [f"target pose ({driver})", *[t for t, _ in columns]], out,
               [f"frame {i}" for i in picks])
