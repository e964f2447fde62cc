"""Which body part's joints skin the density that draws each labelled pixel of a trained model's frames.

python benchmarks/part_mass.py --model results/models/talkinnerf/model.pt --data results [--subjects ava ben]
    [--frames 3] [--split test] [--threads 2] [--out benchmarks/results/part_mass.csv]

For every person pixel (part label 1-4: body, arms, hands, head; labels from the fit's mesh and the matte) of
``--frames`` frames per subject, the model renders the pixel's opacity split by the part whose joints skin each
sample (TalkinNeRF.render_parts, packed.part_mass; the body pass's compositing weights). A hand seen in front of
the chest and drawn by density that skins with the chest (its colour stored on the canonical chest, where a frame
with the arms down shows it again) appears as hand pixels whose opacity comes from the body part. Prints, per
label, the share of its pixels' opacity drawn by each part, and the mean share drawn by other parts
(train.loss_part's term); writes one CSV row per (subject, frame, label).
"""

from __future__ import annotations

import numpy as np
import torch

from ssim_parts import saved_avatars, saved_model_parser, write_rows   # benchmarks/ is the script's folder: on sys.path

CHUNK = 2048


@torch.no_grad()
def frame_part_mass(model, data, frame: int, device, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(N,5) rendered part mass and (N,) labels of the frame's person pixels (rays missing the posed box: 0)."""
    labels = data.labels(frame).reshape(-1)
    pix = torch.nonzero(labels > 0).squeeze(1)
    rows, cols = pix // data.size, pix % data.size
    origins, dirs, near, far, hit = data.rays(frame, rows, cols)
    mass = torch.zeros(len(pix), 5)
    cond = data.conditioning(frame, device)
    idx = torch.nonzero(hit).squeeze(1)
    for i in range(0, len(idx), CHUNK):
        sel = idx[i:i + CHUNK]
        out = model(origins[sel].to(device), dirs[sel].to(device), near[sel].to(device), far[sel].to(device),
                    cond, step)
        mass[sel] = out["part_mass"].float().cpu()
    return mass, labels[pix]


def main(argv: list[str] | None = None) -> int:
    ap = saved_model_parser(__doc__, "benchmarks/results/part_mass.csv")
    ap.add_argument("--split", choices=("test", "train"), default="test")
    args = ap.parse_args(argv)

    from talkinnerf.body.parts import PART_NAMES
    from talkinnerf.evaluate.render_eval import select_frames
    from talkinnerf.train.losses import misplaced_part_mass

    rows = []
    for subject, model, _, step, data, device in saved_avatars(args):
        model.render_parts = True
        frames = data.test_frames if args.split == "test" else data.train_frames
        for frame in select_frames(frames, args.frames):
            mass, labels = frame_part_mass(model, data, frame, device, step)
            for label in range(1, 5):
                sel = labels == label
                if not bool(sel.any()):
                    continue
                m = mass[sel]
                acc = float(m.sum(1).sum())
                rows.append({"subject": subject, "frame": frame, "label": PART_NAMES[label],
                             "pixels": int(sel.sum()), "opacity": float(m.sum(1).mean()),
                             "misplaced": float(misplaced_part_mass(m, labels[sel])),
                             **{f"by_{PART_NAMES[p]}": float(m[:, p].sum()) / max(acc, 1e-8) for p in range(1, 5)}})
        print(f"{subject}: {len(select_frames(frames, args.frames))} frames", flush=True)

    out = write_rows(args.out, rows)
    parts = [f"by_{PART_NAMES[p]}" for p in range(1, 5)]
    print(f"{'label':>6s}  {'pixels':>7s}  {'opacity':>7s}  {'misplaced':>9s}  " + "  ".join(f"{c:>9s}" for c in parts))
    for label in PART_NAMES[1:]:
        sel = [r for r in rows if r["label"] == label]
        if not sel:
            continue
        w = np.array([r["pixels"] for r in sel], dtype=float)
        mean = lambda c: float(np.average([r[c] for r in sel], weights=w))  # noqa: E731 (pixel-weighted)
        print(f"{label:>6s}  {int(w.sum()):7d}  {mean('opacity'):7.3f}  {mean('misplaced'):9.3f}  "
              + "  ".join(f"{mean(c):9.3f}" for c in parts))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
