"""The README's cluster section, followed as a new user would, without a cluster: the SLURM profile's dry run
plans every job with the profile's partitions and resources, and training under torchrun on the GPUs."""

from __future__ import annotations

import importlib.util
import re

from workflow_utils import REPO, snakemake


def test_slurm_profile_dry_run(tmp_path):
    assert importlib.util.find_spec("snakemake_executor_plugin_slurm"), \
        "install the test extras: pip install -e '.[test]' (snakemake-executor-plugin-slurm)"
    proc = snakemake(tmp_path, "--profile", str(REPO / "workflow" / "profiles" / "slurm"), "-n", "-p", "tables",
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
    # every job that asks for a GPU goes to the gpu partition (sbatch refuses --gpus on the cpu one); `tables`
    # adds the single-subject and few-second trainings
    blocks = re.split(r"\n\[[^\]]+\]\n", text)
    gpu_rules = set()
    for block in blocks:
        rule, res = re.search(r"rule (\w+):", block), re.search(r"resources: (.*)", block)
        if rule and res and int((re.search(r"\bgpu=(\d+)", res.group(1)) or [0, 0])[1]):
            assert "slurm_partition=gpu" in res.group(1), (rule.group(1), res.group(1))
            gpu_rules.add(rule.group(1))
    assert {"train", "finetune", "train_single", "train_clip", "evaluate_render"} <= gpu_rules, gpu_rules
    assert not (tmp_path / "results").exists()           # a dry run writes nothing


def test_every_rule_is_lint_clean_with_a_conda_env(tmp_path):
    """`snakemake --lint` finds nothing (params instead of globals in shell commands, no mixed rule/function
    files), and every shell rule names the conda env that `--software-deployment-method conda` builds."""
    proc = snakemake(tmp_path, "--lint", timeout=300, check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Lints for" not in text, text[-6000:]
    assert "Congratulations, your workflow is in a good condition" in text
    env = REPO / "envs" / "talkinnerf.yaml"
    assert env.is_file() and "talkinnerf" in env.read_text()
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"^rule ", smk.read_text(), flags=re.M)[1:]:
            if "\n    shell:" in block:
                assert "\n    conda:\n        CONDA_ENV" in block, f"{smk.name}: rule {block.split(':')[0]} has no conda env"
