"""How good is preprocessing on subjects with ground truth (the demo): one CSV row per subject.

Ground truth (docs/contracts.md `resources/demo/s/gt/`) lives in *video* pixels and is indexed by *video* frame;
stage outputs live in *frame* pixels and are indexed by kept frame. meta.json (`source_frames`, `transform`) of
the decoded frames links the two. Metrics:

- matte IoU (alpha > 0.5) per frame, averaged: `matte_iou` for the workflow's own mattes, and
  `matte_iou_<backend>` per matte backend (`matte_backend_ious` runs the backends the workflow did not in
  memory on the same frames; the one it did run is copied from `matte_iou`, not computed twice). A backend that
  cannot run (rvm without its weights) is empty ("n/a" in the table) and `matte_note` says why;
- keypoint error (px, frame pixels) of detected keypoints vs exact 2D ground truth, over points that are both
  detected (confidence > 0) and visible in the ground truth; overall and per part;
- fitted-joint 3D error (mm) after pelvis alignment, 22 body joints and 30 hand joints separately, compared in
  each one's *camera* frame (the fit may choose a different world frame; the camera view is what both share,
  and a crop only changes K, not R, t);
- fitted-joint 2D error (px): fitted joints through the fitted camera vs gt joints through the gt camera, mapped
  to frame pixels;
- part labels: pixel accuracy and mean IoU over the 5 classes (from a confusion matrix summed over frames;
  classes absent from both prediction and ground truth are left out of the mean).
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
import time
from pathlib import Path

import numpy as np

from talkinnerf.io import atomic_path, load_npz, read_json

BODY_JOINTS = np.arange(0, 22)    # SMPL-X: pelvis .. right wrist
HAND_JOINTS = np.arange(25, 55)   # SMPL-X: 15 left-hand then 15 right-hand finger joints
PELVIS = 0
NUM_PARTS = 5
KEYPOINT_PARTS = ("body", "left_hand", "right_hand", "face")
MATTE_BACKENDS = ("background", "mediapipe", "rvm")  # compared in the preprocessing table
MATTE_COLUMNS = [f"matte_iou_{b}" for b in MATTE_BACKENDS]
COLUMNS = ["subject", "frames", "matte_iou", *MATTE_COLUMNS, "keypoints_px", "keypoints_body_px", "keypoints_hands_px",
           "keypoints_face_px", "keypoints_detected", "joints3d_body_mm", "joints3d_hands_mm",
           "joints2d_body_px", "joints2d_hands_px", "parts_accuracy", "parts_miou", "matte_note"]


# ---------------------------------------------------------------------------------------------- pure metrics


def mask_iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """IoU of two bool masks of equal shape; 1.0 when both are empty."""
    pred, gt = np.asarray(pred, bool), np.asarray(gt, bool)
    if pred.shape != gt.shape:
        raise ValueError(f"mask shapes differ: {pred.shape} vs {gt.shape}")
    union = np.logical_or(pred, gt).sum()
    return 1.0 if union == 0 else float(np.logical_and(pred, gt).sum() / union)


def keypoint_error(pred: np.ndarray, gt: np.ndarray, gt_visible: np.ndarray) -> tuple[float, int]:
    """Mean Euclidean distance (px) over points detected in ``pred`` (..., N, 3 with conf) and visible in gt.

    gt: (..., N, 2); gt_visible: (..., N) bool. Returns (mean error or NaN, number of points used).
    """
    pred = np.asarray(pred, np.float64)
    use = (pred[..., 2] > 0) & np.asarray(gt_visible, bool)
    if not use.any():
        return math.nan, 0
    dist = np.linalg.norm(pred[..., :2] - np.asarray(gt, np.float64), axis=-1)
    return float(dist[use].mean()), int(use.sum())


def to_camera(points: np.ndarray, R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """World points (F,N,3) → camera frame with per-frame R (F,3,3), t (F,3) (or shared (3,3), (3,))."""
    R = np.broadcast_to(np.asarray(R, np.float64), (len(points), 3, 3))
    t = np.broadcast_to(np.asarray(t, np.float64), (len(points), 3))
    return np.einsum("fij,fnj->fni", R, np.asarray(points, np.float64)) + t[:, None, :]


def project(points: np.ndarray, K: np.ndarray, R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Pinhole projection (OpenCV convention) of world points (F,N,3) → pixels (F,N,2)."""
    cam = to_camera(points, R, t)
    K = np.broadcast_to(np.asarray(K, np.float64), (len(points), 3, 3))
    uvw = np.einsum("fij,fnj->fni", K, cam)
    return uvw[..., :2] / uvw[..., 2:3]


