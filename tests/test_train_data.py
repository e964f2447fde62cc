"""Subject loading: GT compositing, ray bounds from the posed box, user-fixable errors."""

import json

import numpy as np
import pytest
import torch

from talkinnerf.train.data import load_subject
from test_train_standin import make_subject


def test_gt_composited_on_background_and_rays_hit_subject(tmp_path):
    make_subject(tmp_path, "a", size=32, frames=3)
    s = load_subject(tmp_path, "a", 0, background=(1.0, 0.0, 0.0))
    img, alpha = s.image(0), s.alpha(0)
    assert torch.allclose(img[alpha == 0], torch.tensor([1.0, 0.0, 0.0]))
    assert s.train_frames == [0, 1] and s.test_frames == [2]
    r0, r1, c0, c1 = s.subject_rect(0)
    rows = torch.tensor([(r0 + r1) // 2, 0])
    cols = torch.tensor([(c0 + c1) // 2, 0])
    o, d, near, far, hit = s.rays(0, rows, cols)
    assert hit.tolist() == [True, False]
    # the centre ray enters the box near the front face (z=+0.25 padded) from a camera at z=3
    assert abs(float(near[0]) - (3 - 0.25)) < 0.05 and abs(float(far[0]) - (3 + 0.25)) < 0.05
    cond = s.conditioning(0)
    assert cond.poses_body.shape == (22, 3) and cond.identity.dtype == torch.long


def test_errors_name_the_subject(tmp_path):
    make_subject(tmp_path, "a", size=32, frames=3)
    (tmp_path / "matte" / "a" / "000001.png").unlink()
    s = load_subject(tmp_path, "a", 0)
    with pytest.raises(FileNotFoundError, match="subject a.*000001"):
        s.image(1)
    with pytest.raises(FileNotFoundError):
        load_subject(tmp_path, "missing", 0)
    (tmp_path / "splits" / "a.json").write_text(json.dumps({"train": [0, 7], "test": []}))
    with pytest.raises(ValueError, match="subject a.*7"):
        load_subject(tmp_path, "a", 0)


def test_sample_step_spreads_patches_over_distinct_subjects(tmp_path):
    import torch

    from talkinnerf.train.data import load_subject
    from talkinnerf.train.trainer import TrainConfig, sample_step
    from test_train_standin import make_subject

    names = ["s0", "s1", "s2"]
    for i, name in enumerate(names):
        make_subject(tmp_path, name, size=32, frames=2, seed=i, test_every=1000)
    subjects = [load_subject(tmp_path, name, i) for i, name in enumerate(names)]
    cfg = TrainConfig(iterations=10, patches=4, patch_size=8, subjects_per_step=0)
    batches = sample_step(subjects, cfg, 0, torch.Generator().manual_seed(0))
    assert sorted(b["subject"].name for b in batches) == names          # every identity in one iteration
    assert sum(len(b["gt"]) for b in batches) == 4 * 8 * 8              # the ray budget is unchanged
    one = sample_step(subjects, TrainConfig(iterations=10, patches=4, patch_size=8), 0,
                      torch.Generator().manual_seed(0))
    assert len(one) == 1 and len(one[0]["gt"]) == 4 * 8 * 8
    two = sample_step(subjects, TrainConfig(iterations=10, patches=4, patch_size=8, subjects_per_step=2), 0,
                      torch.Generator().manual_seed(0))
    assert len({b["subject"].name for b in two}) == 2
