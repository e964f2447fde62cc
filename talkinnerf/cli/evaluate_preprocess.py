"""CLI command `evaluate preprocess`: preprocessing accuracy against ground truth (argument parsing only)."""

from __future__ import annotations


def add_commands(subparsers) -> None:
    """Register commands; each sets `func` to a handler taking the parsed args."""
    p = subparsers.add_parser("preprocess", help="matte / keypoint / fit / part accuracy vs ground truth (CSV row)")
    p.add_argument("--subject", required=True)
    p.add_argument("--gt", required=True, help="ground-truth folder, e.g. resources/demo/<subject>/gt")
    p.add_argument("--frames", required=True, help="decoded frames folder (meta.json maps video -> frame pixels)")
    p.add_argument("--matte", default=None, help="matte folder (omit to skip: empty column)")
    p.add_argument("--keypoints", default=None, help="keypoints npz (omit to skip)")
    p.add_argument("--smplx", default=None, help="fitted SMPL-X npz (omit to skip)")
    p.add_argument("--parts", default=None, help="part-label folder (omit to skip)")
    p.add_argument("--matte-backends", default=None,
                   help="CSV row of `evaluate matte-backends` (IoU of the matte backends the workflow did not run)")
    p.add_argument("--out", required=True, help="output CSV (one row)")
    p.set_defaults(func=_preprocess)

    p = subparsers.add_parser("matte-backends", help="matte IoU vs ground truth of other matte backends, run in "
                                                     "memory on the decoded frames (CSV row)")
    p.add_argument("--subject", required=True)
    p.add_argument("--gt", required=True, help="ground-truth folder, e.g. resources/demo/<subject>/gt")
    p.add_argument("--frames", required=True, help="decoded frames folder")
    p.add_argument("--backends", nargs="*", default=[], help="matte backends to run (background mediapipe rvm)")
    p.add_argument("--options", default=None, help="JSON of the config.yaml `matte` section (backend replaced)")
    p.add_argument("--out", required=True, help="output CSV (one row)")
    p.set_defaults(func=_matte_backends)


def _preprocess(args) -> int:
    from talkinnerf.evaluate.preprocess_accuracy import evaluate_subject, write_rows

    row = evaluate_subject(args.subject, args.gt, args.frames, matte=args.matte, keypoints=args.keypoints,
                           smplx=args.smplx, parts=args.parts, matte_backends=args.matte_backends)
    write_rows(args.out, [row])
    shown = ", ".join(f"{k}={v:.4g}" for k, v in row.items() if isinstance(v, float) and v == v)
    print(f"preprocess accuracy {args.subject}: {shown} -> {args.out}")
    return 0


def _matte_backends(args) -> int:
    import json

    from talkinnerf.evaluate.preprocess_accuracy import matte_backend_ious, write_rows

    row = matte_backend_ious(args.subject, args.gt, args.frames, args.backends,
                             json.loads(args.options) if args.options else None)
    write_rows(args.out, [row], columns=list(row))
    shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v!r}" for k, v in row.items()
                      if k != "subject")
    print(f"matte backends {args.subject}: {shown} -> {args.out}")
    return 0
