"""talkinnerf.failures and talkinnerf.names: safe subject names, failure records, markers and their propagation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from talkinnerf import failures
from talkinnerf.failures import (SubjectInputError, clear_records, left_out_subjects, left_out_table, marker_of,
                                 record, split_subjects, write_left_out_table, write_marker, write_record)
from talkinnerf.names import is_safe, slug, subject_names


@pytest.mark.parametrize("name", ["vidéo ünïcode copy.mp4", "a b.mp4", "../../etc/passwd.mp4", "..mp4",
                                  ".hidden.mp4", "-rf.mp4", "日本語.mov", "a..b.mkv", "x" * 300 + ".mp4",
                                  "semi;colon$(rm -rf ~).mp4", "quote'\".webm", "new\nline.mp4"])
def test_any_file_name_gives_a_safe_stable_slug(name):
    s = slug(name)
    assert is_safe(s), s
    assert "/" not in s and ".." not in s and not s.startswith((".", "-"))
    assert slug(name) == s                                   # stable: the same on every run
    assert (Path("/results/frames") / s).resolve().parent == Path("/results/frames")


def test_safe_names_are_kept_and_unsafe_ones_stay_apart():
    assert slug("ava_2.mp4") == "ava_2" and slug("take.1.mov") == "take.1"
    # two names that fold to the same text differ by their digest
    assert slug("café.mp4") != slug("cafe?.mp4")
    assert slug("café.mp4").startswith("cafe-")


def test_subject_names_report_collisions_by_file_name():
    subjects, unusable = subject_names(["v/a.mp4", "v/a.mov", "v/ava.mp4", "v/b c.mp4"], {"ava"})
    assert subjects == {"a": "v/a.mov", slug("b c.mp4"): "v/b c.mp4"}
    assert "taken by 'a.mov'" in unusable["v/a.mp4"]
    assert "demo subject" in unusable["v/ava.mp4"]


def test_records_left_out_subjects_and_clearing(tmp_path):
    write_record(tmp_path, record("s", "fit", ValueError("fit diverged"), "s.mp4"))
    write_record(tmp_path, record("s", "matte", ValueError("no person"), "s.mp4"))
    write_record(tmp_path, record("t", "decode", SubjectInputError("empty", "copy it again"), "t.mp4"))
    left = left_out_subjects(tmp_path)
    assert left["s"]["stage"] == "matte"                    # the earliest failing stage explains it
    assert left["t"]["fix"] == "copy it again" and left["t"]["reason"] == "empty"
    assert set(left_out_subjects(tmp_path, ["t"])) == {"t"}
    clear_records(tmp_path, "s", "keypoints")                # keypoints reran fine: fit's record is stale
    assert left_out_subjects(tmp_path)["s"]["stage"] == "matte"
    assert not (tmp_path / "failed" / "s" / "fit.json").exists()
    clear_records(tmp_path, "s", "decode")
    assert "s" not in left_out_subjects(tmp_path)


def test_unexpected_errors_keep_their_kind_and_say_so():
    rec = record("s", "fit", RuntimeError("CUDA out of memory"))
    assert rec["reason"].startswith("RuntimeError:") and "unexpected" in rec["fix"]


def test_markers_of_each_kind_are_recognised(tmp_path):
    rec = record("s", "decode", "bad", "s.mp4")
    write_marker(tmp_path / "frames" / "s", rec, "dir")
    write_marker(tmp_path / "smplx" / "s.npz", rec)
    write_marker(tmp_path / "sheet.png", rec)
    write_marker(tmp_path / "preprocess.csv", rec)
    write_marker(tmp_path / "render.mp4", rec)
    assert marker_of(tmp_path / "frames" / "s") == rec
    assert marker_of(tmp_path / "smplx" / "s.npz") == rec
    assert marker_of(tmp_path / "nothing") is None
    import cv2

    assert cv2.imread(str(tmp_path / "sheet.png")).shape == (256, 256, 3)   # a real image a report can show
    assert pd.read_csv(tmp_path / "preprocess.csv").left_out.tolist() == ["bad"]
    from talkinnerf.video.encode import read_video

    assert len(read_video(tmp_path / "render.mp4")[0]) >= 1
    # a real output is never a marker
    np.savez(tmp_path / "real.npz", a=np.zeros(3))
    (tmp_path / "real_dir").mkdir()
    assert marker_of(tmp_path / "real.npz") is None and marker_of(tmp_path / "real_dir") is None


def test_split_subjects_keeps_order(tmp_path):
    write_marker(tmp_path / "splits" / "b.json", record("b", "split", "1 frame", "b.mp4"))
    kept, left = split_subjects(tmp_path, ["a", "b", "c"])
    assert kept == ["a", "c"] and list(left) == ["b"]


def test_left_out_table_lists_files_reasons_and_unusable_names(tmp_path):
    write_record(tmp_path, record("z", "decode", SubjectInputError("video z.mp4 is empty", "copy it"), "z.mp4"))
    table = left_out_table(tmp_path, ["z"], {"ava.mp4": "its subject name 'ava' is a demo subject's name: rename"})
    assert table.file.tolist() == ["z.mp4", "ava.mp4"] and table.stage.tolist() == ["decode", "name"]
    write_left_out_table(table, tmp_path / "t.csv", tmp_path / "t.md")
    md = (tmp_path / "t.md").read_text()
    assert "z.mp4" in md and "copy it" in md and "ava.mp4" in md
    write_left_out_table(left_out_table(tmp_path / "none"), tmp_path / "e.csv", tmp_path / "e.md")
    assert "No input was left out" in (tmp_path / "e.md").read_text()


def test_cli_skip_mode_writes_markers_and_record_and_downstream_propagates(tmp_path, capsys):
    from talkinnerf.cli import main

    video = tmp_path / "vidéo vide.mp4"
    video.write_bytes(b"")
    results = tmp_path / "results"
    common = ["--subject", "vv", "--on-failure", "skip", "--results", str(results)]
    assert main(["video", "decode", "--video", str(video), "--out", str(results / "frames" / "vv"), *common]) == 0
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("LEFT OUT subject vv (file 'vidéo vide.mp4')") and "Fix:" in last
    assert main(["preprocess", "split", "--frames", str(results / "frames" / "vv"), "--out",
                 str(results / "splits" / "vv.json"), *common]) == 0
    assert main(["preprocess", "matte", "--frames", str(results / "frames" / "vv"), "--out",
                 str(results / "matte" / "vv"), *common]) == 0
    assert marker_of(results / "splits" / "vv.json")["stage"] == "decode"
    assert marker_of(results / "matte" / "vv")["file"] == "vidéo vide.mp4"
    # an evaluation of the left-out subject writes "left out" outputs instead of failing
    out = tmp_path / "eval"
    # (the model file need not exist: the subject's own data carry the marker)
    assert main(["evaluate", "render", "--model", str(tmp_path / "model.pt"), "--subject", "vv", "--data-root",
                 str(results), "--out", str(out)]) == 0
    metrics = pd.read_csv(out / "metrics.csv")
    assert len(metrics) == 0 and "left_out" in metrics.columns     # no frame evaluated: tables count 0
    assert (out / "compare.png").is_file() and (out / "render.mp4").is_file()
    assert json.loads((results / "failed" / "vv" / "decode.json").read_text())["subject"] == "vv"


def test_cli_fail_mode_exits_nonzero_with_the_fix_last(tmp_path, capsys):
    from talkinnerf.cli import main

    video = tmp_path / "empty.mp4"
    video.write_bytes(b"")
    assert main(["video", "decode", "--video", str(video), "--out", str(tmp_path / "f"), "--subject", "e"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("FAILED talkinnerf video decode of subject e (file 'empty.mp4')")
    assert "0 bytes" in last and "Fix: copy the video again" in last
    assert not (tmp_path / "f").exists() and not (tmp_path / "failed").exists()


def test_a_stage_that_succeeds_clears_its_stale_record(tmp_path):
    from talkinnerf.cli import main
    from talkinnerf.io import write_json

    write_record(tmp_path, record("s", "split", "was 1 frame"))
    write_json(tmp_path / "frames" / "s" / "meta.json", {"count": 10})
    assert main(["preprocess", "split", "--frames", str(tmp_path / "frames" / "s"), "--out",
                 str(tmp_path / "splits" / "s.json"), "--subject", "s", "--on-failure", "skip",
                 "--results", str(tmp_path)]) == 0
    assert "s" not in left_out_subjects(tmp_path)
    assert marker_of(tmp_path / "splits" / "s.json") is None


def test_describe_names_subject_file_stage_and_fix():
    text = failures.describe(record("s", "keypoints", SubjectInputError("no person found", "use another video"),
                                    "clip.mov"))
    assert text == "subject s (file 'clip.mov') left out at keypoints: no person found. Fix: use another video"
