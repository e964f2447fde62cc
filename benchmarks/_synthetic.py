"""Synthetic inputs shared by the benchmarks (no DAG outputs needed)."""

from __future__ import annotations

import resource
import tracemalloc

import torch


def peak_memory_mb(device: torch.device) -> dict[str, float]:
    """Peak memory so far: CUDA max_memory_allocated, process max RSS, and python-heap (tracemalloc) peak."""
    out = {"maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}
    if tracemalloc.is_tracing():
        out["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    if device.type == "cuda":
        out["cuda_max_allocated_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    return out


def start_runtime(device_name: str, threads: int) -> torch.device:
    """Thread count, device, and memory tracing on the CPU; prints what the figures were measured on."""
    from talkinnerf.train.trainer import resolve_device

    if threads:
        torch.set_num_threads(threads)
    device = resolve_device(device_name)
    if device.type == "cpu":
        tracemalloc.start()
    print(f"device={device} threads={torch.get_num_threads()}")
    return device


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
