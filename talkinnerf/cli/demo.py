"""CLI commands of the `demo` group (argument parsing only)."""

from __future__ import annotations


def add_commands(subparsers) -> None:
    """Register this group's commands; each sets `func` to a handler taking the parsed args."""
    p = subparsers.add_parser("synthesize", help="render a synthetic talking subject: mp4 + gt/ + openpose/")
    p.add_argument("--subject", required=True, help="subject name (a preset of DEFAULT_SUBJECTS or any name)")
    p.add_argument("--out-video", required=True, help="output mp4, e.g. resources/demo/<subject>.mp4")
    p.add_argument("--options", default=None, help="JSON of the config.yaml `demo` section (identity inside)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=_synthesize)

    p = subparsers.add_parser("contact-sheet", help="PNG of frames per subject with part labels overlaid")
    p.add_argument("--demo-dir", required=True, help="folder holding <subject>.mp4 and <subject>/gt/")
    p.add_argument("--subjects", nargs="+", required=True)
    p.add_argument("--out", required=True, help="output PNG")
    p.add_argument("--frames", type=int, default=4, help="frames per subject (evenly spaced)")
    p.set_defaults(func=_contact_sheet)


def _synthesize(args) -> int:
    from talkinnerf.demo.options import SynthesizeOptions
    from talkinnerf.demo.subjects import resolve_identity
    from talkinnerf.demo.synthesize import synthesize
    from talkinnerf.options import from_json

    opts = from_json(SynthesizeOptions, args.options, "demo")
    identity = resolve_identity(args.subject, opts.identity)
    info = synthesize(args.subject, args.out_video, opts, identity, progress=not args.no_progress)
    print(f"demo subject {info['subject']}: {info['frames']} frames at {info['size']}px -> {info['video']} "
          f"(ground truth in {info['gt']})")
    return 0


def _contact_sheet(args) -> int:
    from talkinnerf.demo.contact_sheet import contact_sheet

    contact_sheet(args.demo_dir, args.subjects, args.out, frames_per_subject=args.frames)
    print(f"contact sheet of {len(args.subjects)} subject(s) -> {args.out}")
    return 0
