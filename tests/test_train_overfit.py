"""200-iteration overfit on one frame beats 25 dB (stand-in field: fast; the real TalkinNeRF: slow)."""

import json

import pytest

from talkinnerf.evaluate.render_eval import EvalConfig, evaluate_render
from talkinnerf.train.trainer import TrainConfig, fit
from test_train_standin import StandInNeRF, make_subject, standin_render_image


def _one_frame(tmp_path, **kw):
    make_subject(tmp_path / "r", "s0", size=32, frames=1, test_every=1000, **kw)
    # score the training frame itself
    (tmp_path / "r" / "splits" / "s0.json").write_text(json.dumps({"train": [0], "test": [0]}))


def test_overfit_one_frame_standin(tmp_path):
    _one_frame(tmp_path)
    cfg = TrainConfig(iterations=200, patches=4, patch_size=16, progress=False, lpips=False, tensorboard=False,
                      threads=1)
    cfg.model.samples_per_ray = 16
    fit(["s0"], tmp_path / "r", tmp_path / "m", cfg, model_factory=StandInNeRF)
    s = evaluate_render(tmp_path / "m" / "model.pt", "s0", tmp_path / "r", tmp_path / "e",
                        EvalConfig(lpips=False, video=False), model_factory=StandInNeRF,
                        render_fn=standin_render_image)
    assert s["mean"]["psnr"] > 25.0


@pytest.mark.slow
@pytest.mark.parametrize("field", ["mlp", "planes", "hashgrid"])
def test_overfit_one_frame_talkinnerf(tmp_path, field):
    # ~100 s per backend on a shared 2-core CPU: the real model, demo sizes, flat-shaded stick figure of its skeleton
    _one_frame(tmp_path, figure=True)
    cfg = TrainConfig(iterations=200, lr=5e-3, decay_rate=1.0, patches=4, patch_size=16, progress=False,
                      lpips=False, tensorboard=False)
    cfg.model.field = field
    fit(["s0"], tmp_path / "r", tmp_path / "m", cfg)
    s = evaluate_render(tmp_path / "m" / "model.pt", "s0", tmp_path / "r", tmp_path / "e",
                        EvalConfig(lpips=False, video=False))
    assert s["mean"]["psnr"] > 25.0
    from talkinnerf.train.trainer import load_model

    _, model_cfg, _, _ = load_model(tmp_path / "m" / "model.pt", "cpu")
    assert model_cfg.field == field
    # the explicit fields' boxes were derived from the subject and stored with the model (None for the MLPs)
    assert (model_cfg.plane_box is not None) == (field != "mlp")
