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


def _fit(args) -> int:
    from talkinnerf.options import from_json
    from talkinnerf.train.trainer import TrainConfig, fit

    cfg = from_json(TrainConfig, args.options, "train")
    fit(args.subjects, args.data_root, args.out, cfg, setting=args.setting or "")
    return 0


def _finetune(args) -> int:
    from talkinnerf.options import from_json
    from talkinnerf.train.finetune import FinetuneConfig, finetune

    cfg = from_json(FinetuneConfig, args.options, "finetune")
    finetune(args.base, args.subject, args.seconds, args.data_root, args.out, cfg)
    return 0
