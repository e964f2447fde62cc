"""train.loss_part: the rendered opacity split by the body part whose joints skin each sample (packed.part_mass,
TalkinNeRF.render_parts) and the share of a labelled pixel's opacity drawn by other parts (misplaced_part_mass)."""

import pytest
import torch

from talkinnerf.body.parts import PART_LABELS
from talkinnerf.nerf import packed
from talkinnerf.nerf.config import ModelConfig
from talkinnerf.nerf.model import TalkinNeRF
from talkinnerf.nerf.synthetic import frontal_rays, synthetic_conditioning
from talkinnerf.train.losses import misplaced_part_mass
from talkinnerf.train.trainer import TrainConfig, uses_part_loss

BODY, ARMS, HANDS, HEAD = (PART_LABELS[p] for p in ("body", "arms", "hands", "head"))


def test_part_mass_sums_each_points_weights_by_part():
    joint_parts = torch.tensor([BODY, ARMS, HANDS, HEAD, BODY])
    # point 0: joints 0 and 4 (both body) and 2 (hands); point 1: joint 3 only; point 2: no pair at all
    joint = torch.tensor([0, 4, 2, 3])
    row = torch.tensor([0, 0, 0, 1])
    w = torch.tensor([0.2, 0.2, 0.6, 0.5], requires_grad=True)
    mass = packed.part_mass(joint_parts, joint, row, w, 3)
    expected = torch.tensor([[0, 0.4, 0, 0.6, 0], [0, 0, 0, 0, 1.0], [0, 0, 0, 0, 0]])
    assert torch.allclose(mass, expected, atol=1e-6)
    mass[0, HANDS].backward()
    # the hand share grows with the hand joint's weight and shrinks with the body joints'
    assert w.grad[2] > 0 and w.grad[0] < 0 and w.grad[1] < 0 and w.grad[3] == 0


def test_misplaced_part_mass_charges_other_parts_on_labelled_rays_only():
    mass = torch.tensor([[0, 0.1, 0, 0.8, 0],      # a hand ray drawn mostly by the hand: 0.1 misplaced
                         [0, 0.9, 0, 0.0, 0],      # a hand ray drawn by the chest: 0.9 misplaced
                         [0, 0.5, 0, 0.0, 0.5]])   # background: not charged (fog is not this term's business)
    labels = torch.tensor([HANDS, HANDS, 0])
    assert float(misplaced_part_mass(mass, labels)) == pytest.approx((0.1 + 0.9) / (0.9 + 0.9))
    assert float(misplaced_part_mass(mass[2:], labels[2:])) == 0.0
    # a see-through ray of the right part pays nothing: opacity is the other losses' business
    assert float(misplaced_part_mass(torch.tensor([[0, 0, 0.3, 0, 0]]), torch.tensor([ARMS]))) == 0.0
    # a share: a body drawn fainter by the same parts pays the same (emptying the body does not lower it)
    assert float(misplaced_part_mass(0.2 * mass, labels)) == pytest.approx(float(misplaced_part_mass(mass, labels)))
    faint = mass.clone().requires_grad_(True)
    misplaced_part_mass(faint, labels).backward()
    assert float((faint.grad[:2] * mass[:2]).sum()) == pytest.approx(0.0, abs=1e-6)   # no gradient along scaling


def _render(model, rays, cond, cull=True):
    model.joint_box_culling = cull
    torch.manual_seed(1)
    return model(*rays, cond, step=0)


def test_the_model_renders_part_mass_only_when_asked_and_it_changes_nothing_else():
    torch.manual_seed(0)
    model = TalkinNeRF(ModelConfig(samples_per_ray=24, humannerf=True), 2)
    rays, cond = frontal_rays(48), synthetic_conditioning()
    plain = _render(model, rays, cond)
    assert "part_mass" not in plain
    model.render_parts = True
    parts = _render(model, rays, cond)
    assert torch.equal(parts["rgb"], plain["rgb"]) and torch.equal(parts["acc"], plain["acc"])
    # body-only: one compositing pass, so the parts split the ray's opacity exactly
    assert torch.allclose(parts["part_mass"].sum(1), parts["acc"], atol=1e-5)
    assert float(parts["part_mass"][:, 0].detach().abs().max()) == 0.0
    # the dense reference path (every sample looked up in every joint) gives the same split
    dense = _render(model, rays, cond, cull=False)
    assert torch.allclose(dense["part_mass"], parts["part_mass"], atol=1e-5)


