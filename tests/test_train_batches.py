"""One iteration's patch draw (trainer.sample_batch): empty patches redrawn, the face share reaches head pixels."""

import pytest
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


class _SeeThrough(torch.nn.Module):
    """Stand-in field: each hit ray renders the batch's own ground truth (over black) with opacity ``opacity`` x
    the matte, i.e. the right colour over a black background whatever the opacity."""

    def __init__(self, batch, opacity: float, fog: float = 0.0) -> None:
        super().__init__()
        self.batch, self.opacity, self.fog = batch, opacity, fog
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, origins, dirs, near, far, cond, step):
        hit = torch.nonzero(self.batch["hit"]).reshape(-1)
        alpha = self.batch["alpha"][hit]
        acc = self.opacity * alpha + self.fog * (alpha == 0)        # ``fog``: opacity where the matte is empty
        return {"rgb": self.batch["gt"][hit] * self.scale, "acc": acc, "seg_logits": torch.zeros(len(hit), 5)}


def test_random_background_moves_both_sides_onto_each_patch_colour(tmp_path):
    from talkinnerf.train.losses import LossWeights, TalkinLoss
    from talkinnerf.train.trainer import iteration_losses, over_patch_background

    make_subject(tmp_path / "r", "s0", size=32, frames=4)
    cfg = TrainConfig(patches=4, patch_size=8, inside_share=0.5, progress=False, random_background=True)
    subject = load_subject(tmp_path / "r", "s0", 0, (0.0, 0.0, 0.0), cfg.box_padding, 16)
    batch = sample_batch([subject], cfg, 0, torch.Generator().manual_seed(3))
    colours = batch["patch_background"]
    assert colours.shape == (4, 3) and bool((colours >= 0).all() and (colours <= 1).all())
    assert len({tuple(c.tolist()) for c in colours}) == 4            # each patch its own colour
    assert "alpha" not in sample_batch([subject], TrainConfig(patches=4, patch_size=8), 0,
                                       torch.Generator().manual_seed(3))

    # the formula on a soft matte: alpha*fg + (1-alpha)*colour, from the black-background composite
    fg = torch.rand(4 * 64, 3)
    alpha = torch.rand(4 * 64)
    moved = over_patch_background(fg * alpha[:, None], alpha, batch, torch.zeros(3))
    expected = alpha[:, None] * fg + (1 - alpha[:, None]) * colours.repeat_interleave(64, 0)
    assert torch.allclose(moved, expected, atol=1e-6)

    # a half see-through body with the right colour over black: no loss on the fixed background, a loss on random
    loss = TalkinLoss(LossWeights(0.0, 1.0, 0.0), False, None)
    background = torch.zeros(3)
    losses = {}
    for random_bg in (False, True):
        b = dict(batch)
        if not random_bg:
            b.pop("patch_background")
        run = TrainConfig(patches=4, patch_size=8, random_background=random_bg)
        net = _SeeThrough(b, 0.5)
        losses[random_bg] = float(iteration_losses(net, net, [b], 0, run, loss, background, torch.device("cpu"),
                                                   False)[0]["mse"])
    assert losses[False] < 1e-12
    assert losses[True] > 1e-3
    opaque = _SeeThrough(batch, 1.0)
    mse = iteration_losses(opaque, opaque, [batch], 0, cfg, loss, background, torch.device("cpu"), False)[0]["mse"]
    assert float(mse) < 1e-12                  # an opaque body of the right colour matches on any background


def test_opacity_loss_is_the_mean_gap_between_rendered_opacity_and_matte(tmp_path):
    from talkinnerf.train.losses import LossWeights, TalkinLoss
    from talkinnerf.train.trainer import iteration_losses

    make_subject(tmp_path / "r", "s0", size=32, frames=4)
    cfg = TrainConfig(patches=4, patch_size=8, inside_share=0.5, progress=False, loss_opacity=0.5)
    subject = load_subject(tmp_path / "r", "s0", 0, (0.0, 0.0, 0.0), cfg.box_padding, 16)
    batch = sample_batch([subject], cfg, 0, torch.Generator().manual_seed(3))
    assert "alpha" in batch and "patch_background" not in batch      # the matte rides along, no random colours
    alpha = batch["alpha"]
    assert float(alpha.sum()) > 0
    loss = TalkinLoss(LossWeights(0.0, 1.0, 0.0), False, None)
    cpu, black = torch.device("cpu"), torch.zeros(3)
    for opacity in (1.0, 0.5):
        net = _SeeThrough(batch, opacity)
        losses = iteration_losses(net, net, [batch], 0, cfg, loss, black, cpu, False)[0]
        # misses render nothing: their gap is the matte itself
        acc = torch.zeros_like(alpha)
        acc[batch["hit"]] = opacity * alpha[batch["hit"]]
        expected = float((acc - alpha).abs().mean())
        assert abs(float(losses["opacity"]) - expected) < 1e-6
        assert abs(float(losses["total"]) - (float(losses["mse"]) + 0.5 * expected)) < 1e-6
        if opacity < 1.0:
            assert expected > 1e-3             # a half see-through body pays; the colour over black does not
            assert float(losses["mse"]) < 1e-12
    off = TrainConfig(patches=4, patch_size=8, inside_share=0.5)
    assert "opacity" not in iteration_losses(net, net, [batch], 0, off, loss, black, cpu, False)[0]
    with pytest.raises(ValueError, match="loss_opacity"):
        TrainConfig(loss_opacity=-1.0)


def test_opacity_loss_outside_the_person_charges_the_fog_only(tmp_path):
    from talkinnerf.train.losses import LossWeights, TalkinLoss
    from talkinnerf.train.trainer import OPACITY_OUTSIDE, iteration_losses

    make_subject(tmp_path / "r", "s0", size=32, frames=4)
    cfg = TrainConfig(patches=4, patch_size=8, inside_share=0.5, progress=False, loss_opacity=1.0,
                      loss_opacity_where="outside")
    subject = load_subject(tmp_path / "r", "s0", 0, (0.0, 0.0, 0.0), cfg.box_padding, 16)
    batch = sample_batch([subject], cfg, 0, torch.Generator().manual_seed(3))
    alpha, hit = batch["alpha"], batch["hit"]
    outside = alpha < OPACITY_OUTSIDE
    assert bool(outside.any()) and bool((~outside).any())
    loss = TalkinLoss(LossWeights(0.0, 1.0, 0.0), False, None)
    cpu, black = torch.device("cpu"), torch.zeros(3)
    # a half see-through body with no fog pays nothing: only the empty pixels count
    net = _SeeThrough(batch, 0.5)
    assert float(iteration_losses(net, net, [batch], 0, cfg, loss, black, cpu, False)[0]["opacity"]) == 0.0
    # fog of 0.2 over the empty pixels the rays hit: the mean over all empty pixels (misses render 0)
    net = _SeeThrough(batch, 1.0, fog=0.2)
    acc = torch.zeros_like(alpha)                                 # what the stand-in renders (misses: 0)
    acc[hit] = alpha[hit] + 0.2 * (alpha[hit] == 0)
    expected = float((acc * outside).sum() / outside.sum())
    assert expected > 0
    got = float(iteration_losses(net, net, [batch], 0, cfg, loss, black, cpu, False)[0]["opacity"])
    assert abs(got - expected) < 1e-6
    with pytest.raises(ValueError, match="loss_opacity_where"):
        TrainConfig(loss_opacity_where="inside")
