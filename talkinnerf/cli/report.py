"""CLI commands of the `report` group (argument parsing only)."""

from __future__ import annotations


def add_commands(subparsers) -> None:
    quality = subparsers.add_parser("quality", help="mean held-out metrics per setting and subject")
    quality.add_argument("--eval-root", required=True)
    quality.add_argument("--settings", nargs="+", required=True)
    quality.add_argument("--subjects", nargs="+", required=True)
    quality.add_argument("--out-csv", required=True)
    quality.add_argument("--out-md")
    quality.add_argument("--out-figure")
    quality.set_defaults(func=_quality)

    concat = subparsers.add_parser("concat", help="stack one-row-per-subject CSVs and add a mean row")
    concat.add_argument("--inputs", nargs="+", required=True)
    concat.add_argument("--out-csv", required=True)
    concat.add_argument("--out-md")
    concat.set_defaults(func=_concat)

    sheet = subparsers.add_parser("subject-sheet", help="PNG per subject: RGB | matte | keypoints | fitted mesh | "
                                                        "part labels on a few frames")
    sheet.add_argument("--subject", required=True, help="subject name (for the title)")
    sheet.add_argument("--frames", required=True, help="results/frames/<subject>/")
    sheet.add_argument("--matte", required=True, help="results/matte/<subject>/")
    sheet.add_argument("--keypoints", required=True, help="results/keypoints/<subject>.npz")
    sheet.add_argument("--smplx", required=True, help="results/smplx/<subject>.npz")
    sheet.add_argument("--parts", required=True, help="results/parts/<subject>/")
    sheet.add_argument("--model", required=True, help="the body model file the fit used")
    sheet.add_argument("--split", help="results/splits/<subject>.json: mark held-out frames, show at least one")
    sheet.add_argument("--rows", type=int, default=6, help="frames shown (evenly spaced)")
    sheet.add_argument("--scale", type=int, help="upsampling factor (default: 256 // frame size)")
    sheet.add_argument("--matte-backend", help="named in the title")
    sheet.add_argument("--keypoints-backend", help="named in the title")
    sheet.add_argument("--out", required=True, help="output PNG")
    sheet.set_defaults(func=_subject_sheet)

    # --- the paper's experiments (docs/experiments.md): each writes OUT.csv, OUT.md, OUT.tex --------------------
    table = subparsers.add_parser("paper-table", help="Table 1 (hands), 2 (face) or 3 (full frame + hands) from "
                                                      "per-frame metrics.csv files")
    table.add_argument("--kind", choices=("table1", "table2", "table3"), required=True)
    table.add_argument("--entry", action="append", default=[], metavar="LABEL=CSV[,CSV...]",
                       help="a row: its label and the metrics.csv files pooled into it (repeat, in order)")
    table.add_argument("--cell", action="append", default=[], metavar="SPLIT|SEED|LABEL=CSV[,CSV...]",
                       help="one seed of a row on one split (repeat): the row is the mean over its seeds ± spread, "
                            "rows in the order of their first cell")
    table.add_argument("--meta", action="append", default=[], metavar="SPLIT|SEED|LABEL=META[,META...]",
                       help="the meta.json of the models behind a row (its first seed is read): a budget column")
    table.add_argument("--caption", default="")
    table.add_argument("--out", required=True, help="output stem (writes .csv, .md, .tex)")
    table.set_defaults(func=_paper_table)

    lip = subparsers.add_parser("lipsync-table", help="Table 4 (lip sync against the audio) from `evaluate lipsync` CSVs")
    lip.add_argument("--entry", action="append", required=True, metavar="LABEL=CSV[,CSV...]")
    lip.add_argument("--caption", default="")
    lip.add_argument("--out", required=True)
    lip.set_defaults(func=_lipsync_table)

    cost = subparsers.add_parser("cost-table", help="§3.3 training cost: one multi-identity run vs N single runs, "
                                                    "per split and seed, with the held-out quality each reached")
    cost.add_argument("--runs", required=True,
                      help='JSON list, one per (split, seed): {"split", "seed", "multi": {"meta": META, "metrics": '
                           '[CSV...]}, "single": [{"subject", "meta": META, "metrics": [CSV]}, ...]}')
    cost.add_argument("--caption", default="")
    cost.add_argument("--out", required=True)
    cost.set_defaults(func=_cost_table)

    novel = subparsers.add_parser("novel-series", help="Fig. 7b: quality vs seconds of the novel identity's video")
    novel.add_argument("--entry", action="append", default=[], metavar="METHOD@SECONDS=CSV[,CSV...]")
    novel.add_argument("--cell", action="append", default=[], metavar="SPLIT|SEED|METHOD@SECONDS=CSV[,CSV...]",
                       help="one seed of a point (repeat): mean over seeds ± spread")
    novel.add_argument("--meta", action="append", default=[], metavar="SPLIT|SEED|METHOD@SECONDS=META[,META...]",
                       help="meta.json of the model behind a point (a fine-tune: its base model's too): budget")
    novel.add_argument("--caption", default="")
    novel.add_argument("--out", required=True)
    novel.add_argument("--figure", required=True, help="output PNG")
    novel.set_defaults(func=_novel_series)

    bleed = subparsers.add_parser("bleed", help="identity bleed: per-part PSNR, multi-id vs single-id renders")
    bleed.add_argument("--pair", action="append", required=True, metavar="SUBJECT=MULTI_EVAL_DIR,SINGLE_EVAL_DIR")
    bleed.add_argument("--data-root", default="results")
    bleed.add_argument("--caption", default="")
    bleed.add_argument("--out", required=True)
    bleed.set_defaults(func=_bleed)

    order = subparsers.add_parser("orderings", help="which of the paper's orderings the tables reproduce")
    for name in ("table1", "table2", "table3", "cost", "fig7b"):
        order.add_argument(f"--{name}", help=f"{name} CSV")
    order.add_argument("--out", required=True, help="output stem (.csv, .md)")
    order.set_defaults(func=_orderings)

    grid = subparsers.add_parser("eval-grid", help="ground truth | renders of several models, with close-ups")
    grid.add_argument("--subject", required=True)
    grid.add_argument("--column", action="append", required=True, metavar="TITLE=EVAL_DIR")
    grid.add_argument("--data-root", default="results")
    grid.add_argument("--rows", type=int, default=2)
    grid.add_argument("--no-closeups", action="store_true")
    grid.add_argument("--out", required=True)
    grid.set_defaults(func=_eval_grid)

    anim = subparsers.add_parser("animation-grid", help="target pose | renders of another identity under it")
    anim.add_argument("--driver", required=True)
    anim.add_argument("--driver-frames", required=True)
    anim.add_argument("--column", action="append", required=True, metavar="TITLE=ANIMATION_MP4")
    anim.add_argument("--rows", type=int, default=3)
    anim.add_argument("--out", required=True)
    anim.set_defaults(func=_animation_grid)


