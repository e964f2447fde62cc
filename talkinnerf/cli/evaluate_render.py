"""CLI commands `evaluate render` and `evaluate animate` (argument parsing only)."""

from __future__ import annotations


def add_commands(subparsers) -> None:
    """Register commands; each sets `func` to a handler taking the parsed args."""
    p = subparsers.add_parser("render", help="render held-out frames; metrics.csv, compare.png, render.mp4")
    p.add_argument("--model", required=True, help="results/models/<setting>/model.pt")
    p.add_argument("--subject", required=True)
    p.add_argument("--data-root", default="results")
    p.add_argument("--out", required=True, help="results/eval/<setting>/<subject>")
    p.add_argument("--options", default=None, help="JSON of the evaluate section")
    p.set_defaults(func=_render)

    p = subparsers.add_parser("animate", help="render a subject under another subject's or an imported motion")
    p.add_argument("--model", required=True)
    p.add_argument("--subject", required=True)
    p.add_argument("--motion", required=True, help="results/smplx/OTHER.npz or a motion .npz with the same pose keys")
    p.add_argument("--data-root", default="results")
    p.add_argument("--out", required=True, help="output .mp4")
    p.add_argument("--options", default=None, help="JSON of the animate options")
    p.set_defaults(func=_animate)


def _render(args) -> int:
    from talkinnerf.evaluate.render_eval import EvalConfig, evaluate_render
    from talkinnerf.options import from_json

    evaluate_render(args.model, args.subject, args.data_root, args.out, from_json(EvalConfig, args.options, "evaluate"))
    return 0


def _animate(args) -> int:
    from talkinnerf.evaluate.animate import AnimateConfig, animate
    from talkinnerf.options import from_json

    animate(args.model, args.subject, args.motion, args.data_root, args.out,
            from_json(AnimateConfig, args.options, "animate"))
    return 0
