"""Command-line entry point: `talkinnerf <group> <command> ...`.

Argument parsing only. Each group lives in its own module (talkinnerf/cli/<group>.py) that exposes
``add_commands(subparsers)``; handlers import their heavy dependencies lazily so `--help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

GROUPS = {
    "body": "SMPL-X-format body models (build the open model from Anny)",
    "demo": "synthetic talking subjects (render videos + ground truth)",
    "video": "decode / encode videos",
    "preprocess": "matte, keypoints, SMPL-X fit, part segmentation, split",
    "train": "train / fine-tune TalkinNeRF",
    "evaluate": "render held-out frames, metrics, preprocessing accuracy",
    "report": "tables and figures",
    "weights": "pretrained files: list what is present, fetch (LPIPS backbones)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="talkinnerf", description=__doc__.splitlines()[0])
    groups = parser.add_subparsers(dest="group", required=True, metavar="GROUP")
    for name, helptext in GROUPS.items():
        group_parser = groups.add_parser(name, help=helptext, description=helptext)
        commands = group_parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
        module = importlib.import_module(f"talkinnerf.cli.{name}")
        module.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = args.func(args)
    except (FileNotFoundError, ValueError) as err:  # user-facing errors: one clear line, no traceback
        print(f"talkinnerf {args.group} {args.command}: error: {err}", file=sys.stderr)
        return 2
    return int(result or 0)
