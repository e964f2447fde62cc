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


def _meta(iterations, seconds, patches=4, patch_size=16, world_size=1, device="cpu", **extra):
    return {"iterations": iterations, "seconds": seconds, "world_size": world_size, "device": device,
            "config": {"patches": patches, "patch_size": patch_size}, **extra}


def _run(tmp_path, split, seed, multi_psnr, single_psnr, multi_meta=None, single_meta=None):
    """One (split, seed) of the §3.3 table: a multi-identity model over a, b and one single model per subject."""
    def metrics(name, value):
        return str(_csv(tmp_path / f"{split}{seed}{name}.csv", frame=[0, 1], psnr=[value, value], ssim=[0.9, 0.9],
                        lpips=[0.05, 0.05]))
    return {"split": split, "seed": seed,
            "multi": {"meta": multi_meta or _meta(2000, 400.0 + seed, subjects=["a", "b"]),
                      "metrics": [metrics("ma", multi_psnr), metrics("mb", multi_psnr)]},
            "single": [{"subject": s, "meta": single_meta or _meta(1333, 250.0), "metrics": [metrics(s, single_psnr)]}
                       for s in ("a", "b")]}


def test_cost_table_shows_rays_world_size_and_the_quality_each_reached(tmp_path):
    runs = [_run(tmp_path, "unseen", k, 26.0 + 0.1 * k, 26.5 + 0.1 * k) for k in (0, 1)]
    runs += [_run(tmp_path, "interleaved", k, 27.0, 27.2, multi_meta=_meta(2000, 300.0, patches=8, world_size=4,
                                                                             device="cuda:0", subjects=["a", "b"]))
             for k in (0, 1)]
    table = pt.cost_table(runs)
    assert list(dict.fromkeys(table.split)) == ["unseen", "interleaved", ""]     # the order of the runs; paper last
    multi = table[(table.role == "multi") & (table.split == "unseen")].iloc[0]
    assert multi.rays_per_iteration == 4 * 16 ** 2 and multi.world_size == 1 and multi.total_rays == 2000 * 1024
    assert multi.psnr == pytest.approx(26.05) and multi.psnr_spread == pytest.approx(0.05)
    assert multi.seconds == pytest.approx(400.5) and multi.seeds == "0,1"
    total = table[(table.role == "single_total") & (table.split == "unseen")].iloc[0]
    assert total.iterations == 2666 and total.total_rays == 2666 * 1024 and total.seconds == pytest.approx(500.0)
    saving = table[(table.role == "saving") & (table.split == "unseen")].iloc[0]
    assert saving.saving_rays == pytest.approx(100 * (1 - 2000 / 2666))
    assert saving.saving_seconds == pytest.approx(100 * (1 - 400.5 / 500.0))
    # 4 GPUs x 8 patches against 1 x 4: the table says what each got
    other = table[(table.role == "multi") & (table.split == "interleaved")].iloc[0]
    assert other.rays_per_iteration == 8 * 256 * 4 and other.world_size == 4 and other.device == "cuda"
    assert table[(table.role == "saving") & (table.split == "interleaved")].iloc[0].saving_rays < 0
    assert table.iloc[-1].saving_iterations == 85.0
    md = pt.to_markdown(table, pt.COST_METRICS, extra=pt.COST_EXTRA)
    assert "rays/iteration" in md and "world size" in md and "26.05 ± 0.05" in md


def test_budget_text_states_what_each_row_got():
    single = [_meta(1733, 1.0, subjects=[s]) for s in "abc"]
    assert pt.budget_text(single) == "3 × 1733 it × 1024 rays on 1×cpu"
    base = _meta(2600, 1.0, subjects=["a", "b", "c"])
    tuned = _meta(400, 1.0, base="models/talkinnerf/model.pt", subject="dev")
    assert pt.budget_text([tuned, base]) == ("2600 it × 1024 rays on 1×cpu (3 subjects) + fine-tuned 400 it × 1024 "
                                             "rays on 1×cpu")
    assert pt.rays_per_iteration(_meta(1, 1.0, patches=8, patch_size=32, world_size=4)) == 32768


def test_cells_parse_split_seed_and_label():
    cell = pt.parse_cell("unseen|1|W/o jaw for the face=a.csv,b.csv")
    assert (cell.split, cell.seed, cell.label) == ("unseen", "1", "W/o jaw for the face")
    assert cell.paths == ("a.csv", "b.csv")
    assert pt.parse_cell("W/o jaw for the face=a.csv") == pt.Cell("", "", "W/o jaw for the face", ("a.csv",))


