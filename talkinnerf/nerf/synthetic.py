"""A synthetic SMPL-X-shaped skeleton and frame conditioning, for tests and benchmarks (no model files needed)."""

from __future__ import annotations

import torch

from talkinnerf.nerf.model import FrameConditioning

# SMPL-X kinematic tree (55 joints): body 0..21, jaw 22, eyes 23/24, left hand 25..39, right hand 40..54.
SMPLX_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15,
                 20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38,
                 21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50, 21, 52, 53)

# Approximate T-pose rest positions (metres, y up, facing +z, body's left = +x) of the 22 body joints + jaw/eyes.
_BODY = [
    (0.0, 0.0, 0.0), (0.06, -0.09, 0.0), (-0.06, -0.09, 0.0), (0.0, 0.11, -0.01),         # pelvis, hips, spine1
    (0.11, -0.47, 0.0), (-0.11, -0.47, 0.0), (0.0, 0.25, 0.01), (0.08, -0.87, -0.04),     # knees, spine2, ankles
    (-0.08, -0.87, -0.04), (0.0, 0.31, 0.02), (0.12, -0.93, 0.08), (-0.12, -0.93, 0.08),  # ankle, spine3, feet
    (0.0, 0.52, -0.01), (0.08, 0.43, -0.01), (-0.08, 0.43, -0.01), (0.0, 0.6, 0.04),      # neck, collars, head
    (0.17, 0.46, -0.02), (-0.17, 0.46, -0.02), (0.43, 0.46, -0.04), (-0.43, 0.46, -0.04),  # shoulders, elbows
    (0.68, 0.46, -0.04), (-0.68, 0.46, -0.04),                                               # wrists
    (0.0, 0.58, 0.06), (0.03, 0.66, 0.09), (-0.03, 0.66, 0.09),                              # jaw, eyes
]


def synthetic_joints() -> torch.Tensor:
    """(55,3) rest joints: the body above plus 5 three-joint fingers per hand pointing outwards along +-x."""
    joints = [list(p) for p in _BODY]
    for side, wrist in ((1.0, 20), (-1.0, 21)):
        wx, wy, wz = _BODY[wrist]
        for finger in range(5):
            z = wz + 0.04 - 0.02 * finger
            for seg in range(3):
                joints.append([wx + side * (0.08 + 0.03 * seg), wy, z])
    return torch.tensor(joints, dtype=torch.float32)


def synthetic_conditioning(identity: int = 0, seed: int = 0, pose_scale: float = 0.3) -> FrameConditioning:
    """A random (but reproducible) frame for the synthetic skeleton."""
    gen = torch.Generator().manual_seed(seed)
    joints = synthetic_joints()
    bbox = torch.stack([joints.min(0).values - torch.tensor([0.05, 0.1, 0.15]),
                        joints.max(0).values + torch.tensor([0.05, 0.15, 0.15])])
    return FrameConditioning(
        identity=torch.tensor(identity),
        poses_body=pose_scale * torch.randn(22, 3, generator=gen),
        jaw=pose_scale * torch.randn(3, generator=gen),
        expression=torch.randn(10, generator=gen),
        hands=pose_scale * torch.randn(90, generator=gen),
        canonical_joints=joints,
        parents=torch.tensor(SMPLX_PARENTS, dtype=torch.long),
        canonical_bbox=bbox,
    )


def frontal_rays(num: int, seed: int = 0, distance: float = 3.0) -> tuple[torch.Tensor, ...]:
    """``num`` rays from a camera on +z looking at the body through random points of a 1.8 m square.

    Returns rays_o (R,3), rays_d (R,3) unit, near (R,), far (R,) (a 1.2 m slab around z = 0).
    """
    gen = torch.Generator().manual_seed(seed)
    target = torch.cat([(torch.rand(num, 2, generator=gen) - 0.5) * torch.tensor([1.8, 2.0]),
                        torch.zeros(num, 1)], dim=1)
    origin = torch.tensor([0.0, 0.0, distance]).expand(num, 3)
    d = torch.nn.functional.normalize(target - origin, dim=-1)
    near = torch.full((num,), distance - 0.6)
    far = torch.full((num,), distance + 0.6)
    return origin.clone(), d, near, far
