"""scripts/setup.sh stops with a clear message, before pip, when the disk cannot hold PyTorch."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SETUP = Path(__file__).resolve().parents[1] / "scripts" / "setup.sh"


@pytest.mark.skipif(shutil.which("python3.11") is None, reason="setup.sh needs python3.11")
def test_setup_refuses_when_the_disk_is_too_small(tmp_path):
    (tmp_path / "scripts").mkdir()
    shutil.copy(SETUP, tmp_path / "scripts" / "setup.sh")
    env = {**os.environ, "TALKINNERF_MIN_FREE_GB": "1000000"}     # more than any disk here holds
    run = subprocess.run(["bash", "scripts/setup.sh"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 1
    assert "needs about 1000000 GB" in run.stderr and "TALKINNERF_MIN_FREE_GB=0" in run.stderr
    assert not list((tmp_path / ".venv").glob("lib/python3*/site-packages/torch"))   # stopped before pip