def test_part_mass_follows_the_body_part_a_ray_meets():
    torch.manual_seed(0)
    model = TalkinNeRF(ModelConfig(samples_per_ray=32), 2).eval()
    model.render_parts = True
    cond = synthetic_conditioning(pose_scale=0.0)                  # rest pose: posed = canonical
    targets = torch.tensor([[0.0, 0.68, 0.0], [0.78, 0.46, 0.0], [0.0, 0.2, 0.0], [0.3, 0.46, 0.0],
                            [-0.78, 0.46, 0.0]])                   # head, left hand, chest, left upper arm, right hand
    origin = torch.tensor([0.0, 0.0, 3.0]).expand(5, 3).clone()
    dirs = torch.nn.functional.normalize(targets - origin, dim=-1)
    with torch.no_grad():
        out = model(origin, dirs, torch.full((5,), 2.4), torch.full((5,), 3.6), cond, step=0)
    assert out["part_mass"].argmax(1).tolist() == [HEAD, HANDS, BODY, ARMS, HANDS]
    share = out["part_mass"].max(1).values / out["acc"]
    assert bool((share > 0.9).all())


def test_the_loss_reaches_the_skinning_weights_and_the_fields():
    torch.manual_seed(0)
    model = TalkinNeRF(ModelConfig(samples_per_ray=24), 2)
    model.render_parts = True
    out = _render(model, frontal_rays(32), synthetic_conditioning())
    gap = misplaced_part_mass(out["part_mass"], torch.full((32,), HANDS))
    assert 0.0 < float(gap.detach()) < 1.0
    gap.backward()
    volume_grad = sum(float(p.grad.abs().sum()) for p in model.weight_volume.parameters() if p.grad is not None)
    field_grad = sum(float(p.grad.abs().sum()) for p in model.body.parameters() if p.grad is not None)
    assert volume_grad > 0 and field_grad > 0


def test_config_and_baseline():
    with pytest.raises(ValueError, match="loss_part"):
        TrainConfig(loss_part=-0.1)
    assert not uses_part_loss(TrainConfig())
    assert uses_part_loss(TrainConfig(loss_part=0.1))
    # HumanNeRF keeps its published loss
    assert not uses_part_loss(TrainConfig(loss_part=0.1, model=ModelConfig(baseline="humannerf")))


class _PartStandIn(torch.nn.Module):
    """Stand-in field: each hit ray renders the ground truth, opaque, its opacity drawn by ``part`` (or by no part
    when ``part`` is None: a model that does not render part_mass)."""

    def __init__(self, batch, part: int | None) -> None:
        super().__init__()
        self.batch, self.part = batch, part
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, origins, dirs, near, far, cond, step):
        hit = torch.nonzero(self.batch["hit"]).reshape(-1)
        out = {"rgb": self.batch["gt"][hit] * self.scale, "acc": torch.ones(len(hit)),
               "seg_logits": torch.zeros(len(hit), 5)}
        if self.part is not None:
            out["part_mass"] = torch.nn.functional.one_hot(torch.full((len(hit),), self.part), 5).float()
        return out


def test_iteration_losses_add_the_weighted_term(tmp_path):
    from talkinnerf.train.data import load_subject
    from talkinnerf.train.losses import LossWeights, TalkinLoss
    from talkinnerf.train.trainer import iteration_losses, sample_batch
    from test_train_standin import make_subject

    make_subject(tmp_path / "r", "s0", size=32, frames=4)
    cfg = TrainConfig(patches=4, patch_size=8, inside_share=0.5, progress=False, loss_part=0.5)
    subject = load_subject(tmp_path / "r", "s0", 0, (0.0, 0.0, 0.0), cfg.box_padding, 16)
    batch = sample_batch([subject], cfg, 0, torch.Generator().manual_seed(3))
    labels = batch["labels"][batch["hit"]]
    person = labels > 0
    assert int(person.sum()) > 0
    loss = TalkinLoss(LossWeights(0.0, 1.0, 0.0), False, None)
    cpu, black = torch.device("cpu"), torch.zeros(3)
    net = _PartStandIn(batch, BODY)
    losses = iteration_losses(net, net, [batch], 0, cfg, loss, black, cpu, False)[0]
    expected = float((labels[person] != BODY).float().mean())    # every labelled ray drawn by the body
    assert 0.0 < expected < 1.0                                   # the patches hold body and other parts
    assert float(losses["part"]) == pytest.approx(expected, abs=1e-6)
    assert float(losses["total"].detach()) == pytest.approx(float(losses["mse"]) + 0.5 * expected, abs=1e-6)
    off = TrainConfig(patches=4, patch_size=8, inside_share=0.5)
    assert "part" not in iteration_losses(net, net, [batch], 0, off, loss, black, cpu, False)[0]
    blind = _PartStandIn(batch, None)
    with pytest.raises(ValueError, match="loss_part"):
        iteration_losses(blind, blind, [batch], 0, cfg, loss, black, cpu, False)


