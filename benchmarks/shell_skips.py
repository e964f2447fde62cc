"""What the canonical density shell (model.density_shell) skips: samples that reach a field, render seconds and the
held-out figures of a saved model's frames, with the shell at several widths (0: off) applied at render time.

python benchmarks/shell_skips.py --model results/models/talkinnerf/model.pt --data results [--subjects ava ben]
    [--shells 0 0.05 0.1] [--frames 3] [--threads 2] [--out benchmarks/results/shell_skips.csv]

A model trained without the shell and rendered with one shows how much of what it draws lies outside the shell
(fog, ghost limbs: `fog_empty` falls, the person's SSIM says whether the body lost anything); a model trained with
one, rendered without, shows what the shell keeps away while it trains. `samples` counts the samples that pass
the skinning-weight test (and the shell) and so reach D_nr and the fields, per frame; every shell renders the same
frames with the same fast renderer, one after the other. `fog_empty` is ssim_parts.py's: the share of the pixels
the matte calls empty (< 0.05) whose rendered opacity exceeds 0.02.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ssim_parts import fog_empty, saved_avatars, saved_model_parser, write_rows   # benchmarks/: on sys.path


def main(argv: list[str] | None = None) -> int:
    ap = saved_model_parser(__doc__, "benchmarks/results/shell_skips.csv")
    ap.add_argument("--shells", type=float, nargs="+", default=[0.0, 0.05, 0.1], help="metres; 0: off")
    args = ap.parse_args(argv)
    if any(s < 0 for s in args.shells):
        ap.error("--shells must be >= 0")

    from talkinnerf.evaluate.metrics import psnr, ssim, ssim_split
    from talkinnerf.evaluate.render_eval import render_view, select_frames
    from talkinnerf.nerf import packed
    from talkinnerf.nerf.render import RenderOptions, render_image
    from talkinnerf.train.trainer import OPACITY_OUTSIDE

    counted = [0]
    evaluate = packed.evaluate_points

    def counting(*a, **k):
        res = evaluate(*a, **k)
        counted[0] += int(res["active"].numel())
        return res

    packed.evaluate_points = counting        # this process only: count what reaches the fields
    rows = []
    for subject, model, model_cfg, step, data, device in saved_avatars(args):
        trained_shell = model.cfg.density_shell
        for frame in select_frames(data.test_frames, args.frames):
            K, R, t = data.camera(frame)
            gt, alpha = data.image(frame).numpy(), data.alpha(frame).numpy()
            for shell in args.shells:
                model.cfg = model.cfg.replace(density_shell=shell)
                counted[0] = 0
                start = time.perf_counter()
                with torch.no_grad():
                    pred, acc = render_view(model, data.conditioning(frame, device), K, R, t,
                                            data.params["transl"][frame], data.posed_box(frame), data.size, step,
                                            4096, model_cfg.background, device, render_image, RenderOptions(),
                                            with_acc=True)
                seconds = time.perf_counter() - start
                rows.append({"subject": subject, "frame": frame, "trained_shell": trained_shell, "shell": shell,
                             "samples": counted[0], "seconds": seconds, "psnr": psnr(pred, gt), "ssim": ssim(pred, gt),
                             **ssim_split(pred, gt, alpha),
                             "fog_empty": fog_empty(acc, alpha, OPACITY_OUTSIDE)})
        model.cfg = model.cfg.replace(density_shell=trained_shell)
        print(f"{subject}: {len(select_frames(data.test_frames, args.frames))} frames", flush=True)

    out = write_rows(args.out, rows)
    cols = ("samples", "seconds", "psnr", "ssim", "ssim_person", "ssim_background", "fog_empty")
    print("shell  " + "  ".join(f"{c:>15s}" for c in cols))
    for shell in args.shells:
        sel = [r for r in rows if r["shell"] == shell]
        print(f"{shell:5.2f}  " + "  ".join(f"{np.nanmean([r[c] for r in sel]):15.4f}" for c in cols))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
