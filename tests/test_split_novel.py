"""The novel identity's split: test frames only after the longest fine-tuning clip."""

from __future__ import annotations

import pytest

from talkinnerf.preprocess.split import SplitOptions, split_frames
from talkinnerf.train.finetune import first_seconds


def test_no_test_frame_lies_inside_any_fine_tuning_window():
    fps, count = 12.0, 72                                           # the demo's dev: 6 s at 12 fps
    split = split_frames(count, SplitOptions(mode="after_seconds", after_seconds=4, n=3), fps)
    assert split["test"] == list(range(48, 72, 3))
    for seconds in (1, 2, 4):
        window = first_seconds(split["train"], fps, seconds)
        assert len(window) == seconds * fps and max(window) < min(split["test"])
    assert set(split["train"]).isdisjoint(split["test"])


def test_a_window_past_the_video_is_an_error_naming_the_length():
    with pytest.raises(ValueError, match="lengthen the video"):
        split_frames(24, SplitOptions(mode="after_seconds", after_seconds=2, n=1), 12.0)
    with pytest.raises(ValueError, match="fps"):
        split_frames(24, SplitOptions(mode="after_seconds", after_seconds=1), None)