def root_aligned_error(pred: np.ndarray, gt: np.ndarray, joints: np.ndarray, root: int = PELVIS) -> float:
    """Mean distance over ``joints`` after subtracting each one's ``root`` joint; pred, gt (F,J,3) → same unit."""
    pred = np.asarray(pred, np.float64)
    gt = np.asarray(gt, np.float64)
    p = pred[:, joints] - pred[:, root:root + 1]
    g = gt[:, joints] - gt[:, root:root + 1]
    return float(np.linalg.norm(p - g, axis=-1).mean())


def confusion(pred: np.ndarray, gt: np.ndarray, classes: int = NUM_PARTS) -> np.ndarray:
    """(classes, classes) int64 confusion matrix, rows = ground truth, columns = prediction."""
    pred, gt = np.asarray(pred).ravel().astype(np.int64), np.asarray(gt).ravel().astype(np.int64)
    if pred.shape != gt.shape:
        raise ValueError(f"label maps differ in size: {pred.size} vs {gt.size}")
    if pred.size and (min(pred.min(), gt.min()) < 0 or max(pred.max(), gt.max()) >= classes):
        raise ValueError(f"part labels must lie in 0..{classes - 1}")
    return np.bincount(gt * classes + pred, minlength=classes * classes).reshape(classes, classes)


def parts_scores(matrix: np.ndarray) -> tuple[float, float]:
    """(pixel accuracy, mean IoU over classes present in prediction or ground truth) of a confusion matrix."""
    matrix = np.asarray(matrix, np.float64)
    total = matrix.sum()
    if total == 0:
        return math.nan, math.nan
    tp = np.diag(matrix)
    union = matrix.sum(0) + matrix.sum(1) - tp
    present = union > 0
    return float(tp.sum() / total), float((tp[present] / union[present]).mean())


# ---------------------------------------------------------------------------------------------- io helpers


