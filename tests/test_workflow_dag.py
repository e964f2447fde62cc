"""The Snakemake DAG: subjects from the drop-in folder, config validation, what a new video adds."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from workflow_utils import REPO, planned_jobs, snakemake

PER_SUBJECT = ("decode", "matte", "keypoints", "fit", "segment", "split", "subject_sheet")


def test_default_dag_covers_every_demo_subject(tmp_path):
    jobs = planned_jobs(tmp_path)
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    n_demo = len(config["demo"]["subjects"]) + len(config["demo"]["novel"])
    for rule in PER_SUBJECT + ("demo_synthesize", "evaluate_preprocess"):
        # the novel identity's split is its own rule (test frames after the longest fine-tuning clip)
        count = jobs[rule] + (jobs.get("split_novel", 0) if rule == "split" else 0)
        assert count == n_demo, rule
    assert jobs["train"] == len(config["settings"])
    assert jobs["evaluate_render"] == len(config["settings"]) * len(config["demo"]["subjects"])
    assert jobs["finetune"] == len(config["demo"]["novel"]) * len(config["finetune_seconds"])
    assert jobs["body_model"] == 1


def test_a_dropped_in_video_becomes_a_subject(tmp_path):
    before = planned_jobs(tmp_path)
    videos = tmp_path / "data" / "videos"
    videos.mkdir(parents=True)
    (videos / "alex.mp4").write_bytes(b"")  # the dry run only needs the file to exist
    (videos / "notes.txt").write_text("not a video")
    after = planned_jobs(tmp_path)
    for rule in PER_SUBJECT:
        assert after[rule] == before[rule] + 1, rule
    assert after["demo_synthesize"] == before["demo_synthesize"]  # the video is not a demo subject
    assert after["evaluate_render"] == before["evaluate_render"] + len(yaml.safe_load(
        (REPO / "config.yaml").read_text())["settings"])


def test_demo_subjects_keep_their_matte_and_drop_ins_get_auto(tmp_path):
    """`demo.matte` applies to the demo's synthetic subjects only; a dropped-in video runs the `matte` section."""
    videos = tmp_path / "data" / "videos"
    videos.mkdir(parents=True)
    (videos / "alex.mp4").write_bytes(b"")
    text = snakemake(tmp_path, "-n", "-p", "--cores", "1").stdout
    commands = {line.split("--frames ")[1].split()[0]: line for line in text.splitlines()
                if "preprocess matte" in line}
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    assert '"backend": "background"' in commands["results/frames/ava"]
    assert f'"backend": "{config["matte"]["backend"]}"' in commands["results/frames/alex"]
    assert config["matte"]["backend"] == "auto" and config["demo"]["matte"]["backend"] == "background"


def _write_config(tmp_path: Path, edit) -> str:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    edit(config)
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["fit"].update({"no_such_option": 1}), "no_such_option"),
        (lambda c: c.update({"unknown_top_level": 1}), "unknown_top_level"),
        (lambda c: c["matte"].update({"backend": "magic"}), "magic"),
        (lambda c: c["demo"]["matte"].update({"threshold_typo": 3}), "threshold_typo"),
        (lambda c: c["settings"]["talkinnerf"].update({"not_an_ablation": True}), "not_an_ablation"),
    ],
)
def test_invalid_config_fails_before_any_job(tmp_path, edit, message):
    configfile = _write_config(tmp_path, edit)
    proc = snakemake(tmp_path, "-n", configfile=configfile, check=False, timeout=300)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_tables_target_plans_every_experiment(tmp_path):
    """`snakemake tables`: single-identity TalkinNeRF and HumanNeRF per subject, the ablations on one subject,
    the Fig. 7b series (fine-tuned and from scratch), cross-identity animations and their lip-sync scores."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    exp = config["experiments"]
    subjects = len(config["demo"]["subjects"])
    novel = len(config["demo"]["novel"])
    seconds = sorted(set(exp["novel"]["seconds"]) | set(config["finetune_seconds"]))
    jobs = planned_jobs(tmp_path, "tables")
    assert jobs["train"] == len(config["settings"])                              # multi-identity models
    assert jobs["train_single"] == 2 * subjects + len(exp["ablations"]["variants"])
    assert jobs["evaluate_single"] == jobs["train_single"]
    assert jobs["finetune"] == novel * len(seconds) and jobs["train_clip"] == novel * len(seconds)
    assert jobs["split_novel"] == novel
    assert jobs["animate"] + jobs["animate_single"] == 3 * subjects and jobs["lipsync"] == 3 * subjects
    for rule in ("table1", "table2", "table3", "table4", "training_cost", "fig7b", "identity_bleed",
                 "figure_classes", "figure_hands"):
        assert jobs[rule] == 1, rule
    assert "tables" in jobs and jobs["report_quality"] == 1                     # `all` is part of it


def test_paper_config_plans_the_same_targets(tmp_path):
    """--configfile configs/paper.yaml switches budgets, not targets: 1/3/10/30 s and 400k single-id runs."""
    jobs = planned_jobs(tmp_path, "tables", configfile="configs/paper.yaml")
    paper = yaml.safe_load((REPO / "configs" / "paper.yaml").read_text())
    assert jobs["finetune"] == len(paper["experiments"]["novel"]["seconds"]) * len(paper["demo"]["novel"])
    assert jobs["train_single"] == 2 * len(paper["demo"]["subjects"]) + len(paper["experiments"]["ablations"]["variants"])
    text = snakemake(tmp_path, "-n", "-p", "tables", "--configfile", str(REPO / "configs" / "paper.yaml")).stdout
    assert '"iterations": 400000' in text and '"baseline": "humannerf"' in text
