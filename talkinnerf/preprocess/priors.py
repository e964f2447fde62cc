"""Robust losses and priors for SMPLify-X-style fitting (pure tensor functions).

Conventions: axis-angle poses in SMPL-X joint order; the body faces +z, its left is +x and y is up
(docs/contracts.md). Every function returns a scalar or per-element tensor and keeps autograd intact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
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


# ---------------------------------------------------------------------------------------------- hinges from the model

# SMPL-X joint indices (full 55-joint order) used to derive hinge frames from a model's rest skeleton.
_HIP = {"left": 1, "right": 2}
_KNEE = {"left": 4, "right": 5}
_ANKLE = {"left": 7, "right": 8}
_SHOULDER = {"left": 16, "right": 17}
_ELBOW = {"left": 18, "right": 19}
_WRIST = {"left": 20, "right": 21}
_HAND_BASE = {"left": 25, "right": 40}   # first of 15 finger joints: index, middle, pinky, ring, thumb (3 each)
_FORWARD = np.array([0.0, 0.0, 1.0])     # the body faces +z at zero pose (docs/contracts.md)


@dataclass(frozen=True)
class HingeSpec:
    """Hinge joints of one pose block, in their own anatomical frame, derived from a model's rest skeleton.

    joints: (L,) rows of the pose block; frames: (L,3,3) rows = (flexion axis, twist axis along the distal
    bone, side axis) in the model's rest frame, so ``pose[:, j] @ frames[l].T`` gives (flexion, twist, side)
    components of the axis-angle; rest_flexion: (L,) flexion already present in the rest pose (rad);
    max_flexion: (L,) anatomical maximum of the total flexion (rad). A positive flexion component bends the
    joint further; the valid range of that component is [-rest_flexion, max_flexion - rest_flexion].
    """

    joints: tuple[int, ...]
    frames: np.ndarray
    rest_flexion: np.ndarray
    max_flexion: np.ndarray

    def tensors(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(joints (L,) long, frames (L,3,3), rest (L,), max (L,)) on ``like``'s device / dtype."""
        return (torch.tensor(self.joints, dtype=torch.long, device=like.device),
                torch.as_tensor(self.frames, dtype=like.dtype, device=like.device),
                torch.as_tensor(self.rest_flexion, dtype=like.dtype, device=like.device),
                torch.as_tensor(self.max_flexion, dtype=like.dtype, device=like.device))


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v)
    if n < 1e-12:
        raise ValueError("degenerate rest skeleton: a bone has zero length")
    return v / n


def hinge_frame(proximal: np.ndarray, distal: np.ndarray, bend_towards: np.ndarray,
                min_bend_rad: float = 0.2, use_plane: bool = True) -> tuple[np.ndarray, float]:
    """Anatomical frame (3,3) and rest flexion (rad) of a hinge from its two rest bone vectors (3,) each.

    The flexion axis is perpendicular to the plane of the proximal and distal bones when ``use_plane`` and
    the rest pose is visibly bent (angle > ``min_bend_rad``: Anny's A-pose elbow), else perpendicular to the
    distal bone and ``bend_towards`` (the way the distal bone swings when flexing: forward for elbows,
    backward for knees, palm-wards for fingers; a straight T-pose arm). Signed so that a positive rotation
    increases flexion. Rest flexion = signed angle from the proximal to the distal bone about that axis
    (bones projected onto the flexion plane, so finger splay does not count). Rows: flexion axis, twist axis
    (distal bone, made orthogonal), side axis = flexion x twist.
    """
    u, d = _unit(proximal), _unit(distal)
    bend = float(np.arccos(np.clip(u @ d, -1.0, 1.0)))
    axis = np.cross(u, d) if use_plane and bend > min_bend_rad else np.cross(d, bend_towards)
    if np.linalg.norm(axis) < 1e-6:
        raise ValueError("hinge bone is parallel to its bend direction; cannot derive a flexion axis")
    axis = _unit(axis)
    if np.dot(np.cross(axis, d), bend_towards) < 0:
        axis = -axis  # keep the anatomical direction even if the rest pose is bent the wrong way
    up, dp = u - (u @ axis) * axis, d - (d @ axis) * axis
    rest = float(np.arctan2(np.cross(up, dp) @ axis, up @ dp))
    twist = _unit(dp)
    return np.stack([axis, twist, np.cross(axis, twist)]), rest


def palm_normal(wrist: np.ndarray, index1: np.ndarray, pinky1: np.ndarray, side: str) -> np.ndarray:
    """Unit direction the palm faces (3,), from rest wrist / index / pinky knuckles (mirror-consistent)."""
    n = np.cross(index1 - wrist, pinky1 - wrist)
    return _unit(-n if side == "left" else n)


