"""`talkinnerf evaluate render`: render held-out frames, score them, write metrics.csv/compare.png/render.mp4.

Metrics per test frame on the full frame and on face / hand crops (see regions.py: by default a face detector's box
on the ground-truth frame and hand boxes from the part labels; `regions: joints` gives the fixed joint boxes used
before issue 18). Temporal pose
smoothing (the paper's test-time Gaussian filter) is an option, off in the dataclass and on in the configs:
frame-by-frame detector poses jitter, and the smoothed pose of a held-out frame is closer to what it shows.
"""

from __future__ import annotations

import csv
import inspect
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from talkinnerf.io import atomic_path, write_json
from talkinnerf.nerf.render import RenderOptions
from talkinnerf.train.data import SubjectData, load_subject
from talkinnerf.train.rays import pixel_rays, ray_box_intersect

METRIC_COLUMNS = ("psnr", "ssim", "lpips", "psnr_face", "ssim_face", "lpips_face",
                  "psnr_hands", "ssim_hands", "lpips_hands")
# coverage: mean rendered opacity over the GT person (flags empty renders in the paper tables); the full-frame SSIM
# split into person and background (metrics.ssim_split: the person's part does not depend on the framing)
EXTRA_COLUMNS = ("coverage", "ssim_person", "ssim_background", "person_share")
SMOOTH_KEYS = ("poses_body", "jaw_pose", "expression", "hands", "transl", "K", "t")


@dataclass
class EvalConfig:
    """Options of `evaluate render` (config.yaml `evaluate` section)."""

    smoothing: bool = False          # Gaussian temporal smoothing of poses/expressions/camera before rendering
    smoothing_window: int = 5
    smoothing_sigma: float = 1.0
    chunk: int = 4096                # rays per model call
    render: RenderOptions = field(default_factory=RenderOptions)   # fast path (default) or dense reference
    lpips: bool = True               # LPIPS(VGG) metric when the weights are present, else "n/a"
    regions: str = "detector"        # face/hand boxes: detector (face detector on the GT frame, hands from the part
                                     # labels) | joints (fixed boxes around the fitted joints, before issue 18)
    face_box: float = 0.16           # face crop side (joints) / minimum side (detector), fraction of the frame size
    hand_box: float = 0.10           # hand crop side (joints) / minimum side (detector), fraction of the frame size
    face_scale: float = 1.5          # detector: face box side = face_scale x the detection's longer side
    hand_scale: float = 1.2          # detector: hand box side = hand_scale x the hand pixels' longer side
    region_lpips_size: int = 64      # face/hand crops are resized to this side before LPIPS (0: native size; a crop
                                     # under 16 px is then enlarged bilinearly to 16 px)
    compare_frames: int = 4          # rows of compare.png
    max_frames: int = 0              # evaluate at most this many test frames (evenly spaced); 0: all
    box_padding: float = 0.05        # metres around the posed bbox for ray near/far (as in training)
    device: str = "auto"
    threads: int = 0
    video: bool = True               # write render.mp4
    crf: int = 18

    def __post_init__(self) -> None:
        from talkinnerf.evaluate.regions import REGION_SOURCES

        if self.regions not in REGION_SOURCES:
            raise ValueError(f"evaluate.regions must be one of {REGION_SOURCES}, got {self.regions!r}")

    def region_options(self):
        from talkinnerf.evaluate.regions import RegionOptions

        return RegionOptions(source=self.regions, face_frac=self.face_box, hand_frac=self.hand_box,
                             face_scale=self.face_scale, hand_scale=self.hand_scale)


def get_render_fn():
    from talkinnerf.nerf.render import render_image

    return render_image


def device_render_options(options: RenderOptions, device: torch.device) -> RenderOptions:
    """``options`` as ``device`` runs them: bf16 autocast falls back to float32 (with a warning) where the device
    has no native bf16."""
    options, note = options.for_device(device)
    if note:
        warnings.warn(note)
    return options


def render_view(model, cond, K: torch.Tensor, R: torch.Tensor, t: torch.Tensor, transl: torch.Tensor,
                box: torch.Tensor, size: int, step: int, chunk: int, background, device, render_fn=None,
                options: RenderOptions | None = None, with_acc: bool = False):
    """Render a full size x size frame. box (2,3) is the padded posed box in the posed body frame.

    Returns uint8-ready float (H,W,3) in [0,1]; with ``with_acc`` also the accumulated opacity (H,W) (None when
    the renderer gives none).
    """
    render_fn = render_fn or get_render_fn()
    rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    origins, dirs = pixel_rays(K, R, t, rows.reshape(-1), cols.reshape(-1))
    origins = origins - transl
    near, far, hit = ray_box_intersect(origins, dirs, box)
    # stand-in renderers (tests) take no render options
    takes_options = options is not None and "options" in inspect.signature(render_fn).parameters
    extra = {"options": options} if takes_options else {}
    out = render_fn(model, origins.to(device), dirs.to(device), near.to(device), far.to(device), hit.to(device),
                    cond, step, chunk, **extra)
    rgb = out["rgb"].detach().float().cpu().reshape(size, size, 3).clamp(0, 1).numpy()
    if not with_acc:
        return rgb
    acc = out.get("acc")
    return rgb, (None if acc is None else acc.detach().float().cpu().reshape(size, size).numpy())