def _quality(args) -> None:
    from talkinnerf.report.figures import plot_quality
    from talkinnerf.report.tables import summarise_settings, write_table

    table = summarise_settings(args.eval_root, args.settings, args.subjects)
    write_table(table, args.out_csv, args.out_md)
    if args.out_figure:
        plot_quality(table, args.out_figure)
    print(table.to_string(index=False))


def _concat(args) -> None:
    from talkinnerf.report.tables import concat_tables, write_table

    table = concat_tables(args.inputs)
    write_table(table, args.out_csv, args.out_md)
    print(table.to_string(index=False))


def _subject_sheet(args) -> None:
    from talkinnerf.report.subject_sheet import subject_sheet

    sheet, _, shown = subject_sheet(args.subject, args.frames, args.matte, args.keypoints, args.smplx, args.parts,
                                    args.model, args.out, split_path=args.split, rows=args.rows, scale=args.scale,
                                    matte_backend=args.matte_backend, keypoints_backend=args.keypoints_backend)
    print(f"subject sheet of {args.subject}: frames {shown}, {sheet.shape[1]}x{sheet.shape[0]} px -> {args.out}")


def _entries(items: list[str]) -> list[tuple[str, list[str]]]:
    out = []
    for item in items:
        label, sep, paths = item.partition("=")
        if not sep or not paths:
            raise ValueError(f"expected LABEL=PATH[,PATH...], got {item!r}")
        out.append((label, [p for p in paths.split(",") if p]))
    return out


def _cells(args):
    """--cell / --entry as cells, and --meta as (split, label) -> the first seed's meta.json dicts (or None)."""
    from talkinnerf.io import read_json
    from talkinnerf.report import paper_tables as pt

    cells = [pt.parse_cell(c) for c in args.cell] + [pt.Cell("", "", label, tuple(paths))
                                                     for label, paths in _entries(args.entry)]
    if not cells:
        raise ValueError("give the rows with --cell SPLIT|SEED|LABEL=CSV,... (or --entry LABEL=CSV,...)")
    metas: dict | None = None
    if args.meta:
        metas = {}
        for meta in map(pt.parse_cell, args.meta):
            first = metas.setdefault((meta.split, meta.label), (meta.seed, []))
            if first[0] == meta.seed:
                first[1].extend(read_json(p) for p in meta.paths)
        metas = {k: v[1] for k, v in metas.items()}
    return cells, metas


