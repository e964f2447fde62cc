"""The paper's tables (1-4, §3.3 training cost, Fig. 7b's numbers, identity bleed) as pandas DataFrames, each
written as CSV + Markdown + LaTeX (booktabs) with the paper's columns and ↑/↓.

Means are over valid frames: a frame whose metric could not be computed (NaN: a hand out of view, LPIPS
unavailable) is skipped, and the count of frames that entered each mean is kept beside it (`<metric>_n` in the
CSV; "mean (n/N)" in Markdown and LaTeX when some frames were skipped). A metric with no valid frame is n/a.

Seeds and splits (docs/experiments.md): a cell of Tables 1-3, §3.3 and Fig. 7b is one (split, method) over every
seed it was trained with. Each seed's value is the mean over its frames (subjects pooled); the cell is the mean of
those values, shown as "mean ± spread" where the spread is half their range (every seed lies within it; the CSV
keeps `<metric>_spread` and each seed's value in `<metric>_seeds`). An ordering is reproduced ("yes") only when
the two cells' seed ranges do not overlap (the difference of the means exceeds the sum of their spreads) in the
claimed direction, "no" when they do not overlap the other way, "noise" when they overlap.
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
    "rays_per_iteration": Column("rays/iteration", None, fmt=".0f"),
    "world_size": Column("world size", None, fmt=".0f"),
    "total_rays": Column("total rays (M)", None, 1e-6, fmt=".2f"),
    "saving_iterations": Column("saving (iterations) %", True, fmt=".1f"),
    "saving_rays": Column("saving (rays) %", True, fmt=".1f"),
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


def _cell(value, count, frames, col: Column, latex: bool, spread=None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, str):
        return value
    text = format(float(value) * col.scale, col.fmt)
    if spread is not None and not pd.isna(spread):
        text += " ± " + format(abs(float(spread)) * col.scale, col.fmt)
    if count is not None and frames is not None and not pd.isna(count) and not pd.isna(frames) \
            and int(count) < int(frames):
        text += f" ({int(count)}/{int(frames)})"
    return text


def _seed_count(row: pd.Series) -> int:
    seeds = row.get("seeds")
    return 0 if seeds is None or pd.isna(seeds) else len([s for s in str(seeds).split(",") if s.strip()])


def _row_cell(row: pd.Series, m: str, latex: bool) -> str:
    """A metric cell; "mean ± spread" when the row is the mean of two or more seeds."""
    spread = row.get(f"{m}_spread") if _seed_count(row) >= 2 else None
    return _cell(row.get(m), row.get(f"{m}_n"), row.get("frames"), COLUMNS.get(m, Column(m, None)), latex, spread)


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
        cells += [_row_cell(row, m, False) for m in metrics]
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
        cells += [_latex_escape(_row_cell(row, m, True)) for m in metrics]
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


# ---------------------------------------------------------------------------------- seeds, splits and budgets
@dataclass(frozen=True)
class Cell:
    """One (split, seed, row label) of a table and the files behind it (per-frame metrics.csv or meta.json)."""

    split: str
    seed: str
    label: str
    paths: tuple[str, ...]


def parse_cell(text: str) -> Cell:
    """`SPLIT|SEED|LABEL=PATH[,PATH...]` (the CLI's --cell / --meta); `LABEL=PATH...` is one seed of split ''."""
    key, sep, paths = text.partition("=")
    if not sep or not paths:
        raise ValueError(f"expected SPLIT|SEED|LABEL=PATH[,PATH...], got {text!r}")
    parts = key.split("|", 2)
    split, seed, label = parts if len(parts) == 3 else ("", "", key)
    return Cell(split, seed, label, tuple(p for p in paths.split(",") if p))


def spread(values) -> float:
    """Half the range of the finite values: mean ± spread covers every seed (0 for one value, NaN for none)."""
    finite = [float(v) for v in values if v is not None and not pd.isna(v)]
    return (max(finite) - min(finite)) / 2.0 if finite else math.nan


def _aggregate(row: dict, key: str, values: list[float]) -> None:
    """row[key] = mean of the seeds' finite values, row[key_spread] = their spread, row[key_seeds] = each value."""
    finite = [float(v) for v in values if v is not None and not pd.isna(v)]
    row[key] = float(np.mean(finite)) if finite else math.nan
    row[f"{key}_spread"] = spread(finite)
    row[f"{key}_seeds"] = ";".join("nan" if v is None or pd.isna(v) else f"{float(v):.6g}" for v in values)


def _groups(cells: list[Cell]) -> dict[tuple[str, str], dict[str, tuple[str, ...]]]:
    """(split, label) -> {seed: paths}, in the order the cells came (a seed given twice pools its paths)."""
    groups: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {}
    for c in cells:
        by_seed = groups.setdefault((c.split, c.label), {})
        by_seed[c.seed] = by_seed.get(c.seed, ()) + c.paths
    return groups


def device_kind(meta: dict) -> str:
    return str(meta.get("device", "?")).split(":")[0]


def rays_per_iteration(meta: dict) -> float:
    """Rays one training iteration renders over all ranks: patches × patch_size² × world size (meta.json)."""
    cfg = meta.get("config") or {}
    try:
        return float(cfg["patches"]) * float(cfg["patch_size"]) ** 2 * float(meta.get("world_size") or 1)
    except (KeyError, TypeError, ValueError):
        return math.nan


def describe_budget(meta: dict) -> str:
    """'1733 it × 1024 rays on 1×cpu', '(3 subjects)' for a multi-identity run, 'fine-tuned ...' for a fine-tune."""
    rays = rays_per_iteration(meta)
    text = (f"{int(meta.get('iterations', 0))} it × {'?' if math.isnan(rays) else f'{rays:.0f}'} rays on "
            f"{int(meta.get('world_size') or 1)}×{device_kind(meta)}")
    subjects = meta.get("subjects") or []
    if "base" in meta:
        return "fine-tuned " + text
    return text + (f" ({len(subjects)} subjects)" if len(subjects) > 1 else "")


def budget_text(metas: list[dict]) -> str:
    """The training budget behind one row: each distinct run once, 'N × ...' for N alike (one per subject), a
    fine-tune after the model it started from ('2600 it × ... (3 subjects) + fine-tuned 400 it × ...')."""
    counts: dict[str, int] = {}
    for meta in sorted(metas, key=lambda m: "base" in m):
        text = describe_budget(meta)
        counts[text] = counts.get(text, 0) + 1
    return " + ".join(f"{n} × {t}" if n > 1 else t for t, n in counts.items())


def seed_table(cells: list[Cell], metrics: list[str], metas: dict[tuple[str, str], list[dict]] | None = None
               ) -> pd.DataFrame:
    """One row per (split, label): each metric the mean over seeds of the seed's pooled frame mean, ± spread.

    ``metas`` (split, label) -> the meta.json of the models behind the row (one seed's): a `budget` column says
    what each row was trained with."""
    rows = []
    for (split, label), by_seed in _groups(cells).items():
        per_seed = [method_row(label, list(paths), metrics) for paths in by_seed.values()]
        row: dict = {"method": label, "split": split, "seeds": ",".join(by_seed),
                     "frames": int(sum(r["frames"] for r in per_seed))}
        for m in metrics:
            _aggregate(row, m, [r[m] for r in per_seed])
            row[f"{m}_n"] = int(sum(r[f"{m}_n"] for r in per_seed))
        if any("empty_frames" in r for r in per_seed):
            row["empty_frames"] = int(sum(r.get("empty_frames", 0) for r in per_seed))
        if metas is not None:
            row["budget"] = budget_text(metas.get((split, label), []))
        rows.append(row)
    return pd.DataFrame(rows)


def seed_values(table: pd.DataFrame, method: str, metric: str, split: str | None = None) -> list[float]:
    """The per-seed values of one cell (`<metric>_seeds`; a table without it: the cell's value as one seed)."""
    rows = table[table.method == method]
    if split is not None and "split" in table:
        rows = rows[rows.split.fillna("").astype(str) == split]
    if not len(rows) or metric not in rows:
        return []
    row = rows.iloc[0]
    text = row.get(f"{metric}_seeds")
    if text is not None and not pd.isna(text):
        values = [float(v) for v in str(text).split(";") if v.strip()]
    else:
        values = [float(row[metric])]
    return [v for v in values if not math.isnan(v)]


def compare(a: list[float], b: list[float], higher_better: bool = True) -> str:
    """Is A better than B beyond the seeds' spread? yes: every seed of A beats every seed of B (the difference of
    the means exceeds the sum of the two spreads); no: the other way round; noise: the ranges overlap. n/a: a
    value is missing or a side has fewer than 2 seeds (no spread to judge by)."""
    a = [float(v) for v in a if not pd.isna(v)]
    b = [float(v) for v in b if not pd.isna(v)]
    if len(a) < 2 or len(b) < 2:
        return "n/a"
    diff = float(np.mean(a) - np.mean(b)) * (1.0 if higher_better else -1.0)
    margin = spread(a) + spread(b)
    return "yes" if diff > margin else "no" if diff < -margin else "noise"


def combine(verdicts: list[str]) -> str:
    """A claim made of several comparisons: no if one says no, n/a if one cannot be judged, yes if all say yes,
    else noise."""
    if not verdicts:
        return "n/a"
    if "no" in verdicts:
        return "no"
    if "n/a" in verdicts:
        return "n/a"
    return "yes" if all(v == "yes" for v in verdicts) else "noise"


QUALITY_METRICS = ["psnr", "ssim", "lpips"]


def _budget_row(method: str, role: str, split: str, seeds: list[str], metas_by_seed: list[list[dict]],
                metrics_by_seed: list[list[str]], models: int) -> dict:
    """A §3.3 row: the budget of its runs (the first seed's: the seeds differ only in the seed) and, per seed,
    the wall seconds (summed over its runs) and the held-out quality they reached (frames pooled)."""
    first = metas_by_seed[0]
    iterations = [float(m.get("iterations", math.nan)) for m in first]
    rays = [rays_per_iteration(m) for m in first]
    worlds = sorted({int(m.get("world_size") or 1) for m in first})
    row = {"method": method, "role": role, "split": split, "seeds": ",".join(seeds), "models": models,
           "iterations": float(sum(iterations)),
           "rays_per_iteration": rays[0] if len(set(rays)) == 1 else math.nan,
           "world_size": float(worlds[0]) if len(worlds) == 1 else math.nan,
           "device": ",".join(sorted({device_kind(m) for m in first})),
           "total_rays": float(sum(i * r for i, r in zip(iterations, rays)))}
    _aggregate(row, "seconds", [sum(float(m.get("seconds") or math.nan) for m in metas) for metas in metas_by_seed])
    quality = [method_row(method, list(paths), QUALITY_METRICS) for paths in metrics_by_seed]
    for m in QUALITY_METRICS:
        _aggregate(row, m, [q[m] for q in quality])
    return row


def cost_table(runs: list[dict], paper_saving: float = 85.0) -> pd.DataFrame:
    """§3.3 per split: one multi-identity run over N subjects against N single-identity runs, each with its
    iterations, rays per iteration (patches × patch_size² × world size), world size, device, total rays, wall
    seconds and the held-out quality it reached (mean ± spread over seeds), then the saving.

    ``runs``: one dict per (split, seed): {"split", "seed", "multi": {"meta": dict, "metrics": [csv, ...]},
    "single": [{"subject", "meta": dict, "metrics": [csv]}, ...]} (metrics: the held-out frames it is scored on).
    """
    rows = []
    for split in dict.fromkeys(r["split"] for r in runs):
        mine = [r for r in runs if r["split"] == split]
        seeds = [str(r["seed"]) for r in mine]
        multi = mine[0]["multi"]["meta"]
        n_subjects = len(multi.get("subjects") or mine[0]["single"])
        m = _budget_row(f"multi-identity (1 model, {n_subjects} subjects)", "multi", split, seeds,
                        [[r["multi"]["meta"]] for r in mine], [r["multi"]["metrics"] for r in mine], 1)
        rows.append(m)
        subjects = [e["subject"] for e in mine[0]["single"]]
        for i, subject in enumerate(subjects):
            rows.append(_budget_row(f"single-identity: {subject}", "single", split, seeds,
                                    [[r["single"][i]["meta"]] for r in mine],
                                    [r["single"][i]["metrics"] for r in mine], 1))
        total = _budget_row(f"single-identity ({len(subjects)} models)", "single_total", split, seeds,
                            [[e["meta"] for e in r["single"]] for r in mine],
                            [[p for e in r["single"] for p in e["metrics"]] for r in mine], len(subjects))
        rows.append(total)

        def saving(a, b):
            return 100.0 * (1.0 - a / b) if b and not (pd.isna(a) or pd.isna(b)) else math.nan

        rows.append({"method": "saving of multi-identity", "role": "saving", "split": split,
                     "seeds": ",".join(seeds), "models": len(subjects) - 1,
                     "device": ",".join(sorted({m["device"], total["device"]})),
                     "saving_iterations": saving(m["iterations"], total["iterations"]),
                     "saving_rays": saving(m["total_rays"], total["total_rays"]),
                     "saving_seconds": saving(m["seconds"], total["seconds"])})
    rows.append({"method": "paper (§3.3: 600k iterations for 10 subjects vs 10 × 400k)", "role": "paper",
                 "split": "", "seeds": "", "models": 10, "device": "n/a", "saving_iterations": paper_saving})
    return pd.DataFrame(rows)


COST_METRICS = ["iterations", "rays_per_iteration", "world_size", "total_rays", "seconds", *QUALITY_METRICS,
                "saving_rays", "saving_seconds", "saving_iterations"]
COST_EXTRA = ["split", "seeds", "models", "device"]


def novel_series(cells: list[Cell], metrics: list[str], metas: dict[tuple[str, str], list[dict]] | None = None
                 ) -> pd.DataFrame:
    """Fig. 7b numbers: one row per (method, seconds), labels `METHOD@SECONDS`, novel subjects pooled, mean ±
    spread over seeds; `budget` says what each row was trained with (the fine-tuned rows: their base model too)."""
    table = seed_table(cells, metrics, metas)
    parts = table.method.str.rpartition("@")
    table["method"], table["seconds"] = parts[0], parts[2].astype(float)
    return table[["method", "seconds", "frames", *[c for c in table.columns
                                                  if c not in ("method", "seconds", "frames")]]]


def orderings(table: pd.DataFrame, metric: str, order: list[str], higher_better: bool = True) -> bool:
    """True when ``metric`` is ranked as ``order`` (best first) over those methods' rows (NaN: False)."""
    values = [float(table.loc[table.method == m, metric].iloc[0]) for m in order]
    if any(np.isnan(values)):
        return False
    pairs = zip(values, values[1:])
    return all((a > b) if higher_better else (a < b) for a, b in pairs)


def _scale(metric: str) -> float:
    return 1e3 if metric.startswith("lpips") else 1.0


def _claim(claim: str, split: str, metric: str, cells: dict[str, list[float]], verdict: str,
           values: str | None = None) -> dict:
    """One row of the orderings table: the cells' means and spreads as shown in the tables, the seeds."""
    scale = _scale(metric)
    counts = sorted({len(v) for v in cells.values()})
    shown = ", ".join(f"{k} {np.mean(v) * scale:.4g}" if v else f"{k} n/a" for k, v in cells.items())
    spreads = ", ".join(f"{k} ±{spread(v) * scale:.2g}" if v else f"{k} n/a" for k, v in cells.items())
    return {"claim": claim, "split": split, "metric": metric,
            "seeds": "/".join(str(c) for c in counts), "values": values or shown, "spread": spreads,
            "verdict": verdict}


def _splits(table: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(table.split.fillna("").astype(str))) if "split" in table else [""]


def orderings_table(table1: pd.DataFrame | None = None, table2: pd.DataFrame | None = None,
                    table3: pd.DataFrame | None = None, cost: pd.DataFrame | None = None,
                    fig7b: pd.DataFrame | None = None) -> pd.DataFrame:
    """Which of the paper's orderings this run reproduces, per split: yes / no / noise against the seeds' spread
    (:func:`compare`), each with the means and spreads it rests on."""
    rows = []
    if table3 is not None:
        for split in _splits(table3):
            present = set(table3[table3.split.fillna("").astype(str) == split].method) if "split" in table3 \
                else set(table3.method)
            order = [m for m in ("Ours (Multi-Id)", "Ours (Single-Id)", "HumanNeRF") if m in present]
            if len(order) < 2:
                continue
            claim = "Table 3: " + " > ".join({"Ours (Multi-Id)": "multi-id", "Ours (Single-Id)": "single-id",
                                               "HumanNeRF": "HumanNeRF"}[m] for m in order)
            for metric, higher in (("psnr", True), ("ssim", True), ("lpips", False), ("lpips_hands", False)):
                cells = {m: seed_values(table3, m, metric, split) for m in order}
                verdict = combine([compare(cells[a], cells[b], higher) for a, b in zip(order, order[1:])])
                rows.append(_claim(claim, split, metric, cells, verdict))
    if table1 is not None and len(table1):
        for split in _splits(table1):
            methods = list(dict.fromkeys(table1[table1.split.fillna("").astype(str) == split].method
                                         if "split" in table1 else table1.method))
            if "Complete Approach" not in methods:
                continue
            for metric, higher in (("psnr_hands", True), ("ssim_hands", True), ("lpips_hands", False)):
                cells = {m: seed_values(table1, m, metric, split) for m in methods}
                verdict = combine([compare(cells["Complete Approach"], v, higher)
                                   for m, v in cells.items() if m != "Complete Approach"])
                rows.append(_claim("Table 1: the complete hand model is best on the hands", split, metric, cells,
                                   verdict))
    if table2 is not None and len(table2):
        for split in _splits(table2):
            for metric, higher in (("psnr_face", True), ("ssim_face", True), ("lpips_face", False)):
                cells = {m: seed_values(table2, m, metric, split)
                         for m in ("Complete Approach", "W/o jaw for the face")}
                if not any(cells.values()):
                    continue
                verdict = compare(cells["Complete Approach"], cells["W/o jaw for the face"], higher)
                rows.append(_claim("Table 2: the jaw helps the face", split, metric, cells, verdict))
    if cost is not None and "role" in cost:
        for split in [s for s in _splits(cost) if s]:
            mine = cost[cost.split.fillna("").astype(str) == split]
            multi, single = mine[mine.role == "multi"], mine[mine.role == "single_total"]
            if not len(multi) or not len(single):
                continue
            multi, single = multi.iloc[0], single.iloc[0]
            fewer = bool(multi.total_rays < single.total_rays)
            for metric, higher in (("psnr", True), ("ssim", True), ("lpips", False)):
                cells = {"multi-id": seed_values(mine, multi.method, metric),
                         "single-id": seed_values(mine, single.method, metric)}
                a, b = cells["multi-id"], cells["single-id"]
                if len(a) < 2 or len(b) < 2:
                    verdict = "n/a"
                else:   # reaches: not worse than the single-identity models beyond the seeds' spread
                    diff = float(np.mean(a) - np.mean(b)) * (1.0 if higher else -1.0)
                    verdict = "yes" if fewer and diff >= -(spread(a) + spread(b)) else "no"
                scale = _scale(metric)
                values = (f"total rays {multi.total_rays / 1e6:.3g}M vs {single.total_rays / 1e6:.3g}M; "
                          + ", ".join(f"{k} {np.mean(v) * scale:.4g}" if v else f"{k} n/a" for k, v in cells.items()))
                rows.append(_claim("§3.3: one multi-identity model reaches the single-identity models' quality "
                                   "with fewer total rays", split, metric, cells, verdict, values))
    if fig7b is not None and len(fig7b):
        split = _splits(fig7b)[0]
        for method, series in fig7b.groupby("method", sort=False):
            series = series.sort_values("seconds")
            for metric, higher in (("psnr", True), ("ssim", True), ("lpips", False)):
                cells = {f"{s:g} s": seed_values(series[series.seconds == s], method, metric)
                         for s in series.seconds}
                steps = list(cells.values())
                verdict = combine([compare(b, a, higher) for a, b in zip(steps, steps[1:])])
                rows.append(_claim(f"Fig. 7b: {method} improves with more seconds", split, metric, cells, verdict))
        methods = list(dict.fromkeys(fig7b.method))
        if len(methods) == 2:
            first, second = (fig7b[fig7b.method == m] for m in methods)
            for metric, higher in (("psnr", True), ("ssim", True), ("lpips", False)):
                verdicts, cells = [], {}
                for s in first.seconds:
                    if s not in set(second.seconds):
                        continue
                    a = seed_values(first[first.seconds == s], methods[0], metric)
                    b = seed_values(second[second.seconds == s], methods[1], metric)
                    cells[f"{s:g} s {methods[0]}"], cells[f"{s:g} s {methods[1]}"] = a, b
                    verdicts.append(compare(a, b, higher))
                rows.append(_claim(f"Fig. 7b: {methods[0]} beats {methods[1]} at every length", split, metric,
                                   cells, combine(verdicts)))
    return pd.DataFrame(rows, columns=["claim", "split", "metric", "seeds", "values", "spread", "verdict"])


def orderings_markdown(table: pd.DataFrame) -> str:
    lines = ["yes: every seed of the first beats every seed of the other (the difference of the means exceeds the "
             "sum of their spreads, ± = half the seeds' range); no: the other way round; noise: the seed ranges "
             "overlap; §3.3: yes when the multi-identity model is within the spread of (or above) the "
             "single-identity models' quality with fewer total rays. seeds: seeds per cell.", "",
             "| claim | split | metric | seeds | values | spread | verdict |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r.claim} | {r.split} | {r.metric} | {r.seeds} | {r.values} | {r.spread} | {r.verdict} |"
              for r in table.itertuples()]
    return "\n".join(lines) + "\n"
