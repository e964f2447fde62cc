"""CLI commands `preprocess fit` and `preprocess segment` (argument parsing only)."""

from __future__ import annotations

import json

from talkinnerf import failures


def add_commands(subparsers) -> None:
    """Register commands; each sets `func` to a handler taking the parsed args."""
    p = subparsers.add_parser("fit", help="SMPLify-X-style SMPL-X fit to keypoints, all frames at once")
    p.add_argument("--frames", required=True, help="frames folder (meta.json gives size and count)")
    p.add_argument("--keypoints", required=True, help="keypoints/s.npz")
    p.add_argument("--model", required=True, help="SMPL-X-format body model .npz")
    p.add_argument("--out", required=True, help="results/smplx/s.npz")
    p.add_argument("--options", default="", help="JSON of the config.yaml `fit` section")
    failures.add_arguments(p, "fit")
    p.set_defaults(func=_fit)

    s = subparsers.add_parser("segment", help="part labels per frame (smplx: fitted mesh ∩ matte)")
    s.add_argument("--frames", required=True)
    s.add_argument("--matte", required=True)
    s.add_argument("--smplx", required=True, help="results/smplx/s.npz")
    s.add_argument("--model", required=True)
    s.add_argument("--out", required=True, help="results/parts/s/")
    s.add_argument("--options", default="", help="JSON of the config.yaml `segment` section")
    failures.add_arguments(s, "segment")
    s.set_defaults(func=_segment)


def _fit(args) -> int:
    from talkinnerf.options import from_json
    from talkinnerf.preprocess.fit import FitOptions, fit_subject

    opts = from_json(FitOptions, args.options, "fit")
    summary = fit_subject(args.frames, args.keypoints, args.model, args.out, opts)
    print(json.dumps(summary))
    return 0


def _segment(args) -> int:
    from talkinnerf.options import from_json
    from talkinnerf.preprocess.segment import SegmentOptions, segment_subject

    opts = from_json(SegmentOptions, args.options, "segment")
    count = segment_subject(args.frames, args.matte, args.smplx, args.model, args.out, opts)
    print(json.dumps({"frames": count, "backend": opts.backend}))
    return 0
