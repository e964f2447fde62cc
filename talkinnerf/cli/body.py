"""CLI commands of the `body` group (argument parsing only)."""

from __future__ import annotations


def add_commands(subparsers) -> None:
    """Register this group's commands; each sets `func` to a handler taking the parsed args."""
    p = subparsers.add_parser("build-open-model", help="convert Anny into a SMPL-X-format .npz that smplx loads",
                              description="Build the open SMPL-X-format body model from Anny (offline, "
                                          "deterministic).")
    p.add_argument("out", help="output .npz path (e.g. resources/body/SMPLX_OPEN_TALKINNERF.npz)")
    p.add_argument("--options", default=None, help="JSON of OpenModelOptions fields (config section `body`)")
    p.set_defaults(func=_build_open_model)


def _build_open_model(args) -> int:
    from talkinnerf.body.open_model import OpenModelOptions, write_open_model
    from talkinnerf.options import from_json

    options = from_json(OpenModelOptions, args.options, "body")
    if isinstance(options.expressions, list):
        options.expressions = tuple(options.expressions)
    stats = write_open_model(args.out, options)
    print(f"wrote {args.out} ({stats['bytes'] / 1e6:.1f} MB) in {stats['seconds']:.1f} s")
    return 0