def test_iteration_losses_ask_a_real_model_for_its_part_split(tmp_path):
    """No caller has to switch TalkinNeRF.render_parts on (the trainer, the benchmarks): the loss asks for it."""
    from talkinnerf.train.data import load_subject
    from talkinnerf.train.losses import LossWeights, TalkinLoss
    from talkinnerf.train.trainer import default_model_factory, iteration_losses, sample_batch
    from test_train_standin import make_subject

    make_subject(tmp_path / "r", "s0", size=32, frames=4)
    cfg = TrainConfig(patches=4, patch_size=8, inside_share=0.5, progress=False, loss_part=0.5,
                      model=ModelConfig(samples_per_ray=12))
    subject = load_subject(tmp_path / "r", "s0", 0, (0.0, 0.0, 0.0), cfg.box_padding, 16)
    batch = sample_batch([subject], cfg, 0, torch.Generator().manual_seed(3))
    torch.manual_seed(0)
    model = default_model_factory(cfg.model, 1)
    assert not model.render_parts
    args = ([batch], 0, cfg, TalkinLoss(LossWeights(0.0, 1.0, 0.0), False, None), torch.zeros(3),
            torch.device("cpu"), False)
    losses = iteration_losses(model, model, *args)[0]
    assert model.render_parts and 0.0 < float(losses["part"].detach()) < 1.0
    off = iteration_losses(model, model, [batch], 0, TrainConfig(patches=4, patch_size=8, inside_share=0.5),
                           *args[3:])[0]
    assert not model.render_parts and "part" not in off          # and off again for a run without the term


def test_part_trust_leaves_the_unvouched_pixels_out_of_the_term(tmp_path):
    import cv2
    import numpy as np

    from talkinnerf.train.data import load_subject
    from talkinnerf.train.losses import LossWeights, TalkinLoss
    from talkinnerf.train.trainer import iteration_losses, sample_batch
    from test_train_standin import make_subject

    make_subject(tmp_path / "r", "s0", size=32, frames=4)
    trust_dir = tmp_path / "r" / "parts" / "s0" / "trust"
    cfg = TrainConfig(patches=4, patch_size=8, inside_share=0.5, progress=False, loss_part=0.5, part_trust=True)
    subject = load_subject(tmp_path / "r", "s0", 0, (0.0, 0.0, 0.0), cfg.box_padding, 16)
    with pytest.raises(FileNotFoundError, match="part_trust"):      # a parts folder from before the trust
        sample_batch([subject], cfg, 0, torch.Generator().manual_seed(3))
    trust_dir.mkdir()
    left_half = np.zeros((32, 32), np.uint8)
    left_half[:, :16] = 255                                      # vouch for the left half of every frame only
    for f in range(4):
        cv2.imwrite(str(trust_dir / f"{f:06d}.png"), left_half)
    subject = load_subject(tmp_path / "r", "s0", 0, (0.0, 0.0, 0.0), cfg.box_padding, 16)
    batch = sample_batch([subject], cfg, 0, torch.Generator().manual_seed(3))
    hit = batch["hit"]
    labels, cols = batch["labels"][hit], batch["cols"][hit]
    vouched = (labels > 0) & (cols < 16)
    assert 0 < int(vouched.sum()) < int((labels > 0).sum())     # the patches straddle the trusted half
    loss = TalkinLoss(LossWeights(0.0, 1.0, 0.0), False, None)
    net = _PartStandIn(batch, BODY)
    losses = iteration_losses(net, net, [batch], 0, cfg, loss, torch.zeros(3), torch.device("cpu"), False)[0]
    assert float(losses["part"]) == pytest.approx(float((labels[vouched] != BODY).float().mean()), abs=1e-6)
    # the segmentation loss still sees every label: the trust only narrows the part term
    assert torch.equal(batch["labels"], subject.labels(batch["frame"])[batch["rows"], batch["cols"]])
