"""Logs a person can read: progress is one line per tenth when not on a terminal (no carriage-return bars)."""

from __future__ import annotations

import io

from talkinnerf.progress import Progress


def test_log_gets_one_line_per_tenth_with_the_latest_values():
    buf = io.StringIO()
    bar = Progress(95, "fit stage 1/3", unit="steps", stream=buf)
    for i in range(95):
        bar.set_postfix(loss=f"{1 / (i + 1):.3g}")
        bar.update()
    bar.close()
    lines = buf.getvalue().splitlines()
    assert "\r" not in buf.getvalue()
    assert len(lines) == 10
    assert lines[0].startswith("fit stage 1/3: 10/95 steps (10%)") and lines[-1].startswith("fit stage 1/3: 95/95")
    assert lines[-1].endswith("loss=0.0105")


def test_an_early_end_and_a_resumed_run_say_where_they_are():
    buf = io.StringIO()
    bar = Progress(100, "lbfgs", stream=buf)
    for _ in range(33):
        bar.update()
    bar.close()                                       # converged early: the log still ends with where it stopped
    assert buf.getvalue().splitlines()[-1].startswith("lbfgs: 33/100 it (33%)")
    buf = io.StringIO()
    bar = Progress(100, "train", initial=60, stream=buf)   # resumed at 60: no lines for the tenths already passed
    for _ in range(40):
        bar.update()
    lines = buf.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["70/100", "80/100", "90/100", "100/100"]


def test_disabled_progress_prints_nothing():
    buf = io.StringIO()
    bar = Progress(10, "x", enabled=False, stream=buf)
    for _ in range(10):
        bar.update()
    bar.close()
    assert buf.getvalue() == ""


def test_training_log_has_no_carriage_returns(tmp_path, capsys):
    from talkinnerf.train.trainer import TrainConfig, fit
    from test_train_standin import StandInNeRF, make_subject

    make_subject(tmp_path / "r", "a", size=24, frames=4)
    cfg = TrainConfig(iterations=20, patches=2, patch_size=8, checkpoint_every=10, progress=True, lpips=False,
                      tensorboard=False, threads=1)
    cfg.model.samples_per_ray = 8
    fit(["a"], tmp_path / "r", tmp_path / "o", cfg, model_factory=StandInNeRF)
    err = capsys.readouterr().err
    progress = [line for line in err.splitlines() if line.startswith("train ")]
    assert "\r" not in err and len(progress) == 10, err
    assert progress[-1].startswith("train o: 20/20 it (100%)") and "psnr=" in progress[-1]
