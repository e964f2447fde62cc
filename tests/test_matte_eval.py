"""Matte IoU per backend on ground truth (the preprocessing table's `matte_iou_<backend>` columns)."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from talkinnerf.evaluate import preprocess_accuracy as pa
from talkinnerf.io import write_json
from talkinnerf.video.frames import write_gray_png


def _subject(tmp_path, T=16, size=48):
    """A static-camera scene whose video pixels are its frame pixels (identity transform) with its true alpha."""
    import cv2

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size]
    backdrop = np.stack([60 + xx * 1.2, 90 + yy * 0.8, np.full_like(xx, 150.0)], -1)
    frames, gt = tmp_path / "frames", tmp_path / "gt"
    (frames).mkdir()
    (gt / "alpha").mkdir(parents=True)
    for t in range(T):
        mask = (xx - 20 - int(8 * np.sin(t / 2))) ** 2 + (yy - 24) ** 2 < 90
        image = backdrop.copy()
        image[mask] = (200, 60, 40)
        image = np.clip(image + rng.normal(0, 2, image.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(frames / f"{t:06d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        write_gray_png(gt / "alpha" / f"{t:06d}.png", (mask * 255).astype(np.uint8))
    write_json(frames / "meta.json", {"count": T, "size": size, "source_size": [size, size],
                                      "source_frames": list(range(T)), "transform": {"scale": 1.0, "offset": [0, 0]}})
    return gt, frames


def test_matte_backend_ious_runs_backends_in_memory_and_marks_rvm_without_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("TALKINNERF_WEIGHTS", str(tmp_path / "no_weights"))
    gt, frames = _subject(tmp_path)
    row = pa.matte_backend_ious("s", gt, frames, ["background", "rvm"], {"backend": "mediapipe"})
    assert row["subject"] == "s" and row["matte_iou_background"] > 0.9
    assert math.isnan(row["matte_iou_rvm"]) and "fetch rvm --accept-gpl" in row["matte_note"]
    with pytest.raises(ValueError, match="not compared"):
        pa.matte_backend_ious("s", gt, frames, ["provided"])


def test_preprocess_row_scores_the_workflow_matte_once_and_merges_the_others(monkeypatch, tmp_path):
    from talkinnerf.cli import main
    from talkinnerf.preprocess.matte import MatteOptions, run_matte

    monkeypatch.setenv("TALKINNERF_WEIGHTS", str(tmp_path / "no_weights"))
    gt, frames = _subject(tmp_path)
    run_matte(frames, tmp_path / "matte", MatteOptions(backend="background"))
    others = tmp_path / "others.csv"
    assert main(["evaluate", "matte-backends", "--subject", "s", "--gt", str(gt), "--frames", str(frames),
                 "--backends", "rvm", "--options", '{"backend": "background"}', "--out", str(others)]) == 0
    out = tmp_path / "row.csv"
    assert main(["evaluate", "preprocess", "--subject", "s", "--gt", str(gt), "--frames", str(frames),
                 "--matte", str(tmp_path / "matte"), "--matte-backends", str(others), "--out", str(out)]) == 0
    row = next(csv.DictReader(out.open()))
    assert float(row["matte_iou"]) > 0.9
    assert row["matte_iou_background"] == row["matte_iou"]  # the workflow's own matte, scored once
    assert row["matte_iou_rvm"] == "" and row["matte_iou_mediapipe"] == ""  # n/a (no weights) / not asked
    assert "no weights" in row["matte_note"]
