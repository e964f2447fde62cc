"""Train / held-out split rules."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from talkinnerf.preprocess.split import SplitOptions, split_frames


def test_every_nth():
    s = split_frames(25, SplitOptions(mode="every_nth", n=10, offset=5))
    assert s["test"] == [5, 15] and len(s["train"]) == 23
    assert sorted(s["train"] + s["test"]) == list(range(25))
    assert split_frames(12, SplitOptions(n=4, offset=0))["test"] == [0, 4, 8]
    assert split_frames(3, SplitOptions(n=10, offset=5))["test"] == [2]  # clip shorter than the offset


def test_last_fraction():
    s = split_frames(10, SplitOptions(mode="last_fraction", fraction=0.2))
    assert s["test"] == [8, 9] and s["train"] == list(range(8))
    assert split_frames(2, SplitOptions(mode="last_fraction", fraction=0.9))["train"] == [0]
    assert "last_fraction" in s["rule"]


@pytest.mark.parametrize("count, opts", [(1, SplitOptions()), (10, SplitOptions(mode="random")),
                                         (10, SplitOptions(n=1)), (10, SplitOptions(mode="last_fraction",
                                                                                   fraction=1.0))])
def test_bad_splits(count, opts):
    with pytest.raises(ValueError):
        split_frames(count, opts)


def test_cli_split(tmp_path):
    from talkinnerf.cli import main
    from talkinnerf.io import write_json

    write_json(tmp_path / "frames" / "meta.json", {"count": 20})
    out = tmp_path / "s.json"
    assert main(["preprocess", "split", "--frames", str(tmp_path / "frames"), "--out", str(out),
                 "--options", '{"mode": "every_nth", "n": 5, "offset": 1}']) == 0
    data = json.loads(out.read_text())
    assert data["test"] == [1, 6, 11, 16] and data["rule"] == "every_nth n=5 offset=1"


def test_unseen_motion_split_holds_out_the_last_fifth():
    """The `tables` target's unseen split (experiments.splits.unseen): the last 20% of the video is never trained
    on, the first 80% is, nothing is in both."""
    s = split_frames(60, SplitOptions(mode="last_fraction", fraction=0.2))
    assert s["test"] == list(range(48, 60)) and s["train"] == list(range(48))
    assert not set(s["train"]) & set(s["test"]) and max(s["train"]) < min(s["test"])
    assert split_frames(16, SplitOptions(mode="last_fraction", fraction=0.2))["test"] == [12, 13, 14, 15]


def test_a_split_view_links_the_subjects_data_beside_its_own_split(tmp_path):
    """`preprocess split --view-of RESULTS`: VIEW/splits/<s>.json plus relative links to RESULTS' frames, matte,
    parts, keypoints and fit, so that `--data-root VIEW` trains on the same data with the other split."""
    from talkinnerf.cli import main
    from talkinnerf.io import write_json
    from talkinnerf.train.data import data_digest

    results = tmp_path / "results"
    write_json(results / "frames" / "ava" / "meta.json", {"count": 20})
    (results / "frames" / "ava" / "000000.png").write_bytes(b"png")
    for folder in ("matte", "parts"):
        (results / folder / "ava").mkdir(parents=True)
        (results / folder / "ava" / "000000.png").write_bytes(folder.encode())
    for name in ("keypoints", "smplx"):
        (results / name).mkdir()
        (results / name / "ava.npz").write_bytes(name.encode())
    view = results / "views" / "unseen"
    out = view / "splits" / "ava.json"
    for _ in range(2):   # a rerun replaces its links
        assert main(["preprocess", "split", "--frames", str(results / "frames" / "ava"), "--out", str(out),
                     "--options", '{"mode": "last_fraction", "fraction": 0.2}', "--view-of", str(results),
                     "--subject", "ava"]) == 0
    assert json.loads(out.read_text())["test"] == [16, 17, 18, 19]
    assert (view / "frames" / "ava").is_symlink() and not Path(os.readlink(view / "frames" / "ava")).is_absolute()
    assert (view / "matte" / "ava" / "000000.png").read_bytes() == b"matte"
    assert (view / "smplx" / "ava.npz").read_bytes() == b"smplx"
    # training's data digest reads the view like the results folder, the split aside
    write_json(results / "splits" / "ava.json", json.loads(out.read_text()))
    assert data_digest(view, ["ava"]) == data_digest(results, ["ava"])
