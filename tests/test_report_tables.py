"""Paper-style tables from per-frame metric CSVs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from talkinnerf.report.tables import concat_tables, summarise_settings, to_markdown, write_table


def _metrics(root, setting, subject, psnr, lpips=None):
    folder = root / setting / subject
    folder.mkdir(parents=True)
    frame = pd.DataFrame({"frame": range(len(psnr)), "psnr": psnr, "ssim": [0.9] * len(psnr),
                          "lpips": lpips if lpips is not None else [np.nan] * len(psnr)})
    frame.to_csv(folder / "metrics.csv", index=False)


def test_summary_means_per_subject_and_setting(tmp_path):
    _metrics(tmp_path, "a", "s1", [20.0, 22.0])
    _metrics(tmp_path, "a", "s2", [30.0, 30.0])
    _metrics(tmp_path, "b", "s1", [10.0, 10.0], lpips=[0.1, 0.3])
    _metrics(tmp_path, "b", "s2", [12.0, 14.0], lpips=[0.2, 0.2])
    table = summarise_settings(tmp_path, ["a", "b"], ["s1", "s2"])
    row = table[(table.setting == "a") & (table.subject == "s1")].iloc[0]
    assert row.psnr == pytest.approx(21.0)
    mean_a = table[(table.setting == "a") & (table.subject == "mean")].iloc[0]
    assert mean_a.psnr == pytest.approx(25.5)
    assert math.isnan(mean_a.lpips)  # never computed for setting a -> stays missing, not 0
    mean_b = table[(table.setting == "b") & (table.subject == "mean")].iloc[0]
    assert mean_b.lpips == pytest.approx(0.2)


def test_markdown_shows_na_and_scaled_lpips(tmp_path):
    _metrics(tmp_path, "a", "s1", [20.0], lpips=[0.125])
    _metrics(tmp_path, "b", "s1", [20.0])
    md = to_markdown(summarise_settings(tmp_path, ["a", "b"], ["s1"]))
    assert "lpips*" in md and "125.000" in md and "n/a" in md
    assert "| a | s1 | 1 | 20.000 |" in md  # frame counts print as integers


def test_person_ssim_is_summarised_where_the_evaluation_has_it(tmp_path):
    _metrics(tmp_path, "a", "s1", [20.0, 22.0])
    frames = pd.read_csv(tmp_path / "a" / "s1" / "metrics.csv").assign(ssim_person=[0.4, 0.6])
    frames.to_csv(tmp_path / "a" / "s1" / "metrics.csv", index=False)
    _metrics(tmp_path, "a", "s2", [30.0])                      # an older CSV without the column
    table = summarise_settings(tmp_path, ["a"], ["s1", "s2"])
    assert "ssim_person" in table.columns
    rows = table.set_index("subject")
    assert rows.loc["s1", "ssim_person"] == pytest.approx(0.5) and math.isnan(rows.loc["s2", "ssim_person"])
    assert rows.loc["mean", "ssim_person"] == pytest.approx(0.5)    # the mean over the subjects that have it
    assert "ssim_person" in to_markdown(table)


def test_missing_evaluation_names_subject(tmp_path):
    _metrics(tmp_path, "a", "s1", [20.0])
    with pytest.raises(FileNotFoundError, match="s2"):
        summarise_settings(tmp_path, ["a"], ["s1", "s2"])


def test_concat_appends_mean_and_writes_atomically(tmp_path):
    for name, iou in (("x", 0.9), ("y", 0.7)):
        pd.DataFrame([{"subject": name, "matte_iou": iou}]).to_csv(tmp_path / f"{name}.csv", index=False)
    table = concat_tables([tmp_path / "x.csv", tmp_path / "y.csv"])
    assert list(table.subject) == ["x", "y", "mean"]
    assert table.matte_iou.iloc[-1] == pytest.approx(0.8)
    write_table(table, tmp_path / "out.csv", tmp_path / "out.md")
    assert "| mean | 0.800 |" in (tmp_path / "out.md").read_text()
    assert pd.read_csv(tmp_path / "out.csv").shape == (3, 2)
    assert not list(tmp_path.glob(".out*"))  # no temp files left behind


def test_concat_mean_row_keeps_the_reasons_of_na_cells(tmp_path):
    note = "rvm: no weights file"
    for name in ("x", "y"):
        pd.DataFrame([{"subject": name, "matte_iou_rvm": float("nan"), "matte_iou": 0.9,
                       "matte_note": note}]).to_csv(tmp_path / f"{name}.csv", index=False)
    table = concat_tables([tmp_path / "x.csv", tmp_path / "y.csv"])
    mean = table.iloc[-1]
    assert mean.subject == "mean" and pd.isna(mean.matte_iou_rvm) and mean.matte_note == note
