"""Loss terms: class remap for four_classes; LPIPS built with its backbone, switched off (warning + reason) without
its weights, or failing where the config requires it (paper settings); LPIPS every k-th iteration."""

import math
import warnings
from pathlib import Path

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


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """No LPIPS weights anywhere: an empty talkinnerf cache and an empty torch hub cache."""
    from talkinnerf import pretrained

    monkeypatch.setenv(pretrained.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path


@pytest.fixture(scope="module")
def random_vgg_state():
    """A VGG16 backbone state dict (torchvision names) with random values: LPIPS without the real weights."""
    gen = torch.Generator().manual_seed(0)
    state = {}
    for idx, cin, cout in zip((0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28),
                              (3, 64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512),
                              (64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512)):
        state[f"features.{idx}.weight"] = torch.randn(cout, cin, 3, 3, generator=gen) * (2.0 / (9 * cin)) ** 0.5
        state[f"features.{idx}.bias"] = torch.zeros(cout)
    return state


@pytest.fixture
def fake_vgg_weights(monkeypatch, random_vgg_state):
    from talkinnerf import pretrained

    monkeypatch.setattr(pretrained, "lpips_backbone", lambda arch: (random_vgg_state, "random test weights"))
    return random_vgg_state


def test_lpips_off_without_weights(empty_cache):
    with pytest.warns(UserWarning, match="LPIPS off") as rec:
        module, status = make_lpips(True)
    assert module is None and status.startswith("off: ") and "talkinnerf weights fetch lpips" in status
    assert str(empty_cache / "cache" / "lpips" / "vgg16_features.pt") in status
    assert len(rec) == 1


def test_lpips_required_without_weights_fails(empty_cache):
    from talkinnerf.pretrained import MissingWeights

    with pytest.raises(MissingWeights, match="required.*talkinnerf weights fetch lpips"):
        make_lpips(True, required=True)


def test_lpips_off_for_patches_below_16_px(fake_vgg_weights):
    with pytest.warns(UserWarning, match="8-px patches"):
        module, status = make_lpips(True, min_side=8)
    assert module is None and status.startswith("off: ")
    with pytest.raises(ValueError, match="required"):
        make_lpips(True, required=True, min_side=8)


def test_lpips_disabled_by_option_is_silent():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        module, status = make_lpips(False)
    assert module is None and status == "off: disabled by option"


def test_lpips_built_with_the_backbone_loaded(fake_vgg_weights):
    with warnings.catch_warnings():
        warnings.simplefilter("error")             # no download attempt, no torchvision deprecation noise
        module, status = make_lpips(True, min_side=16)
    assert status == "on: VGG16 backbone from random test weights"
    net = module.net.state_dict()
    assert len(net) == 26
    torch.testing.assert_close(net["slice1.0.weight"], fake_vgg_weights["features.0.weight"])
    torch.testing.assert_close(net["slice5.28.bias"], fake_vgg_weights["features.28.bias"])
    assert not any(p.requires_grad for p in module.parameters())     # frozen: never optimised
    assert not module.training
    rgb = torch.rand(2, 16, 16, 3, requires_grad=True)
    gt = torch.rand(2, 16, 16, 3)
    out = TalkinLoss(LossWeights(1, 0, 0), False, module)(rgb, gt, torch.zeros(0, 5), torch.zeros(0, dtype=torch.long))
    expected = module(rgb.detach().permute(0, 3, 1, 2).contiguous(), gt.permute(0, 3, 1, 2).contiguous(),
                      normalize=True).mean()
    assert float(out["lpips"]) > 0 and math.isclose(float(out["lpips"]), float(expected), rel_tol=1e-5)
    out["total"].backward()
    assert rgb.grad is not None and rgb.grad.abs().sum() > 0


def test_backbone_loading_checks_every_parameter(fake_vgg_weights):
    import lpips

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")           # torchvision's deprecation of lpips' `pretrained=False`
        module = lpips.LPIPS(net="vgg", pretrained=True, pnet_rand=True, verbose=False)
    partial = dict(fake_vgg_weights)
    del partial["features.28.weight"]
    with pytest.raises(ValueError, match="features.28.weight"):
        losses.load_lpips_backbone(module, partial)


def test_batches_without_lpips_use_their_own_weights():
    class Const(torch.nn.Module):
        def forward(self, a, b, normalize):
            return torch.ones(a.shape[0], 1, 1, 1)

    loss = TalkinLoss(LossWeights(1.0, 0.2, 0.0), False, Const(), weights_without_lpips=LossWeights(0.0, 1.2, 0.0))
    rgb, gt = torch.zeros(1, 2, 2, 3), torch.full((1, 2, 2, 3), 0.5)
    args = (rgb, gt, torch.zeros(0, 5), torch.zeros(0, dtype=torch.long))
    assert math.isclose(float(loss(*args)["total"]), 1.0 + 0.2 * 0.25, rel_tol=1e-6)
    skipped = loss(*args, with_lpips=False)
    assert float(skipped["lpips"]) == 0.0 and math.isclose(float(skipped["total"]), 1.2 * 0.25, rel_tol=1e-6)


def test_lpips_options_are_validated():
    from talkinnerf.train.trainer import TrainConfig

    with pytest.raises(ValueError, match="lpips_every"):
        TrainConfig(lpips_every=0)
    with pytest.raises(ValueError, match="lpips_required"):
        TrainConfig(lpips_required=True, lpips=False)
    with pytest.raises(ValueError, match="lpips_required"):
        TrainConfig(lpips_required=True, loss_lpips=0.0)
    with pytest.raises(ValueError, match="16 px"):
        TrainConfig(lpips_required=True, patch_size=8)
    TrainConfig(lpips_required=True, patch_size=16)


def _paper_section(name):
    import yaml

    from talkinnerf.options import from_dict
    from talkinnerf.train.finetune import FinetuneConfig
    from talkinnerf.train.trainer import TrainConfig

    config = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / "paper.yaml").read_text())
    return from_dict({"train": TrainConfig, "finetune": FinetuneConfig}[name], config[name], name)