def test_seed_table_is_the_mean_over_seeds_with_the_spread(tmp_path):
    cells = []
    for split in ("unseen", "interleaved"):
        for seed, offset in (("0", 0.0), ("1", 0.4)):
            for label, base in (("HumanNeRF", 25.0), ("Ours (Multi-Id)", 26.0)):
                paths = [str(_csv(tmp_path / f"{split}{seed}{label}{s}.csv", frame=[0, 1],
                                  psnr=[base + offset, base + offset + (split == "interleaved")],
                                  ssim=[0.9, 0.9], lpips=[0.04, 0.04], lpips_hands=[0.1, np.nan]))
                         for s in ("a", "b")]
                cells.append(pt.Cell(split, seed, label, tuple(paths)))
    table = pt.seed_table(cells, pt.TABLE3_METRICS)
    assert list(zip(table.split, table.method)) == [("unseen", "HumanNeRF"), ("unseen", "Ours (Multi-Id)"),
                                                   ("interleaved", "HumanNeRF"), ("interleaved", "Ours (Multi-Id)")]
    row = table.iloc[1]
    assert row.psnr == pytest.approx(26.2) and row.psnr_spread == pytest.approx(0.2) and row.seeds == "0,1"
    assert row.psnr_seeds == "26;26.4" and row.frames == 8 and row.lpips_hands_n == 4
    assert table.iloc[3].psnr == pytest.approx(26.7)                         # 2 frames of 4 one dB higher
    md = pt.to_markdown(table, pt.TABLE3_METRICS, extra=["split", "seeds"])
    assert "| Ours (Multi-Id) | unseen | 0,1 | 26.20 ± 0.20 | 0.9000 ± 0.0000 |" in md
    assert "100.00 ± 0.00 (4/8)" in md                                       # LPIPS*_hands: n of N frames
    assert r"26.20 $\pm$ 0.20" in pt.to_latex(table, pt.TABLE3_METRICS, extra=["split", "seeds"])
    one = pt.seed_table([c for c in cells if c.seed == "0"], pt.TABLE3_METRICS)
    assert "±" not in pt.to_markdown(one, pt.TABLE3_METRICS)                 # one seed: no spread to show


@pytest.mark.parametrize("a, b, higher, verdict", [
    ([27.0, 27.4], [26.0, 26.2], True, "yes"),     # every seed of a beats every seed of b
    ([27.0, 27.4], [27.2, 27.6], True, "noise"),   # the ranges overlap: the difference is inside the spread
    ([26.0, 26.1], [26.05, 26.05], True, "noise"),
    ([26.0, 26.2], [27.0, 27.4], True, "no"),      # b beats a beyond the spread
    ([0.030, 0.031], [0.040, 0.042], False, "yes"),  # lower is better (LPIPS)
    ([27.0], [26.0, 26.1], True, "n/a"),           # one seed: no spread to judge by
    ([27.0, np.nan], [26.0, 26.1], True, "n/a"),
])
def test_verdict_is_noise_inside_the_seeds_spread(a, b, higher, verdict):
    assert pt.compare(a, b, higher) == verdict


def test_combined_claims():
    assert pt.combine(["yes", "yes"]) == "yes"
    assert pt.combine(["yes", "noise"]) == "noise"
    assert pt.combine(["noise", "no", "yes"]) == "no"
    assert pt.combine(["yes", "n/a"]) == "n/a"


def test_novel_series_and_orderings(tmp_path):
    cells = []
    for method, base in (("fine-tuned", 22.0), ("scratch", 18.0)):
        for secs in (1, 2, 4):
            for seed in ("0", "1"):
                path = _csv(tmp_path / f"{method}{secs}{seed}.csv", frame=[0, 1],
                            psnr=[base + secs + 0.1 * int(seed)] * 2, ssim=[0.8, 0.8], lpips=[0.1, 0.1])
                cells.append(pt.Cell("novel", seed, f"{method}@{secs}", (str(path),)))
    metas = {("novel", "fine-tuned@1"): [_meta(2600, 1.0, subjects=["a", "b", "c"]), _meta(400, 1.0, base="m.pt")]}
    table = pt.novel_series(cells, ["psnr", "ssim", "lpips"], metas)
    assert list(table.columns[:3]) == ["method", "seconds", "frames"]
    ft = table[table.method == "fine-tuned"].sort_values("seconds")
    assert list(ft.psnr) == pytest.approx([23.05, 24.05, 26.05]) and list(ft.psnr_spread) == pytest.approx([0.05] * 3)
    assert "fine-tuned 400 it" in ft.budget.iloc[0] and ft.budget.iloc[1] == ""
    from talkinnerf.report.figures import plot_novel_series

    plot_novel_series(table, tmp_path / "fig7b.png")
    assert (tmp_path / "fig7b.png").stat().st_size > 1000
    order = pt.orderings_table(fig7b=table).set_index(["claim", "metric"])
    assert order.loc[("Fig. 7b: fine-tuned improves with more seconds", "psnr"), "verdict"] == "yes"
    assert order.loc[("Fig. 7b: fine-tuned improves with more seconds", "ssim"), "verdict"] == "noise"   # equal
    assert order.loc[("Fig. 7b: fine-tuned beats scratch at every length", "psnr"), "verdict"] == "yes"
    assert order.loc[("Fig. 7b: fine-tuned beats scratch at every length", "psnr"), "split"] == "novel"
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