def coverage(acc: np.ndarray | None, alpha: np.ndarray) -> float:
    """Mean rendered opacity over the ground-truth person (matte > 0.5): ~1 for a model that renders the subject,
    ~0 for an empty render (a collapsed density). NaN without an opacity or a person in the frame."""
    person = alpha > 0.5
    if acc is None or not person.any():
        return math.nan
    return float(acc[person].mean())


def smooth_subject(subject: SubjectData, window: int, sigma: float) -> None:
    """Smooth the subject's per-frame conditioning and camera in place (whole sequence, along time)."""
    from talkinnerf.preprocess.smoothing import smooth_params

    arrays = {k: subject.params[k].numpy() for k in SMOOTH_KEYS if k in subject.params}
    smoothed = smooth_params(arrays, window, sigma, keys=tuple(arrays))
    for k, v in smoothed.items():
        subject.params[k] = torch.from_numpy(np.asarray(v, dtype=np.float32))


def to_uint8(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, 0, 1) * 255.0 + 0.5).astype(np.uint8)


def write_png(path: Path, rgb: np.ndarray) -> None:
    import cv2

    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), to_uint8(rgb)[:, :, ::-1]):
            raise ValueError(f"cannot write {path}")


def compare_grid(pairs: list[tuple[np.ndarray, ...]], gap: int = 2) -> np.ndarray:
    """Rows of [ground truth | render | ...] (float (H,W,3) tiles of one height per row) separated by white gaps ->
    one float image."""
    rows = []
    for tiles in pairs:
        sep = np.ones((tiles[0].shape[0], gap, 3))
        rows.append(np.concatenate([part for tile in tiles for part in (tile, sep)][:-1], axis=1))
        rows.append(np.ones((gap, rows[-1].shape[1], 3)))
    return np.concatenate(rows[:-1], axis=0)


def frame_metrics(pred: np.ndarray, gt: np.ndarray, boxes: dict[str, Any], lpips_metric,
                  region_lpips_size: int = 64) -> dict[str, float]:
    """Full-frame, face and hands (mean over hands in view) PSNR/SSIM/LPIPS for one frame. PSNR/SSIM of a crop
    are taken at its native pixels; its LPIPS after resizing to ``region_lpips_size`` (0: native; a crop under
    16 px is enlarged bilinearly to 16 px by the metric)."""
    from talkinnerf.evaluate.metrics import psnr, ssim
    from talkinnerf.evaluate.regions import crop

    row = {"psnr": psnr(pred, gt), "ssim": ssim(pred, gt), "lpips": lpips_metric(pred, gt)}
    regions = {"face": [boxes["face"]], "hands": [boxes["left_hand"], boxes["right_hand"]]}
    for name, region_boxes in regions.items():
        vals: dict[str, list[float]] = {"psnr": [], "ssim": [], "lpips": []}
        for box in region_boxes:
            if box is None:
                continue
            p, g = crop(pred, box), crop(gt, box)
            vals["psnr"].append(psnr(p, g))
            vals["ssim"].append(ssim(p, g))
            vals["lpips"].append(lpips_metric(p, g, region_lpips_size) if region_lpips_size else lpips_metric(p, g))
        for metric, v in vals.items():
            finite = [x for x in v if not math.isnan(x)]
            row[f"{metric}_{name}"] = float(np.mean(finite)) if finite else math.nan
    return row


