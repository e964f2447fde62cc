"""One iteration's patch draw (trainer.sample_batch): empty patches redrawn, the face share reaches head pixels."""

import torch

from talkinnerf.train.data import load_subject
from talkinnerf.train.trainer import TrainConfig, sample_batch
from test_train_standin import make_subject


def _empty_share(tmp_path, **options) -> float:
    make_subject(tmp_path / "r", "s0", size=32, frames=4)
    cfg = TrainConfig(patches=4, patch_size=8, inside_share=0.3, progress=False, **options)
    subject = load_subject(tmp_path / "r", "s0", 0, (0.0, 0.0, 0.0), cfg.box_padding, 16)
    gen = torch.Generator().manual_seed(0)
    empty = total = 0
    for step in range(150):
        batch = sample_batch([subject], cfg, step, gen)
        per_patch = batch["labels"].reshape(cfg.patches, -1)
        empty += int((per_patch == 0).all(1).sum())
        total += cfg.patches
    return empty / total


def test_patches_without_a_subject_pixel_are_drawn_again(tmp_path):
    kept = _empty_share(tmp_path / "a")
    redrawn = _empty_share(tmp_path / "b", background_patch_redraws=8)
    assert kept > 0.2                       # 70% of centres anywhere in a frame the subject covers a fraction of
    assert redrawn < 0.02
