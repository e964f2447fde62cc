"""Summary plots for the report."""

from __future__ import annotations

from pathlib import Path

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
