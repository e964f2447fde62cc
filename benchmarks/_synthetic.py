"""Synthetic inputs shared by the benchmarks (no DAG outputs needed)."""

from __future__ import annotations

import resource
import tracemalloc
from pathlib import Path

import torch


def peak_memory_mb(device: torch.device) -> dict[str, float]:
    """Peak memory so far: CUDA max_memory_allocated, process max RSS, and python-heap (tracemalloc) peak."""
    out = {"maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}
    if tracemalloc.is_tracing():
        out["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    if device.type == "cuda":
        out["cuda_max_allocated_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    return out


def start_runtime(device_name: str, threads: int, quiet: bool = False, trace: bool = True) -> torch.device:
    """Thread count, device, and memory tracing on the CPU; prints what the figures were measured on."""
    from talkinnerf.train.trainer import resolve_device

    if threads:
        torch.set_num_threads(threads)
    device = resolve_device(device_name)
    if device.type == "cpu" and trace:
        tracemalloc.start()
    if not quiet:
        print(f"device={device} threads={torch.get_num_threads()}")
    return device


def _status_mb(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return float(line.split()[1]) / 1024.0
    raise KeyError(key)


def rss_probe(fn, device: torch.device) -> dict[str, float]:
    """Peak memory while ``fn()`` runs. CUDA: max_memory_allocated over the call (and the growth above what was
    allocated before). CPU (Linux): the process's peak RSS is reset (/proc/self/clear_refs) and its growth over
    the call reported; run with MALLOC_MMAP_THRESHOLD_ set low so that freed tensors leave the RSS."""
    out = {}
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device)
        out.update(cuda_peak_mb=peak / 2**20, cuda_peak_growth_mb=(peak - before) / 2**20)
    else:
        Path("/proc/self/clear_refs").write_text("5")     # resets VmHWM to the current RSS
        before = _status_mb("VmRSS")
        fn()
        peak = _status_mb("VmHWM")
        out.update(rss_peak_mb=peak, rss_peak_growth_mb=peak - before)
    return out


def model_config(size: str):
    from talkinnerf.nerf.config import ModelConfig

    return ModelConfig.paper_sizes() if size == "paper" else ModelConfig()


def box_rays(num: int, gen: torch.Generator):
    """``num`` frontal rays through the synthetic skeleton's box, with near/far from the box."""
    from talkinnerf.nerf.synthetic import synthetic_conditioning
    from talkinnerf.train.rays import ray_box_intersect

    cond = synthetic_conditioning(pose_scale=0.2)
    box = cond.canonical_bbox
    target = box[0] + (box[1] - box[0]) * torch.rand(num, 3, generator=gen)
    origin = torch.tensor([0.0, 0.0, 3.0]).expand(num, 3).contiguous()
    dirs = torch.nn.functional.normalize(target - origin, dim=-1)
    near, far, hit = ray_box_intersect(origin, dirs, box)
    return cond, origin, dirs, near, far, hit