def write_metrics_csv(path: Path, rows: list[dict[str, Any]], lpips_available: bool) -> None:
    """One row per frame (rows carry METRIC_COLUMNS and EXTRA_COLUMNS); LPIPS columns hold "n/a" when the metric is
    unavailable (pandas reads NaN)."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["frame", *METRIC_COLUMNS, *EXTRA_COLUMNS])
        for row in rows:
            cells = [row["frame"]]
            for col in METRIC_COLUMNS:
                v = row[col]
                if col.startswith("lpips") and not lpips_available:
                    cells.append("n/a")
                else:
                    cells.append("" if math.isnan(v) else f"{v:.6f}")
            cells += ["" if math.isnan(row[c]) else f"{row[c]:.4f}" for c in EXTRA_COLUMNS]
            writer.writerow(cells)


def select_frames(frames: list[int], limit: int) -> list[int]:
    if limit <= 0 or limit >= len(frames):
        return list(frames)
    idx = np.linspace(0, len(frames) - 1, limit).round().astype(int)
    return [frames[i] for i in sorted(set(idx.tolist()))]


def load_avatar(model_path: str | Path, subject: str, data_root: str | Path, device_name: str, threads: int,
                box_padding: float, cache_size: int = 1, model_factory=None):
    """The trained model and one of its identities' data: (model, model_cfg, step, data, device). ``threads`` > 0
    sets torch's CPU threads; an unknown subject is an error naming the model's identities."""
    from talkinnerf.train.trainer import default_model_factory, load_model, resolve_device

    if threads > 0:
        torch.set_num_threads(threads)
    device = resolve_device(device_name)
    model, model_cfg, names, step = load_model(model_path, device, model_factory or default_model_factory)
    if subject not in names:
        raise ValueError(f"subject {subject} is not an identity of {model_path} (identities: {names})")
    data = load_subject(data_root, subject, names.index(subject), model_cfg.background, box_padding,
                        cache_size=cache_size)
    return model, model_cfg, step, data, device


def evaluate_render(model_path: str | Path, subject: str, data_root: str | Path, out: str | Path, cfg: EvalConfig,
                    model_factory=None, render_fn=None) -> dict[str, Any]:
    """Render every test-split frame of ``subject`` and write metrics.csv, compare.png, render.mp4."""
    from talkinnerf.evaluate.metrics import LpipsMetric, ssim_split
    from talkinnerf.evaluate.regions import RegionFinder

    out = Path(out)
    model, model_cfg, step, data, device = load_avatar(model_path, subject, data_root, cfg.device, cfg.threads,
                                                       cfg.box_padding, 8, model_factory)
    if not data.test_frames:
        raise ValueError(f"subject {subject}: splits/{subject}.json has no test frames")
    if "joints" not in data.params:
        raise ValueError(f"subject {subject}: smplx/{subject}.npz lacks 'joints' (needed for face/hand crops)")
    # detector boxes from the ground truth alone: the fit's own camera, copied before smoothing; joint boxes as before
    # issue 18 (with the smoothed camera when smoothing is on)
    regions = RegionFinder(data, cfg.region_options()) if cfg.regions == "detector" else None
    if cfg.smoothing:
        smooth_subject(data, cfg.smoothing_window, cfg.smoothing_sigma)
    regions = regions or RegionFinder(data, cfg.region_options())
    frames = select_frames(data.test_frames, cfg.max_frames)
    for frame in frames:         # the boxes first (cached): the detector's time stays out of seconds_per_frame
        regions.boxes(frame)
    regions.close()
    options = device_render_options(cfg.render, device)
    lpips_metric = LpipsMetric(cfg.lpips, device)
    rows, renders, gts = [], [], []
    t0 = time.perf_counter()
    for frame in frames:
        K, R, t = data.camera(frame)
        pred, acc = render_view(model, data.conditioning(frame, device), K, R, t, data.params["transl"][frame],
                                data.posed_box(frame), data.size, step, cfg.chunk, model_cfg.background, device,
                                render_fn, options, with_acc=True)
        gt = data.image(frame).numpy()
        boxes = regions.boxes(frame)
        alpha = data.alpha(frame).numpy()
        rows.append({"frame": frame, **frame_metrics(pred, gt, boxes, lpips_metric, cfg.region_lpips_size),
                     "coverage": coverage(acc, alpha), **ssim_split(pred, gt, alpha)})
        renders.append(pred)
        gts.append(gt)
    seconds = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    write_metrics_csv(out / "metrics.csv", rows, lpips_metric.available)
    picks = select_frames(list(range(len(frames))), cfg.compare_frames)
    write_png(out / "compare.png", compare_grid([(gts[i], renders[i]) for i in picks]))
    if cfg.video:
        from talkinnerf.video.encode import write_video

        write_video(out / "render.mp4", np.stack([to_uint8(r) for r in renders]), data.fps, crf=cfg.crf)
    means = {c: (float(np.nanmean([r[c] for r in rows])) if any(not math.isnan(r[c]) for r in rows) else None)
             for c in (*METRIC_COLUMNS, *EXTRA_COLUMNS)}
    summary = {"model": str(model_path), "subject": subject, "frames": len(frames), "step": step,
               "lpips": lpips_metric.status, "smoothing": cfg.smoothing, "render_autocast": options.autocast,
               "seconds": round(seconds, 3),
               "seconds_per_frame": round(seconds / len(frames), 4), "mean": means,
               "regions": regions.summary(frames)}
    write_json(out / "summary.json", summary)
    return summary

