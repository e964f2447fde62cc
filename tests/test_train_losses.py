"""Loss terms: class remap for four_classes, LPIPS switched off (warning + reason) without VGG weights."""

import math
import warnings

import pytest
import torch

from talkinnerf.train import losses
from talkinnerf.train.losses import LossWeights, TalkinLoss, make_lpips, remap_labels


def test_four_class_remap():
    labels = torch.tensor([0, 1, 2, 3, 4])
    assert remap_labels(labels, True).tolist() == [0, 1, 1, 2, 3]
    assert remap_labels(labels, False).tolist() == [0, 1, 2, 3, 4]


def test_ce_uses_remapped_labels():
    # logits that are confident in the 4-class layout: arms (2) must count as body (1)
    logits = torch.full((2, 4), -20.0)
    logits[0, 1] = 20.0          # predicts body for a pixel labelled arms
    logits[1, 2] = 20.0          # predicts hands (4-class index 2) for a pixel labelled hands (3)
    loss = TalkinLoss(LossWeights(0, 0, 1), four_classes=True, lpips_module=None)
    rgb = torch.zeros(1, 2, 2, 3)
    out = loss(rgb, rgb, logits, torch.tensor([2, 3]))
    assert out["ce"] < 1e-6
    # the same logits scored against 5 classes with the raw labels are wrong
    logits5 = torch.cat([logits, torch.full((2, 1), -20.0)], 1)
    out5 = TalkinLoss(LossWeights(0, 0, 1), four_classes=False, lpips_module=None)(rgb, rgb, logits5,
                                                                                 torch.tensor([2, 3]))
    assert out5["ce"] > 10


def test_weighted_total():
    loss = TalkinLoss(LossWeights(1.0, 0.2, 0.05), four_classes=False, lpips_module=None)
    rgb = torch.zeros(1, 2, 2, 3, requires_grad=True)
    gt = torch.full((1, 2, 2, 3), 0.5)
    logits = torch.zeros(3, 5)
    out = loss(rgb, gt, logits, torch.tensor([0, 1, 4]))
    assert math.isclose(float(out["mse"]), 0.25)
    assert math.isclose(float(out["ce"]), math.log(5), rel_tol=1e-6)
    assert math.isclose(float(out["total"].detach()), 0.2 * 0.25 + 0.05 * math.log(5), rel_tol=1e-6)
    out["total"].backward()
    assert rgb.grad is not None and rgb.grad.abs().sum() > 0


def test_lpips_off_without_vgg_weights(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.warns(UserWarning, match="LPIPS off") as rec:
        module, status = make_lpips(True)
    assert module is None and status.startswith("off: ") and "vgg16-397923af.pth" in status
    assert str(tmp_path / "hub" / "checkpoints") in status
    assert len(rec) == 1


def test_lpips_disabled_by_option_is_silent():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        module, status = make_lpips(False)
    assert module is None and status == "off: disabled by option"


def test_lpips_built_when_weights_present(tmp_path, monkeypatch):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "vgg16-397923af.pth").write_bytes(b"x")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    built = {}

    class FakeLPIPS(torch.nn.Module):
        def __init__(self, net, verbose):
            super().__init__()
            built["net"] = net
            self.w = torch.nn.Parameter(torch.ones(1))

        def forward(self, a, b, normalize):
            return ((a - b) ** 2).mean(dim=(1, 2, 3), keepdim=True) * self.w

    import lpips
    monkeypatch.setattr(lpips, "LPIPS", FakeLPIPS)
    module, status = make_lpips(True)
    assert status == "on" and built["net"] == "vgg"
    assert not any(p.requires_grad for p in module.parameters())     # frozen: never optimised
    out = TalkinLoss(LossWeights(1, 0, 0), False, module)(torch.zeros(2, 4, 4, 3), torch.ones(2, 4, 4, 3),
                                                          torch.zeros(0, 5), torch.zeros(0, dtype=torch.long))
    assert math.isclose(float(out["lpips"]), 1.0)


def test_mse_takes_the_lpips_weight_when_lpips_is_off():
    from talkinnerf.train.trainer import TrainConfig, effective_loss_weights

    cfg = TrainConfig(loss_lpips=1.0, loss_mse=0.2, loss_ce=0.05)
    on = effective_loss_weights(cfg, lpips_on=True)
    assert (on.lpips, on.mse, on.ce) == (1.0, 0.2, 0.05)
    off = effective_loss_weights(cfg, lpips_on=False)
    assert off.lpips == 0.0 and math.isclose(off.mse, 1.2) and off.ce == 0.05
    kept = effective_loss_weights(TrainConfig(mse_takes_lpips_weight=False), lpips_on=False)
    assert kept.lpips == 0.0 and math.isclose(kept.mse, 0.2)

