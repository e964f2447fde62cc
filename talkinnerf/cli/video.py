"""CLI commands of the `video` group (argument parsing only)."""

from __future__ import annotations

from talkinnerf import failures


def add_commands(subparsers) -> None:
    """Register this group's commands; each sets `func` to a handler taking the parsed args."""
    p = subparsers.add_parser("decode", help="video -> square frames/%%06d.png + meta.json")
    p.add_argument("--video", required=True, help="input video (mp4/mov/mkv/avi/webm)")
    p.add_argument("--out", required=True, help="output folder, e.g. results/frames/<subject>")
    p.add_argument("--options", default=None, help="JSON of the config.yaml `decode` section")
    failures.add_arguments(p, "decode")
    p.set_defaults(func=_decode)

    p = subparsers.add_parser("copy-audio", help="copy a motion's .wav into results/motions/ (atomically)")
    p.add_argument("--wav", required=True, help="the .wav beside a drop-in motion")
    p.add_argument("--out", required=True, help="results/motions/<name>.wav")
    p.set_defaults(func=_copy_audio)


def _decode(args) -> int:
    from talkinnerf.options import from_json
    from talkinnerf.video.decode import DecodeOptions, decode_video

    opts = from_json(DecodeOptions, args.options, "decode")
    meta = decode_video(args.video, args.out, opts)
    print(f"decoded {meta['count']} frames of {args.video} -> {args.out} "
          f"({meta['size']}px, {meta['fps']:.3f} fps, rotation {meta['rotation']})")
    return 0


def _copy_audio(args) -> int:
    from talkinnerf.evaluate.media import copy_audio

    copy_audio(args.wav, args.out)
    print(f"copied {args.wav} -> {args.out}")
    return 0
