"""Sampling schedule (supp. B, scaled) and patch placement."""

import pytest
import torch

from talkinnerf.train.sampling import (CAT_ANYWHERE, CAT_ARMS, CAT_FACE, CAT_HANDS, CAT_SUBJECT, FrameMasks,
                                       part_shares, patch_pixels, sample_patches)


@pytest.mark.parametrize("step,expected", [
    (0, (0.2, 0.0)), (19_999, (0.2, 0.0)), (20_000, (0.2, 0.6)), (39_999, (0.2, 0.6)), (40_000, (0.4, 0.4)),
    (60_000, (0.8, 0.2)), (79_999, (0.8, 0.2)), (80_000, (0.2, 0.0)), (399_999, (0.2, 0.0)),
])
def test_part_shares_paper_boundaries(step, expected):
    assert part_shares(step, 400_000) == expected


def test_part_shares_scale_with_iterations():
    # 4000 iterations = 1/100 of the paper: boundaries at 200, 400, 600, 800
    assert part_shares(199, 4000) == (0.2, 0.0)
    assert part_shares(200, 4000) == (0.2, 0.6)
    assert part_shares(400, 4000) == (0.4, 0.4)
    assert part_shares(600, 4000) == (0.8, 0.2)
    assert part_shares(800, 4000) == (0.2, 0.0)
    assert part_shares(5, 4000, paper_iterations=100) == (0.2, 0.0)    # a different reference length


def _masks(size=64):
    grid = torch.zeros(size, size, dtype=torch.bool)
    grid[16:48, 20:44] = True
    hands = torch.zeros_like(grid)
    hands[30:33, 20:23] = True
    arms = torch.zeros_like(grid)
    arms[20:30, 20:23] = True
    flat = lambda m: torch.nonzero(m.reshape(-1)).reshape(-1)
    return FrameMasks(size, flat(grid), flat(arms), flat(hands)), grid


def test_patches_respect_inside_share_and_part_shares():
    masks, inside = _masks()
    gen = torch.Generator().manual_seed(0)
    n, p = 4000, 8
    corners, cats = sample_patches(masks, n, p, 0.8, 0.4, 0.4, gen)
    centres_r, centres_c = corners[:, 0] + p // 2, corners[:, 1] + p // 2
    share_inside = (cats != CAT_ANYWHERE).float().mean().item()
    assert abs(share_inside - 0.8) < 0.03
    assert abs((cats == CAT_HANDS).float().mean().item() - 0.32) < 0.03
    assert abs((cats == CAT_ARMS).float().mean().item() - 0.32) < 0.03
    # the patch of an in-subject centre covers a subject pixel near its middle (shift only at borders)
    sel = cats == CAT_SUBJECT
    assert inside[centres_r[sel], centres_c[sel]].float().mean() > 0.9
    # every patch fits in the frame
    assert corners.min() >= 0 and corners.max() <= 64 - p


def test_empty_part_pools_fall_back_to_subject():
    masks, _ = _masks()
    masks.hands = torch.zeros(0, dtype=torch.long)
    masks.arms = torch.zeros(0, dtype=torch.long)
    _, cats = sample_patches(masks, 500, 8, 1.0, 0.5, 0.5, torch.Generator().manual_seed(1))
    assert (cats == CAT_SUBJECT).all()


def test_sampling_is_a_function_of_the_generator_state():
    masks, _ = _masks()
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    a = sample_patches(masks, 10, 8, 0.8, 0.2, 0.6, g1)
    b = sample_patches(masks, 10, 8, 0.8, 0.2, 0.6, g2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_patch_pixels_layout():
    rows, cols = patch_pixels(torch.tensor([[2, 5]]), 3)
    assert rows.tolist() == [2, 2, 2, 3, 3, 3, 4, 4, 4]
    assert cols.tolist() == [5, 6, 7] * 3


def test_patch_larger_than_frame_is_an_error():
    masks, _ = _masks(8)
    with pytest.raises(ValueError, match="patch size"):
        sample_patches(masks, 1, 16, 0.8, 0.2, 0.0, torch.Generator())


def test_face_share_centres_that_share_of_the_other_subject_patches_on_head_pixels():
    masks, _ = _masks()
    head = torch.zeros(64, 64, dtype=torch.bool)
    head[16:22, 28:36] = True
    masks.head = torch.nonzero(head.reshape(-1)).reshape(-1)
    p = 8
    corners, cats = sample_patches(masks, 4000, p, 0.8, 0.2, 0.0, torch.Generator().manual_seed(2), face_share=0.5)
    # in-subject 0.8: hands 0.2 of it, the other 0.8 split half face, half anywhere on the subject
    assert abs((cats == CAT_HANDS).float().mean().item() - 0.16) < 0.03
    assert abs((cats == CAT_FACE).float().mean().item() - 0.32) < 0.03
    assert abs((cats == CAT_SUBJECT).float().mean().item() - 0.32) < 0.03
    face = cats == CAT_FACE
    assert head[corners[face, 0] + p // 2, corners[face, 1] + p // 2].all()   # no shift: the head is inside
    # without a face share (the paper's draws) the sequence is the one it always was
    a = sample_patches(masks, 50, p, 0.8, 0.2, 0.6, torch.Generator().manual_seed(3))
    b = sample_patches(masks, 50, p, 0.8, 0.2, 0.6, torch.Generator().manual_seed(3), face_share=0.0)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_face_share_without_head_pixels_falls_back_to_the_subject():
    masks, _ = _masks()
    _, cats = sample_patches(masks, 300, 8, 1.0, 0.0, 0.0, torch.Generator().manual_seed(4), face_share=1.0)
    assert (cats == CAT_SUBJECT).all()
