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
