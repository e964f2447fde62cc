"""Train / held-out split rules."""

from __future__ import annotations

import json

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
