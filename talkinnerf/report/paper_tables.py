"""The paper's tables (1-4, §3.3 training cost, Fig. 7b's numbers, identity bleed) as pandas DataFrames, each
written as CSV + Markdown + LaTeX (booktabs) with the paper's columns and ↑/↓.

Means are over valid frames: a frame whose metric could not be computed (NaN: a hand out of view, LPIPS
unavailable) is skipped, and the count of frames that entered each mean is kept beside it (`<metric>_n` in the
CSV; "mean (n/N)" in Markdown and LaTeX when some frames were skipped). A metric with no valid frame is n/a.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from talkinnerf.io import atomic_path


@dataclass(frozen=True)
class Column:
    header: str          # as in the paper
    higher_better: bool | None
    scale: float = 1.0   # LPIPS* = LPIPS x 1e3
    fmt: str = ".2f"


COLUMNS = {
    "psnr": Column("PSNR", True), "ssim": Column("SSIM", True, fmt=".4f"),
    "lpips": Column("LPIPS*", False, 1e3), "lpips_hands": Column("LPIPS*_hands", False, 1e3),
    "psnr_hands": Column("PSNR", True), "ssim_hands": Column("SSIM", True, fmt=".4f"),
    "psnr_face": Column("PSNR", True), "ssim_face": Column("SSIM", True, fmt=".4f"),
    "lpips_face": Column("LPIPS*", False, 1e3),
    "corr": Column("mouth-opening corr. (lag 0)", True, fmt=".3f"),
    "corr_best": Column("best corr. within ±lag", True, fmt=".3f"),
    "abs_offset": Column("|offset| (frames)", False, fmt=".2f"),
    "iterations": Column("iterations", None, fmt=".0f"), "seconds": Column("wall s", None, fmt=".0f"),
    "saving_iterations": Column("saving (iterations) %", True, fmt=".1f"),
    "saving_seconds": Column("saving (wall s) %", True, fmt=".1f"),
}

EMPTY_COVERAGE = 0.05   # a frame whose render covers < 5% of the person's opacity is an empty render
TABLE1_METRICS = ["psnr_hands", "ssim_hands", "lpips_hands"]
TABLE2_METRICS = ["psnr_face", "ssim_face", "lpips_face"]
TABLE3_METRICS = ["psnr", "ssim", "lpips", "lpips_hands"]


def method_row(label: str, metric_csvs: list[str | Path], metrics: list[str]) -> dict:
    """Mean of each metric over every valid frame of the given per-frame CSVs (pooled), with counts."""
    frames = pd.concat([pd.read_csv(p) for p in metric_csvs], ignore_index=True) if metric_csvs else pd.DataFrame()
    row: dict = {"method": label, "frames": int(len(frames))}
    for m in metrics:
        values = pd.to_numeric(frames[m], errors="coerce") if m in frames else pd.Series(dtype=float)
        row[m] = float(values.mean(skipna=True)) if values.notna().any() else math.nan
        row[f"{m}_n"] = int(values.notna().sum())
    if "coverage" in frames:       # evaluate render's mean opacity over the GT person (older CSVs lack it)
        row["empty_frames"] = int((pd.to_numeric(frames["coverage"], errors="coerce") < EMPTY_COVERAGE).sum())
    return row


def _key_text(row: pd.Series, key: str) -> str:
    """The key cell; a row some of whose frames rendered empty says so (its metrics score the background)."""
    text = _text(row[key])
    empty = row.get("empty_frames")
    if key == "method" and empty is not None and not pd.isna(empty) and int(empty) > 0:
        text += f" [empty render: {int(empty)}/{int(row['frames'])} frames]"
    return text


def metric_table(entries: list[tuple[str, list[str | Path]]], metrics: list[str]) -> pd.DataFrame:
    """One row per (method label, its per-frame metrics.csv files)."""
    return pd.DataFrame([method_row(label, csvs, metrics) for label, csvs in entries])


def _cell(value, count, frames, col: Column, latex: bool) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, str):
        return value
    text = format(float(value) * col.scale, col.fmt)
    if count is not None and frames is not None and not math.isnan(float(count)) and int(count) < int(frames):
        text += f" ({int(count)}/{int(frames)})"
    return text


def _headers(metrics: list[str], latex: bool) -> list[str]:
    out = []
    for m in metrics:
        col = COLUMNS.get(m, Column(m, None))
        arrow = "" if col.higher_better is None else ("↑" if col.higher_better else "↓")
        if latex:
            name = (col.header.replace("%", r"\%").replace("_hands", r"$_{\mathrm{hands}}$")
                    .replace("±", r"$\pm$").replace("|", r"$|$"))
            arrow = "" if not arrow else (r" $\uparrow$" if col.higher_better else r" $\downarrow$")
            out.append(name + arrow)
        else:
            out.append(f"{col.header} {arrow}".strip())
    return out


def _text(value) -> str:
    """A key or extra column's cell: n/a for NaN, whole floats as integers (1.0 s -> 1)."""
    if isinstance(value, (float, np.floating)):
        return "n/a" if math.isnan(value) else (f"{value:g}" if float(value).is_integer() else f"{value:.3g}")
    return str(value)


