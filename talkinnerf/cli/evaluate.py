"""CLI commands of the `evaluate` group (argument parsing only)."""

from __future__ import annotations

from talkinnerf.cli import evaluate_preprocess, evaluate_render


def add_commands(subparsers) -> None:
    evaluate_preprocess.add_commands(subparsers)
    evaluate_render.add_commands(subparsers)

    p = subparsers.add_parser("lipsync", help="mouth-opening agreement of a cross-identity render with its driver "
                                              "(Table 4 stand-in; LSE-D/C need SyncNet weights)")
    p.add_argument("--render", required=True, help="results/animate/.../<subject>_as_<driver>.mp4")
    p.add_argument("--subject-smplx", required=True, help="results/smplx/<subject>.npz (the rendered identity)")
    p.add_argument("--driver-frames", required=True, help="results/frames/<driver>/")
    p.add_argument("--driver-smplx", required=True, help="results/smplx/<driver>.npz")
    p.add_argument("--label", default="", help="method name written into the CSV")
    p.add_argument("--options", default=None, help="JSON of the lipsync options")
    p.add_argument("--out", required=True, help="output CSV (one row) + <out>.frames.csv (per-frame openings)")
    p.set_defaults(func=_lipsync)


def _lipsync(args) -> int:
    import pandas as pd

    from talkinnerf.evaluate.lipsync import LipsyncConfig, lipsync_pair
    from talkinnerf.io import atomic_path
    from talkinnerf.options import from_json

    cfg = from_json(LipsyncConfig, args.options, "lipsync")
    result, render_open, driver_open = lipsync_pair(args.render, args.subject_smplx, args.driver_frames,
                                                    args.driver_smplx, cfg)
    row = {"method": args.label, "render": args.render, **result, "metric": "mouth-opening agreement (FaceMesh)"}
    with atomic_path(args.out) as tmp:
        pd.DataFrame([row]).to_csv(tmp, index=False)
    n = min(len(render_open), len(driver_open))
    with atomic_path(str(args.out) + ".frames.csv") as tmp:
        pd.DataFrame({"frame": range(n), "render": render_open[:n], "driver": driver_open[:n]}).to_csv(tmp, index=False)
    print(row)
    return 0
