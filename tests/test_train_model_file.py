"""Model files: options added later keep the values that reproduce older files."""

from talkinnerf.train.trainer import model_config_from_file


def test_older_model_files_keep_their_density_activation():
    old = model_config_from_file({"volume_size": 16})          # written before density_scale existed
    assert (old.density_scale, old.density_bias, old.canonical_arm_raise) == (1.0, 0.0, 0.0)
    new = model_config_from_file({"density_scale": 40.0, "density_bias": -1.0})
    assert (new.density_scale, new.density_bias) == (40.0, -1.0)


def test_equal_models_and_checkpoints_are_equal_files(tmp_path):
    """Two runs that train the same weights write the same bytes (fine-tuning fingerprints its base model by its
    bytes; the SLURM and local runs of one config compare file by file), whatever temporary name each write used."""
    import torch

    from talkinnerf.nerf.config import ModelConfig
    from talkinnerf.train.checkpoint import load_checkpoint, save_checkpoint
    from talkinnerf.train.trainer import save_model

    torch.manual_seed(0)
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters())
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, 0.9)
    for run in ("a", "b"):
        save_model(tmp_path / run / "model.pt", net, ModelConfig(), ["s0"], 7)
        save_checkpoint(tmp_path / run / "ckpt", 7, net, opt, sched, torch.Generator().manual_seed(1))
    for rel in ("model.pt", "ckpt/0000007.pt", "ckpt/latest.pt"):
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    assert not [p.name for p in (tmp_path / "a").rglob(".*")]               # no temporary file left behind
    assert load_checkpoint(tmp_path / "a" / "ckpt" / "latest.pt")["step"] == 7
    state = torch.load(tmp_path / "a" / "model.pt", weights_only=True)
    assert torch.equal(state["state_dict"]["weight"], net.weight.detach()) and state["subjects"] == ["s0"]
