"""The canonical density shell (``model.density_shell``): density only within a distance of the fitted body.

Inverse LBS maps every posed sample to a canonical point, and a monocular ray through a pixel can be explained by
density anywhere along it: fog beside the body, ghost arms where the fit was off, a hand's colour stored in front
of the chest. Vid2Avatar and InstantAvatar keep the canonical geometry near the fitted body (an SDF initialised
from SMPL, an occupancy grid seeded by it). The cheapest form of that here: a fixed volume over the padded
canonical bbox holding ``shell - distance to the subject's zero-pose mesh`` (its vertices: results/smplx
``canonical_vertices``); a sample whose canonical point (after D_r, before D_nr) reads <= 0 is empty space and is
skipped like a sample below the skinning-weight threshold (no field evaluation at all).

Pure functions; the model caches one volume per subject (TalkinNeRF.shell_volume).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from talkinnerf.nerf.weights import normalise_to_box, voxel_centres


@torch.no_grad()
def nearest_vertex_distance(points: torch.Tensor, vertices: torch.Tensor) -> torch.Tensor:
    """(N,) Euclidean distance of points (N,3) to the nearest of vertices (V,3).

    A k-d tree (scipy): a 64^3 volume against a 13.7k-vertex mesh took 2.8 s where a brute-force cdist took 32 s
    (one subject, the same busy 2-core machine)."""
    from scipy.spatial import cKDTree

    if vertices.dim() != 2 or vertices.shape[1] != 3 or vertices.shape[0] == 0:
        raise ValueError(f"vertices must be (V,3) with V >= 1, got {tuple(vertices.shape)}")
    tree = cKDTree(vertices.detach().cpu().double().numpy())
    dist, _ = tree.query(points.detach().cpu().double().numpy(), k=1)
    return torch.as_tensor(dist, dtype=points.dtype, device=points.device)


@torch.no_grad()
def shell_slack_volume(vertices: torch.Tensor, bbox: torch.Tensor, size: int, shell: float) -> torch.Tensor:
    """(S,S,S) volume over bbox (2,3), indexed [z,y,x] with voxel centres on linspace(bbox) (as the weight volume):
    ``shell`` minus each centre's distance to the nearest vertex (metres; > 0 inside the shell)."""
    if shell <= 0:
        raise ValueError(f"shell must be > 0 metres, got {shell}")
    centres = voxel_centres(bbox, size).reshape(-1, 3)
    dist = nearest_vertex_distance(centres.to(vertices.dtype), vertices)
    return (shell - dist).reshape(size, size, size).to(bbox.dtype)


def shell_slack(volume: torch.Tensor, points: torch.Tensor, bbox: torch.Tensor) -> torch.Tensor:
    """(N,) trilinear slack of canonical points (N,3) in ``volume`` (S,S,S) over bbox; 0 outside the bbox (empty)."""
    grid = normalise_to_box(points, bbox).reshape(1, 1, 1, -1, 3).to(volume.dtype)
    out = F.grid_sample(volume[None, None], grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return out.reshape(-1)


def inside_shell(volume: torch.Tensor, points: torch.Tensor, bbox: torch.Tensor) -> torch.Tensor:
    """(N,) bool: the canonical points that may hold density (slack > 0)."""
    return shell_slack(volume, points, bbox) > 0


__all__ = ["nearest_vertex_distance", "shell_slack_volume", "shell_slack", "inside_shell"]
