"""Robust losses and priors for SMPLify-X-style fitting (pure tensor functions).

Conventions: axis-angle poses in SMPL-X joint order; the body faces +z, its left is +x and y is up
(docs/contracts.md). Every function returns a scalar or per-element tensor and keeps autograd intact.
"""

from __future__ import annotations

import torch

# SMPL-X body_pose rows (joint index - 1, since body_pose excludes the pelvis / global orient).
BODY_POSE_JOINT_OFFSET = 1
LEFT_KNEE, RIGHT_KNEE = 4, 5
LEFT_ELBOW, RIGHT_ELBOW = 18, 19
SPINE_JOINTS = (3, 6, 9)
NECK_HEAD_JOINTS = (12, 15)
COLLAR_JOINTS = (13, 14)
# Hand joint order inside a 15-joint hand pose: index1-3, middle1-3, pinky1-3, ring1-3, thumb1-3.
NON_THUMB_HAND_JOINTS = tuple(range(12))


def geman_mcclure(residual: torch.Tensor, sigma: float) -> torch.Tensor:
    """Geman-McClure robust penalty rho(r) = sigma^2 r^2 / (sigma^2 + r^2), element-wise.

    Bounded by sigma^2 (an outlier keypoint can cost at most that) and ~ r^2 for |r| << sigma, so small
    residuals behave like least squares. ``residual`` may be any shape; for 2D points pass the per-point
    Euclidean norm (or the squared norm via :func:`geman_mcclure_sq`).
    """
    return geman_mcclure_sq(residual * residual, sigma)


def geman_mcclure_sq(residual_sq: torch.Tensor, sigma: float) -> torch.Tensor:
    """Geman-McClure from a squared residual (avoids the sqrt's infinite gradient at 0)."""
    s2 = sigma * sigma
    return s2 * residual_sq / (s2 + residual_sq)


def joint_limit_signs() -> dict[str, list[tuple[int, int, float]]]:
    """(joint index in its pose block, axis, sign) triples: ``sign * angle > 0`` is a wrong-way bend.

    Derivation in the T-pose (body facing +z, left = +x, palms down):
    - knees bend the shin backwards: +x rotation of (0,-1,0) gives (0,-cos,-sin) -> valid angle_x >= 0.
    - left forearm (+x) swings forward (+z) for angle_y < 0 -> penalise +y; right forearm mirrored.
    - left fingers (+x) curl towards the palm (-y) for angle_z < 0 -> penalise +z; right hand mirrored.
    Thumbs are left out: their rest frame is not axis-aligned enough for a one-axis limit.
    """
    body = [(LEFT_KNEE - BODY_POSE_JOINT_OFFSET, 0, -1.0), (RIGHT_KNEE - BODY_POSE_JOINT_OFFSET, 0, -1.0),
            (LEFT_ELBOW - BODY_POSE_JOINT_OFFSET, 1, 1.0), (RIGHT_ELBOW - BODY_POSE_JOINT_OFFSET, 1, -1.0)]
    left = [(j, 2, 1.0) for j in NON_THUMB_HAND_JOINTS]
    right = [(j, 2, -1.0) for j in NON_THUMB_HAND_JOINTS]
    return {"body_pose": body, "left_hand_pose": left, "right_hand_pose": right}


def angle_limit_penalty(pose: torch.Tensor, limits: list[tuple[int, int, float]],
                        margin: float = 0.0) -> torch.Tensor:
    """Squared hinge on wrong-way bends: sum over limits of relu(sign * pose[..., j, axis] - margin)^2.

    pose: (B, J, 3) axis-angle; returns (B,). Zero for any pose bending the right way (or less than
    ``margin`` radians the wrong way), positive and growing quadratically for hyperextension. A hinge
    instead of SMPLify's exp(angle) keeps valid poses exactly unpenalised.
    """
    if not limits:
        return pose.new_zeros(pose.shape[0])
    joints = torch.tensor([j for j, _, _ in limits], device=pose.device)
    axes = torch.tensor([a for _, a, _ in limits], device=pose.device)
    signs = torch.tensor([s for _, _, s in limits], dtype=pose.dtype, device=pose.device)
    angles = pose[:, joints, axes]  # (B, L)
    return torch.relu(angles * signs - margin).pow(2).sum(dim=1)


def body_pose_sigmas(limb_sigma: float = 1.0, spine_sigma: float = 0.35, neck_sigma: float = 0.5,
                     collar_sigma: float = 0.25, hinge_off_axis_sigma: float = 0.25) -> torch.Tensor:
    """Per-joint, per-axis standard deviations (21, 3) of a zero-mean diagonal Gaussian over body_pose.

    Without a learned prior (VPoser needs licensed data) the cheap choice is a Gaussian centred on the rest
    pose whose widths follow each joint's range of motion: spine segments and collar bones move little,
    limbs a lot. Elbows and knees are hinges (elbows about y, knees about x in the T-pose frame), so their
    other two axes get ``hinge_off_axis_sigma``: this resolves the monocular ambiguity between twisting the
    upper limb and bending the elbow sideways in favour of the anatomical solution.
    """
    sig = torch.full((21, 3), float(limb_sigma))
    for j in SPINE_JOINTS:
        sig[j - BODY_POSE_JOINT_OFFSET] = spine_sigma
    for j in NECK_HEAD_JOINTS:
        sig[j - BODY_POSE_JOINT_OFFSET] = neck_sigma
    for j in COLLAR_JOINTS:
        sig[j - BODY_POSE_JOINT_OFFSET] = collar_sigma
    for j, hinge_axis in ((LEFT_KNEE, 0), (RIGHT_KNEE, 0), (LEFT_ELBOW, 1), (RIGHT_ELBOW, 1)):
        for axis in range(3):
            if axis != hinge_axis:
                sig[j - BODY_POSE_JOINT_OFFSET, axis] = hinge_off_axis_sigma
    return sig


def gaussian_pose_prior(pose: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """Negative log of a zero-mean diagonal Gaussian (up to constants): sum((pose / sigma)^2) per item.

    pose: (B, J, 3); sigmas: (J, 3) per axis, or (J,) shared by the three components. Returns (B,).
    """
    sigmas = sigmas.to(pose)
    if sigmas.ndim == 1:
        sigmas = sigmas[:, None]
    return (pose / sigmas[None]).pow(2).sum(dim=(1, 2))


def jaw_prior(jaw_pose: torch.Tensor, off_axis_weight: float = 10.0) -> torch.Tensor:
    """L2 on the jaw with the non-opening axes (y twist, z roll) weighted up: jaws mostly hinge on x.

    jaw_pose: (B, 3) -> (B,).
    """
    w = jaw_pose.new_tensor([1.0, off_axis_weight, off_axis_weight])
    return (jaw_pose.pow(2) * w).sum(dim=1)


def temporal_smoothness(x: torch.Tensor, velocity_weight: float, acceleration_weight: float) -> torch.Tensor:
    """Sum over frames of weighted squared first and second differences along dim 0.

    x: (F, ...) per-frame parameters in time order; returns a scalar (0 when F < 2).
    """
    loss = x.new_zeros(())
    if x.shape[0] >= 2 and velocity_weight:
        loss = loss + velocity_weight * (x[1:] - x[:-1]).pow(2).sum()
    if x.shape[0] >= 3 and acceleration_weight:
        loss = loss + acceleration_weight * (x[2:] - 2 * x[1:-1] + x[:-2]).pow(2).sum()
    return loss