def _paper_table(args) -> None:
    from talkinnerf.report import paper_tables as pt

    metrics = {"table1": pt.TABLE1_METRICS, "table2": pt.TABLE2_METRICS, "table3": pt.TABLE3_METRICS}[args.kind]
    cells, metas = _cells(args)
    table = pt.seed_table(cells, metrics, metas)
    extra = ["split", "seeds"] + (["budget"] if metas is not None else [])
    pt.write_all(table, args.out, metrics, args.caption, extra=extra)
    print(pt.to_markdown(table, metrics, extra=extra))


def _lipsync_table(args) -> None:
    from talkinnerf.report.lipsync_table import write_lipsync_table

    print(write_lipsync_table(_entries(args.entry), args.out, args.caption))


def _cost_table(args) -> None:
    import json

    from talkinnerf.io import read_json
    from talkinnerf.report import paper_tables as pt

    runs = json.loads(args.runs)
    for run in runs:
        run["multi"]["meta"] = read_json(run["multi"]["meta"])
        for single in run["single"]:
            single["meta"] = read_json(single["meta"])
    table = pt.cost_table(runs)
    pt.write_all(table, args.out, pt.COST_METRICS, args.caption, extra=pt.COST_EXTRA)
    print(pt.to_markdown(table, pt.COST_METRICS, extra=pt.COST_EXTRA))


def _novel_series(args) -> None:
    from talkinnerf.report import paper_tables as pt
    from talkinnerf.report.figures import plot_novel_series

    cells, metas = _cells(args)
    metrics = ["psnr", "ssim", "lpips"]
    table = pt.novel_series(cells, metrics, metas)
    extra = ["seconds", "seeds"] + (["budget"] if metas is not None else [])
    pt.write_all(table, args.out, metrics, args.caption, extra=extra)
    plot_novel_series(table, args.figure, metrics)
    print(pt.to_markdown(table, metrics, extra=extra))


def _bleed(args) -> None:
    import pandas as pd

    from talkinnerf.evaluate.bleed import PARTS, bleed_table, part_psnr_frames
    from talkinnerf.report import paper_tables as pt

    frames = []
    for subject, dirs in _entries(args.pair):
        if len(dirs) != 2:
            raise ValueError(f"--pair {subject}=MULTI,SINGLE needs two eval folders, got {dirs}")
        frames.append(part_psnr_frames(dirs[0], subject, args.data_root, "multi"))
        frames.append(part_psnr_frames(dirs[1], subject, args.data_root, "single"))
    table = bleed_table(pd.concat(frames, ignore_index=True), "multi", "single")
    metrics = [f"{p}_{k}" for p in PARTS for k in ("multi", "single", "delta") if f"{p}_{k}" in table]
    for m in metrics:
        pt.COLUMNS.setdefault(m, pt.Column(f"{m.split('_')[0]} PSNR {m.split('_')[1]}",
                                           True if not m.endswith("delta") else None))
    pt.write_all(table, args.out, metrics, args.caption, key="subject")
    print(pt.to_markdown(table, metrics, key="subject"))


def _eval_grid(args) -> None:
    from talkinnerf.report.figures import eval_grid

    columns = [(title, paths[0]) for title, paths in _entries(args.column)]
    eval_grid(columns, args.subject, args.data_root, args.out, rows=args.rows, closeups=not args.no_closeups)


def _animation_grid(args) -> None:
    from talkinnerf.report.figures import animation_grid

    columns = [(title, paths[0]) for title, paths in _entries(args.column)]
    animation_grid(args.driver, args.driver_frames, columns, args.out, rows=args.rows)


def _orderings(args) -> None:
    import pandas as pd

    from talkinnerf.io import atomic_path
    from talkinnerf.report import paper_tables as pt

    read = {k: pd.read_csv(getattr(args, k)) if getattr(args, k) else None
            for k in ("table1", "table2", "table3", "cost", "fig7b")}
    table = pt.orderings_table(**read)
    with atomic_path(args.out + ".csv") as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(args.out + ".md") as tmp:
        tmp.write_text(pt.orderings_markdown(table))
    print(pt.orderings_markdown(table))
