"""Fixtures shared by several test modules."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def open_model_path(tmp_path_factory):
    """A small open SMPL-X-format model built from Anny once per test session (a few seconds)."""
    from talkinnerf.body.open_model import OpenModelOptions, write_open_model

    path = tmp_path_factory.mktemp("body") / "SMPLX_OPEN.npz"  # a name smplx.create can parse
    write_open_model(path, OpenModelOptions(num_shape_samples=60, regressor_samples=12))
    return path
