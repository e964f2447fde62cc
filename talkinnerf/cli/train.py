"""CLI commands of the `train` group (argument parsing only)."""

from __future__ import annotations


def add_commands(subparsers) -> None:
    """Register this group's commands; each sets `func` to a handler taking the parsed args."""
    p = subparsers.add_parser("fit", help="train a (multi-identity) model on subjects' train frames")
    p.add_argument("--subjects", nargs="+", required=True, help="subject names; identity = position in this list")
    p.add_argument("--data-root", default="results", help="folder with frames/, matte/, parts/, smplx/, splits/")
    p.add_argument("--out", required=True, help="results/models/<setting>")
    p.add_argument("--setting", default="", help="setting name recorded in meta.json")
    p.add_argument("--options", default=None, help="JSON of the train section (nested 'model' options)")
    p.set_defaults(func=_fit)

    p = subparsers.add_parser("finetune", help="adapt a trained model to a novel identity from a short video")
    p.add_argument("--base", required=True, help="results/models/<setting>/model.pt")
    p.add_argument("--subject", required=True)
    p.add_argument("--seconds", type=float, required=True, help="use the first N seconds of train frames")
    p.add_argument("--data-root", default="results")
    p.add_argument("--out", required=True)
    p.add_argument("--options", default=None, help="JSON of the finetune section")
    p.set_defaults(func=_finetune)

    p = subparsers.add_parser("fit-clip", help="train a fresh single-subject model on the first N seconds only "
                                               "(the from-scratch reference of Fig. 7b)")
    p.add_argument("--subject", required=True)
    p.add_argument("--seconds", type=float, required=True, help="use the first N seconds of train frames")
    p.add_argument("--data-root", default="results")
    p.add_argument("--out", required=True)
    p.add_argument("--setting", default="", help="setting name recorded in meta.json")
    p.add_argument("--options", default=None, help="JSON of the train section (nested 'model' options)")
    p.set_defaults(func=_fit_clip)


def _fit(args) -> int:
    from talkinnerf.options import from_json
    from talkinnerf.train.trainer import TrainConfig, fit

    cfg = from_json(TrainConfig, args.options, "train")
    subjects, left_out = _drop_left_out(args.subjects, args.data_root)
    if not subjects:
        return _all_left_out(args, left_out)
    fit(subjects, args.data_root, args.out, cfg, setting=args.setting or "")
    _record_left_out(args.out, left_out)
    return 0


def _all_left_out(args, left_out: dict) -> int:
    """Every subject was left out (skip mode): no model; the outputs become failure markers so that evaluations
    and tables still run and say why (a single-subject model of a failed subject, or a folder of bad videos)."""
    from pathlib import Path

    from talkinnerf.failures import describe, write_marker

    first = next(iter(left_out.values()))
    rec = dict(first) if len(left_out) == 1 else {
        **first, "subject": ",".join(left_out), "reason": f"every subject was left out ({', '.join(left_out)}); "
        f"first: {first['reason']}", "fix": "fix or replace the videos (tables/left_out.md lists each reason)"}
    for name in ("model.pt", "meta.json"):
        write_marker(Path(args.out) / name, rec)
    print(f"train: no subject to train on, no model written: {describe(rec)}", flush=True)
    return 0


def _drop_left_out(subjects: list[str], data_root: str) -> tuple[list[str], dict]:
    """Subjects whose preprocessing left failure markers (on_subject_failure: skip) are not trained on."""
    from talkinnerf.failures import describe, split_subjects

    kept, left_out = split_subjects(data_root, subjects)
    for rec in left_out.values():
        print(f"train: {describe(rec)}", flush=True)
    return kept, left_out


def _record_left_out(out: str, left_out: dict) -> None:
    """meta.json lists the subjects the model was not trained on, and why."""
    from pathlib import Path

    from talkinnerf.io import read_json, write_json

    import os

    meta_path = Path(out) / "meta.json"
    if int(os.environ.get("RANK", 0)) == 0 and meta_path.is_file():  # torchrun: the main process writes
        write_json(meta_path, {**read_json(meta_path), "left_out": left_out})


def _finetune(args) -> int:
    from talkinnerf.options import from_json
    from talkinnerf.train.finetune import FinetuneConfig, finetune

    cfg = from_json(FinetuneConfig, args.options, "finetune")
    finetune(args.base, args.subject, args.seconds, args.data_root, args.out, cfg)
    return 0


def _fit_clip(args) -> int:
    from talkinnerf.options import from_json
    from talkinnerf.train.finetune import fit_clip
    from talkinnerf.train.trainer import TrainConfig

    fit_clip(args.subject, args.seconds, args.data_root, args.out, from_json(TrainConfig, args.options, "train"),
             setting=args.setting or "")
    return 0
