"""The Snakemake DAG: subjects from the drop-in folder, config validation, what a new video adds."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from workflow_utils import REPO, job_counts, planned_jobs, snakemake

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


def test_demo_subjects_keep_their_matte_and_size_and_drop_ins_get_auto_and_256(tmp_path):
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
    # a dropped-in video decodes at the `decode` size (256: a face ~40 px); a demo subject at its render size
    decodes = {line.split("--out ")[1].split()[0]: line for line in text.splitlines() if "video decode" in line}
    assert '"size": 256' in decodes["results/frames/alex"] and config["decode"]["size"] == 256
    assert '"size": 128' in decodes["results/frames/ava"]


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
        (lambda c: c["demo"].update({"decode": {"sise": 256}}), "sise"),
        (lambda c: c["settings"]["talkinnerf"].update({"not_an_ablation": True}), "not_an_ablation"),
        (lambda c: c["experiments"]["splits"]["unseen"]["split"].update({"fractoin": 0.2}), "fractoin"),
        (lambda c: c["experiments"]["splits"]["unseen"].update({"split": "main"}), "only one split"),
    ],
)
def test_invalid_config_fails_before_any_job(tmp_path, edit, message):
    configfile = _write_config(tmp_path, edit)
    proc = snakemake(tmp_path, "-n", configfile=configfile, check=False, timeout=300)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_tables_target_plans_every_experiment(tmp_path):
    """`snakemake tables`: Tables 1-3 on both splits (the unseen-motion one first) and every seed, single-identity
    TalkinNeRF and HumanNeRF per subject, the ablations on one subject, the Fig. 7b series (fine-tuned and from
    scratch) per seed, cross-identity animations and their lip-sync scores."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    exp = config["experiments"]
    subjects = len(config["demo"]["subjects"])
    novel = len(config["demo"]["novel"])
    seconds = sorted(set(exp["novel"]["seconds"]) | set(config["finetune_seconds"]))
    seeds = exp["seeds"]
    assert len(seeds) >= 2 and 0 in seeds                           # seed 0: the main job's models
    # the layout this test counts: the unseen split (all of Tables 1-3) first, then the main job's split
    assert list(exp["splits"]) == ["unseen", "interleaved"]
    assert exp["splits"]["unseen"]["split"] == {"mode": "last_fraction", "fraction": 0.2}
    assert exp["splits"]["interleaved"]["split"] == "main"
    assert exp["splits"]["interleaved"]["rows"] == ["single_id", "multi_id"]
    variants = exp["ablations"]["variants"]
    table_variants = len([v for v in variants if v != "four_classes"])   # Fig. 3a's 4 classes: one seed (a figure)
    others = len(seeds) - 1

    text = snakemake(tmp_path, "-n", "-p", "tables").stdout
    jobs = job_counts(text)
    assert jobs["train"] == len(config["settings"])                              # the main job's models
    assert jobs["split_view"] == subjects                                        # results/views/unseen/
    # multi-identity: unseen × every seed, the main split's other seeds (Table 3, Fig. 7b's fine-tuning bases)
    assert jobs["train_run"] == len(seeds) + others
    assert jobs["evaluate_run"] == jobs["train_run"] * subjects
    assert jobs["train_single"] == 2 * subjects                                  # seed 0, main split (Table 4)
    assert jobs["train_single_run"] == (len(seeds) * (2 * subjects + table_variants) + 1   # unseen
                                        + others * subjects)                              # interleaved: single-id
    assert jobs["evaluate_single_run"] == jobs["train_single_run"]
    assert jobs["evaluate_single"] == subjects          # the main split's HumanNeRF only animates (Table 4)
    assert jobs["finetune"] == novel * len(seconds) and jobs["finetune_run"] == others * novel * len(seconds)
    assert jobs["train_clip"] == novel * len(seconds) and jobs["train_clip_run"] == others * novel * len(seconds)
    assert jobs["split_novel"] == novel
    assert jobs["animate"] + jobs["animate_single"] == 3 * subjects and jobs["lipsync"] == 3 * subjects
    for rule in ("table1", "table2", "table3", "table4", "training_cost", "fig7b", "identity_bleed",
                 "figure_classes", "figure_hands", "orderings"):
        assert jobs[rule] == 1, rule
    assert "tables" in jobs and jobs["report_quality"] == 1                     # `all` is part of it
    # both splits' jobs: the unseen split's runs read its view, the main split's second seed the main data
    assert "--data-root results/views/unseen --out results/models/runs/unseen/seed1/talkinnerf" in text
    assert "--data-root results --out results/models/runs/interleaved/seed1/talkinnerf" in text
    assert "--out results/models/runs/unseen/seed0/single/ablation_complete/ava" in text
    assert '"fraction": 0.2, "mode": "last_fraction"' in text and "--view-of results" in text
    table3 = text[text.index("report paper-table --kind table3"):]
    table3 = table3[:table3.index("\n")]
    assert table3.index("--cell 'unseen|0|HumanNeRF=") < table3.index("--cell 'interleaved|0|Ours (Single-Id)=")
    assert "--cell 'interleaved|0|Ours (Multi-Id)=results/eval/talkinnerf/ava/metrics.csv" in table3  # main job's
    assert "'unseen|1|Ours (Multi-Id)=results/eval/runs/unseen/seed1/talkinnerf/ava/metrics.csv" in table3
    # the seed reaches the trainer (seed 0 keeps the main job's options, so its models are shared)
    run = text[text.index("--out results/models/runs/unseen/seed1/talkinnerf"):]
    assert '"seed": 1' in run[:run.index("\n")]


def test_paper_config_plans_the_same_targets(tmp_path):
    """--configfile configs/paper.yaml switches budgets, not targets: 1/3/10/30 s and 400k single-id runs, every
    experiment training on the multi-identity model's world size (torchrun, 4 GPUs: equal rays per iteration)."""
    text = snakemake(tmp_path, "-n", "-p", "tables", "--configfile", str(REPO / "configs" / "paper.yaml")).stdout
    jobs = job_counts(text)
    paper = yaml.safe_load((REPO / "configs" / "paper.yaml").read_text())
    exp = paper["experiments"]
    subjects, seeds = len(paper["demo"]["subjects"]), len(exp["seeds"])
    assert jobs["finetune"] + jobs["finetune_run"] == len(exp["novel"]["seconds"]) * len(paper["demo"]["novel"]) * seeds
    table_variants = len([v for v in exp["ablations"]["variants"] if v != "four_classes"])
    assert jobs["train_single"] + jobs["train_single_run"] == (seeds * (2 * subjects + table_variants) + 1
                                                               + seeds * 2 * subjects)
    assert '"iterations": 400000' in text and '"baseline": "humannerf"' in text
    trainings = [line for line in text.splitlines() if line.startswith("Shell command:")
                 and (" train fit " in line or " train fit-clip " in line)]
    assert len(trainings) == jobs["train"] + jobs["train_run"] + jobs["train_single"] + jobs["train_single_run"] \
        + jobs["train_clip"] + jobs["train_clip_run"]
    assert all("--nproc_per_node 4" in line for line in trainings)
