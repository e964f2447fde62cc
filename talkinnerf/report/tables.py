"""Aggregate per-frame evaluation CSVs into the paper-style tables.

Per-frame CSVs (results/eval/<setting>/<subject>/metrics.csv) hold one row per held-out frame with columns such as
psnr, ssim, lpips, psnr_face, ... . A metric that could not be computed for a frame is empty (NaN): means are over
the valid frames, with their count in `<metric>_n` (Markdown: "mean (n/N)" when frames were skipped); a metric with
no valid frame shows "n/a".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from talkinnerf.io import atomic_path

# Display order of metrics (the paper's: PSNR, SSIM, LPIPS* = LPIPS x 1e3, for full / face / hands), then the full
# frame's SSIM over the person alone (metrics.ssim_split: the full-frame figure also weighs the background, whose
# share depends on the framing).
COUNT_COLUMNS = {"frames"}
METRIC_ORDER = ["psnr", "ssim", "lpips", "psnr_face", "ssim_face", "lpips_face", "psnr_hands", "ssim_hands",
                "lpips_hands", "ssim_person"]


def summarise_settings(eval_root: str | Path, settings: list[str], subjects: list[str]) -> pd.DataFrame:
    """One row per (setting, subject) plus a per-setting mean row (subject = "mean"), metric means over frames."""
    rows = []
    for setting in settings:
        for subject in subjects:
            path = Path(eval_root) / setting / subject / "metrics.csv"
            if not path.is_file():
                raise FileNotFoundError(f"missing evaluation of {subject} with {setting}: {path}")
            frames = pd.read_csv(path)
            metrics = [m for m in METRIC_ORDER if m in frames.columns]
            row = {"setting": setting, "subject": subject, "frames": len(frames)}
            for m in metrics:
                values = pd.to_numeric(frames[m], errors="coerce")
                row[m] = values.mean(skipna=True) if values.notna().any() else np.nan
                row[f"{m}_n"] = int(values.notna().sum())
            rows.append(row)
    table = pd.DataFrame(rows)
    # the mean row: mean over subjects of the per-subject means (skipping subjects without a value), counts summed
    metrics = [m for m in METRIC_ORDER if m in table.columns]
    grouped = table.groupby("setting", sort=False)
    means = grouped[metrics].mean().reset_index()
    for m in metrics:
        means[f"{m}_n"] = grouped[f"{m}_n"].sum().to_numpy()
    means["frames"] = grouped["frames"].sum().to_numpy()
    means["subject"] = "mean"
    table = pd.concat([table, means], ignore_index=True)
    table["frames"] = table["frames"].astype(int)
    ordered = ["setting", "subject", "frames"] + metrics + [f"{m}_n" for m in metrics]
    return table[ordered]


def to_markdown(table: pd.DataFrame, floatfmt: str = ".3f") -> str:
    """A Markdown table; NaN shows as n/a. LPIPS columns are shown as LPIPS* = LPIPS x 1e3 like the paper."""
    shown = table.copy()
    for col in shown.columns:
        if col.startswith("lpips") and not col.endswith("_n"):
            shown[col] = shown[col] * 1e3
    counts = [c for c in shown.columns if c.endswith("_n") and c[:-2] in shown.columns]
    for col in counts:   # "mean (n/N)" where frames were skipped; counts are not columns of their own
        metric = col[:-2]
        partial = shown[col].notna() & (shown[col] < shown["frames"]) if "frames" in shown else shown[col] < 0
        if partial.any():
            shown[metric] = [format(v, floatfmt) + f" ({int(n)}/{int(f)})" if p and not np.isnan(v) else v
                             for v, n, f, p in zip(shown[metric], shown[col], shown["frames"], partial)]
    shown = shown.drop(columns=counts)
    shown = shown.rename(columns={c: c.replace("lpips", "lpips*") for c in shown.columns if c.startswith("lpips")})
    header = "| " + " | ".join(shown.columns) + " |"
    rule = "|" + "|".join("---" for _ in shown.columns) + "|"
    # counts stay integers even after a mean row made the column float
    integral = {c for c in shown.columns if c in COUNT_COLUMNS or pd.api.types.is_integer_dtype(shown[c])}
    lines = [header, rule]
    for _, row in shown.iterrows():
        cells = []
        for col, value in row.items():
            if isinstance(value, (float, np.floating)):
                fmt = ".0f" if col in integral else floatfmt
                cells.append("n/a" if np.isnan(value) else format(value, fmt))
            else:
                cells.append(str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def concat_tables(inputs: list[str | Path]) -> pd.DataFrame:
    """Stack one-row-per-subject CSVs (e.g. preprocessing accuracy) and append a mean row."""
    if not inputs:
        raise ValueError("no input tables to concatenate")
    table = pd.concat([pd.read_csv(p) for p in inputs], ignore_index=True)
    mean = table.mean(numeric_only=True).to_dict()
    key = table.columns[0]
    mean[key] = "mean"
    # text columns (notes: why a cell is n/a) carry their distinct values, so an n/a mean keeps its reason
    for column in table.columns.drop(key).difference(list(mean)):
        values = [str(v) for v in table[column].dropna() if str(v)]
        mean[column] = "; ".join(dict.fromkeys(values))
    return pd.concat([table, pd.DataFrame([mean])], ignore_index=True)


def write_table(table: pd.DataFrame, csv_path: str | Path, md_path: str | Path | None = None) -> None:
    with atomic_path(csv_path) as tmp:
        table.to_csv(tmp, index=False)
    if md_path is not None:
        with atomic_path(md_path) as tmp:
            tmp.write_text(to_markdown(table))
