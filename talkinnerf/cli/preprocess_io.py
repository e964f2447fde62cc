"""CLI commands of the `preprocess` group for the video-side stages: matte, keypoints, split (parsing only)."""

from __future__ import annotations

from talkinnerf import failures


def add_commands(subparsers) -> None:
    """Register commands; each sets `func` to a handler taking the parsed args."""
    p = subparsers.add_parser("matte", help="frames -> alpha mattes (background | provided | rvm | mediapipe | auto)")
    p.add_argument("--frames", required=True, help="decoded frames folder (results/frames/<subject>)")
    p.add_argument("--out", required=True, help="output folder of %%06d.png alpha mattes + meta.json (backend run)")
    p.add_argument("--options", default=None, help="JSON of the config.yaml `matte` section")
    failures.add_arguments(p, "matte")
    p.set_defaults(func=_matte)

    p = subparsers.add_parser("keypoints", help="OpenPose JSON | MediaPipe on the video -> keypoints npz in "
                                                 "frame pixels")
    p.add_argument("--frames", required=True, help="decoded frames folder (its meta.json maps the pixels)")
    p.add_argument("--openpose", default=None,
                   help="folder of per-video-frame *_keypoints.json; may be missing (backend auto: then MediaPipe)")
    p.add_argument("--video", default=None,
                   help="the subject's video, for backend mediapipe (default: meta.json `source`)")
    p.add_argument("--out", required=True, help="output npz (results/keypoints/<subject>.npz)")
    p.add_argument("--options", default=None, help="JSON of the config.yaml `keypoints` section")
    failures.add_arguments(p, "keypoints")
    p.set_defaults(func=_keypoints)

    p = subparsers.add_parser("split", help="train / held-out frame indices")
    p.add_argument("--frames", required=True, help="decoded frames folder")
    p.add_argument("--out", required=True, help="output json (results/splits/<subject>.json)")
    p.add_argument("--options", default=None, help="JSON of the config.yaml `split` section")
    p.add_argument("--view-of", default=None, metavar="RESULTS",
                   help="--out is VIEW/splits/<subject>.json of a second split: also link the subject's frames, "
                        "matte, parts, keypoints and fit from RESULTS into VIEW (train/evaluate with --data-root "
                        "VIEW)")
    failures.add_arguments(p, "split")
    p.set_defaults(func=_split)

    p = subparsers.add_parser("left-out", help="table of the subjects left out (skip mode): file, stage, reason, fix")
    p.add_argument("--results", required=True, help="results folder (failed/<subject>/<stage>.json)")
    p.add_argument("--subjects", nargs="*", default=[], help="the workflow's subjects (others' records are stale)")
    p.add_argument("--unusable", default="{}", help="JSON {file name: why} of drop-in files that got no subject")
    p.add_argument("--out-csv", required=True)
    p.add_argument("--out-md", required=True)
    p.set_defaults(func=_left_out)


def _left_out(args) -> int:
    import json

    from talkinnerf.failures import left_out_table, write_left_out_table

    table = left_out_table(args.results, args.subjects, json.loads(args.unusable or "{}"))
    write_left_out_table(table, args.out_csv, args.out_md)
    print(f"{len(table)} input(s) left out -> {args.out_csv}")
    return 0


def _matte(args) -> int:
    from talkinnerf.options import from_json
    from talkinnerf.preprocess.matte import MatteOptions, run_matte

    opts = from_json(MatteOptions, args.options, "matte")
    count = run_matte(args.frames, args.out, opts)
    print(f"matte ({opts.backend}): {count} frames of {args.frames} -> {args.out}")
    return 0


def _keypoints(args) -> int:
    import numpy as np

    from talkinnerf.options import from_json
    from talkinnerf.preprocess.keypoints import KeypointOptions, resolve_backend, run_keypoints

    opts = from_json(KeypointOptions, args.options, "keypoints")
    backend = resolve_backend(opts.backend, args.openpose)
    arrays = run_keypoints(args.frames, args.openpose, args.out, opts, video=args.video)
    seen = float(np.mean(arrays["body"][..., 2] > 0))
    print(f"keypoints ({backend}): {len(arrays['body'])} frames -> {args.out} ({seen:.0%} body points seen)")
    return 0


def _split(args) -> int:
    from talkinnerf.options import from_json
    from talkinnerf.preprocess.split import SplitOptions, run_split

    split = run_split(args.frames, args.out, from_json(SplitOptions, args.options, "split"))
    print(f"split {split['rule']}: {len(split['train'])} train / {len(split['test'])} test -> {args.out}")
    if args.view_of:
        from pathlib import Path

        from talkinnerf.preprocess.split import link_view

        view = Path(args.out).parent.parent
        subject = args.subject or Path(args.out).stem
        links = link_view(args.view_of, view, subject)
        print(f"view {view}: {len(links)} links of {subject} into {args.view_of}")
    return 0
