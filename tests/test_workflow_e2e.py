"""End to end: the smoke config runs every stage of the DAG; reruns do nothing; changing or adding one subject's
video reruns only that subject's chain plus the all-subject jobs."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from workflow_utils import REPO, planned_jobs, snakemake

pytestmark = pytest.mark.slow
SMOKE = "configs/smoke.yaml"
PER_SUBJECT = ("decode", "matte", "keypoints", "fit", "segment", "split")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("smoke")
    # `tables` = everything `all` builds plus every experiment of the paper (workflow/rules/experiments.smk)
    snakemake(workdir, "--cores", "2", "tables", configfile=SMOKE, timeout=2400)
    return workdir


def _config():
    return yaml.safe_load((REPO / SMOKE).read_text())


def test_smoke_run_writes_tables_figures_and_videos(smoke_run):
    config = _config()
    results = smoke_run / "results"
    quality = pd.read_csv(results / "tables" / "quality.csv")
    assert set(quality.setting) == set(config["settings"])
    assert np.isfinite(quality.psnr).all() and (quality.psnr > 5).all() and (quality.psnr < 60).all()
    assert ((quality.ssim > 0) & (quality.ssim <= 1)).all()
    for col in ("psnr_face", "psnr_hands"):
        assert np.isfinite(quality[col]).all(), col
    assert "n/a" in (results / "tables" / "quality.md").read_text() or np.isfinite(quality.lpips).all()

    pre = pd.read_csv(results / "tables" / "preprocess.csv")
    assert (pre.matte_iou.astype(float) > 0.8).all()
    backends = [c for c in pre.columns if c.startswith("matte_iou_")]
    measured = pre.drop(columns=backends + ["matte_note"]).select_dtypes("number")
    assert np.isfinite(measured.to_numpy()).all()
    # every other matte backend is scored on the demo's ground truth, or its cell is n/a with the reason
    # (the smoke run's 64 px frames are too small for the learned backends' quality to mean anything)
    assert {"matte_iou_background", "matte_iou_mediapipe", "matte_iou_rvm"} <= set(backends)
    notes = pre.matte_note.fillna("").astype(str)
    for col in backends:
        name = col.removeprefix("matte_iou_")
        ok = (pre[col].astype(float) > 0) & (pre[col].astype(float) <= 1) | notes.str.contains(name)
        assert ok.all(), (col, pre[col].tolist(), notes.tolist())

    novel = pd.read_csv(results / "tables" / "novel.csv")
    assert np.isfinite(novel.psnr).all()

    for subject in [s["name"] for s in config["demo"]["subjects"]]:
        for setting in config["settings"]:
            folder = results / "eval" / setting / subject
            assert (folder / "render.mp4").stat().st_size > 0
            assert Image.open(folder / "compare.png").size[0] > 0
    sheet = Image.open(results / "figures" / "demo_contact_sheet.png")
    assert min(sheet.size) > 64
    assert list((results / "benchmarks").rglob("*.tsv")), "every rule writes a benchmark file"


def test_tables_target_writes_every_paper_table_and_the_report(smoke_run):
    results = smoke_run / "results"
    tables = results / "tables"
    for stem in ("table1_hands", "table2_face", "table3_novel_poses", "table4_lipsync", "training_cost",
                 "fig7b_novel_identity", "identity_bleed"):
        for ext in ("csv", "md", "tex"):
            assert (tables / f"{stem}.{ext}").stat().st_size > 0, (stem, ext)
    t3 = pd.read_csv(tables / "table3_novel_poses.csv")
    assert list(t3.method[:3]) == ["HumanNeRF", "Ours (Single-Id)", "Ours (Multi-Id)"]
    assert np.isfinite(t3.psnr).all() and (t3.psnr_n > 0).all()
    # both splits, the unseen-motion one first; every cell the mean of both seeds with its spread
    assert list(dict.fromkeys(t3.split)) == ["unseen", "interleaved"] and (t3.seeds.astype(str) == "0,1").all()
    assert np.isfinite(t3.psnr_spread).all() and "±" in (tables / "table3_novel_poses.md").read_text()
    assert t3.budget.str.contains("rays on 1×cpu").all()
    unseen = __import__("json").loads((results / "views" / "unseen" / "splits" / "ava.json").read_text())
    assert unseen["test"] == [12, 13, 14, 15] and max(unseen["train"]) == 11      # the last 20% of 16 frames
    assert r"$\uparrow$" in (tables / "table3_novel_poses.tex").read_text()
    t1 = pd.read_csv(tables / "table1_hands.csv")
    assert t1.method.iloc[-1] == "Complete Approach" and len(t1) == 5
    cost = pd.read_csv(tables / "training_cost.csv")
    assert 0 < cost.saving_iterations[cost.method.str.startswith("saving")].iloc[0] < 100
    multi = cost[cost.role == "multi"]
    assert list(multi.split) == ["unseen", "interleaved"] and (multi.rays_per_iteration == 2 * 8 ** 2).all()
    assert (multi.world_size == 1).all() and np.isfinite(multi.psnr).all()
    assert "FaceMesh" in (tables / "table4_lipsync.md").read_text()   # says which metric it is
    fig7b = pd.read_csv(tables / "fig7b_novel_identity.csv")
    assert set(fig7b.seconds) == {1.0, 2.0} and fig7b.method.nunique() == 2
    split = __import__("json").loads((results / "splits" / "dev.json").read_text())
    assert min(split["test"]) >= 2 * 8                                # after the 2 s clip at 8 fps
    for png in ("fig7b_novel_identity.png", "fig3a_classes.png", "fig3b_hands.png"):
        assert Image.open(results / "figures" / png).size[0] > 100, png
    assert list((results / "figures" / "cross_identity").glob("*.png"))
    assert "| Table 3: multi-id > single-id > HumanNeRF | unseen | psnr |" in (tables / "orderings.md").read_text()
    order = pd.read_csv(tables / "orderings.csv", keep_default_na=False)
    assert {"claim", "split", "seeds", "spread", "verdict"} <= set(order.columns)
    assert set(order.verdict) <= {"yes", "no", "noise", "n/a"} and "interleaved" in set(order.split)
    # the report of the `tables` target holds every table and figure (`--report` alone covers `all`'s outputs)
    snakemake(smoke_run, "--report", str(results / "report.html"), "tables", configfile=SMOKE, timeout=600)
    html = (results / "report.html").read_text(errors="replace")
    for name in ("tables/table3_novel_poses.csv", "tables/orderings.csv", "figures/fig7b_novel_identity.png",
                 "figures/fig3a_classes.png", "tables/quality.csv"):
        assert f'"results/{name}": {{"name"' in html, name


def test_rerun_does_nothing(smoke_run):
    assert planned_jobs(smoke_run, configfile=SMOKE) == {}


def test_changing_one_video_reruns_only_its_chain(smoke_run):
    # Snakemake 9 compares checksums of small inputs, so a bare `touch` of an unchanged video is (rightly) not a
    # change; a new version of the video is. Append a byte, dry-run, then restore bytes and mtime.
    config = _config()
    subject = config["demo"]["subjects"][0]["name"]
    video = smoke_run / "resources" / "demo" / f"{subject}.mp4"
    before, original = video.stat(), video.read_bytes()
    video.write_bytes(original + b"\0")
    try:
        jobs = planned_jobs(smoke_run, configfile=SMOKE)
    finally:
        video.write_bytes(original)
        os.utime(video, ns=(before.st_atime_ns, before.st_mtime_ns))  # leave the run up to date for the next test
    for rule in PER_SUBJECT:
        assert jobs.get(rule) == 1, (rule, jobs)
    assert "demo_synthesize" not in jobs
    assert jobs["train"] == len(config["settings"])
    assert jobs["evaluate_preprocess"] == 1
    assert planned_jobs(smoke_run, configfile=SMOKE) == {}


def test_adding_a_video_adds_only_its_jobs(smoke_run):
    config = _config()
    source = config["demo"]["subjects"][0]["name"]
    videos = smoke_run / "data" / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    shutil.copy(smoke_run / "resources" / "demo" / f"{source}.mp4", videos / "newcomer.mp4")
    shutil.copytree(smoke_run / "resources" / "demo" / source / "openpose", videos / "newcomer" / "openpose")
    try:
        jobs = planned_jobs(smoke_run, configfile=SMOKE)
    finally:
        shutil.rmtree(videos)
    for rule in PER_SUBJECT:
        assert jobs.get(rule) == 1, (rule, jobs)
    assert jobs["train"] == len(config["settings"])
    # every trained setting is evaluated on the newcomer; existing subjects' evaluations rerun with the new model
    assert jobs["evaluate_render"] == len(config["settings"]) * (len(config["demo"]["subjects"]) + 1)
    assert "demo_synthesize" not in jobs and "evaluate_preprocess" not in jobs


def test_bad_videos_are_left_out_and_the_rest_trains(smoke_run):
    """Tried as a new user would (issue: drop-in folder): the demo plus every bad input, under awkward names, run
    with --keep-going to tables for the good subjects; left_out lists each bad file with its reason; a fixed
    video rejoins and the models retrain. Runs last in this module: it leaves drop-in subjects behind."""
    from test_dropin_workflow import bad_inputs

    from talkinnerf.names import slug

    config = _config()
    source = smoke_run / "resources" / "demo" / f"{config['demo']['subjects'][0]['name']}.mp4"
    openpose = smoke_run / "resources" / "demo" / config["demo"]["subjects"][0]["name"] / "openpose"
    videos = smoke_run / "data" / "videos"
    expected = bad_inputs(videos, source)
    good = "vidéo ünïcode copy.mp4"                         # a good video under an awkward name
    shutil.copy(source, videos / good)
    shutil.copytree(openpose, videos / "vidéo ünïcode copy" / "openpose")

    proc = snakemake(smoke_run, "--cores", "2", "--keep-going", configfile=SMOKE, timeout=1500, check=False)
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-6000:])
    results = smoke_run / "results"
    left = pd.read_csv(results / "tables" / "left_out.csv")
    for file, reason in expected.items():
        row = left[left.file == file]
        assert len(row) == 1, (file, left)
        assert reason in row.reason.iloc[0], (file, row.reason.iloc[0])
        assert isinstance(row.fix.iloc[0], str) and row.fix.iloc[0]
        log = (results / "logs" / row.stage.iloc[0] / f"{slug(file)}.log").read_text().strip().splitlines()[-1]
        assert log.startswith(f"LEFT OUT subject {slug(file)} (file {file!r})") and "Fix:" in log, log
    assert "name" in left[left.file == f"{config['demo']['subjects'][0]['name']}.mp4"].stage.tolist()
    md = (results / "tables" / "left_out.md").read_text()
    assert all(file in md for file in expected)
    assert "left out of training" in proc.stderr and "zero bytes.mp4" in proc.stderr   # the run's last words

    quality = pd.read_csv(results / "tables" / "quality.csv")
    demo = [s["name"] for s in config["demo"]["subjects"]]
    trained = quality[quality.subject.isin(demo + [slug(good)])]
    assert len(trained) == len(config["settings"]) * (len(demo) + 1)
    assert np.isfinite(trained.psnr).all()
    left_rows = quality[quality.subject.isin([slug(f) for f in expected])]
    assert (left_rows.frames == 0).all() and not np.isfinite(left_rows.psnr.astype(float)).any()
    for setting in config["settings"]:
        meta = json.loads((results / "models" / setting / "meta.json").read_text())
        assert meta["identities"] == demo + [slug(good)]
        assert set(meta["left_out"]) == {slug(f) for f in expected}
    assert Image.open(results / "figures" / "subjects" / f"{slug('photo.mp4')}.png").size == (256, 256)

    # the user replaces the truncated video with a whole one: its chain and the models rerun
    shutil.copy(source, videos / "truncated copy.mp4")
    shutil.copytree(openpose, videos / "truncated copy" / "openpose")
    jobs = planned_jobs(smoke_run, configfile=SMOKE)
    for rule in PER_SUBJECT:
        assert jobs.get(rule) == 1, (rule, jobs)
    assert jobs["train"] == len(config["settings"]) and jobs.get("left_out") == 1
