"""evaluate render / animate and train finetune end to end with the stand-in field (seconds)."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

import talkinnerf.evaluate.render_eval as render_eval
from talkinnerf.evaluate.animate import AnimateConfig, animate, load_motion
from talkinnerf.evaluate.render_eval import EvalConfig, evaluate_render
from talkinnerf.nerf import packed
from talkinnerf.nerf.render import RenderOptions
from talkinnerf.train.finetune import FinetuneConfig, extend_identities, finetune, first_seconds
from talkinnerf.train.trainer import TrainConfig, fit, load_model
from test_train_standin import StandInNeRF, make_subject, standin_render_image


@pytest.fixture()
def trained(tmp_path):
    make_subject(tmp_path / "r", "a", size=32, frames=6, seed=0)
    make_subject(tmp_path / "r", "b", size=32, frames=6, seed=1)
    cfg = TrainConfig(iterations=20, patches=2, patch_size=16, progress=False, lpips=False, tensorboard=False,
                      threads=1)
    cfg.model.samples_per_ray = 8
    fit(["a"], tmp_path / "r", tmp_path / "m", cfg, model_factory=StandInNeRF)
    return tmp_path


def test_evaluate_render_outputs(trained, monkeypatch):
    monkeypatch.setattr(render_eval, "get_render_fn", lambda: standin_render_image)
    out = trained / "e"
    s = evaluate_render(trained / "m" / "model.pt", "a", trained / "r", out, EvalConfig(lpips=False),
                        model_factory=StandInNeRF)
    df = pd.read_csv(out / "metrics.csv")
    assert df["frame"].tolist() == [2, 5]                 # the test split
    assert df["lpips"].isna().all() and "n/a" in (out / "metrics.csv").read_text()
    assert df["psnr"].between(0, 100).all() and df["ssim_face"].notna().all()
    assert (out / "compare.png").stat().st_size > 0 and (out / "render.mp4").stat().st_size > 0
    assert s["lpips"].startswith("n/a")
    assert df["coverage"].between(0, 1).all() and s["mean"]["coverage"] == pytest.approx(df["coverage"].mean(),
                                                                                         abs=1e-4)
    # the full-frame SSIM's person and background parts recompose it (to the CSV's 4 and 6 decimals)
    assert df["person_share"].between(0, 1).all() and df["ssim_person"].notna().all()
    recomposed = df["person_share"] * df["ssim_person"] + (1 - df["person_share"]) * df["ssim_background"]
    assert (recomposed - df["ssim"]).abs().max() < 2e-4
    from talkinnerf.video.encode import read_video
    frames, _ = read_video(out / "render.mp4")
    assert len(frames) == 2


def test_coverage_tells_an_empty_render_from_a_rendered_person():
    alpha = np.zeros((8, 8))
    alpha[2:6, 2:6] = 1.0
    acc = np.zeros((8, 8))
    assert render_eval.coverage(acc, alpha) == 0.0                   # collapsed density: nothing rendered
    acc[2:6, 2:6] = 0.9
    acc[0, 0] = 1.0                                                  # opacity off the person does not count
    assert render_eval.coverage(acc, alpha) == pytest.approx(0.9)
    assert np.isnan(render_eval.coverage(acc, np.zeros((8, 8))))     # no person in the frame
    assert np.isnan(render_eval.coverage(None, alpha))               # a renderer without opacity


def test_evaluate_unknown_subject(trained):
    with pytest.raises(ValueError, match="not an identity"):
        evaluate_render(trained / "m" / "model.pt", "b", trained / "r", trained / "e", EvalConfig(),
                        model_factory=StandInNeRF, render_fn=standin_render_image)


def test_animate_with_other_subjects_motion(trained):
    out = trained / "anim.mp4"
    s = animate(trained / "m" / "model.pt", "a", trained / "r" / "smplx" / "b.npz", trained / "r", out,
                AnimateConfig(max_frames=3), model_factory=StandInNeRF, render_fn=standin_render_image)
    assert s["frames"] == 3 and out.stat().st_size > 0
    m = load_motion(trained / "r" / "smplx" / "b.npz")
    assert m["poses_body"].shape == (6, 22, 3) and np.allclose(m["transl"][0], 0)


@pytest.mark.parametrize("native", [True, False])
def test_render_bf16_only_where_native(trained, monkeypatch, native):
    """render.autocast: bf16 (configs/paper.yaml) reaches the renderer only where the device has native bf16;
    elsewhere float32 with a warning. summary.json / the animation's json record the mode used."""
    monkeypatch.setattr(packed, "bf16_native", lambda device: native)
    seen = []

    def recording_render(*args, options=None, **kwargs):
        seen.append(options.autocast)
        return standin_render_image(*args, **kwargs)

    bf16 = RenderOptions(autocast="bf16")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = evaluate_render(trained / "m" / "model.pt", "a", trained / "r", trained / "e",
                            EvalConfig(lpips=False, video=False, render=bf16), model_factory=StandInNeRF,
                            render_fn=recording_render)
        a = animate(trained / "m" / "model.pt", "a", trained / "r" / "smplx" / "b.npz", trained / "r",
                    trained / "anim.mp4", AnimateConfig(max_frames=2, render=bf16), model_factory=StandInNeRF,
                    render_fn=recording_render)
    mode = "bf16" if native else "off"
    assert seen == [mode] * 4 and s["render_autocast"] == a["render_autocast"] == mode
    assert json.loads((trained / "e" / "summary.json").read_text())["render_autocast"] == mode
    assert sum("render.autocast: bf16 requested" in str(w.message) for w in caught) == (0 if native else 2)
    assert RenderOptions().for_device(torch.device("cpu")) == (RenderOptions(), None)


