"""The SLURM profile's start check (talkinnerf/cluster_check.py, the Snakefile's onstart): a partition without a
usable node, or a cluster without accounting, stops the run at once with the node's name and reason."""

import os
import subprocess
from pathlib import Path

import pytest

from talkinnerf.cluster_check import node_usable, partition_problems, slurm_problems
from workflow_utils import REPO


def fake_runner(nodes: dict[str, list[str]], sacct_ok: bool = True):
    """A stand-in for subprocess.run answering sinfo (per partition: "name|state|reason" lines) and sacct."""
    def run(cmd):
        if cmd[0] == "sinfo":
            part = cmd[cmd.index("-p") + 1]
            return subprocess.CompletedProcess(cmd, 0, "\n".join(nodes.get(part, [])) + "\n", "")
        if cmd[0] == "sacct":
            return subprocess.CompletedProcess(cmd, 0 if sacct_ok else 1, "",
                                               "" if sacct_ok else "Slurm accounting storage is disabled")
        raise AssertionError(cmd)
    return run


@pytest.mark.parametrize("state, usable", [
    ("idle", True), ("mixed", True), ("allocated", True), ("idle*", False), ("idle~", True),
    ("drained", False), ("draining", False), ("idle+drain", False), ("down*", False), ("fail", False),
    ("mixed+drain", False), ("completing", True)])
def test_node_states(state, usable):
    assert node_usable(state) is usable


def test_a_partition_whose_nodes_are_all_drained_or_down_is_named_with_every_node_and_reason():
    run = fake_runner({"cpu": ["n1|idle|", "n2|drained|disk full"],
                       "gpu": ["g2|down*|not responding", "g1|drained|cooling failure"]})
    problems = partition_problems(["gpu", "cpu", "gpu"], run)
    assert problems == ["partition 'gpu' has no node that can take jobs: g1 drained (cooling failure), "
                        "g2 down* (not responding)"]


def test_an_unknown_partition_and_missing_accounting_are_reported():
    problems = slurm_problems(["cpu", "gpus"], fake_runner({"cpu": ["n1|mixed|"]}, sacct_ok=False))
    assert len(problems) == 2
    assert "partition 'gpus' does not exist" in problems[0]
    assert "accounting is not available" in problems[1] and "storage is disabled" in problems[1]
    assert slurm_problems(["cpu"], fake_runner({"cpu": ["n1|idle|"]})) == []


def test_without_slurm_commands_it_says_to_use_a_submit_host():
    def missing(cmd):
        raise FileNotFoundError(2, "No such file", cmd[0])
    assert slurm_problems(["cpu"], missing) == ["sinfo is not on PATH: run the SLURM profile on a submit host of "
                                                "the cluster"]


def test_the_profile_stops_before_submitting_when_the_gpu_partition_is_drained(tmp_path):
    """Through Snakemake and the real profile, with stand-ins for the SLURM commands on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    scripts = {
        "sinfo": 'case "$*" in *"-p gpu"*) echo "gpu7|drained|cooling failure";; *) echo "node1|idle|";; esac',
        "sacct": "exit 0",
        "sbatch": f'echo sbatch >> {calls}; echo "Submitted batch job 1"',
        "sacctmgr": f"echo sacctmgr >> {calls}",
        "squeue": f"echo squeue >> {calls}",
    }
    for name, body in scripts.items():
        (bin_dir / name).write_text(f"#!/bin/bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    snakemake = Path(os.sys.executable).parent / "snakemake"
    proc = subprocess.run([str(snakemake), "--profile", "workflow/profiles/slurm", "--configfile",
                           "configs/smoke.yaml", "-d", str(tmp_path / "run"), "results/frames/ava"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "partition 'gpu' has no node that can take jobs: gpu7 drained (cooling failure)" in proc.stdout + proc.stderr
    assert not calls.exists()           # nothing was submitted
