"""Identity bleed: per-part PSNR of held-out renders, multi-identity against single-identity (issue 11, item 8).

A multi-identity model that carries one subject's clothing onto another loses quality on exactly the clothed
parts, while a single-identity model of the same subject cannot bleed. So we score each model's held-out renders
(the frames `evaluate render` wrote to render.mp4, in metrics.csv order) against the ground truth on the pixels
of each part, from the part labels of results/parts/<subject>/ (0 background, 1 body, 2 arms, 3 hands, 4 head):
"torso" = body pixels above the projected hip joints, "legs" = body pixels below them, plus arms and head.
A lower multi-id PSNR on torso/legs than single-id (same subject, same frames) is the bleed's signature.

The renders come back through H.264 (yuv420, crf 18), which costs both models the same; the measure is their
difference.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

PARTS = ("torso", "legs", "arms", "head")
HIPS = (1, 2)            # SMPL-X left/right hip joints


def part_masks(labels: np.ndarray, hip_row: float) -> dict[str, np.ndarray]:
    """Boolean masks of the parts of one frame; labels (H,W) uint8, hip_row the image row of the hips."""
    rows = np.arange(labels.shape[0])[:, None]
    body = labels == 1
    return {"torso": body & (rows < hip_row), "legs": body & (rows >= hip_row), "arms": labels == 2,
            "head": labels == 4}


def masked_psnr(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> float:
    """PSNR (dB, data range 1) over the pixels of ``mask``; NaN when the mask is empty."""
    if not mask.any():
        return math.nan
    mse = float(np.mean((pred[mask].astype(np.float64) - gt[mask].astype(np.float64)) ** 2))
    return 100.0 if mse <= 1e-10 else -10.0 * math.log10(mse)


def part_psnr_frames(eval_dir: str | Path, subject: str, data_root: str | Path, model: str,
                     background: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> pd.DataFrame:
    """One row per held-out frame of ``eval_dir`` (metrics.csv + render.mp4): PSNR per part. ``background`` is
    the colour the model was trained on (model.background; black in every config here)."""
    from talkinnerf.camera import project
    from talkinnerf.io import load_npz
    from talkinnerf.video.encode import read_video
    from talkinnerf.video.frames import read_image

    eval_dir, root = Path(eval_dir), Path(data_root)
    frames = pd.read_csv(eval_dir / "metrics.csv")["frame"].astype(int).tolist()
    renders, _ = read_video(eval_dir / "render.mp4")
    if len(renders) < len(frames):
        raise ValueError(f"{eval_dir}/render.mp4 has {len(renders)} frames for {len(frames)} rows of metrics.csv")
    fit = load_npz(root / "smplx" / f"{subject}.npz")
    size = int(fit["size"])
    rows = []
    for i, frame in enumerate(frames):
        rgb = read_image(root / "frames" / subject / f"{frame:06d}.png").astype(np.float64) / 255.0
        alpha = read_image(root / "matte" / subject / f"{frame:06d}.png", gray=True).astype(np.float64) / 255.0
        gt = rgb * alpha[..., None] + np.asarray(background) * (1.0 - alpha[..., None])
        labels = read_image(root / "parts" / subject / f"{frame:06d}.png", gray=True)
        uv, _ = project(fit["joints"][frame][list(HIPS)], fit["K"][frame], fit["R"][frame], fit["t"][frame])
        pred = renders[i, :size, :size].astype(np.float64) / 255.0
        masks = part_masks(labels, float(np.mean(uv[:, 1])))
        row = {"model": model, "subject": subject, "frame": frame}
        row.update({f"psnr_{p}": masked_psnr(pred, gt, m) for p, m in masks.items()})
        rows.append(row)
    return pd.DataFrame(rows)


def bleed_table(frames: pd.DataFrame, multi: str, single: str) -> pd.DataFrame:
    """Per subject: mean part PSNR of ``multi`` and ``single`` (valid frames) and multi − single (negative: the
    multi-identity model is worse on that part, the bleed's signature); a mean row over subjects."""
    cols = [f"psnr_{p}" for p in PARTS if f"psnr_{p}" in frames]
    means = frames.groupby(["subject", "model"], sort=False)[cols].mean()
    rows = []
    for subject in dict.fromkeys(frames["subject"]):
        row = {"subject": subject}
        for c in cols:
            m = means.loc[(subject, multi), c] if (subject, multi) in means.index else math.nan
            s = means.loc[(subject, single), c] if (subject, single) in means.index else math.nan
            part = c.removeprefix("psnr_")
            row[f"{part}_multi"], row[f"{part}_single"], row[f"{part}_delta"] = m, s, m - s
        rows.append(row)
    table = pd.DataFrame(rows)
    mean = table.drop(columns=["subject"]).mean(numeric_only=True).to_dict()
    mean["subject"] = "mean"
    return pd.concat([table, pd.DataFrame([mean])], ignore_index=True)
