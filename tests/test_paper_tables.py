"""The paper's tables (talkinnerf.report.paper_tables) and the identity-bleed measure."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from talkinnerf.evaluate.bleed import bleed_table, masked_psnr, part_masks
from talkinnerf.report import paper_tables as pt


def _csv(path, **columns):
    pd.DataFrame(columns).to_csv(path, index=False)
    return path


def test_means_skip_nan_frames_and_report_the_count(tmp_path):
    a = _csv(tmp_path / "a.csv", frame=[0, 1, 2], psnr_hands=[18.0, np.nan, 20.0], ssim_hands=[0.5, 0.6, 0.7],
             lpips_hands=[0.1, 0.2, 0.3])
    b = _csv(tmp_path / "b.csv", frame=[0, 1], psnr_hands=[np.nan, np.nan], ssim_hands=[0.4, 0.4],
             lpips_hands=[np.nan, np.nan])
    table = pt.metric_table([("Complete Approach", [a]), ("W/o background", [b])], pt.TABLE1_METRICS)
    full = table.iloc[0]
    assert full.psnr_hands == pytest.approx(19.0) and full.psnr_hands_n == 2 and full.frames == 3
    md = pt.to_markdown(table, pt.TABLE1_METRICS)
    assert "19.00 (2/3)" in md                              # one NaN frame no longer blanks the cell
    assert "| W/o background | n/a |" in md                 # no valid frame at all: n/a
    assert "200.00" in md                                   # LPIPS* = LPIPS x 1e3 (mean 0.2)


def test_latex_has_the_papers_columns_with_arrows(tmp_path):
    a = _csv(tmp_path / "a.csv", frame=[0], psnr=[25.0], ssim=[0.91], lpips=[0.038], lpips_hands=[0.13])
    table = pt.metric_table([("Ours (Multi-Id)", [a])], pt.TABLE3_METRICS)
    tex = pt.to_latex(table, pt.TABLE3_METRICS, caption="Table 3")
    header = next(line for line in tex.splitlines() if line.startswith("Method"))
    assert r"PSNR $\uparrow$" in header and r"SSIM $\uparrow$" in header
    assert r"LPIPS* $\downarrow$" in header and r"LPIPS*$_{\mathrm{hands}}$ $\downarrow$" in header
    assert r"\toprule" in tex and "38.00" in tex and "Ours (Multi-Id)" in tex
    md = pt.to_markdown(table, pt.TABLE3_METRICS)
    assert "PSNR ↑" in md and "LPIPS*_hands ↓" in md
    pt.write_all(table, tmp_path / "t3", pt.TABLE3_METRICS, "caption")
    assert {p.suffix for p in tmp_path.glob("t3.*")} == {".csv", ".md", ".tex"}


def test_rows_with_empty_renders_say_so(tmp_path):
    a = _csv(tmp_path / "a.csv", frame=[0, 1, 2], psnr=[17.0, 17.5, 25.0], ssim=[0.7, 0.7, 0.9],
             lpips=[0.3, 0.3, 0.1], lpips_hands=[0.6, 0.6, 0.2], coverage=[0.0, 0.01, 0.93])
    b = _csv(tmp_path / "b.csv", frame=[0], psnr=[25.0], ssim=[0.9], lpips=[0.1], lpips_hands=[0.2], coverage=[0.95])
    table = pt.metric_table([("HumanNeRF", [a]), ("Ours (Multi-Id)", [b])], pt.TABLE3_METRICS)
    assert table.empty_frames.tolist() == [2, 0]
    md = pt.to_markdown(table, pt.TABLE3_METRICS)
    assert "| HumanNeRF [empty render: 2/3 frames] |" in md and "| Ours (Multi-Id) |" in md
    assert "HumanNeRF [empty render: 2/3 frames]" in pt.to_latex(table, pt.TABLE3_METRICS)


def test_cost_table_computes_the_saving_of_one_multi_identity_run():
    multi = {"iterations": 2000, "seconds": 400.0, "device": "cpu", "subjects": ["a", "b", "c"]}
    singles = [{"iterations": 1333, "seconds": 250.0, "device": "cpu"} for _ in range(3)]
    table = pt.cost_table(multi, singles)
    saving = table[table.method == "saving of multi-identity"].iloc[0]
    assert saving.saving_iterations == pytest.approx(100 * (1 - 2000 / 3999))
    assert saving.saving_seconds == pytest.approx(100 * (1 - 400 / 750))
    assert len(table) == 1 + 3 + 3                          # multi, each single run, their sum, saving, paper
    assert table.iloc[4].iterations == 3999 and table.iloc[-1].saving_iterations == 85.0


def test_novel_series_and_orderings(tmp_path):
    entries = []
    for method, base in (("fine-tuned", 22.0), ("scratch", 18.0)):
        for secs in (1, 2, 4):
            path = _csv(tmp_path / f"{method}{secs}.csv", frame=[0, 1], psnr=[base + secs, base + secs],
                        ssim=[0.8, 0.8], lpips=[0.1, 0.1])
            entries.append((method, float(secs), [path]))
    table = pt.novel_series(entries, ["psnr", "ssim", "lpips"])
    assert list(table.columns[:3]) == ["method", "seconds", "frames"]
    ft = table[table.method == "fine-tuned"].sort_values("seconds")
    assert list(ft.psnr) == [23.0, 24.0, 26.0]
    from talkinnerf.report.figures import plot_novel_series

    plot_novel_series(table, tmp_path / "fig7b.png")
    assert (tmp_path / "fig7b.png").stat().st_size > 1000
    t3 = pd.DataFrame({"method": ["HumanNeRF", "single", "multi"], "psnr": [25.0, 25.5, 27.0]})
    assert pt.orderings(t3, "psnr", ["multi", "single", "HumanNeRF"])
    assert not pt.orderings(t3, "psnr", ["single", "multi", "HumanNeRF"])


def test_lipsync_table_says_which_metric_and_averages_pairs(tmp_path):
    rows = [_csv(tmp_path / f"{i}.csv", method=["m"], corr=[c], corr_best=[c + 0.1], offset=[o], frames=[50])
            for i, (c, o) in enumerate(((0.5, -1), (np.nan, np.nan), (0.7, 1)))]
    table = pt.lipsync_table([("Ours (Multi-Id)", rows)])
    row = table.iloc[0]
    assert row["corr"] == pytest.approx(0.6) and row["corr_n"] == 2 and row["abs_offset"] == pytest.approx(1.0)
    md = pt.to_markdown(table, ["corr", "corr_best", "abs_offset"], extra=["frames_used"])
    assert "mouth-opening corr. (lag 0) ↑" in md and "(2/3)" in md


def test_part_masks_split_the_body_at_the_hips_and_bleed_shows_as_a_negative_delta():
    labels = np.zeros((10, 4), np.uint8)
    labels[1:9, 1:3] = 1
    labels[2, 0] = 2
    masks = part_masks(labels, hip_row=5)
    assert masks["torso"].sum() == 8 and masks["legs"].sum() == 8 and masks["arms"].sum() == 1
    gt = np.zeros((10, 4, 3))
    assert masked_psnr(gt + 0.1, gt, masks["torso"]) == pytest.approx(20.0)
    assert math.isnan(masked_psnr(gt, gt, masks["head"]))
    frames = pd.DataFrame({"model": ["multi", "single"] * 2, "subject": ["a", "a", "b", "b"],
                           "psnr_torso": [15.0, 17.0, 20.0, 20.5], "psnr_legs": [19.0, 19.0, 22.0, 22.0]})
    table = bleed_table(frames, "multi", "single")
    assert table.loc[0, "torso_delta"] == pytest.approx(-2.0)
    assert table.iloc[-1]["subject"] == "mean" and table.iloc[-1]["torso_delta"] == pytest.approx(-1.25)


def test_orderings_name_what_is_and_is_not_reproduced():
    t3 = pd.DataFrame({"method": ["HumanNeRF", "Ours (Single-Id)", "Ours (Multi-Id)"], "psnr": [25.0, 25.5, 27.0],
                       "ssim": [0.91, 0.92, 0.90], "lpips": [0.04, 0.03, 0.02], "lpips_hands": [0.1, 0.1, np.nan]})
    t2 = pd.DataFrame({"method": ["W/o jaw for the face", "Complete Approach"], "psnr_face": [19.0, 20.0],
                       "ssim_face": [0.75, 0.74], "lpips_face": [0.03, 0.03]})
    cost = pt.cost_table({"iterations": 2000, "seconds": 100.0, "subjects": [1, 2, 3]},
                         [{"iterations": 1333, "seconds": 60.0}] * 3)
    fig7b = pd.DataFrame({"method": ["ft"] * 3 + ["scratch"] * 3, "seconds": [1, 2, 4] * 2,
                          "psnr": [20, 21, 22, 15, 17, 16], "ssim": [0.8] * 6, "lpips": [0.2, 0.1, 0.05] * 2})
    table = pt.orderings_table(table2=t2, table3=t3, cost=cost, fig7b=fig7b).set_index(["claim", "metric"])
    t3_claim = "Table 3: multi-id > single-id > HumanNeRF"
    assert table.loc[(t3_claim, "psnr"), "reproduced"] == "yes"
    assert table.loc[(t3_claim, "ssim"), "reproduced"] == "no"
    assert table.loc[(t3_claim, "lpips_hands"), "reproduced"] == "n/a"
    assert table.loc[("Table 2: the jaw helps the face", "psnr_face"), "reproduced"] == "yes"
    assert table.loc[("Table 2: the jaw helps the face", "lpips_face"), "reproduced"] == "no"   # a tie is no win
    assert "27" in table.loc[(t3_claim, "psnr"), "values"]
    assert table.loc[("Fig. 7b: ft improves with more seconds", "psnr"), "reproduced"] == "yes"
    assert table.loc[("Fig. 7b: scratch improves with more seconds", "psnr"), "reproduced"] == "no"
    assert "| yes |" in pt.orderings_markdown(table.reset_index())
