"""The cluster path for real (docs/cluster.md): a one-node SLURM cluster with accounting (scripts/slurm-local.sh)
runs a smoke training target through the SLURM profile, every job a real sbatch job in sacct, training as two ranks
under srun + torchrun; a training job cancelled with scancel leaves no model and is resumed from its checkpoint by
the same command; a drained node and missing accounting are reported, by name and by what is missing."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from workflow_utils import REPO, SNAKEMAKE

pytestmark = pytest.mark.slow
SCRIPT = REPO / "scripts" / "slurm-local.sh"
SMOKE = REPO / "configs" / "smoke.yaml"
TRAIN_COMMENT = "rule_train_wildcards_talkinnerf"


def _cannot_run_slurmd() -> str | None:
    if not sys.platform.startswith("linux"):
        return "slurmd runs on Linux only"
    if os.geteuid() != 0:
        return "slurmd must run as root (it starts each job as its user); scripts/slurm-local.sh runs its daemons as you"
    if not shutil.which("slurmd") and not shutil.which("apt-get"):
        return "SLURM is not installed and there is no apt-get to install slurm-wlm, slurmdbd, munge, mariadb-server"
    return None


def _free_port_base(count: int = 4) -> int:
    """A base port with `count` free ports above it on 127.0.0.1 (a developer's cluster keeps its own)."""
    for base in range(17817, 18817, 10):
        try:
            for port in range(base, base + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free ports for the test cluster")


class Cluster:
    def __init__(self, state: Path):
        self.env = {**os.environ, "TALKINNERF_SLURM_DIR": str(state), "TALKINNERF_SLURM_PORT": str(_free_port_base())}
        self.env["SLURM_CONF"] = str(state / "etc" / "slurm.conf")
        self.env["PATH"] = f"{state / 'bin'}:{self.env['PATH']}"
        self.state = state

    def script(self, *args: str, timeout: int = 900, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(["bash", str(SCRIPT), *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"slurm-local.sh {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc

    def run(self, *cmd: str, check: bool = True) -> str:
        proc = subprocess.run(list(cmd), env=self.env, capture_output=True, text=True, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"{cmd} failed: {proc.stdout}\n{proc.stderr}")
        return proc.stdout + proc.stderr

    def snakemake(self, workdir: Path, config: Path, *args: str) -> list[str]:
        # train_gpus=2: the train job runs two ranks under torchrun, inside its srun step (gloo on CPU)
        # (targets first: --configfile, --profile and --config each take several values)
        return [SNAKEMAKE, *args, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--configfile",
                str(config), "--profile", str(REPO / "workflow" / "profiles" / "slurm"), "--profile",
                str(self.state / "profile"), "--config", "train_gpus=2"]

    def accounting(self) -> list[dict[str, str]]:
        out = self.run("sacct", "-X", "-n", "-P", "-S", "now-2hours", "-o", "JobID,State,Elapsed,Partition,Comment")
        return [dict(zip(("id", "state", "elapsed", "partition", "comment"), line.split("|")))
                for line in out.splitlines() if line.strip()]


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    why = _cannot_run_slurmd()
    if why:
        pytest.skip(why)
    c = Cluster(tmp_path_factory.mktemp("slurm"))
    daemons = ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd")
    try:
        out = c.script("start").stdout
        assert "node " in out and "idle" in out, out
        yield c
    finally:
        pids = {d: int((c.state / "run" / f"{d}.pid").read_text()) for d in daemons
                if (c.state / "run" / f"{d}.pid").is_file()}
        c.script("stop", check=False, timeout=120)
    assert set(pids) == set(daemons), pids
    for name, pid in pids.items():                                   # stopped, by the PIDs it started
        assert not _alive(pid), f"{name} (pid {pid}) still running after stop"
    assert c.script("status", check=False).returncode != 0


def _job_stats(text: str) -> dict[str, int]:
    """Rule -> job count of Snakemake's "Job stats" table."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Job stats:"))
    counts = {}
    for row in lines[start + 3:]:
        parts = row.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts


def _tiny_config(tmp_path: Path) -> Path:
    """configs/smoke.yaml with one demo subject, one setting and a training long enough to be cancelled mid-way."""
    config = yaml.safe_load(SMOKE.read_text())
    config["demo"]["subjects"] = config["demo"]["subjects"][:1]
    config["demo"]["novel"] = []
    config["settings"] = {"talkinnerf": {}}
    config["train"].update(iterations=160, checkpoint_every=10)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_profile_runs_training_on_the_cluster_and_a_cancelled_job_resumes(cluster, tmp_path):
    workdir, config = tmp_path / "run", _tiny_config(tmp_path)
    target = "results/models/talkinnerf/model.pt"
    model_dir = workdir / "results" / "models" / "talkinnerf"
    log = open(tmp_path / "first.log", "w")
    first = subprocess.Popen(cluster.snakemake(workdir, config, target), env=cluster.env, stdout=log,
                             stderr=subprocess.STDOUT, text=True)
    # cancel the training job once it has written a checkpoint
    cancelled = None
    deadline = time.monotonic() + 900
    while first.poll() is None and time.monotonic() < deadline:
        if (model_dir / "checkpoints" / "latest.pt").is_file():
            jobs = cluster.run("squeue", "-h", "-o", "%i|%k|%T").split()
            running = [j.split("|")[0] for j in jobs if f"|{TRAIN_COMMENT}|RUNNING" in j]
            if running:
                cancelled = running[0]
                cluster.run("scancel", cancelled)
                break
        time.sleep(0.5)
    first.wait(timeout=600)
    log.close()
    text = (tmp_path / "first.log").read_text()
    assert cancelled, "the training job never ran with a checkpoint written:\n" + text[-4000:]
    assert first.returncode != 0 and f"SLURM-job '{cancelled}' failed" in text and "CANCELLED" in text, text[-4000:]
    assert not (model_dir / "model.pt").exists()                       # no partial outputs
    assert not (model_dir / "meta.json").exists()
    assert (model_dir / "checkpoints" / "latest.pt").is_file()         # ... but the checkpoint to resume from

    # every job was a real sbatch job, named by its rule in accounting; training ran on the profile's partition
    rows = cluster.accounting()
    by_comment = {r["comment"]: r for r in rows}
    for rule in ("rule_body_model", "rule_decode_wildcards_ava", "rule_fit_wildcards_ava"):
        assert by_comment[rule]["state"] == "COMPLETED", rows
    # bookkeeping rules (localrules) ran beside Snakemake, not through sbatch
    assert "rule_split_wildcards_ava" not in by_comment and (workdir / "results" / "splits" / "ava.json").is_file()
    train = [r for r in rows if r["comment"] == TRAIN_COMMENT]
    assert [r["state"].split()[0] for r in train] == ["CANCELLED"] and train[0]["partition"] == "gpu", rows

    # the same command again: only the training job reruns, from its last checkpoint, and finishes
    second = subprocess.run(cluster.snakemake(workdir, config, target), env=cluster.env, capture_output=True,
                            text=True, timeout=900)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-5000:]
    assert _job_stats(second.stdout + second.stderr) == {"train": 1}
    meta = json.loads((model_dir / "meta.json").read_text())
    assert meta["status"] == "done" and meta["world_size"] == 2, meta     # two ranks under srun + torchrun
    assert meta["resumed_from"] >= 10, meta
    assert (model_dir / "model.pt").is_file()
    train = [r for r in cluster.accounting() if r["comment"] == TRAIN_COMMENT]
    assert [r["state"].split()[0] for r in train] == ["CANCELLED", "COMPLETED"], train
    # the rule's own log is where the docs say; torchrun started two ranks inside the job step
    assert (workdir / "results" / "logs" / "train" / "talkinnerf.log").is_file()


def test_a_drained_node_is_reported_by_name_not_as_a_hang(cluster, tmp_path):
    node = socket.gethostname().split(".")[0]
    cluster.run("scontrol", "update", f"nodename={node}", "state=drain", "reason=disk_full_test")
    try:
        status = cluster.script("status", check=False)
        assert status.returncode == 1
        assert f"node {node} is drained: disk_full_test" in status.stdout, status.stdout
        # through the profile: the Snakefile's start check stops the run before any submission, naming the node
        run = subprocess.run(cluster.snakemake(tmp_path / "run", _tiny_config(tmp_path), "results/splits/ava.json"),
                             env=cluster.env, capture_output=True, text=True, timeout=600)
        assert run.returncode != 0
        assert f"has no node that can take jobs: {node} drained (disk_full_test)" in run.stdout + run.stderr
        # and a submission that gets past it (the node drained later) is refused by the local sbatch wrapper
        submit = subprocess.run(["sbatch", "--wrap", "true"], env=cluster.env, capture_output=True, text=True,
                                timeout=120)
        assert submit.returncode != 0 and f"node {node} is drained: disk_full_test" in submit.stderr, submit.stderr
    finally:
        cluster.run("scontrol", "update", f"nodename={node}", "state=resume")
    assert cluster.script("status").returncode == 0


def test_missing_accounting_is_reported(cluster):
    pidfile = cluster.state / "run" / "slurmdbd.pid"
    os.kill(int(pidfile.read_text()), 15)                           # slurmdbd (started by the fixture) goes away
    deadline = time.monotonic() + 60
    while _alive(int(pidfile.read_text())) and time.monotonic() < deadline:
        time.sleep(0.5)
    try:
        sacct = subprocess.run(["sacct", "-n", "-X"], env=cluster.env, capture_output=True, text=True, timeout=120)
        assert sacct.returncode != 0 and "database" in sacct.stderr.lower(), sacct.stderr   # sacct says why
        check = cluster.script("check", check=False)
        assert check.returncode == 1 and "accounting is not available" in check.stdout, check.stdout
        submit = subprocess.run(["sbatch", "--wrap", "true"], env=cluster.env, capture_output=True, text=True,
                                timeout=120)
        assert submit.returncode != 0 and "accounting is not available" in submit.stderr, submit.stderr
    finally:
        cluster.script("start")                                        # starts what is missing
    assert cluster.script("check").returncode == 0
