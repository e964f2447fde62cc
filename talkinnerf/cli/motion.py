"""CLI commands of the `motion` group: convert motion files into our motion format, inspect them (argument
parsing only)."""

from __future__ import annotations

from talkinnerf import failures

LAYOUT_CHOICES = ("auto", "amass-smplx", "amass-smplh", "talkshow", "easymocap", "ours")
WORLD_CHOICES = ("auto", "y-up", "z-up", "y-down", "z-down")


def add_commands(subparsers) -> None:
    """Register this group's commands; each sets `func` to a handler taking the parsed args."""
    p = subparsers.add_parser("convert", help="AMASS / TalkSHOW / EasyMocap / our fits -> our motion format",
                              description="Convert a motion (AMASS SMPL-X or SMPL+H .npz, TalkSHOW .npy, an "
                                          "EasyMocap folder of per-frame .json, or results/smplx/<s>.npz) into our "
                                          "motion format: OUT.npz plus OUT.json listing the source and every "
                                          "conversion applied. See docs/motion.md.")
    p.add_argument("source", help="motion file or EasyMocap folder")
    p.add_argument("out", help="output .npz (its .json sidecar is written beside it)")
    p.add_argument("--fps", type=float, default=30.0, help="output frame rate (default 30; 0 keeps the source's); "
                                                           "resampled by slerp")
    p.add_argument("--source-fps", type=float, default=0.0,
                   help="the source's frame rate, overriding the file's; files without one (EasyMocap, fits "
                        "without frames/<s>/meta.json) are otherwise taken to run at --fps")
    p.add_argument("--layout", choices=LAYOUT_CHOICES, default="auto", help="source layout (default: detected)")
    p.add_argument("--source-world", choices=WORLD_CHOICES, default="auto",
                   help="the source's up axis (default per layout: AMASS and EasyMocap z-up, TalkSHOW y-down "
                        "camera coordinates, ours y-up); the motion is turned into ours (y up)")
    p.add_argument("--hand-mean", default="", metavar="SMPLX_NEUTRAL.npz",
                   help="official SMPL-X model whose hands_meanl/r are added to hands given relative to the mean "
                        "hand (TalkSHOW, EasyMocap handl/handr)")
    p.add_argument("--pelvis", type=float, nargs=3, default=None, metavar=("X", "Y", "Z"),
                   help="EasyMocap: rest position of the fitted body's pelvis joint (m), to turn Th into SMPL-X transl")
    p.add_argument("--no-audio-check", action="store_true", help="do not check that a <name>.wav beside the source "
                                                                 "is a readable PCM WAV")
    # the workflow's drop-in motions: --subject NAME --on-failure skip --results R/motions leaves a bad motion out
    # (failure markers at OUT and its .json, record R/motions/failed/NAME/motion.json) so the others render
    failures.add_arguments(p, failures.MOTION_STAGE)
    p.set_defaults(func=_convert)

    p = subparsers.add_parser("info", help="layout, frames, fps and keys of a motion file or folder",
                              description="Print what a motion holds and what converting it would change.")
    p.add_argument("path", help="motion file or EasyMocap folder")
    p.add_argument("--layout", choices=LAYOUT_CHOICES, default="auto", help="source layout (default: detected)")
    p.set_defaults(func=_info)

    p = subparsers.add_parser("export", help="a motion -> AMASS / TalkSHOW / EasyMocap layout (the readers' inverse)",
                              description="Read a motion (any layout `convert` reads, usually our fits or our "
                                          "format), turn it into the layout's default world and write it in "
                                          "LAYOUT, so `motion convert` gives it back. See docs/motion.md.")
    p.add_argument("source", help="motion file or EasyMocap folder")
    p.add_argument("out", help="output: .npz (amass-smplx, amass-smplh, ours), .npy (talkshow), folder (easymocap)")
    p.add_argument("--to", dest="to_layout", required=True, choices=LAYOUT_CHOICES[1:], help="layout to write")
    p.add_argument("--fps", type=float, default=0.0, help="resample first (0 keeps the source's; talkshow: 30)")
    p.add_argument("--layout", choices=LAYOUT_CHOICES, default="auto", help="source layout (default: detected)")
    p.add_argument("--hand-mean", default="", metavar="SMPLX_NEUTRAL.npz",
                   help="talkshow: subtract this model's hands_meanl/r (TalkSHOW hands are mean-relative)")
    p.add_argument("--pelvis", type=float, nargs=3, default=None, metavar=("X", "Y", "Z"),
                   help="easymocap: rest pelvis joint (m) of the body, to turn transl into Th")
    p.set_defaults(func=_export)


def _convert(args) -> int:
    from talkinnerf.motion.convert import ConvertOptions, convert_motion

    opts = ConvertOptions(fps=args.fps, source_fps=args.source_fps, layout=args.layout,
                          source_world=args.source_world, hand_mean=args.hand_mean,
                          pelvis=tuple(args.pelvis) if args.pelvis else None, check_audio=not args.no_audio_check)
    motion = convert_motion(args.source, args.out, opts)
    print(f"wrote {args.out}: {motion.frames} frames at {motion.fps:g} fps from {motion.source_format} "
          f"{args.source} (audio: {motion.audio or 'none'})")
    for note in motion.conversions:
        print(f"  {note}")
    return 0


def _info(args) -> int:
    from talkinnerf.motion.convert import source_summary

    info = source_summary(args.path, args.layout)
    print(f"layout: {info['layout']}")
    print(f"frames: {info['frames']}")
    print(f"fps: {info['fps']:g}")
    print(f"keys: {info['keys']}")
    print(f"audio: {info['audio'] or 'none'}")
    print("conversions:" + ("" if info["conversions"] else " none"))
    for note in info["conversions"]:
        print(f"  {note}")
    return 0


def _export(args) -> int:
    import numpy as np

    from talkinnerf.motion.convert import ConvertOptions, load_hand_mean, prepare_motion
    from talkinnerf.motion.writers import write_layout

    motion = prepare_motion(args.source, ConvertOptions(fps=0, layout=args.layout, check_audio=False))
    notes: list[str] = []
    write_layout(motion, args.to_layout, args.out, fps=args.fps,
                 hand_mean=load_hand_mean(args.hand_mean) if args.hand_mean else None,
                 pelvis=np.asarray(args.pelvis) if args.pelvis else None, notes=notes)
    print(f"wrote {args.out}: {args.to_layout} from {motion.source_format} {args.source} ({motion.frames} frames "
          f"at {motion.fps:g} fps)")
    for note in notes:
        print(f"  {note}")
    return 0
