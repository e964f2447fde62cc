"""CLI commands `evaluate render`, `evaluate animate`, `evaluate turntable` and `evaluate mesh` (argument parsing
only)."""

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

    p = subparsers.add_parser("animate", help="render a trained avatar under any motion (its audio muxed in)",
                              description="Render SUBJECT of MODEL under a motion: our motion format (`talkinnerf "
                                          "motion convert`) or another subject's fit results/smplx/OTHER.npz. The "
                                          "avatar keeps its shape, stands where it stood in training, seen by its "
                                          "training camera (docs/motion.md).")
    p.add_argument("--model", required=True)
    p.add_argument("--subject", required=True)
    p.add_argument("--motion", required=True, help="results/motions/NAME.npz (our motion format) or "
                                                   "results/smplx/OTHER.npz")
    p.add_argument("--data-root", default="results")
    p.add_argument("--out", required=True, help="output .mp4")
    p.add_argument("--json", default=None, help="output .json (default: OUT with .json): frames, fps, source format, "
                                                "conversions, retargeting, audio, render seconds per frame")
    p.add_argument("--audio", default="auto", help="auto (default: MOTION.wav beside the motion, else the audio the "
                                                   "motion names), none, or a .wav file")
    p.add_argument("--side-by-side", default=None, help="also write [driver frames | avatar] to this .mp4")
    p.add_argument("--driver-frames", default=None, help="the driving video's decoded frames (for --side-by-side)")
    p.add_argument("--options", default=None, help="JSON of the animation options (config.yaml `animation`)")
    p.set_defaults(func=_animate)

    p = subparsers.add_parser("turntable", help="free viewpoint: the camera orbits a posed avatar 360 degrees",
                              description="Render SUBJECT of MODEL in one pose (default: its first training frame; "
                                          "--motion M --frame i: frame i of a motion) with its training camera "
                                          "orbiting about the vertical axis through the body's root.")
    p.add_argument("--model", required=True)
    p.add_argument("--subject", required=True)
    p.add_argument("--data-root", default="results")
    p.add_argument("--out", required=True, help="output .mp4")
    p.add_argument("--json", default=None, help="output .json (default: OUT with .json)")
    p.add_argument("--motion", default=None, help="pose the avatar with a frame of this motion")
    p.add_argument("--frame", type=int, default=None, help="the avatar's frame (default: its first training frame), "
                                                         "or with --motion the motion's frame (default 0)")
    p.add_argument("--frames", type=int, default=None, help="views over the 360 degrees (default 60)")
    p.add_argument("--elevation", type=float, default=None, metavar="DEG",
                   help="camera elevation above the horizontal through the root (default: the training camera's)")
    p.add_argument("--radius", type=float, default=None, metavar="M",
                   help="camera distance from the root in metres (default: the training camera's)")
    p.add_argument("--options", default=None, help="JSON of the turntable options (config.yaml `turntable`)")
    p.set_defaults(func=_turntable)

    p = subparsers.add_parser("mesh", help="export an avatar's canonical surface (marching cubes, vertex colours) "
                                           "and posed meshes under a motion",
                              description="Write OUT/canonical.ply (or .obj) and OUT/canonical.json: marching cubes "
                                          "of SUBJECT's canonical density in MODEL, vertex colours from its colour "
                                          "fields; with --motion also OUT/<motion>/<frame>.ply, the canonical mesh "
                                          "skinned with the learned weight volume (docs/motion.md, Mesh export).")
    p.add_argument("--model", required=True)
    p.add_argument("--subject", required=True)
    p.add_argument("--data-root", default="results")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--motion", default=None, help="also write posed meshes of this motion (our motion format or "
                                                  "a fit results/smplx/OTHER.npz)")
    p.add_argument("--frames", default=None, metavar="A:B", help="motion frames A..B-1 (python slice; A: , :B, or "
                                                                  "one frame A; default: all)")
    p.add_argument("--resolution", type=int, default=None, help="grid samples along the longest side of the "
                                                                "canonical box (default 128)")
    p.add_argument("--threshold", type=float, default=None, metavar="DENSITY",
                   help="surface level of the smoothed density, 1/m (default 2)")
    p.add_argument("--format", choices=("ply", "obj"), default=None, help="default ply")
    p.add_argument("--expression", choices=("first", "neutral"), default=None,
                   help="F_face / F_hands condition for the colours: the subject's first training frame's "
                        "expression, jaw and hand pose (default), or neutral (zeros)")
    p.add_argument("--options", default=None, help="JSON of the mesh options (talkinnerf.mesh.export.MeshConfig)")
    p.set_defaults(func=_mesh)