def _seeds_row(method, split, **metrics):
    row = {"method": method, "split": split, "seeds": "0,1"}
    for m, values in metrics.items():
        row[m] = float(np.mean(values))
        row[f"{m}_spread"] = pt.spread(values)
        row[f"{m}_seeds"] = ";".join(str(v) for v in values)
    return row


def test_orderings_have_split_seeds_spread_and_a_verdict_per_claim(tmp_path):
    t3 = pd.DataFrame([
        _seeds_row("HumanNeRF", "unseen", psnr=[25.0, 25.2], ssim=[0.91, 0.92], lpips=[0.04, 0.05],
                   lpips_hands=[0.1, 0.1]),
        _seeds_row("Ours (Single-Id)", "unseen", psnr=[25.5, 25.7], ssim=[0.92, 0.93], lpips=[0.03, 0.03],
                   lpips_hands=[0.1, np.nan]),
        _seeds_row("Ours (Multi-Id)", "unseen", psnr=[27.0, 27.1], ssim=[0.90, 0.90], lpips=[0.02, 0.021],
                   lpips_hands=[0.1, 0.1]),
        _seeds_row("Ours (Single-Id)", "interleaved", psnr=[27.0, 27.6], ssim=[0.9, 0.9], lpips=[0.02, 0.02],
                   lpips_hands=[0.1, 0.1]),
        _seeds_row("Ours (Multi-Id)", "interleaved", psnr=[27.2, 27.3], ssim=[0.9, 0.9], lpips=[0.02, 0.02],
                   lpips_hands=[0.1, 0.1])])
    t2 = pd.DataFrame([_seeds_row("W/o jaw for the face", "unseen", psnr_face=[19.0, 19.1], ssim_face=[0.75, 0.75],
                                  lpips_face=[0.03, 0.03]),
                       _seeds_row("Complete Approach", "unseen", psnr_face=[20.0, 20.3], ssim_face=[0.74, 0.74],
                                  lpips_face=[0.03, 0.03])])
    table = pt.orderings_table(table2=t2, table3=t3)
    assert list(table.columns) == ["claim", "split", "metric", "seeds", "values", "spread", "verdict"]
    table = table.set_index(["claim", "split", "metric"])
    t3_claim = "Table 3: multi-id > single-id > HumanNeRF"
    assert table.loc[(t3_claim, "unseen", "psnr"), "verdict"] == "yes"
    assert table.loc[(t3_claim, "unseen", "ssim"), "verdict"] == "no"               # multi below single, beyond
    assert table.loc[(t3_claim, "unseen", "lpips_hands"), "verdict"] == "n/a"       # a seed without a value
    # the interleaved split has no HumanNeRF row: its claim says so; 27.25 vs 27.3 ± 0.3 is noise
    assert table.loc[("Table 3: multi-id > single-id", "interleaved", "psnr"), "verdict"] == "noise"
    assert table.loc[(t3_claim, "unseen", "psnr"), "seeds"] == "2"
    assert "Ours (Multi-Id) 27.05" in table.loc[(t3_claim, "unseen", "psnr"), "values"]
    assert "Ours (Multi-Id) ±0.05" in table.loc[(t3_claim, "unseen", "psnr"), "spread"]
    assert table.loc[("Table 2: the jaw helps the face", "unseen", "psnr_face"), "verdict"] == "yes"
    assert table.loc[("Table 2: the jaw helps the face", "unseen", "lpips_face"), "verdict"] == "noise"  # a tie
    splits = list(dict.fromkeys(table.reset_index().split))
    assert splits == ["unseen", "interleaved"]                                      # the primary split first
    md = pt.orderings_markdown(table.reset_index())
    assert "| claim | split | metric | seeds | values | spread | verdict |" in md and "| noise |" in md


@pytest.mark.parametrize("multi, single, multi_rays, verdict", [
    ([26.9, 27.1], [27.0, 27.2], 2000, "yes"),    # reaches single's quality within the spread, fewer rays
    ([27.5, 27.6], [27.0, 27.2], 2000, "yes"),    # better
    ([26.0, 26.1], [27.0, 27.2], 2000, "no"),     # fewer rays, but worse beyond the spread: the saving is not one
    ([27.0, 27.2], [27.0, 27.2], 3000, "no"),     # as good, with more rays
])
def test_the_cost_claim_needs_the_single_models_quality_at_fewer_rays(tmp_path, multi, single, multi_rays, verdict):
    runs = []
    for k in (0, 1):
        run = _run(tmp_path, "unseen", k, multi[k], single[k], multi_meta=_meta(multi_rays, 10.0, subjects=["a", "b"]))
        runs.append(run)
    cost = pt.cost_table(runs)                                  # single-identity: 2 × 1333 iterations
    table = pt.orderings_table(cost=cost).set_index(["split", "metric"])
    assert table.loc[("unseen", "psnr"), "verdict"] == verdict
    assert "total rays" in table.loc[("unseen", "psnr"), "values"]
