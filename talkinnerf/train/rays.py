"""Camera rays and ray/box intersection: pure tensor functions (no state, no I/O).

Cameras follow docs/contracts.md (OpenCV): ``x_cam = R @ x_world + t``; pixel (i, j) has its centre at
``(u, v) = (j + 0.5, i + 0.5)``.
"""

from __future__ import annotations

import torch


def camera_center(R: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """World position of the camera centre. R (3,3), t (3,) -> (3,)."""
    return -R.T @ t


def pixel_rays(K: torch.Tensor, R: torch.Tensor, t: torch.Tensor, rows: torch.Tensor,
               cols: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """World-space rays through pixel centres.

    K, R (3,3); t (3,); rows, cols (N,) integer pixel indices -> origins (N,3), unit directions (N,3).
    """
    dtype = K.dtype
    u = cols.to(dtype) + 0.5
    v = rows.to(dtype) + 0.5
    pix = torch.stack([u, v, torch.ones_like(u)], dim=-1)            # (N,3) homogeneous pixels
    dirs_cam = pix @ torch.linalg.inv(K).T                            # (N,3) on the z=1 plane
    dirs = dirs_cam @ R                                               # R^T applied row-wise: camera -> world
    dirs = dirs / dirs.norm(dim=-1, keepdim=True)
    origins = camera_center(R, t).expand_as(dirs)
    return origins.contiguous(), dirs


def ray_box_intersect(origins: torch.Tensor, dirs: torch.Tensor, box: torch.Tensor,
                      min_near: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Slab test of rays against one axis-aligned box.

    origins, dirs (N,3); box (2,3) = [min; max] -> near (N,), far (N,), hit (N,) bool.
    ``near`` is clamped to ``min_near`` (a camera inside the box starts there). For rays that miss,
    near = far = 0 so downstream code can ignore them via ``hit``.
    """
    # a zero direction component gives ±inf slab distances, which the min/max below handle correctly;
    # replace exact zeros by a tiny number to avoid 0 * inf = nan when the origin lies on a slab plane
    safe = torch.where(dirs.abs() < 1e-12, torch.full_like(dirs, 1e-12), dirs)
    inv = 1.0 / safe
    t0 = (box[0] - origins) * inv
    t1 = (box[1] - origins) * inv
    t_near = torch.minimum(t0, t1).amax(dim=-1).clamp_min(min_near)
    t_far = torch.maximum(t0, t1).amin(dim=-1)
    hit = t_far > t_near
    zero = torch.zeros_like(t_near)
    return torch.where(hit, t_near, zero), torch.where(hit, t_far, zero), hit


def pad_box(box: torch.Tensor, pad: float) -> torch.Tensor:
    """Grow a (2,3) min/max box by ``pad`` (metres) on every side."""
    return torch.stack([box[0] - pad, box[1] + pad])


def project_points(points: torch.Tensor, K: torch.Tensor, R: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Pinhole projection. points (N,3) world -> (N,2) pixel coordinates (u, v) (continuous)."""
    cam = points @ R.T + t
    z = cam[:, 2:3].clamp_min(1e-6)
    uv1 = (cam / z) @ K.T
    return uv1[:, :2]


def box_corners(box: torch.Tensor) -> torch.Tensor:
    """The 8 corners of a (2,3) min/max box -> (8,3)."""
    idx = torch.tensor([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)])
    return torch.stack([box[idx[:, 0], 0], box[idx[:, 1], 1], box[idx[:, 2], 2]], dim=-1)