def to_markdown(table: pd.DataFrame, metrics: list[str], key: str = "method", extra: list[str] = (),
                caption: str = "") -> str:
    cols = [key, *extra]
    header = cols + _headers(metrics, latex=False)
    lines = ([f"{caption}", ""] if caption else []) + ["| " + " | ".join(header) + " |",
                                                       "|" + "|".join("---" for _ in header) + "|"]
    for _, row in table.iterrows():
        cells = [_key_text(row, key)] + [_text(row[c]) for c in cols[1:]]
        cells += [_cell(row.get(m), row.get(f"{m}_n"), row.get("frames"), COLUMNS.get(m, Column(m, None)), False)
                  for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _latex_escape(text: str) -> str:
    return (str(text).replace("\\", r"\textbackslash{}").replace("_", r"\_").replace("%", r"\%")
            .replace("&", r"\&").replace("#", r"\#").replace("±", r"$\pm$").replace("↑", r"$\uparrow$")
            .replace("↓", r"$\downarrow$"))


def to_latex(table: pd.DataFrame, metrics: list[str], key: str = "method", extra: list[str] = (),
             caption: str = "", label: str = "") -> str:
    """A LaTeX table (booktabs) ready to \\input: the paper's headers with $\\uparrow$/$\\downarrow$."""
    cols = [key, *extra]
    header = [_latex_escape(c.capitalize()) for c in cols] + _headers(metrics, latex=True)
    lines = [r"\begin{table}[t]", r"\centering"]
    if caption:
        lines.append(r"\caption{" + _latex_escape(caption) + "}")
    if label:
        lines.append(r"\label{" + label + "}")
    lines += [r"\begin{tabular}{" + "l" * len(cols) + "c" * len(metrics) + "}", r"\toprule",
              " & ".join(header) + r" \\", r"\midrule"]
    for _, row in table.iterrows():
        cells = [_latex_escape(_key_text(row, key))] + [_latex_escape(_text(row[c])) for c in cols[1:]]
        cells += [_latex_escape(_cell(row.get(m), row.get(f"{m}_n"), row.get("frames"),
                                      COLUMNS.get(m, Column(m, None)), True)) for m in metrics]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_all(table: pd.DataFrame, stem: str | Path, metrics: list[str], caption: str, key: str = "method",
              extra: list[str] = ()) -> None:
    """stem.csv, stem.md (caption first) and stem.tex, each written atomically."""
    stem = Path(stem)
    with atomic_path(stem.with_suffix(".csv")) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(stem.with_suffix(".md")) as tmp:
        tmp.write_text(to_markdown(table, metrics, key, list(extra), caption))
    with atomic_path(stem.with_suffix(".tex")) as tmp:
        tmp.write_text(to_latex(table, metrics, key, list(extra), caption, label=f"tab:{stem.name}"))


# ------------------------------------------------------------------------------------------- specific tables
def lipsync_table(entries: list[tuple[str, list[str | Path]]]) -> pd.DataFrame:
    """Table 4 stand-in: per method, mean over its (subject, driver) pairs of the agreement CSVs' values."""
    rows = []
    for label, paths in entries:
        pairs = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
        row = {"method": label, "frames": len(pairs)}
        for m, source in (("corr", "corr"), ("corr_best", "corr_best"), ("abs_offset", "offset")):
            values = pd.to_numeric(pairs[source], errors="coerce")
            values = values.abs() if m == "abs_offset" else values
            row[m] = float(values.mean()) if values.notna().any() else math.nan
            row[f"{m}_n"] = int(values.notna().sum())
        row["frames_used"] = int(pd.to_numeric(pairs["frames"], errors="coerce").fillna(0).sum())
        rows.append(row)
    return pd.DataFrame(rows)


def cost_table(multi_meta: dict, single_metas: list[dict], paper_saving: float = 85.0) -> pd.DataFrame:
    """§3.3: one multi-identity run over N subjects against N single-identity runs (iterations, wall seconds)."""
    n = len(single_metas)
    multi_it, multi_s = float(multi_meta["iterations"]), float(multi_meta.get("seconds") or math.nan)
    single_it = float(sum(m["iterations"] for m in single_metas))
    single_s = float(sum(float(m.get("seconds") or math.nan) for m in single_metas))
    devices = sorted({str(m.get("device", "?")) for m in [multi_meta, *single_metas]})
    rows = [
        {"method": f"multi-identity (1 model, {len(multi_meta.get('subjects', []))} subjects)", "models": 1,
         "iterations": multi_it, "seconds": multi_s, "device": str(multi_meta.get("device", "?"))},
        *[{"method": f"single-identity: {', '.join(m.get('subjects', ['?']))}", "models": 1,
           "iterations": float(m["iterations"]), "seconds": float(m.get("seconds") or math.nan),
           "device": str(m.get("device", "?"))} for m in single_metas],
        {"method": f"single-identity ({n} models)", "models": n, "iterations": single_it, "seconds": single_s,
         "device": ",".join(sorted({str(m.get('device', '?')) for m in single_metas}))},
        {"method": "saving of multi-identity", "models": n - 1, "iterations": math.nan, "seconds": math.nan,
         "device": ",".join(devices),
         "saving_iterations": 100.0 * (1.0 - multi_it / single_it) if single_it else math.nan,
         "saving_seconds": 100.0 * (1.0 - multi_s / single_s) if single_s and not math.isnan(single_s) else math.nan},
        {"method": "paper (§3.3: 600k vs 10 × 400k iterations)", "models": 10, "iterations": math.nan,
         "seconds": math.nan, "device": "4 GPUs", "saving_iterations": paper_saving, "saving_seconds": math.nan},
    ]
    return pd.DataFrame(rows)


def novel_series(entries: list[tuple[str, float, list[str | Path]]], metrics: list[str]) -> pd.DataFrame:
    """Fig. 7b numbers: one row per (method, seconds) from its per-frame metrics.csv files (novel subjects pooled)."""
    rows = []
    for method, seconds, paths in entries:
        row = method_row(method, list(paths), metrics)
        row["seconds"] = seconds
        rows.append(row)
    table = pd.DataFrame(rows)
    return table[["method", "seconds", "frames", *[c for c in table.columns
                                                  if c not in ("method", "seconds", "frames")]]]


def orderings(table: pd.DataFrame, metric: str, order: list[str], higher_better: bool = True) -> bool:
    """True when ``metric`` is ranked as ``order`` (best first) over those methods' rows (NaN: False)."""
    values = [float(table.loc[table.method == m, metric].iloc[0]) for m in order]
    if any(np.isnan(values)):
        return False
    pairs = zip(values, values[1:])
    return all((a > b) if higher_better else (a < b) for a, b in pairs)


def _row(table: pd.DataFrame, method: str, metric: str) -> float:
    rows = table.loc[table.method == method, metric]
    return float(rows.iloc[0]) if len(rows) else math.nan


def _check(claim: str, metric: str, values: dict[str, float], holds: bool, scale: float = 1.0) -> dict:
    shown = ", ".join(f"{k} {v * scale:.4g}" for k, v in values.items())
    return {"claim": claim, "metric": metric, "values": shown,
            "reproduced": "n/a" if any(math.isnan(v) for v in values.values()) else ("yes" if holds else "no")}


def orderings_table(table1: pd.DataFrame | None = None, table2: pd.DataFrame | None = None,
                    table3: pd.DataFrame | None = None, cost: pd.DataFrame | None = None,
                    fig7b: pd.DataFrame | None = None) -> pd.DataFrame:
    """Which of the paper's orderings this run reproduces, each with the numbers it rests on."""
    rows = []
    if table3 is not None:
        order = ["Ours (Multi-Id)", "Ours (Single-Id)", "HumanNeRF"]
        for metric, higher in (("psnr", True), ("ssim", True), ("lpips", False), ("lpips_hands", False)):
            values = {m: _row(table3, m, metric) for m in order}
            scale = 1e3 if metric.startswith("lpips") else 1.0
            rows.append(_check("Table 3: multi-id > single-id > HumanNeRF", metric, values,
                               orderings(table3, metric, order, higher), scale))
    if table1 is not None and len(table1):
        for metric, higher in (("psnr_hands", True), ("ssim_hands", True), ("lpips_hands", False)):
            values = {m: _row(table1, m, metric) for m in table1.method}
            others = [v for m, v in values.items() if m != "Complete Approach"]
            full = values.get("Complete Approach", math.nan)
            holds = all((full > v) if higher else (full < v) for v in others)
            rows.append(_check("Table 1: the complete hand model is best on the hands", metric, values, holds,
                               1e3 if metric.startswith("lpips") else 1.0))
    if table2 is not None and len(table2) == 2:
        for metric, higher in (("psnr_face", True), ("ssim_face", True), ("lpips_face", False)):
            values = {m: _row(table2, m, metric) for m in table2.method}
            full, nojaw = values.get("Complete Approach", math.nan), values.get("W/o jaw for the face", math.nan)
            rows.append(_check("Table 2: the jaw helps the face", metric, values,
                               (full > nojaw) if higher else (full < nojaw), 1e3 if metric.startswith("lpips") else 1))
    if cost is not None:
        saving = cost[cost.method.str.startswith("saving")].iloc[0]
        for metric in ("saving_iterations", "saving_seconds"):
            value = float(saving[metric])
            rows.append(_check("§3.3: multi-identity training costs less than N single-identity runs (paper 85%)",
                               metric, {"saving %": value}, value > 0))
    if fig7b is not None:
        for method, series in fig7b.groupby("method", sort=False):
            series = series.sort_values("seconds")
            for metric, higher in (("psnr", True), ("ssim", True), ("lpips", False)):
                values = {f"{s:g} s": float(v) for s, v in zip(series.seconds, series[metric])}
                diffs = np.diff(series[metric].to_numpy(float))
                holds = bool(np.all(diffs > 0) if higher else np.all(diffs < 0))
                rows.append(_check(f"Fig. 7b: {method} improves with more seconds", metric, values, holds,
                                   1e3 if metric.startswith("lpips") else 1.0))
        methods = list(dict.fromkeys(fig7b.method))
        if len(methods) == 2:
            for metric, higher in (("psnr", True), ("lpips", False)):
                a = fig7b[fig7b.method == methods[0]].set_index("seconds")[metric]
                b = fig7b[fig7b.method == methods[1]].set_index("seconds")[metric]
                values = {f"{s:g} s {methods[0]} vs {methods[1]}": float(a[s] - b[s]) for s in a.index if s in b}
                holds = all((v > 0) if higher else (v < 0) for v in values.values())
                rows.append(_check(f"Fig. 7b: {methods[0]} beats {methods[1]} at every length (difference)", metric,
                                   values, holds, 1e3 if metric.startswith("lpips") else 1.0))
    return pd.DataFrame(rows, columns=["claim", "metric", "values", "reproduced"])


def orderings_markdown(table: pd.DataFrame) -> str:
    lines = ["| claim | metric | values | reproduced |", "|---|---|---|---|"]
    lines += [f"| {r.claim} | {r.metric} | {r.values} | {r.reproduced} |" for r in table.itertuples()]
    return "\n".join(lines) + "\n"