def test_first_seconds():
    assert first_seconds([0, 1, 2, 4, 5, 7, 30], fps=10.0, seconds=0.5) == [0, 1, 2, 4]
    assert first_seconds([3, 4], fps=10.0, seconds=0.01) == [3]
    with pytest.raises(ValueError):
        first_seconds([0], 10.0, 0)


def test_extend_identities_mean_init():
    from talkinnerf.nerf.config import ModelConfig

    base = StandInNeRF(ModelConfig(), 2)
    new = StandInNeRF(ModelConfig(), 3)
    grown = extend_identities(base.state_dict(), new, 2, "mean")
    assert grown == ["identity.weight"]
    w = new.identity.weight.detach()
    assert torch.equal(w[:2], base.identity.weight.detach())
    assert torch.allclose(w[2], base.identity.weight.detach().mean(0))
    assert torch.equal(new.mlp[0].weight, base.mlp[0].weight)


def test_finetune_identity_only(trained):
    cfg = FinetuneConfig(iterations=5, patches=2, patch_size=16, progress=False, lpips=False, tensorboard=False,
                         trainable="identity", lr=1e-2)
    finetune(trained / "m" / "model.pt", "b", 0.3, trained / "r", trained / "ft", cfg, model_factory=StandInNeRF)
    base, *_ = load_model(trained / "m" / "model.pt", model_factory=StandInNeRF)
    ft, cfg_ft, names, step = load_model(trained / "ft" / "model.pt", model_factory=StandInNeRF)
    assert names == ["a", "b"] and step == 20 + 5   # fine-tuning continues the base model's 20 steps
    assert torch.equal(ft.mlp[0].weight, base.mlp[0].weight)            # frozen
    assert torch.equal(ft.identity.weight[0], base.identity.weight[0])  # other identity untouched
    assert not torch.allclose(ft.identity.weight[1], base.identity.weight[0])
    meta = json.loads((trained / "ft" / "meta.json").read_text())
    assert meta["frames"] == [0, 1]            # 0.3 s at 10 fps -> frames 0..2, 2 is a test frame
    with pytest.raises(ValueError, match="already identity"):
        finetune(trained / "m" / "model.pt", "a", 1, trained / "r", trained / "ft2", cfg, model_factory=StandInNeRF)


def test_cli_fit_rejects_unknown_option(trained, capsys):
    from talkinnerf.cli import main

    rc = main(["train", "fit", "--subjects", "a", "--data-root", str(trained / "r"), "--out", str(trained / "x"),
               "--options", json.dumps({"iterationz": 3})])
    assert rc == 2 and "iterationz" in capsys.readouterr().err


def test_finetune_continues_the_base_models_step_schedule(trained):
    seen = []

    class RecordingNeRF(StandInNeRF):
        def prepare_step(self, step):
            seen.append(step)

    cfg = FinetuneConfig(iterations=3, patches=2, patch_size=16, progress=False, lpips=False, tensorboard=False)
    finetune(trained / "m" / "model.pt", "b", 0.3, trained / "r", trained / "ft3", cfg, model_factory=RecordingNeRF)
    assert seen == [20, 21, 22]        # the base model trained 20 steps: its kick-ins must not restart
    assert json.loads((trained / "ft3" / "meta.json").read_text())["model_step_offset"] == 20


def test_compare_grid_lays_out_rows_of_any_number_of_tiles_with_white_gaps():
    import numpy as np

    from talkinnerf.evaluate.render_eval import compare_grid

    a, b, c = np.zeros((4, 5, 3)), np.full((4, 5, 3), 0.5), np.full((4, 5, 3), 0.25)
    pairs = compare_grid([(a, b), (b, a)])
    assert pairs.shape == (10, 12, 3)
    assert (pairs[:, 5:7] == 1).all() and (pairs[4:6] == 1).all()            # the gaps
    assert (pairs[:4, 7:] == 0.5).all() and (pairs[6:, :5] == 0.5).all()     # tiles in place
    three = compare_grid([(a, b, c)])
    assert three.shape == (4, 19, 3) and (three[:, 14:] == 0.25).all()