def hinge_specs(rest_joints: np.ndarray, parents: np.ndarray, max_elbow_deg: float = 150.0,
                max_knee_deg: float = 150.0, max_finger_deg: float = 100.0) -> dict[str, HingeSpec]:
    """Hinge specs of elbows/knees ("body_pose") and non-thumb fingers ("left_hand_pose", "right_hand_pose").

    rest_joints: (55,3) joints of the model at zero pose (any rest pose: SMPL-X T-pose, Anny A-pose);
    parents: (55,) kinematic tree. Axes come from the rest bone directions, so they follow the model.
    """
    J = np.asarray(rest_joints, dtype=np.float64)
    if J.shape[0] < 55:
        raise ValueError(f"hinge_specs needs the 55 SMPL-X joints, got {J.shape}")
    body_j, body_f, body_r, body_m = [], [], [], []
    for side in ("left", "right"):
        for joint, child, toward, max_deg in ((_ELBOW[side], _WRIST[side], _FORWARD, max_elbow_deg),
                                              (_KNEE[side], _ANKLE[side], -_FORWARD, max_knee_deg)):
            frame, rest = hinge_frame(J[joint] - J[parents[joint]], J[child] - J[joint], toward)
            body_j.append(joint - BODY_POSE_JOINT_OFFSET), body_f.append(frame), body_r.append(rest)
            body_m.append(np.radians(max_deg))
    specs = {"body_pose": HingeSpec(tuple(body_j), np.stack(body_f), np.array(body_r), np.array(body_m))}
    for side in ("left", "right"):
        base = _HAND_BASE[side]
        palm = palm_normal(J[_WRIST[side]], J[base], J[base + 6], side)  # index1, pinky1
        fj, ff, fr = [], [], []
        for finger in range(4):  # index, middle, pinky, ring: three joints each
            for k in range(3):
                joint = base + 3 * finger + k
                prox = J[joint] - J[parents[joint]]
                dist = J[joint + 1] - J[joint] if k < 2 else prox  # the tip is no joint: continue the bone
                frame, rest = hinge_frame(prox, dist, palm, use_plane=False)
                fj.append(3 * finger + k), ff.append(frame), fr.append(rest)
        specs[f"{side}_hand_pose"] = HingeSpec(tuple(fj), np.stack(ff), np.array(fr),
                                               np.full(len(fj), np.radians(max_finger_deg)))
    return specs


def hinge_components(pose: torch.Tensor, spec: HingeSpec) -> torch.Tensor:
    """(flexion, twist, side) components (B,L,3) of the hinge joints of ``pose`` (B,J,3)."""
    joints, frames, _, _ = spec.tensors(pose)
    return torch.einsum("blk,lck->blc", pose[:, joints], frames)


def hinge_limit_penalty(pose: torch.Tensor, spec: HingeSpec, margin: float = 0.0) -> torch.Tensor:
    """Squared hinge on flexion outside [-rest, max - rest] (+- ``margin`` rad); pose (B,J,3) -> (B,).

    Zero for every anatomically valid bend, whatever the model's rest pose; grows quadratically for
    hyperextension or over-flexion.
    """
    _, _, rest, top = spec.tensors(pose)
    flex = hinge_components(pose, spec)[..., 0]
    low = torch.relu(-(flex + rest) - margin)
    high = torch.relu(flex - (top - rest) - margin)
    return (low.pow(2) + high.pow(2)).sum(dim=1)


def hinge_gradient_projector(spec: HingeSpec, joints_in_block: int) -> torch.Tensor:
    """(J,3,3) per-joint matrices keeping only the flexion direction of hinge joints (identity elsewhere).

    Used as a gradient hook (g[j] <- g[j] @ P[j]) so a pass can bend hinges about their axis only.
    """
    P = torch.eye(3).repeat(joints_in_block, 1, 1)
    for j, frame in zip(spec.joints, spec.frames):
        a = torch.as_tensor(frame[0], dtype=torch.float32)
        P[j] = torch.outer(a, a)
    return P


def body_pose_prior(pose: torch.Tensor, sigmas: torch.Tensor, spec: HingeSpec,
                    hinge_sigmas: tuple[float, float, float] = (1.0, 0.5, 0.2)) -> torch.Tensor:
    """Diagonal Gaussian pose prior with hinge joints measured in their anatomical frame; (B,21,3) -> (B,).

    Non-hinge joints use ``sigmas`` (21,3) on the raw axis-angle components (rest-centred). Hinge joints
    use ``hinge_sigmas`` for (flexion, twist, side): flexion wide, twist (forearm pronation / knee rotation)
    medium, sideways bending tight — this is what makes an elbow a hinge for any rest pose.
    """
    sig = sigmas.to(pose).clone()
    joints = list(spec.joints)
    keep = torch.ones(pose.shape[1], 1, dtype=pose.dtype, device=pose.device)
    keep[joints] = 0.0
    loss = ((pose / sig[None]).pow(2) * keep[None]).sum(dim=(1, 2))
    comp = hinge_components(pose, spec)
    hs = pose.new_tensor(hinge_sigmas)
    return loss + (comp / hs).pow(2).sum(dim=(1, 2))
