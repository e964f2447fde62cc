"""The drop-in folder as a new user fills it: any file name, a name that cannot be used, the failure mode, a second
run on the same folder. (The full run of demo + bad videos to tables is in test_workflow_e2e.py, on its smoke run.)"""

from __future__ import annotations

import shutil
import subprocess
import time

import numpy as np
import yaml

from talkinnerf.names import slug
from workflow_utils import REPO, SNAKEMAKE, planned_jobs, snakemake

SMOKE = "configs/smoke.yaml"
PER_SUBJECT = ("decode", "matte", "keypoints", "fit", "segment", "split", "subject_sheet")


def test_any_file_name_becomes_a_subject_and_a_clash_is_reported_once(tmp_path):
    videos = tmp_path / "data" / "videos"
    videos.mkdir(parents=True)
    before = planned_jobs(tmp_path)
    names = ["vidéo ünïcode copy.mp4", "it's (1).MOV", "ava.mp4"]   # ava: a demo subject's name
    for name in names:
        (videos / name).write_bytes(b"")
    proc = snakemake(tmp_path, "-n", "-p", "--cores", "1", timeout=300)
    text = proc.stdout + proc.stderr
    assert "MissingInputException" not in text
    after = planned_jobs(tmp_path)
    for rule in PER_SUBJECT:
        assert after[rule] == before[rule] + 2, rule
    for name in names[:2]:
        subject = slug(name)
        assert f"subject {subject} <- {name!r}" in text
        assert f"--out results/frames/{subject} " in text
    assert "--video 'data/videos/vidéo ünïcode copy.mp4'" in text          # quoted for the shell
    assert text.count("not using 'data/videos/ava.mp4'") == 1 and "demo subject" in text
    assert "--on-failure skip" in text


def test_on_subject_failure_fail_is_passed_to_every_stage(tmp_path):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["on_subject_failure"] = "fail"
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    text = snakemake(tmp_path, "-n", "-p", "--cores", "1", configfile=str(tmp_path / "c.yaml"), timeout=300).stdout
    assert "--on-failure fail" in text and "--on-failure skip" not in text
    config["on_subject_failure"] = "sometimes"
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    proc = snakemake(tmp_path, "-n", configfile=str(tmp_path / "c.yaml"), check=False, timeout=300)
    assert proc.returncode != 0 and "sometimes" in proc.stdout + proc.stderr


def test_a_second_run_on_the_same_folder_is_refused_by_the_lock(tmp_path):
    """While one run writes the folder, a second one that would write the same outputs stops at once."""
    first = subprocess.Popen(
        [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--configfile", str(REPO / SMOKE),
         "--cores", "1", "resources/demo/ava.mp4"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        locks = tmp_path / ".snakemake" / "locks"
        deadline = time.time() + 120
        while not (locks.is_dir() and any(locks.iterdir())):
            assert first.poll() is None, first.stdout.read()
            assert time.time() < deadline, "the first run never took its lock"
            time.sleep(0.2)
        second = snakemake(tmp_path, "--cores", "1", "resources/demo/ava.mp4", configfile=SMOKE, check=False,
                           timeout=300)
        assert second.returncode != 0
        # refused by the lock, or - when the first run's job has already started - by Snakemake's check of the
        # outputs that job marked incomplete, which it makes before taking the lock; either way nothing is written
        text = second.stdout + second.stderr
        assert "cannot be locked" in text or ("Incomplete files" in text and "resources/demo/ava.mp4" in text), \
            text[-3000:]
    finally:
        out, _ = first.communicate(timeout=600)
    assert first.returncode == 0, out[-3000:]
    from talkinnerf.video.encode import read_video

    frames, _ = read_video(tmp_path / "resources" / "demo" / "ava.mp4")    # the first run's output is whole
    assert len(frames) > 1


def bad_inputs(videos, source):
    """The bad inputs of the drop-in issue, each under a file name a user might give it (file -> words its reason
    must contain). Used by test_workflow_e2e.py's drop-in run, which reuses its smoke run."""
    import cv2

    from talkinnerf.video.encode import write_video

    videos.mkdir(parents=True, exist_ok=True)
    (videos / "zero bytes.mp4").write_bytes(b"")
    (videos / "photo.mp4").write_bytes(cv2.imencode(".png", np.zeros((32, 32, 3), np.uint8))[1].tobytes())
    good = source.read_bytes()
    (videos / "truncated copy.mp4").write_bytes(good[: len(good) // 2])
    write_video(videos / "one frame.mp4", np.zeros((1, 64, 64, 3), np.uint8), 8)
    write_video(videos / "empty room.mp4", np.full((8, 64, 64, 3), 120, np.uint8), 8)   # nobody in view
    shutil.copy(source, videos / "ava.mp4")                                             # a demo subject's name
    return {"zero bytes.mp4": "0 bytes", "photo.mp4": "still image", "truncated copy.mp4": "truncated",
            "one frame.mp4": "1 frame", "empty room.mp4": "no person"}
