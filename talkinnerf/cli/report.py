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