def warp_to_frame(image: np.ndarray, transform: dict, size: int, nearest: bool) -> np.ndarray:
    """Resample a video-pixel image (H,W) into the size×size frame with meta.json ``transform``.

    Frame pixel centre u+0.5 = a (x+0.5) + o, hence in index terms u = a x + (o + a/2 - 1/2).
    Bilinear sampling (nearest for labels), no prefilter: fine for thresholded masks.
    """
    import cv2

    a = float(transform["scale"])
    ox, oy = (float(v) for v in transform["offset"])
    M = np.array([[a, 0.0, ox + 0.5 * a - 0.5], [0.0, a, oy + 0.5 * a - 0.5]])
    interp = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.warpAffine(image, M, (size, size), flags=interp, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _source_rows(array: np.ndarray, source_frames: list[int], what: str) -> np.ndarray:
    if len(array) <= max(source_frames):
        raise ValueError(f"{what} has {len(array)} frames; the decoded frames need source frame {max(source_frames)}")
    return array[np.asarray(source_frames)]


def _ground_truth(gt_dir: Path, meta: dict, nearest: bool):
    """Yield the ground truth of each kept frame warped into frame pixels (S,S)."""
    from talkinnerf.video.frames import read_image

    size = int(meta["size"])
    w, h = meta["source_size"]
    for src in meta["source_frames"]:
        gt_path = gt_dir / f"{src:06d}.png"
        if not gt_path.is_file():
            raise FileNotFoundError(f"ground truth {gt_path} missing (source frame {src})")
        gt = read_image(gt_path, gray=True)
        if gt.shape != (h, w):
            raise ValueError(f"ground truth {gt_path} is {gt.shape[1]}x{gt.shape[0]}, the video is {w}x{h}")
        yield warp_to_frame(gt, meta["transform"], size, nearest)


def _image_pairs(pred_dir: Path, gt_dir: Path, meta: dict, nearest: bool):
    """Yield (prediction (S,S), ground truth warped into frame pixels (S,S)) per kept frame."""
    from talkinnerf.video.frames import read_image

    size = int(meta["size"])
    for i, gt in enumerate(_ground_truth(gt_dir, meta, nearest)):
        pred_path = pred_dir / f"{i:06d}.png"
        if not pred_path.is_file():
            raise FileNotFoundError(f"{pred_path} missing (frame {i})")
        pred = read_image(pred_path, gray=True)
        if pred.shape != (size, size):
            raise ValueError(f"{pred_path} is {pred.shape[1]}x{pred.shape[0]}, frames are {size}x{size}")
        yield pred, gt


# ---------------------------------------------------------------------------------------------- per subject


def matte_metric(matte_dir: Path, gt: Path, meta: dict) -> float:
    ious = [mask_iou(p > 127, g > 127) for p, g in _image_pairs(matte_dir, gt / "alpha", meta, nearest=False)]
    return float(np.mean(ious))


def alpha_iou(alphas: np.ndarray, gt: Path, meta: dict) -> float:
    """Mean IoU (alpha > 0.5) of in-memory mattes uint8 (T,S,S), one per kept frame, vs the ground truth."""
    if len(alphas) != len(meta["source_frames"]):
        raise ValueError(f"{len(alphas)} mattes for {len(meta['source_frames'])} frames")
    truth = _ground_truth(gt / "alpha", meta, nearest=False)
    return float(np.mean([mask_iou(a > 127, g > 127) for a, g in zip(alphas, truth)]))


def matte_backend_ious(subject: str, gt: str | os.PathLike, frames: str | os.PathLike, backends: list[str],
                       options: dict | None = None) -> dict:
    """Run each matte backend of ``backends`` in memory on the decoded frames and score it against the ground
    truth: {"subject", "matte_iou_<backend>" ..., "matte_note"}. ``options`` is the config's `matte` section
    (its backend is replaced). rvm without its weights file is NaN with a note, not an error."""
    from talkinnerf.options import from_dict
    from talkinnerf.preprocess.matte import MatteOptions, compute_mattes, rvm_weights_path
    from talkinnerf.video.frames import read_frames

    unknown = sorted(set(backends) - set(MATTE_BACKENDS))
    if unknown:
        raise ValueError(f"matte backends {unknown} are not compared; known: {list(MATTE_BACKENDS)}")
    gt, frames = Path(gt), Path(frames)
    meta = read_json(frames / "meta.json")
    images = read_frames(frames)
    base = from_dict(MatteOptions, options or {}, "config section 'matte'")
    row: dict = {"subject": subject}
    notes = []
    for backend in backends:
        opts = dataclasses.replace(base, backend=backend)
        if backend == "rvm" and not rvm_weights_path(opts).is_file():
            row[f"matte_iou_{backend}"] = math.nan
            notes.append("rvm: no weights file (talkinnerf weights fetch rvm --accept-gpl)")
            print(f"matte backend rvm: n/a, no weights at {rvm_weights_path(opts)}")
            continue
        start = time.perf_counter()
        row[f"matte_iou_{backend}"] = alpha_iou(compute_mattes(images, opts, frames), gt, meta)
        print(f"matte backend {backend}: IoU {row[f'matte_iou_{backend}']:.4f} "
              f"({time.perf_counter() - start:.1f} s for {len(images)} frames)")
    row["matte_note"] = "; ".join(notes)
    return row


def parts_metric(parts_dir: Path, gt: Path, meta: dict) -> tuple[float, float]:
    matrix = np.zeros((NUM_PARTS, NUM_PARTS), np.int64)
    for p, g in _image_pairs(parts_dir, gt / "parts", meta, nearest=True):
        matrix += confusion(p, g)
    return parts_scores(matrix)


def keypoint_metrics(keypoints_npz: Path, gt: Path, meta: dict) -> dict[str, float]:
    from talkinnerf.video.decode import apply_transform

    pred = load_npz(keypoints_npz)
    truth = load_npz(gt / "keypoints2d.npz")
    errors, counts, out = [], [], {}
    for part in KEYPOINT_PARTS:
        if part not in pred or part not in truth:
            raise ValueError(f"{keypoints_npz} or {gt / 'keypoints2d.npz'} lacks {part!r}")
        g = apply_transform(_source_rows(truth[part], meta["source_frames"], f"gt keypoints {part}"),
                            meta["transform"])
        vis = _source_rows(truth[f"{part}_visible"], meta["source_frames"], f"gt keypoints {part}_visible")
        if len(pred[part]) != len(g):
            raise ValueError(f"{keypoints_npz}: {len(pred[part])} frames of {part}, meta.json has {len(g)}")
        err, n = keypoint_error(pred[part], g, vis)
        out[part] = (err, n)
        if n:
            errors.append(err * n)
            counts.append(n)
    visible = sum(int(_source_rows(truth[f"{p}_visible"], meta["source_frames"], p).sum()) for p in KEYPOINT_PARTS)
    hands_n = out["left_hand"][1] + out["right_hand"][1]
    hands = (sum(out[p][0] * out[p][1] for p in ("left_hand", "right_hand") if out[p][1]) / hands_n
             if hands_n else math.nan)
    return {
        "keypoints_px": sum(errors) / sum(counts) if counts else math.nan,
        "keypoints_body_px": out["body"][0],
        "keypoints_hands_px": hands,
        "keypoints_face_px": out["face"][0],
        "keypoints_detected": sum(counts) / visible if visible else math.nan,
    }


def joint_metrics(smplx_npz: Path, gt: Path, meta: dict) -> dict[str, float]:
    from talkinnerf.video.decode import apply_transform

    fit = load_npz(smplx_npz)
    for key in ("joints", "K", "R", "t"):
        if key not in fit:
            raise ValueError(f"{smplx_npz} lacks {key!r}")
    gt_joints = np.load(gt / "joints3d.npy") if (gt / "joints3d.npy").is_file() else None
    if gt_joints is None:
        raise FileNotFoundError(f"ground truth {gt / 'joints3d.npy'} missing")
    cam = read_json(gt / "camera.json")
    gt_joints = _source_rows(gt_joints, meta["source_frames"], str(gt / "joints3d.npy"))
    if fit["joints"].shape != gt_joints.shape:
        raise ValueError(f"{smplx_npz} joints {fit['joints'].shape} vs ground truth {gt_joints.shape}")
    gt_R, gt_t = np.asarray(cam["R"], np.float64), np.asarray(cam["t"], np.float64)
    fit_cam = to_camera(fit["joints"], fit["R"], fit["t"])
    gt_cam = to_camera(gt_joints, gt_R, gt_t)
    fit_2d = project(fit["joints"], fit["K"], fit["R"], fit["t"])
    gt_2d = apply_transform(project(gt_joints, np.asarray(cam["K"], np.float64), gt_R, gt_t), meta["transform"])
    px = np.linalg.norm(fit_2d - gt_2d, axis=-1)
    return {
        "joints3d_body_mm": 1000.0 * root_aligned_error(fit_cam, gt_cam, BODY_JOINTS),
        "joints3d_hands_mm": 1000.0 * root_aligned_error(fit_cam, gt_cam, HAND_JOINTS),
        "joints2d_body_px": float(px[:, BODY_JOINTS].mean()),
        "joints2d_hands_px": float(px[:, HAND_JOINTS].mean()),
    }


def evaluate_subject(subject: str, gt: str | os.PathLike, frames: str | os.PathLike,
                     matte: str | os.PathLike | None = None, keypoints: str | os.PathLike | None = None,
                     smplx: str | os.PathLike | None = None, parts: str | os.PathLike | None = None,
                     matte_backends: str | os.PathLike | None = None) -> dict:
    """One row of metrics for ``subject``; a stage left out (None) gives NaN in its columns.

    ``matte_backends``: the CSV row of `matte_backend_ious` (the backends the workflow did not run); the backend
    that made ``matte`` (its meta.json) gets ``matte_iou`` in its own column."""
    gt, frames = Path(gt), Path(frames)
    if not gt.is_dir():
        raise FileNotFoundError(f"ground truth folder {gt} of subject {subject} does not exist")
    meta = read_json(frames / "meta.json")
    row: dict = {c: math.nan for c in COLUMNS}
    row["subject"], row["frames"] = subject, int(meta["count"])
    row["matte_note"] = ""
    try:
        if matte is not None:
            row["matte_iou"] = matte_metric(Path(matte), gt, meta)
            ran = Path(matte) / "meta.json"
            backend = read_json(ran).get("backend") if ran.is_file() else None
            if f"matte_iou_{backend}" in row:
                row[f"matte_iou_{backend}"] = row["matte_iou"]
        if matte_backends is not None:
            row.update(read_matte_backends(Path(matte_backends), subject))
        if keypoints is not None:
            row.update(keypoint_metrics(Path(keypoints), gt, meta))
        if smplx is not None:
            row.update(joint_metrics(Path(smplx), gt, meta))
        if parts is not None:
            row["parts_accuracy"], row["parts_miou"] = parts_metric(Path(parts), gt, meta)
    except (ValueError, FileNotFoundError) as err:
        raise type(err)(f"subject {subject}: {err}") from None
    return row


def read_matte_backends(path: Path, subject: str) -> dict:
    """The `matte_iou_<backend>` values and note of ``subject`` in a CSV written by `evaluate matte-backends`."""
    with open(path, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("subject") == subject]
    if len(rows) != 1:
        raise ValueError(f"{path} has {len(rows)} rows for subject {subject}, expected 1")
    out: dict = {"matte_note": rows[0].get("matte_note") or ""}
    for column in MATTE_COLUMNS:
        if column in rows[0]:
            out[column] = float(rows[0][column]) if rows[0][column] else math.nan
    return out


def write_rows(path: str | os.PathLike, rows: list[dict], columns: list[str] | None = None) -> None:
    """CSV with COLUMNS as header, floats with 6 significant digits, NaN as empty."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns or COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else
                                 f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
