"""Pure skeleton geometry: Rodrigues, forward kinematics, linear blend skinning and its inverse.

Conventions (smplx-style): a joint's local rotation acts about the joint; the kinematic tree is given by
``parents`` with ``parents[0] == -1`` and ``parents[k] < k``; the canonical pose is the zero pose, so canonical
joint positions J are the rest positions. The root rotates about its own rest position (smplx with transl = 0).
A canonical point x moved rigidly by joint k lands at ``Rg_k (x - J_k) + P_k`` (Rg_k global rotation, P_k posed
joint position); D_r inverts this per joint: ``R_k x + t_k`` with ``R_k = Rg_k^T`` and ``t_k = J_k - Rg_k^T P_k``.
"""

from __future__ import annotations

import torch

# SMPL-X joint layout: 0..21 body, 22 jaw, 23/24 eyes, 25..39 left hand, 40..54 right hand.
NUM_BODY_JOINTS = 22
LEFT_SHOULDER, RIGHT_SHOULDER = 16, 17
JAW_JOINT = 22
LEFT_HAND_JOINTS = tuple(range(25, 40))
RIGHT_HAND_JOINTS = tuple(range(40, 55))
HAND_JOINTS = LEFT_HAND_JOINTS + RIGHT_HAND_JOINTS


def rodrigues(axis_angle: torch.Tensor) -> torch.Tensor:
    """Axis-angle (..., 3) -> rotation matrices (..., 3, 3), differentiable also at zero angle."""
    # The epsilon inside the norm keeps the gradient finite at 0; the error it adds to R is O(1e-16).
    angle = torch.sqrt((axis_angle ** 2).sum(-1, keepdim=True) + 1e-16)        # (..., 1)
    axis = axis_angle / angle
    cos, sin = torch.cos(angle)[..., None], torch.sin(angle)[..., None]          # (..., 1, 1)
    x, y, z = axis.unbind(-1)
    zero = torch.zeros_like(x)
    skew = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(*axis.shape[:-1], 3, 3)
    outer = axis[..., :, None] * axis[..., None, :]
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device).expand_as(outer)
    return cos * eye + sin * skew + (1.0 - cos) * outer


def check_parents(parents: torch.Tensor, num_joints: int) -> None:
    """Raise ValueError unless ``parents[:num_joints]`` is a topologically sorted tree rooted at joint 0."""
    p = parents[:num_joints].tolist()
    if len(p) < num_joints or p[0] != -1 or any(not (0 <= p[k] < k) for k in range(1, num_joints)):
        raise ValueError(f"parents must start with -1 and satisfy 0 <= parents[k] < k for k < {num_joints}; "
                         f"got {p}")


def forward_kinematics(rotations: torch.Tensor, joints: torch.Tensor, parents: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Global rotations and posed joint positions of a tree.

    rotations (J,3,3) local; joints (J,3) rest positions; parents (J,) long (topologically sorted).
    Returns (global_rotations (J,3,3), posed_joints (J,3)).
    """
    num = rotations.shape[0]
    par = parents.tolist()
    glob = [rotations[0]]
    pos = [joints[0]]
    for k in range(1, num):
        p = par[k]
        glob.append(glob[p] @ rotations[k])
        pos.append(pos[p] + glob[p] @ (joints[k] - joints[p]))
    return torch.stack(glob), torch.stack(pos)


def inverse_transforms(global_rotations: torch.Tensor, rest_joints: torch.Tensor, posed_joints: torch.Tensor,
                       canonical_rotations: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-joint observation -> canonical maps (R_k, t_k) of paper eq. 3: x_c = R_k x + t_k.

    global_rotations (K,3,3), rest_joints (K,3), posed_joints (K,3) -> R (K,3,3), t (K,3).
    ``canonical_rotations`` (K,3,3): global rotations of a canonical pose other than the zero pose, whose joints
    are then ``rest_joints``: R_k = Gc_k Rg_k^T (undo the observed pose, then apply the canonical one).
    """
    rot = global_rotations.transpose(-1, -2)
    if canonical_rotations is not None:
        rot = canonical_rotations @ rot
    t = rest_joints - (rot @ posed_joints[..., None])[..., 0]
    return rot, t


def apply_per_joint(points: torch.Tensor, rot: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Every point through every joint's rigid map: points (N,3), rot (K,3,3), t (K,3) -> (K,N,3)."""
    return torch.einsum("kij,nj->kni", rot, points) + t[:, None, :]


def blend(candidates: torch.Tensor, weights: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """Normalised blend of per-joint candidates: candidates (K,N,3), weights (K,N) -> (N,3)."""
    total = weights.sum(0).clamp_min(eps)
    return (weights[..., None] * candidates).sum(0) / total[:, None]


def forward_lbs(points: torch.Tensor, weights: torch.Tensor, global_rotations: torch.Tensor,
                rest_joints: torch.Tensor, posed_joints: torch.Tensor) -> torch.Tensor:
    """Canonical -> observation by linear blend skinning.

    points (N,3) canonical; weights (N,K) (rows sum to 1); global_rotations (K,3,3); rest/posed joints (K,3).
    """
    local = points[None] - rest_joints[:, None]                                      # (K,N,3)
    moved = torch.einsum("kij,knj->kni", global_rotations, local) + posed_joints[:, None]
    return (weights.T[..., None] * moved).sum(0)


def full_local_rotations(poses_body: torch.Tensor, jaw: torch.Tensor, hands: torch.Tensor) -> torch.Tensor:
    """Local rotations of all 55 SMPL-X joints: poses_body (22,3), jaw (3,), hands (90,) -> (55,3,3).

    Eyes keep the identity rotation.
    """
    aa = torch.cat([poses_body.reshape(22, 3), jaw.reshape(1, 3), torch.zeros_like(poses_body[:2]),
                    hands.reshape(30, 3)], dim=0)
    return rodrigues(aa)


def posed_full_skeleton(poses_body: torch.Tensor, jaw: torch.Tensor, hands: torch.Tensor,
                        canonical_joints: torch.Tensor, parents: torch.Tensor) -> torch.Tensor:
    """Posed positions (55,3) of all SMPL-X joints, fingers included (full_local_rotations + forward_kinematics)."""
    return forward_kinematics(full_local_rotations(poses_body, jaw, hands), canonical_joints, parents)[1]


def canonical_pose_rotations(num_joints: int, arm_raise: float, dtype: torch.dtype = torch.float32,
                             device: torch.device | str = "cpu") -> torch.Tensor:
    """Local rotations (num_joints,3,3) of the canonical pose: identity except the shoulders, turned by
    ``arm_raise`` radians about z so both arms rise away from the torso (SMPL-X's left side is +x)."""
    aa = torch.zeros(num_joints, 3, dtype=dtype, device=device)
    aa[LEFT_SHOULDER, 2] = arm_raise
    aa[RIGHT_SHOULDER, 2] = -arm_raise
    return rodrigues(aa)
