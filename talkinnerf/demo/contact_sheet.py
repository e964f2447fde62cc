"""A contact sheet for people: per subject a row of frames, each shown as RGB | RGB with part labels overlaid
(and the ground-truth keypoints: visible ones white, occluded ones black)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# overlay colours of part labels 1..4 (body, arms, hands, head); 0 (background) is left untouched
PART_COLORS = np.array([[0, 0, 0], [60, 120, 255], [60, 220, 80], [255, 200, 30], [255, 60, 60]], np.float32)


def overlay_parts(rgb: np.ndarray, parts: np.ndarray, opacity: float = 0.5) -> np.ndarray:
    """Blend part colours over ``rgb`` (H,W,3) uint8 where ``parts`` (H,W) > 0. -> (H,W,3) uint8."""
    if parts.max(initial=0) >= len(PART_COLORS):
        raise ValueError(f"part labels must lie in 0..{len(PART_COLORS) - 1}, got {int(parts.max())}")
    col = PART_COLORS[parts]
    a = np.where(parts > 0, opacity, 0.0)[..., None]
    return np.clip(rgb * (1 - a) + col * a, 0, 255).astype(np.uint8)


def _dots(img: np.ndarray, uv: np.ndarray, visible: np.ndarray) -> None:
    h, w = img.shape[:2]
    for (x, y), v in zip(uv, visible):
        c, r = int(np.floor(x)), int(np.floor(y))
        if 0 <= r < h and 0 <= c < w:
            img[r, c] = 255 if v else 0


def contact_sheet(demo_dir: str | Path, subjects: list[str], out: str | Path, frames_per_subject: int = 4,
                  scale: int = 2) -> np.ndarray:
    """Write the sheet PNG to ``out`` and return it (uint8). Reads <demo_dir>/<s>.mp4 and <demo_dir>/<s>/gt/."""
    from PIL import Image

    from talkinnerf.io import atomic_path, load_npz
    from talkinnerf.video.encode import read_video

    demo_dir = Path(demo_dir)
    rows = []
    for s in subjects:
        video = demo_dir / f"{s}.mp4"
        gt = demo_dir / s / "gt"
        if not video.is_file():
            raise FileNotFoundError(f"demo subject {s}: video {video} not found (run `talkinnerf demo synthesize`)")
        frames, _ = read_video(video)
        kp = load_npz(gt / "keypoints2d.npz")
        idx = np.linspace(0, len(frames) - 1, max(1, frames_per_subject)).round().astype(int)
        tiles = []
        for i in idx:
            part_path = gt / "parts" / f"{i:06d}.png"
            if not part_path.is_file():
                raise FileNotFoundError(f"demo subject {s}: part labels {part_path} not found")
            parts = np.array(Image.open(part_path))
            rgb = frames[i][: parts.shape[0], : parts.shape[1]]
            over = overlay_parts(rgb, parts)
            for g in ("body", "left_hand", "right_hand", "face"):
                _dots(over, kp[g][i], kp[f"{g}_visible"][i])
            tiles += [rgb, over, np.full((rgb.shape[0], 2, 3), 255, np.uint8)]
        rows.append(np.concatenate(tiles, axis=1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 2), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    sheet = np.concatenate(rows, axis=0)
    sheet = sheet.repeat(scale, axis=0).repeat(scale, axis=1)
    with atomic_path(out) as tmp:
        Image.fromarray(sheet).save(tmp, format="PNG")
    return sheet
