"""CLI commands of the `evaluate` group (argument parsing only)."""

from __future__ import annotations

from talkinnerf.cli import evaluate_preprocess, evaluate_render


def add_commands(subparsers) -> None:
    evaluate_preprocess.add_commands(subparsers)
    evaluate_render.add_commands(subparsers)

    p = subparsers.add_parser("lipsync", help="lip sync of a cross-identity render against its driver's audio: "
                                              "FaceMesh mouth opening vs audio RMS over offsets (Table 4; LSE-D/C "
                                              "need SyncNet weights)")
    p.add_argument("--render", required=True, help="results/animate/.../<subject>_as_<driver>.mp4")
    p.add_argument("--driver-frames", required=True,
                   help="results/frames/<driver>/ (its audio.wav is the audio; its frames the reference)")
    p.add_argument("--label", default="", help="method name written into the CSV")
    p.add_argument("--options", default=None, help="JSON of the lipsync options")
    p.add_argument("--out", required=True, help="output CSV (one row) + <out>.frames.csv (per-frame series)")
    p.set_defaults(func=_lipsync)


def _lipsync(args) -> int:
    import pandas as pd

    from talkinnerf.evaluate.lipsync import METRIC, LipsyncConfig, lipsync_pair
    from talkinnerf.io import atomic_path
    from talkinnerf.options import from_json

    cfg = from_json(LipsyncConfig, args.options, "lipsync")
    result, series = lipsync_pair(args.render, args.driver_frames, cfg)
    row = {"method": args.label, "render": args.render, "driver_audio": f"{args.driver_frames}/audio.wav",
           **result, "metric": METRIC}
    with atomic_path(args.out) as tmp:
        pd.DataFrame([row]).to_csv(tmp, index=False)
    n = len(series["render_opening"])
    with atomic_path(str(args.out) + ".frames.csv") as tmp:
        pd.DataFrame({"frame": range(n), **series}).to_csv(tmp, index=False)
    print(row)
    return 0
