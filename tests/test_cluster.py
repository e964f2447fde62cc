"""The README's cluster section, followed as a new user would, without a cluster: the SLURM profile's dry run
plans every job with the profile's partitions and resources, and training under torchrun on the GPUs."""

from __future__ import annotations

import importlib.util
import re

from workflow_utils import REPO, snakemake


def test_slurm_profile_dry_run(tmp_path):
    assert importlib.util.find_spec("snakemake_executor_plugin_slurm"), \
        "install the test extras: pip install -e '.[test]' (snakemake-executor-plugin-slurm)"
    proc = snakemake(tmp_path, "--profile", str(REPO / "workflow" / "profiles" / "slurm"), "-n", "-p",
                     configfile="configs/paper.yaml", timeout=300)
    text = proc.stdout + proc.stderr
    assert "Using profile" in text and "slurm" in text
    jobs = {m.group(1) for m in re.finditer(r"^rule (\w+):", text, re.M)}
    assert {"decode", "fit", "train", "evaluate_render", "report_quality", "left_out"} <= jobs
    train = text[text.index("rule train:"):]
    train = train[:train.index("\n[")] if "\n[" in train else train
    # the profile's set-resources: training on 4 GPUs of the gpu partition, under torchrun
    assert "slurm_partition=gpu" in train and "gpu=4" in train and "cpus_per_task=16" in train
    assert "--nproc_per_node 4" in text
    decode = text[text.index("rule decode:"):]
    assert "slurm_partition=cpu" in decode[:decode.index("\n[")]
    assert not (tmp_path / "results").exists()           # a dry run writes nothing
