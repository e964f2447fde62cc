"""Before a run through the SLURM profile submits anything: can the cluster run its jobs?

SLURM accepts a job for a partition whose every node is drained or down and leaves it pending; the executor plugin
then waits for ever, and a run that stopped making progress looks like a slow one. Without accounting (slurmdbd)
the plugin's account check and its `sacct` fallback fail later, job by job. The Snakefile's `onstart` hook calls
`slurm_problems` when the executor is `slurm` and stops the run with its message: every partition the profile uses
needs at least one node that can take jobs (the others are named, with SLURM's reason), and `sacct` must answer.
docs/cluster.md.
"""

from __future__ import annotations

import subprocess
from typing import Callable, Iterable

# node states (sinfo %T, lower case, flags such as "*" or "+drain" stripped) in which a node takes or runs jobs
USABLE_STATES = {"idle", "mixed", "allocated", "completing", "planned", "reserved"}

Runner = Callable[[list[str]], subprocess.CompletedProcess]


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def node_usable(state: str) -> bool:
    """sinfo's long state (e.g. "idle", "mixed*", "idle+drain", "drained", "down*") -> can it take a job?"""
    state = state.strip().lower()
    if state.endswith("*"):    # not responding: SLURM allocates it no new work
        return False
    base = state.rstrip("~#!%$@^-")
    if "+" in base:            # idle+drain, mixed+drain: draining nodes take no new jobs
        return False
    return base in USABLE_STATES


def partition_problems(partitions: Iterable[str], run: Runner = _run) -> list[str]:
    """One line per partition with no usable node (or that sinfo does not know), naming its nodes and reasons."""
    problems = []
    for partition in sorted(set(partitions)):
        proc = run(["sinfo", "-h", "-N", "-p", partition, "-o", "%N|%T|%E"])
        if proc.returncode != 0:
            problems.append(f"sinfo failed for partition {partition!r}: {proc.stderr.strip() or proc.stdout.strip()}")
            continue
        nodes = [line.split("|", 2) for line in proc.stdout.splitlines() if line.strip()]
        if not nodes:
            problems.append(f"partition {partition!r} does not exist or has no nodes (sinfo -p {partition})")
        elif not any(node_usable(state) for _, state, _ in nodes):
            named = ", ".join(f"{name} {state} ({reason.strip() or 'no reason given'})"
                              for name, state, reason in sorted(nodes))
            problems.append(f"partition {partition!r} has no node that can take jobs: {named}")
    return problems


def accounting_problem(run: Runner = _run) -> str | None:
    """None when `sacct` answers; else why not (no slurmdbd, accounting disabled, ...)."""
    proc = run(["sacct", "-n", "-X", "-S", "now-1minutes", "-o", "JobID"])
    if proc.returncode == 0:
        return None
    return (f"accounting is not available: sacct says {proc.stderr.strip() or proc.stdout.strip()!r}; the SLURM "
            "executor needs it (sacctmgr for the account, sacct for job states): ask for slurmdbd, or see "
            "docs/cluster.md")


def slurm_problems(partitions: Iterable[str], run: Runner = _run) -> list[str]:
    """Everything that keeps ``partitions`` from running jobs, as lines to show; [] when the cluster can run."""
    try:
        problems = partition_problems(partitions, run)
        account = accounting_problem(run)
    except FileNotFoundError as err:      # sinfo or sacct missing: not a SLURM submit host
        return [f"{err.filename} is not on PATH: run the SLURM profile on a submit host of the cluster"]
    except subprocess.TimeoutExpired as err:
        return [f"{' '.join(err.cmd)} did not answer in {err.timeout:.0f} s: is slurmctld reachable?"]
    return problems + ([account] if account else [])


def profile_partitions(resource_settings) -> set[str]:
    """The `slurm_partition` values of a Snakemake run's resource settings (default and per-rule)."""
    found = set()

    def collect(mapping) -> None:
        if mapping is None:
            return
        items = mapping.items() if hasattr(mapping, "items") else []
        for key, value in items:
            value = getattr(value, "raw", value)        # snakemake's Resource keeps the profile's text
            if key == "slurm_partition" and value:
                found.add(str(value).strip("'\""))

    defaults = getattr(resource_settings, "default_resources", None)
    collect(getattr(defaults, "_data", defaults))
    for rule_resources in (getattr(resource_settings, "overwrite_resources", None) or {}).values():
        collect(getattr(rule_resources, "_data", rule_resources))
    return found
