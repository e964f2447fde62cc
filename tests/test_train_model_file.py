"""Model files: options added later keep the values that reproduce older files."""

from talkinnerf.train.trainer import model_config_from_file


def test_older_model_files_keep_their_density_activation():
    old = model_config_from_file({"volume_size": 16})          # written before density_scale existed
    assert (old.density_scale, old.density_bias, old.canonical_arm_raise) == (1.0, 0.0, 0.0)
    new = model_config_from_file({"density_scale": 40.0, "density_bias": -1.0})
    assert (new.density_scale, new.density_bias) == (40.0, -1.0)
