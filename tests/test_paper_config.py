"""configs/paper.yaml as the workflow reads it: the HumanNeRF baseline as published (sigma = ReLU(raw)) and the
paper's evaluation regions (issue 18)."""

from pathlib import Path

import pytest
import torch
import yaml

from talkinnerf.config_check import check_stage_sections, options_class
from talkinnerf.options import from_dict

PAPER = Path(__file__).resolve().parents[1] / "configs" / "paper.yaml"


@pytest.fixture(scope="module")
def paper():
    config = yaml.safe_load(PAPER.read_text())
    check_stage_sections(config)           # what the workflow checks before any job starts
    return config


def baseline_train_config(config):
    """The baseline's train options as workflow/rules/experiments_common.smk builds them (`_train_section`): the
    `train` section with `experiments.baseline.model` over `train.model`."""
    train = dict(config["train"])
    train["model"] = {**(train.get("model") or {}), **config["experiments"]["baseline"]["model"]}
    train["iterations"] = config["experiments"]["baseline"]["iterations"]
    return from_dict(options_class("train"), train, where="config experiments.baseline")


def test_paper_baseline_density_is_relu_of_raw(paper):
    from talkinnerf.nerf.model import TalkinNeRF

    cfg = baseline_train_config(paper)
    m = cfg.model
    assert m.faithful_humannerf and m.body_only and m.num_classes == 0 and m.code_dim == 0
    assert m.density_scale == 1.0 and m.relu_density_init == 0.0
    assert (m.field_depth, m.field_width, m.samples_per_ray) == (8, 256, 128) and cfg.iterations == 400_000
    torch.manual_seed(0)
    model = TalkinNeRF(m, 1)
    raw = torch.tensor([-3.0, -0.25, 0.0, 1e-3, 0.7, 2.0, 57.5, 300.0])
    assert torch.equal(model._density(raw, 0.0), torch.relu(raw))              # sigma = ReLU(raw), in 1/m
    raw = torch.randn(1000) * 10
    assert torch.equal(model._density(raw, 0.0), torch.relu(raw))
    # its own start: the raw-density bias keeps PyTorch's default init of F_body's head (no lift to 1.0)
    bias = float(model.body.mlp.head.bias[3].detach())
    assert abs(bias) <= 1 / m.field_width ** 0.5


def test_demo_baseline_keeps_its_lifted_start():
    """config.yaml's baseline (not paper.yaml's) starts alive at raw 1.0 with the demo's density scale."""
    config = yaml.safe_load((PAPER.parents[1] / "config.yaml").read_text())
    cfg = baseline_train_config(config)
    assert cfg.model.faithful_humannerf and cfg.model.relu_density_init == 1.0


def test_paper_evaluation_uses_the_papers_regions_at_the_decoded_size(paper):
    ecfg = from_dict(options_class("evaluate"), paper["evaluate"], where="evaluate")
    assert ecfg.regions == "detector" and ecfg.smoothing
    assert paper["decode"]["size"] == 512
    assert round(ecfg.hand_box * paper["decode"]["size"]) >= 50       # hand crops of at least 51 px


def test_paper_training_keeps_the_papers_loss_and_draws(paper):
    """config.yaml adds loss terms and draws of its own; `--configfile configs/paper.yaml` is read over it (Snakemake
    merges the two), and the merged train section must be the paper's."""
    from snakemake.utils import update_config

    merged = yaml.safe_load((PAPER.parents[1] / "config.yaml").read_text())
    assert merged["train"]["loss_part"] > 0 and merged["train"]["face_share"] > 0   # what paper.yaml must undo
    update_config(merged, paper)
    cfg = from_dict(options_class("train"), merged["train"], where="train")
    assert cfg.loss_part == 0 and cfg.face_share == 0 and cfg.background_patch_redraws == 0
    assert cfg.loss_opacity == 0 and not cfg.random_background and not cfg.frame_alignment
    assert cfg.model.field == "mlp" and not cfg.model.face_residual and cfg.model.posed_gate == 0