def _render(args) -> int:
    from talkinnerf.evaluate.render_eval import EvalConfig, evaluate_render
    from talkinnerf.options import from_json

    evaluate_render(args.model, args.subject, args.data_root, args.out, from_json(EvalConfig, args.options, "evaluate"))
    return 0


def _animate(args) -> int:
    from talkinnerf.evaluate.animate import AnimateConfig, animate
    from talkinnerf.options import from_json

    cfg = from_json(AnimateConfig, args.options, "animation")
    summary = animate(args.model, args.subject, args.motion, args.data_root, args.out, cfg, json_path=args.json,
                      audio=args.audio, side_by_side_out=args.side_by_side, driver_frames=args.driver_frames)
    print(f"wrote {args.out}: {summary['frames']} frames at {summary['fps']:g} fps, audio: "
          f"{summary['audio']['file'] if summary['audio'] else summary['audio_search']}"
          + (f" ({summary['length_note']})" if summary["length_note"] else ""))
    return 0


def _turntable(args) -> int:
    import json

    from talkinnerf.evaluate.turntable import TurntableConfig, turntable
    from talkinnerf.options import from_dict

    options = json.loads(args.options) if args.options else {}
    flags = {"frame": args.frame, "frames": args.frames, "elevation": args.elevation, "radius": args.radius}
    options.update({k: v for k, v in flags.items() if v is not None})
    cfg = from_dict(TurntableConfig, options, "turntable")
    summary = turntable(args.model, args.subject, args.data_root, args.out, cfg, motion=args.motion,
                        json_path=args.json)
    print(f"wrote {args.out}: {summary['frames']} views of {summary['pose']}, radius "
          f"{summary['orbit']['radius']:.3f} m, elevation {summary['orbit']['elevation_deg']:.1f} deg")
    return 0


def _mesh(args) -> int:
    import json
    import sys
    from pathlib import Path

    from talkinnerf import failures
    from talkinnerf.mesh.export import MeshConfig, export_meshes
    from talkinnerf.options import from_dict

    options = json.loads(args.options) if args.options else {}
    flags = {"resolution": args.resolution, "threshold": args.threshold, "format": args.format,
             "expression": args.expression}
    options.update({k: v for k, v in flags.items() if v is not None})
    cfg = from_dict(MeshConfig, options, "mesh")
    out = Path(args.out)
    # a left-out subject (skip mode) or model: pass its failure marker on instead of running
    rec = (failures.marker_of(args.model) or (failures.marker_of(args.motion) if args.motion else None)
           or failures.subject_data_marker(args.data_root, args.subject))
    if rec is not None:
        for path in (out / f"canonical.{cfg.format}", out / "canonical.json"):
            failures.write_marker(path, rec)
        print(f"talkinnerf evaluate mesh: not run, {failures.describe(rec)}", file=sys.stderr)
        return 0
    s = export_meshes(args.model, args.subject, args.data_root, out, cfg, motion=args.motion, frames=args.frames)
    posed = s.get("posed")
    print(f"wrote {s['mesh']}: {s['vertices']} vertices, {s['faces']} faces, bbox {s['bbox']} "
          f"(fitted {s['fitted_canonical_bbox']}, largest difference {s['bbox_difference_m']['largest']:.3f} m)"
          + (f"; {posed['frames']} posed meshes in {posed['folder']}" if posed else ""))
    return 0