@pytest.mark.parametrize("section", ["train", "finetune"])
def test_paper_config_requires_lpips(section):
    cfg = _paper_section(section)
    assert cfg.lpips and cfg.lpips_required and cfg.lpips_every == 1
    weights = __import__("talkinnerf.train.trainer", fromlist=["x"]).effective_loss_weights(cfg, True)
    assert (weights.lpips, weights.mse, weights.ce) == (1.0, 0.2, 0.05)     # the paper's loss


def test_paper_config_fails_without_lpips_weights(empty_cache, tmp_path):
    """A run at paper settings stops before training when the LPIPS weights are missing (no silent MSE swap)."""
    from talkinnerf.pretrained import MissingWeights
    from talkinnerf.train.trainer import fit
    from test_train_standin import StandInNeRF, make_subject

    cfg = _paper_section("train")
    cfg.iterations, cfg.patches, cfg.patch_size = 2, 1, 16
    cfg.progress, cfg.tensorboard, cfg.device, cfg.threads = False, False, "cpu", 1
    cfg.model.samples_per_ray = 4
    make_subject(tmp_path / "r", "a", size=32)
    with pytest.raises(MissingWeights, match="lpips_required.*talkinnerf weights fetch lpips"):
        fit(["a"], tmp_path / "r", tmp_path / "out", cfg, model_factory=StandInNeRF)
    assert not (tmp_path / "out" / "model.pt").exists()


def test_training_with_lpips_every_k(fake_vgg_weights, tmp_path):
    import json

    from talkinnerf.train.trainer import TrainConfig, fit
    from test_train_standin import StandInNeRF, make_subject

    make_subject(tmp_path / "r", "a", size=32)
    cfg = TrainConfig(iterations=4, patches=1, patch_size=16, lpips_every=2, progress=False, tensorboard=False,
                      threads=1, device="cpu", log_every=1)
    cfg.model.samples_per_ray = 4
    fit(["a"], tmp_path / "r", tmp_path / "out", cfg, model_factory=StandInNeRF)
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert meta["lpips"].startswith("on: ") and meta["lpips_every"] == 2
    assert meta["loss_weights"] == {"lpips": 1.0, "mse": 0.2, "ce": 0.05}
    assert meta["loss_weights_without_lpips"] == {"lpips": 0.0, "mse": 1.2, "ce": 0.05}
    assert meta["final"]["lpips"] > 0      # the last step (3) skipped LPIPS: the log shows step 2's value


def test_mse_takes_the_lpips_weight_when_lpips_is_off():
    from talkinnerf.train.trainer import TrainConfig, effective_loss_weights

    cfg = TrainConfig(loss_lpips=1.0, loss_mse=0.2, loss_ce=0.05)
    on = effective_loss_weights(cfg, lpips_on=True)
    assert (on.lpips, on.mse, on.ce) == (1.0, 0.2, 0.05)
    off = effective_loss_weights(cfg, lpips_on=False)
    assert off.lpips == 0.0 and math.isclose(off.mse, 1.2) and off.ce == 0.05
    kept = effective_loss_weights(TrainConfig(mse_takes_lpips_weight=False), lpips_on=False)
    assert kept.lpips == 0.0 and math.isclose(kept.mse, 0.2)

