"""How well the fit places a hand the hand model missed, with and without the pose model's stand-in points.

python benchmarks/hand_standins.py --frames results/frames/walk [--video V] [--every 3] [--confidence 0.5]
    [--model resources/body/SMPLX_OPEN_TALKINNERF.npz] [--out benchmarks/results/hand_standins_walk.csv]

MediaPipe Holistic runs once over the subject's kept frames. In every --every-th frame where the hand model found
a hand, that hand is *held back*: the fit does not see its 21 points, as if the hand model had missed it. Two fits
of the whole clip follow (the fit stage's defaults, as `preprocess fit` with `fit: {}`):
- `none`: a missed or held-back hand has no points (the keypoints stage with `pose_hand_confidence: 0`);
- `pose`: it has the pose model's wrist and knuckle points at their visibility × --confidence (the default).
Both see the same detected hands everywhere else. Scored on the held-back hands against their detected points:
mean pixel error of the fitted hand's 21 points (frame pixels, and in lengths of the detected wrist-to-middle
knuckle) and the angle between the fitted and the detected hand direction (wrist to the mean of the index and ring
knuckles). Writes one row per arm and hand side.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from talkinnerf.io import read_json  # noqa: E402
from talkinnerf.preprocess.keypoints import PARTS, KeypointOptions, to_frame_pixels  # noqa: E402
from talkinnerf.preprocess.keypoints.mediapipe import holistic_landmarks, holistic_to_openpose  # noqa: E402

SIDES = ("left_hand", "right_hand")


def holistic_both_ways(video: Path, meta: dict, confidence: float) -> tuple[dict, dict, dict]:
    """(detected parts, stand-in hands, found) in frame pixels: detected = Holistic's own hands; stand-in = the
    pose's points of both hands whatever the hand model found; found[side] = the hand model found that hand."""
    from talkinnerf.video.decode import iter_source_frames

    total = len(meta["source_frames"])
    detected = {p: np.zeros((total, n, 3)) for p, n in (("body", 25), ("left_hand", 21), ("right_hand", 21),
                                                          ("face", 70))}
    standin = {side: np.zeros((total, 21, 3)) for side in SIDES}
    found = {side: np.zeros(total, bool) for side in SIDES}
    source = [int(i) for i in meta["source_frames"]]
    for k, landmarks, width, height, scale in holistic_landmarks(iter_source_frames(video, meta, 1280), total,
                                                                 "hand_standins", source):
        size = dict(width=width, height=height, scale=scale)
        own = holistic_to_openpose(**landmarks, **size)
        stand = holistic_to_openpose(landmarks["pose"], None, None, None, **size, pose_hand_confidence=confidence)
        for p in detected:
            detected[p][k] = own[p]
        for side, key in (("left_hand", "left"), ("right_hand", "right")):
            standin[side][k], found[side][k] = stand[side], landmarks[key] is not None
    to_px = lambda a: to_frame_pixels(a, meta["transform"], KeypointOptions().min_confidence)  # noqa: E731
    return ({p: to_px(a) for p, a in detected.items()}, {s: to_px(a) for s, a in standin.items()}, found)


def hand_direction(points: np.ndarray) -> np.ndarray:
    """(F,2) image direction of each hand: wrist (0) to the mean of the index (5) and ring (13) knuckles."""
    return (points[:, 5, :2] + points[:, 13, :2]) / 2 - points[:, 0, :2]


def score(fitted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Errors of fitted (F,21,2) hand points against detected (F,21,3) ones, over the F held-back frames."""
    err = np.linalg.norm(fitted - truth[..., :2], axis=-1).mean(axis=1)
    length = np.linalg.norm(truth[:, 9, :2] - truth[:, 0, :2], axis=-1)
    a, b = hand_direction(fitted), hand_direction(truth)
    cos = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-9)
    angle = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    return {"frames": len(err), "error_px": float(err.mean()), "error_px_median": float(np.median(err)),
            "error_hand_lengths": float(np.median(err / np.maximum(length, 1e-6))),
            "direction_deg_median": float(np.median(angle)), "direction_deg_p90": float(np.percentile(angle, 90))}


def fitted_hands(model, keypoints: dict, meta: dict, size: int) -> dict[str, np.ndarray]:
    """Fit the clip as the fit stage does with its defaults and project the fitted hands' 21 points."""
    from talkinnerf.preprocess import fit as fit_mod

    opts = fit_mod.FitOptions()
    K = fit_mod.source_intrinsics(meta, opts.fov_deg)
    res = fit_mod.fit_sequence(model, keypoints, size, opts, fit_mod.default_keypoints_fn, K=K)
    params = fit_mod.smooth_fit_params(res.params, opts.smooth_window, opts.smooth_sigma) if opts.smooth \
        else res.params
    with torch.no_grad():
        points = fit_mod.as_part_dict(fit_mod.default_keypoints_fn(fit_mod.body_forward(model, params), model))
        Kt = torch.as_tensor(res.K, dtype=torch.float32)
        Rt = torch.as_tensor(fit_mod.CAMERA_R, dtype=torch.float32)
        tt = torch.as_tensor(res.t, dtype=torch.float32)
        return {side: fit_mod.project(points[side], Kt, Rt, tt).numpy() for side in SIDES}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=Path, required=True, help="a decoded subject's frames folder (meta.json)")
    ap.add_argument("--video", type=Path, default=None, help="its video (default: meta.json's source)")
    ap.add_argument("--every", type=int, default=3, help="hold back every n-th found hand")
    ap.add_argument("--confidence", type=float, default=0.5, help="the stand-ins' confidence factor")
    ap.add_argument("--model", type=Path, default=REPO / "resources/body/SMPLX_OPEN_TALKINNERF.npz")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from talkinnerf.body.model import load_body_model

    meta = read_json(args.frames / "meta.json")
    video = args.video or Path(meta["source"])
    name = args.frames.name
    detected, standin, found = holistic_both_ways(video, meta, args.confidence)
    held = {}
    for side in SIDES:
        idx = np.flatnonzero(found[side])
        held[side] = idx[::args.every]
        print(f"{name} {side}: found in {found[side].mean():.0%} of {len(found[side])} frames; "
              f"{len(held[side])} held back", flush=True)
    model = load_body_model(str(args.model), batch_size=int(meta["count"]), device="cpu")
    rows = []
    for arm in ("none", "pose"):
        kp = {p: detected[p].copy() for p in PARTS}
        for side in SIDES:
            lost = ~found[side]
            lost[held[side]] = True
            kp[side][lost] = standin[side][lost] if arm == "pose" else 0.0
        start = time.perf_counter()
        hands = fitted_hands(model, {p: kp[p].astype(np.float32) for p in PARTS}, meta, int(meta["size"]))
        seconds = time.perf_counter() - start
        for side in SIDES:
            if len(held[side]) == 0:
                continue
            row = {"subject": name, "arm": arm, "side": side, "fit_s": round(seconds, 1),
                   **score(hands[side][held[side]], detected[side][held[side]])}
            rows.append(row)
            print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
                  flush=True)
    if args.out is not None and rows:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".tmp")
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        tmp.replace(args.out)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
