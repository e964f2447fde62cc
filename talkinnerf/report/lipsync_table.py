"""Table 4: lip sync of the cross-identity renders against the driver's audio (`evaluate lipsync` rows).

One row per method: means over its (identity, driver) renders of SyncNet's LSE-D / LSE-C (n/a without its
weights: ``evaluate/syncnet.py``), of the AV offset's size, the sync confidence and the
correlations, with the face-detection counts summed; then a reference row, the driver's own videos scored the same
way against the same audio (each driver once). The Markdown adds one line per render (offset, confidence, faces
found), so the detection count of every render is in the table.

The per-render CSVs keep the columns that ``paper_tables.lipsync_table`` reads (corr, corr_best, offset, frames),
now meaning: correlation at offset 0, at the best offset, the best offset, frame pairs at offset 0.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from talkinnerf.report import paper_tables as pt

COLUMNS = {
    "lse_d": pt.Column("LSE-D", False, fmt=".3f"),
    "lse_c": pt.Column("LSE-C", True, fmt=".3f"),
    "av_abs_offset": pt.Column("|AV offset| (frames)", False, fmt=".2f"),
    "av_confidence": pt.Column("AV confidence", True, fmt=".3f"),
    "av_chance95": pt.Column("chance confidence (95%)", None, fmt=".3f"),
    "av_corr_best": pt.Column("corr. at AV offset", True, fmt=".3f"),
    "av_corr": pt.Column("corr. at offset 0", True, fmt=".3f"),
}
METRICS = list(COLUMNS)
EXTRA = ["renders", "AV offsets", "faces found", "FaceMesh >= 0.5"]
REFERENCE = "Driver's own video (reference)"


def _register_columns() -> None:
    """Headers and arrows of Table 4's columns for paper_tables' writers (kept if paper_tables defines them)."""
    for key, col in COLUMNS.items():
        pt.COLUMNS.setdefault(key, col)


def _row(label: str, pairs: pd.DataFrame, prefix: str = "") -> dict:
    def col(name):
        key = prefix + name
        return pd.to_numeric(pairs[key], errors="coerce") if key in pairs else pd.Series([math.nan] * len(pairs))

    values = {"lse_d": col("lse_d"), "lse_c": col("lse_c"), "av_abs_offset": col("offset").abs(),
              "av_confidence": col("confidence"), "av_chance95": col("chance95"), "av_corr_best": col("corr_best"),
              "av_corr": col("corr")}
    row: dict = {"method": label, "frames": int(len(pairs)), "renders": int(len(pairs))}
    for key, v in values.items():
        row[key] = float(v.mean()) if v.notna().any() else math.nan
        row[f"{key}_n"] = int(v.notna().sum())
    offsets = col("offset")
    row["AV offsets"] = " ".join("n/a" if pd.isna(o) else f"{int(o):+d}" for o in offsets)
    total = int(col("frames_total").fillna(0).sum())
    row["faces found"] = f"{int(col('face_found').fillna(0).sum())}/{total}"
    row["FaceMesh >= 0.5"] = f"{int(col('facemesh_confident').fillna(0).sum())}/{total}"
    return row


def lipsync_table(entries: list[tuple[str, list[str | Path]]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(Table 4: one row per method + the reference row, one row per render)."""
    rows, per_render, seen, refs = [], [], set(), []
    for label, paths in entries:
        pairs = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
        rows.append(_row(label, pairs))
        for path, (_, pair) in zip(paths, pairs.iterrows()):
            per_render.append({"method": label, "render": Path(path).name.removesuffix(".csv"),
                               **{k: pair.get(k) for k in ("offset", "confidence", "chance95", "corr_best", "corr",
                                                           "face_found", "facemesh_confident", "frames_total",
                                                           "note", "lse_d", "lse_c", "lse_offset", "lse_note")}})
            key = pair.get("driver_audio", path)
            if key not in seen and "ref_offset" in pair:
                seen.add(key)
                refs.append(pair)
    if refs:
        rows.append(_row(REFERENCE, pd.DataFrame(refs), prefix="ref_"))
        for pair in refs:
            per_render.append({"method": REFERENCE, "render": Path(str(pair.get("driver_audio", ""))).parent.name,
                               **{k: pair.get(f"ref_{k}") for k in ("offset", "confidence", "chance95", "corr_best",
                                                                   "corr", "face_found", "facemesh_confident",
                                                                   "frames_total", "lse_d", "lse_c", "lse_offset")},
                               "note": pair.get("note"), "lse_note": pair.get("lse_note")})
    return pd.DataFrame(rows), pd.DataFrame(per_render)


def _fmt(value, fmt: str) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if math.isnan(v) else format(v, fmt)


def per_render_markdown(per_render: pd.DataFrame) -> str:
    lines = ["", "Per render (offset: + the mouth trails the audio; chance: the 95th percentile of the confidence "
             "against unrelated audio, the same audio turned by more than 2 x the offsets searched; faces: frames "
             "where the face detector found a face / where FaceMesh's own presence score is >= 0.5, of all "
             "frames):", "",
             "| method | render | LSE-D | LSE-C | LSE offset | AV offset | AV confidence | chance (95%) | "
             "corr. at AV offset | corr. at offset 0 | faces found | FaceMesh >= 0.5 |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for _, r in per_render.iterrows():
        offset = "n/a" if pd.isna(r["offset"]) else f"{int(r['offset']):+d}"
        total = "?" if pd.isna(r["frames_total"]) else int(r["frames_total"])
        found = "?" if pd.isna(r["face_found"]) else int(r["face_found"])
        conf = "?" if pd.isna(r["facemesh_confident"]) else int(r["facemesh_confident"])
        lse_offset = r.get("lse_offset")
        lse_offset = "n/a" if lse_offset is None or pd.isna(lse_offset) else f"{int(lse_offset):+d}"
        lines.append(f"| {r['method']} | {r['render']} | {_fmt(r.get('lse_d'), '.3f')} | "
                     f"{_fmt(r.get('lse_c'), '.3f')} | {lse_offset} | {offset} | {_fmt(r['confidence'], '.3f')} | "
                     f"{_fmt(r.get('chance95'), '.3f')} | {_fmt(r['corr_best'], '.3f')} | {_fmt(r['corr'], '.3f')} | "
                     f"{found}/{total} | {conf}/{total} |")
    notes = sorted({str(n) for key in ("note", "lse_note") if key in per_render
                    for n in per_render[key] if isinstance(n, str) and n})
    lines += [f"\nNote: {n}" for n in notes]
    return "\n".join(lines) + "\n"


def write_lipsync_table(entries: list[tuple[str, list[str | Path]]], stem: str | Path, caption: str) -> str:
    """stem.csv / .md / .tex of Table 4 (the Markdown with the per-render lines); returns the Markdown."""
    from talkinnerf.io import atomic_path

    _register_columns()
    table, per_render = lipsync_table(entries)
    pt.write_all(table, stem, METRICS, caption, extra=EXTRA)
    md = Path(stem).with_suffix(".md")
    text = md.read_text() + per_render_markdown(per_render)
    with atomic_path(md) as tmp:
        tmp.write_text(text)
    return text
