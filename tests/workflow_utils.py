"""Run Snakemake on this repository's workflow from a scratch working directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def snakemake(workdir: Path, *args: str, configfile: str = "config.yaml", timeout: int = 1800,
              check: bool = True) -> subprocess.CompletedProcess:
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(REPO / configfile), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return proc


def planned_jobs(workdir: Path, *args: str, configfile: str = "config.yaml") -> dict[str, int]:
    """Rule -> job count of a dry run (empty when there is nothing to do)."""
    proc = snakemake(workdir, "-n", *args, configfile=configfile, timeout=300)
    return job_counts(proc.stdout + proc.stderr)


def job_counts(text: str) -> dict[str, int]:
    """Rule -> job count from the "Job stats" of a dry run's output."""
    counts: dict[str, int] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Job stats:"):
            for row in lines[i + 3:]:
                parts = row.split()
                if len(parts) != 2 or parts[0] == "total":
                    break
                counts[parts[0]] = int(parts[1])
            break
    return counts
