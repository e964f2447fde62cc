"""SMPLify-X-style fitting of SMPL-X to OpenPose keypoints, all frames of a subject at once (batch = frames).

Camera: pinhole, focal from a vertical field of view of the *source* video, principal point at the source
frame's centre, both mapped through decode's crop (meta.json ``transform``), so a square crop around a person
in a wide frame keeps the real camera's perspective (its principal point may lie off the crop's centre); static rotation
R = diag(1,-1,-1) (OpenCV camera looking at a body that faces +z) and static translation t = (0, 0, D), D the
median initial body depth, so bodies sit near the world origin; per-frame motion goes into SMPL-X ``transl``.
Parameters: betas shared by the subject; per frame global orient, body pose, jaw, both hands (45-D each, no
PCA), expression (10) and translation. Loss: confidence-weighted Geman-McClure reprojection of body, hand and
face keypoints + priors (talkinnerf.preprocess.priors) + temporal smoothness, optimised in three stages
(1: torso keypoints -> global orient + translation; 2: + all body keypoints, body pose, betas;
3: + hands, face, jaw, expression) with L-BFGS. Elbow, knee and finger hinges (axes, rest flexion, limits)
are derived from the model's own rest skeleton (priors.hinge_specs), and an analytic arm depth search picks,
per frame, among the depth-mirrored arm configurations that hit the detected elbow/wrist pixels.

The body-model seams are two callables so tests can run on a tiny fixture model:
``model`` is a ``smplx.SMPLX`` (batch size = frame count) and ``keypoints_fn(output, model)`` returns OpenPose
3D points ``{"body": (B,25,3), "left_hand": (B,21,3), "right_hand": (B,21,3), "face": (B,70,3)}``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch

from talkinnerf.preprocess import priors
from talkinnerf.preprocess.smoothing import gaussian_smooth

PARTS = ("body", "left_hand", "right_hand", "face")
PART_SIZES = {"body": 25, "left_hand": 21, "right_hand": 21, "face": 70}
# OpenPose BODY_25 indices.
NECK, R_SHOULDER, L_SHOULDER, MID_HIP, R_HIP, L_HIP = 1, 2, 5, 8, 9, 12
TORSO = (NECK, R_SHOULDER, L_SHOULDER, MID_HIP, R_HIP, L_HIP)
# Residuals are measured as if the image were this many pixels tall, so sigma/weights do not depend on size.
REFERENCE_PIXELS = 1000.0

KeypointFn = Callable[[Any, Any], Mapping[str, torch.Tensor]]


@dataclass
class FitOptions:
    """Options of `talkinnerf preprocess fit` (config.yaml section `fit`)."""

    fov_deg: float = 30.0                 # vertical field of view of the (unknown) source camera
    optimizer: str = "lbfgs"              # "lbfgs" (strong-Wolfe line search) or "adam"
    iterations: list[int] = field(default_factory=lambda: [30, 80, 80])   # loss evaluations per stage
    lr: float = 0.03                      # Adam only: step size (rad / m / shape units), cosine-decayed
    gm_sigma: float = 100.0               # Geman-McClure scale in reference pixels (1000 px image)
    min_confidence: float = 0.1           # keypoints below this confidence are ignored
    body_weight: float = 1.0
    hand_weight: float = 1.0
    face_weight: float = 0.5
    face_contour_weight: float = 0.2      # extra factor for the 17 jaw-line points (poorly defined on a mesh)
    pose_prior_weight: list[float] = field(default_factory=lambda: [0.0, 20.0, 4.0])
    shape_weight: list[float] = field(default_factory=lambda: [0.0, 50.0, 10.0])
    hand_prior_weight: float = 1.0
    jaw_prior_weight: float = 5.0
    expression_weight: float = 1.0
    angle_limit_weight: float = 300.0
    angle_limit_margin: float = 0.05      # radians of wrong-way bend tolerated before penalising
    velocity_weight: float = 20.0         # temporal smoothness of poses (rad) and translation (m)
    acceleration_weight: float = 20.0
    smooth: bool = False                  # Gaussian temporal smoothing of the fitted parameters afterwards
    smooth_window: int = 5
    smooth_sigma: float = 1.0
    hinge_first: bool = True              # start stage 2 with elbows/knees bending about their hinge axis only
    hinge_sigmas: list[float] = field(default_factory=lambda: [1.0, 0.5, 0.2])  # elbow/knee prior widths (rad):
    #                                       flexion, twist, sideways, in the hinge frame derived from the model
    max_elbow_deg: float = 150.0          # anatomical flexion limits (total bend, whatever the rest pose)
    max_knee_deg: float = 150.0
    max_finger_deg: float = 100.0
    arm_depth_search: bool = True         # after the hinge pass, try the depth-mirrored arm configurations
    threads: int = 0                      # torch CPU threads (0 = leave torch's default)
    progress: bool = True

    def __post_init__(self) -> None:
        if len(self.hinge_sigmas) != 3 or min(self.hinge_sigmas) <= 0:
            raise ValueError(f"fit option hinge_sigmas needs 3 positive values, got {self.hinge_sigmas}")
        for name in ("iterations", "pose_prior_weight", "shape_weight"):
            value = getattr(self, name)
            if len(value) != 3:
                raise ValueError(f"fit option {name} needs 3 values (one per stage), got {value}")
        if not 1.0 < self.fov_deg < 179.0:
            raise ValueError(f"fit option fov_deg must be in (1, 179), got {self.fov_deg}")


# ---------------------------------------------------------------------------------------------- camera


def focal_from_fov(size: int, fov_deg: float) -> float:
    """Focal length in pixels for a vertical field of view over ``size`` pixels."""
    return 0.5 * size / math.tan(math.radians(fov_deg) / 2.0)


def intrinsics(size: int, fov_deg: float) -> np.ndarray:
    """(3,3) K with square pixels and the principal point at the image centre (size/2, size/2)."""
    f = focal_from_fov(size, fov_deg)
    return np.array([[f, 0.0, size / 2.0], [0.0, f, size / 2.0], [0.0, 0.0, 1.0]], dtype=np.float64)


def source_intrinsics(meta: Mapping[str, Any], fov_deg: float) -> np.ndarray:
    """(3,3) K in frame pixels of decode's crop: the source camera (vertical ``fov_deg`` over the upright source
    height, principal point at its centre) mapped by meta.json ``transform`` (frame = scale * source + offset).

    A crop equal to the whole (square) source gives :func:`intrinsics` of the frame.
    """
    width, height = (float(v) for v in meta["source_size"])
    scale = float(meta["transform"]["scale"])
    ox, oy = (float(v) for v in meta["transform"]["offset"])
    f = scale * focal_from_fov(height, fov_deg)
    return np.array([[f, 0.0, scale * width / 2.0 + ox], [0.0, f, scale * height / 2.0 + oy], [0.0, 0.0, 1.0]],
                    dtype=np.float64)


CAMERA_R = np.diag([1.0, -1.0, -1.0])


def project(points: torch.Tensor, K: torch.Tensor, R: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Pinhole projection of world points (B,N,3) with K (3,3), R (3,3), t (3,) -> pixels (B,N,2)."""
    cam = points @ R.T + t
    z = cam[..., 2:3].clamp(min=1e-3)  # points behind the camera get a huge but finite residual
    uv = cam[..., :2] / z
    return uv * torch.stack([K[0, 0], K[1, 1]]) + torch.stack([K[0, 2], K[1, 2]])


# ---------------------------------------------------------------------------------------------- keypoints


def default_keypoints_fn(output: Any, model: Any) -> Mapping[str, torch.Tensor]:
    """OpenPose 3D points from the body helper's mapping (kept as a thin seam)."""
    from talkinnerf.body.openpose import openpose_from_smplx

    return as_part_dict(openpose_from_smplx(output, model))


def as_part_dict(points: Any) -> dict[str, torch.Tensor]:
    """Accept a mapping or a 4-tuple (body, left_hand, right_hand, face) and return a dict."""
    if isinstance(points, Mapping):
        return {k: points[k] for k in PARTS}
    if hasattr(points, "_asdict"):
        d = points._asdict()
        return {k: d[k] for k in PARTS}
    return dict(zip(PARTS, points))


def load_keypoints(path: str | Path, frames: int | None = None) -> dict[str, np.ndarray]:
    """Read keypoints/s.npz as {part: (F,N,3)} float32 and check its shapes (and frame count)."""
    from talkinnerf.io import load_npz

    data = load_npz(path)
    out = {}
    for part in PARTS:
        if part not in data:
            raise ValueError(f"keypoints file {path} lacks '{part}' (found {sorted(data)})")
        arr = np.asarray(data[part], dtype=np.float32)
        if arr.ndim != 3 or arr.shape[1:] != (PART_SIZES[part], 3):
            raise ValueError(f"keypoints file {path}: '{part}' must be (F,{PART_SIZES[part]},3), got {arr.shape}")
        out[part] = arr
    counts = {a.shape[0] for a in out.values()}
    if len(counts) != 1:
        raise ValueError(f"keypoints file {path}: parts disagree on the frame count {sorted(counts)}")
    if frames is not None and counts != {frames}:
        raise ValueError(f"keypoints file {path} has {counts.pop()} frames but the frames folder has {frames}")
    return out


# ---------------------------------------------------------------------------------------------- parameters


@dataclass
class FitParams:
    """Optimised tensors. Shapes: betas (1,10); per frame (F,3) orient/jaw/transl, (F,21,3) body,
    (F,15,3) hands, (F,10) expression."""

    betas: torch.Tensor
    global_orient: torch.Tensor
    body_pose: torch.Tensor
    jaw_pose: torch.Tensor
    left_hand_pose: torch.Tensor
    right_hand_pose: torch.Tensor
    expression: torch.Tensor
    transl: torch.Tensor

    @classmethod
    def zeros(cls, frames: int, num_betas: int = 10, num_expression: int = 10) -> "FitParams":
        z = lambda *s: torch.zeros(*s, dtype=torch.float32)  # noqa: E731
        return cls(z(1, num_betas), z(frames, 3), z(frames, 21, 3), z(frames, 3), z(frames, 15, 3),
                   z(frames, 15, 3), z(frames, num_expression), z(frames, 3))

    def numpy(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name).detach().cpu().numpy().astype(np.float32)
                for f in dataclasses.fields(self)}


def body_forward(model: Any, p: FitParams, return_verts: bool = True) -> Any:
    """Run the smplx model on all frames (model batch size must equal the frame count).

    Vertices are returned by default: keypoint maps may read them, and smplx computes them anyway.
    """
    frames = p.global_orient.shape[0]
    eye = p.global_orient.new_zeros(frames, 3)
    return model(betas=p.betas.expand(frames, -1), global_orient=p.global_orient,
                 body_pose=p.body_pose.reshape(frames, -1), jaw_pose=p.jaw_pose, leye_pose=eye, reye_pose=eye,
                 left_hand_pose=p.left_hand_pose.reshape(frames, -1),
                 right_hand_pose=p.right_hand_pose.reshape(frames, -1), expression=p.expression,
                 transl=p.transl, return_verts=return_verts)


def initial_translation(kp: Mapping[str, np.ndarray], canonical_body: np.ndarray, K: np.ndarray,
                        min_confidence: float) -> tuple[np.ndarray, float]:
    """Per-frame SMPL-X transl (F,3) and the camera distance D from the torso's pixel size.

    depth_i = f * torso_height_3d / torso_height_px (neck to mid-hip, else shoulder width); frames without a
    usable torso take the median depth. canonical_body: (25,3) OpenPose body points at zero pose/transl.
    Returns (transl, D) for the static camera t = (0, 0, D).
    """
    body = kp["body"]
    frames = body.shape[0]
    f = K[1, 1]
    pairs = [(NECK, MID_HIP), (L_SHOULDER, R_SHOULDER), (L_HIP, R_HIP)]
    depths = np.full(frames, np.nan)
    for a, b in pairs:  # first usable pair wins per frame
        h3d = float(np.linalg.norm(canonical_body[a] - canonical_body[b]))
        ok = (body[:, a, 2] >= min_confidence) & (body[:, b, 2] >= min_confidence) & np.isnan(depths)
        hpx = np.linalg.norm(body[:, a, :2] - body[:, b, :2], axis=1)
        ok &= hpx > 1.0
        depths[ok] = f * h3d / hpx[ok]
    if np.all(np.isnan(depths)):
        raise ValueError("no frame has confident torso keypoints (neck/mid-hip, shoulders or hips); "
                         "cannot initialise the camera depth")
    depths = np.where(np.isnan(depths), np.nanmedian(depths), depths)
    D = float(np.median(depths))
    # Anchor: the mid-hip (or neck, or the mean of any confident body point) at its pixel.
    transl = np.zeros((frames, 3))
    for i in range(frames):
        for anchor in (MID_HIP, NECK):
            if body[i, anchor, 2] >= min_confidence:
                uv, p0 = body[i, anchor, :2], canonical_body[anchor]
                break
        else:
            conf = body[i, :, 2] >= min_confidence
            uv = body[i, conf, :2].mean(0) if conf.any() else K[:2, 2]
            p0 = canonical_body[conf].mean(0) if conf.any() else canonical_body[MID_HIP]
        cam = np.array([(uv[0] - K[0, 2]) / K[0, 0] * depths[i], (uv[1] - K[1, 2]) / K[1, 1] * depths[i],
                        depths[i]])
        world = CAMERA_R.T @ (cam - np.array([0.0, 0.0, D]))
        transl[i] = world - p0
    return transl.astype(np.float32), D


# ---------------------------------------------------------------------------------------------- losses


def _part_weights(opts: FitOptions, stage: int, device=None) -> dict[str, torch.Tensor]:
    """Per-keypoint weights (N,) of each part in a stage (0 = unused)."""
    w = {}
    body = torch.zeros(25)
    if stage == 0:
        body[list(TORSO)] = opts.body_weight
    else:
        body[:] = opts.body_weight
    w["body"] = body
    on = 1.0 if stage == 2 else 0.0
    w["left_hand"] = torch.full((21,), opts.hand_weight * on)
    w["right_hand"] = torch.full((21,), opts.hand_weight * on)
    face = torch.full((70,), opts.face_weight * on)
    face[:17] *= opts.face_contour_weight
    w["face"] = face
    return w


def reprojection_terms(points3d: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor],
                       weights: Mapping[str, torch.Tensor], K: torch.Tensor, R: torch.Tensor, t: torch.Tensor,
                       size: int, sigma: float) -> torch.Tensor:
    """Sum over parts/keypoints of weight * confidence * GM(residual in reference pixels), per frame (F,)."""
    scale = REFERENCE_PIXELS / size
    total = 0.0
    for part, w in weights.items():
        if not torch.any(w > 0):
            continue
        uv = project(points3d[part], K, R, t)
        tgt = target[part]
        r2 = ((uv - tgt[..., :2]) * scale).pow(2).sum(-1)  # (F,N)
        total = total + (priors.geman_mcclure_sq(r2, sigma) * tgt[..., 2] * w).sum(-1)
    return total


def _stage_trainables(stage: int) -> tuple[str, ...]:
    if stage == 0:
        return ("global_orient", "transl")
    if stage == 1:
        return ("global_orient", "transl", "body_pose", "betas")
    return ("global_orient", "transl", "body_pose", "betas", "left_hand_pose", "right_hand_pose",
            "jaw_pose", "expression")


@dataclass
class FitResult:
    params: FitParams
    K: np.ndarray           # (3,3)
    t: np.ndarray           # (3,) static camera translation
    losses: list[float]     # final total loss of each stage
    seconds: float


def fit_sequence(model: Any, keypoints: Mapping[str, np.ndarray], size: int, opts: FitOptions,
                 keypoints_fn: KeypointFn = default_keypoints_fn, K: np.ndarray | None = None) -> FitResult:
    """Fit SMPL-X to per-frame OpenPose keypoints (frame pixels, last column confidence) of one subject.

    keypoints: {part: (F,N,3)}; ``model.batch_size`` must be F. ``K``: frame intrinsics (default: centred,
    ``opts.fov_deg`` over the frame). Returns the optimised parameters and camera.
    """
    start = time.perf_counter()
    if opts.threads:
        torch.set_num_threads(opts.threads)
    frames = keypoints["body"].shape[0]
    if getattr(model, "batch_size", frames) != frames:
        raise ValueError(f"body model batch size {model.batch_size} != frame count {frames}")
    target = {}
    for part in PARTS:
        kp = torch.as_tensor(keypoints[part], dtype=torch.float32).clone()
        kp[..., 2] = torch.where(kp[..., 2] >= opts.min_confidence, kp[..., 2], torch.zeros(()))
        target[part] = kp

    K_np = intrinsics(size, opts.fov_deg) if K is None else np.asarray(K, dtype=np.float64)
    num_expr = int(getattr(model, "num_expression_coeffs", 10))
    num_betas = int(getattr(model, "num_betas", 10))
    p = FitParams.zeros(frames, num_betas, num_expr)
    with torch.no_grad():
        canon = as_part_dict(keypoints_fn(body_forward(model, p), model))["body"][0].numpy()
    transl0, D = initial_translation(keypoints, canon, K_np, opts.min_confidence)
    p.transl = torch.as_tensor(transl0)
    K = torch.as_tensor(K_np, dtype=torch.float32)
    R = torch.as_tensor(CAMERA_R, dtype=torch.float32)
    t = torch.tensor([0.0, 0.0, D], dtype=torch.float32)

    with torch.no_grad():
        rest_joints = body_forward(model, p).joints[0, :55].numpy()
    parents = model.parents.detach().cpu().numpy().astype(np.int64)
    # Hinge axes, rest flexion and limits come from the model's own rest skeleton (T-pose or A-pose).
    limits = priors.hinge_specs(rest_joints, parents, opts.max_elbow_deg, opts.max_knee_deg, opts.max_finger_deg)
    body_sig = priors.body_pose_sigmas()
    # Stage 2 starts with elbows/knees restricted to their hinge axis: with full 3-DoF elbows the solver
    # tends to bend a forearm sideways instead of twisting the upper arm (a local minimum SMPLify avoids with
    # VPoser). Passes: (stage, loss evaluations, hinge-only).
    n2 = int(opts.iterations[1])
    passes = [(0, int(opts.iterations[0]), False)]
    passes += [(1, n2 // 2, True), (1, n2 - n2 // 2, False)] if opts.hinge_first else [(1, n2, False)]
    passes += [(2, int(opts.iterations[2]), False)]
    losses = [float("nan")] * 3
    projector = priors.hinge_gradient_projector(limits["body_pose"], 21)
    for stage, steps, hinge_only in passes:
        names = _stage_trainables(stage)
        if stage >= 1 and not hinge_only and opts.arm_depth_search:
            # the previous pass placed the arms in 2D; now pick, per frame, the best of the depth-mirrored
            # arms (again before stage 3: the shoulders are better placed by then)
            search_arm_depths(model, p, target, _part_weights(opts, 1), K, R, t, size, opts, limits, body_sig,
                              keypoints_fn)
        for f_ in dataclasses.fields(p):
            getattr(p, f_.name).requires_grad_(f_.name in names)
        if steps <= 0:
            continue
        hook = (p.body_pose.register_hook(lambda g: torch.einsum("fjk,jkl->fjl", g, projector))
                if hinge_only else None)
        losses[stage] = _run_pass(model, p, target, _part_weights(opts, stage), K, R, t, size, opts, stage,
                                  limits, body_sig, keypoints_fn, names, steps,
                                  f"fit stage {stage + 1}/3" + (" (hinges)" if hinge_only else ""))
        if hook is not None:
            hook.remove()
    for f_ in dataclasses.fields(p):
        getattr(p, f_.name).requires_grad_(False)
    return FitResult(p, K_np.astype(np.float32), t.numpy().astype(np.float32), losses,
                     time.perf_counter() - start)


def _run_pass(model, p: FitParams, target, weights, K, R, t, size, opts: FitOptions, stage: int, limits, body_sig,
              keypoints_fn, names, steps: int, desc: str) -> float:
    """Optimise the ``names`` tensors of ``p`` for up to ``steps`` loss evaluations; returns the last loss."""
    from talkinnerf.progress import Progress

    trainable = [getattr(p, n) for n in names]
    # a bar on a terminal; in a log file one line per tenth of the steps (not a line of \r-redrawn bars)
    bar = Progress(steps, desc, enabled=opts.progress, unit="steps")
    last = [float("nan")]

    def closure() -> torch.Tensor:
        optim.zero_grad(set_to_none=True)
        loss = _total_loss(model, p, target, weights, K, R, t, size, opts, stage, limits, body_sig, keypoints_fn)
        loss.backward()
        last[0] = float(loss.detach())
        bar.set_postfix(loss=f"{last[0]:.4g}")
        bar.update(1)
        return loss

    if opts.optimizer == "lbfgs":
        # one call runs up to `steps` evaluations with a strong-Wolfe line search (SMPLify's optimiser)
        optim = torch.optim.LBFGS(trainable, lr=1.0, max_iter=steps, max_eval=steps, history_size=20,
                                  tolerance_grad=1e-9, tolerance_change=1e-12, line_search_fn="strong_wolfe")
        optim.step(closure)
    elif opts.optimizer == "adam":
        optim = torch.optim.Adam(trainable, lr=opts.lr)
        for i in range(steps):
            for g in optim.param_groups:  # cosine decay to 10 %
                g["lr"] = opts.lr * (0.1 + 0.45 * (1 + math.cos(math.pi * i / steps)))
            optim.step(closure)
    else:
        raise ValueError(f"fit option optimizer must be 'lbfgs' or 'adam', got {opts.optimizer!r}")
    bar.close()
    return last[0]


def _frame_loss(model, p: FitParams, target, weights, K, R, t, size, opts: FitOptions, stage: int, limits,
                body_sig, keypoints_fn) -> torch.Tensor:
    """Per-frame (F,) data + prior + limit terms of a stage (everything but the temporal terms)."""
    frames = p.global_orient.shape[0]
    points = as_part_dict(keypoints_fn(body_forward(model, p), model))
    loss = p.global_orient.new_zeros(frames) + reprojection_terms(points, target, weights, K, R, t, size,
                                                                   opts.gm_sigma)
    if stage >= 1:
        loss = loss + opts.pose_prior_weight[stage] * priors.body_pose_prior(
            p.body_pose, body_sig, limits["body_pose"], tuple(opts.hinge_sigmas))
        loss = loss + opts.shape_weight[stage] * p.betas.pow(2).sum()
        loss = loss + opts.angle_limit_weight * priors.hinge_limit_penalty(
            p.body_pose, limits["body_pose"], opts.angle_limit_margin)
    if stage >= 2:
        for hand in ("left_hand_pose", "right_hand_pose"):
            pose = getattr(p, hand)
            loss = loss + opts.hand_prior_weight * pose.pow(2).sum(dim=(1, 2))
            loss = loss + opts.angle_limit_weight * priors.hinge_limit_penalty(
                pose, limits[hand], opts.angle_limit_margin)
        loss = loss + opts.jaw_prior_weight * priors.jaw_prior(p.jaw_pose)
        loss = loss + opts.expression_weight * p.expression.pow(2).sum(dim=1)
    return loss


def _total_loss(model, p: FitParams, target, weights, K, R, t, size, opts: FitOptions, stage: int, limits,
                body_sig, keypoints_fn) -> torch.Tensor:
    frames = p.global_orient.shape[0]
    loss = _frame_loss(model, p, target, weights, K, R, t, size, opts, stage, limits, body_sig,
                       keypoints_fn).sum()
    # Temporal smoothness of everything that moves in this stage; orient/transl from stage 1 on.
    vw, aw = opts.velocity_weight, opts.acceleration_weight
    loss = loss + priors.temporal_smoothness(p.global_orient, vw, aw)
    loss = loss + priors.temporal_smoothness(p.transl, vw, aw)
    if stage >= 1:
        loss = loss + priors.temporal_smoothness(p.body_pose, vw, aw)
    if stage >= 2:
        for hand in ("left_hand_pose", "right_hand_pose"):
            loss = loss + priors.temporal_smoothness(getattr(p, hand), vw, aw)
        loss = loss + priors.temporal_smoothness(p.jaw_pose, vw, aw)
        loss = loss + priors.temporal_smoothness(p.expression, vw, aw)
    return loss / frames


# ---------------------------------------------------------------------------------------------- arm depth search

# SMPL-X joints of each arm and the chain from the pelvis to its collar (the shoulder's parent).
ARM_JOINTS = {"left": (16, 18, 20), "right": (17, 19, 21)}   # shoulder, elbow, wrist
COLLAR_CHAIN = {"left": (3, 6, 9, 13), "right": (3, 6, 9, 14)}
OPENPOSE_ARM = {"left": (6, 7), "right": (3, 4)}               # BODY_25 elbow, wrist


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,3,3) smallest rotations taking unit vectors a (N,3) to b (N,3)."""
    from scipy.spatial.transform import Rotation

    axis = np.cross(a, b)
    sin, cos = np.linalg.norm(axis, axis=-1), np.einsum("ni,ni->n", a, b)
    angle = np.arctan2(sin, cos)
    fallback = np.cross(a, np.where(np.abs(a[:, :1]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]]))  # for a = -b
    axis = np.where(sin[:, None] > 1e-9, axis, fallback)
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    return Rotation.from_rotvec(axis * angle[:, None]).as_matrix()


def _signed_angle(a: np.ndarray, b: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Signed angle (N,) from a to b (N,3) about unit ``axis`` (N,3), both projected onto its plane."""
    a = a - np.einsum("ni,ni->n", a, axis)[:, None] * axis
    b = b - np.einsum("ni,ni->n", b, axis)[:, None] * axis
    return np.arctan2(np.einsum("ni,ni->n", np.cross(a, b), axis), np.einsum("ni,ni->n", a, b))


def mirrored_arm_targets(shoulder: np.ndarray, elbow_ray: np.ndarray, wrist_ray: np.ndarray, centre: np.ndarray,
                         upper: np.ndarray, fore: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The 4 elbow/wrist positions (each (F,3)) on the given camera rays with the given bone lengths.

    The elbow sits at either root of |centre + s * elbow_ray - shoulder| = upper (the monocular depth
    ambiguity: before or behind the sphere's closest point to the ray), then the wrist at either root of the
    same equation about that elbow; a ray that misses its sphere takes its closest point. World coordinates:
    shoulder (F,3), rays (F,3) (any length), centre (3,) the camera centre, upper / fore (F,) bone lengths.
    Order: (elbow near, wrist near), (near, far), (far, near), (far, far).
    """
    def roots(anchor, ray, length):
        ray = ray / np.linalg.norm(ray, axis=-1, keepdims=True)
        b = np.einsum("ni,ni->n", ray, anchor - centre)
        disc = np.sqrt(np.maximum(b * b - np.sum((anchor - centre) ** 2, -1) + length ** 2, 0.0))
        return [centre + (b - disc)[:, None] * ray, centre + (b + disc)[:, None] * ray]

    return [(e, w) for e in roots(shoulder, elbow_ray, upper) for w in roots(e, wrist_ray, fore)]


def arm_pose_from_targets(parent_rot: np.ndarray, rest_upper: np.ndarray, rest_fore: np.ndarray,
                          hinge_axis: np.ndarray, shoulder: np.ndarray, elbow: np.ndarray,
                          wrist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local shoulder and elbow axis-angles (F,3) aiming the rest arm at the given joints, elbow a pure hinge.

    parent_rot: (F,3,3) world rotation of the collar; rest_upper / rest_fore: (3,) rest bone vectors;
    hinge_axis: (3,) rest flexion axis of the elbow. The shoulder takes the upper arm to its target and is
    twisted about it so the elbow's hinge axis is normal to the arm's plane; the elbow then bends about it.
    """
    from scipy.spatial.transform import Rotation

    F_ = shoulder.shape[0]
    u0 = rest_upper / np.linalg.norm(rest_upper)
    a = hinge_axis - (hinge_axis @ u0) * u0
    a = a / np.linalg.norm(a)
    u1 = elbow - shoulder
    u1 /= np.linalg.norm(u1, axis=-1, keepdims=True)
    d1 = wrist - elbow
    d1 /= np.linalg.norm(d1, axis=-1, keepdims=True)
    base = _rotation_between(np.repeat(u0[None], F_, 0), u1)
    h = base @ a
    n = np.cross(u1, d1)
    straight = np.linalg.norm(n, axis=-1) < 1e-4
    n = np.where(straight[:, None], h, n)  # a straight arm: any hinge orientation fits, keep the minimal one
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    psi = _signed_angle(h, n, u1)
    g_shoulder = Rotation.from_rotvec(u1 * psi[:, None]).as_matrix() @ base
    local_shoulder = np.einsum("fji,fjk->fik", parent_rot, g_shoulder)
    d_local = np.einsum("fji,fj->fi", g_shoulder, d1)
    phi = _signed_angle(np.repeat(rest_fore[None], F_, 0), d_local, np.repeat(a[None], F_, 0))
    return Rotation.from_matrix(local_shoulder).as_rotvec(), a[None] * phi[:, None]


def _viterbi(unary: np.ndarray, pair: np.ndarray) -> np.ndarray:
    """Minimum-cost label path (F,) for unary (F,C) and pairwise (F-1,C,C) costs."""
    cost, back = unary[0].copy(), []
    for i in range(1, unary.shape[0]):
        total = cost[:, None] + pair[i - 1]
        back.append(total.argmin(0))
        cost = total.min(0) + unary[i]
    path = [int(cost.argmin())]
    for b in reversed(back):
        path.append(int(b[path[-1]]))
    return np.array(path[::-1])


def search_arm_depths(model, p: FitParams, target, weights, K, R, t, size, opts: FitOptions, limits, body_sig,
                      keypoints_fn) -> dict[str, np.ndarray]:
    """Replace each arm's shoulder/elbow pose, per frame, by the best of its depth-mirrored configurations.

    Candidates per frame and arm: the current pose and the 4 hinge-elbow poses of
    :func:`mirrored_arm_targets` that aim the rest-length bones from the fitted shoulder at the detected
    elbow / wrist pixels (analytic IK at the fitted depth; rays through the current joints where undetected). Each is scored by the stage-2 per-frame
    loss (reprojection + priors + limits), and a Viterbi pass over frames adds the velocity penalty between
    consecutive choices, so the arm does not flip back and forth. Modifies ``p.body_pose`` in place and
    returns the chosen candidate per frame for each arm (0 = current).
    """
    from smplx.lbs import batch_rodrigues

    frames = p.global_orient.shape[0]
    with torch.no_grad():
        joints = body_forward(model, p).joints[:, :55].double().numpy()
        zero = FitParams.zeros(frames, p.betas.shape[1], p.expression.shape[1])
        zero.betas = p.betas.detach()
        rest = body_forward(model, zero).joints[0, :55].double().numpy()
        rot = batch_rodrigues(torch.cat([p.global_orient[:, None], p.body_pose], 1).reshape(-1, 3))
        rot = rot.reshape(frames, 22, 3, 3).double().numpy()
    Rn, tn, Kn = R.double().numpy(), t.double().numpy(), K.double().numpy()
    centre = -(Rn.T @ tn)
    body_kp = target["body"].double().numpy()

    def ray(joint: int, keypoint: int) -> np.ndarray:
        """World ray (F,3) through the detected keypoint where confident, else through the current joint."""
        pix = np.concatenate([body_kp[:, keypoint, :2], np.ones((frames, 1))], -1) @ np.linalg.inv(Kn).T
        return np.where(body_kp[:, keypoint, 2:3] > 0, pix @ Rn, joints[:, joint] - centre)

    spec = limits["body_pose"]
    chosen = {}
    for side, (sh, el, wr) in ARM_JOINTS.items():
        parent_rot = rot[:, 0]
        for j in COLLAR_CHAIN[side]:
            parent_rot = parent_rot @ rot[:, j]
        hinge = spec.frames[list(spec.joints).index(el - 1), 0]
        cands = [(p.body_pose[:, sh - 1].detach().double().numpy().copy(),
                  p.body_pose[:, el - 1].detach().double().numpy().copy())]
        kp_el, kp_wr = OPENPOSE_ARM[side]
        upper = np.linalg.norm(rest[el] - rest[sh]).repeat(frames)
        fore = np.linalg.norm(rest[wr] - rest[el]).repeat(frames)
        for e, w in mirrored_arm_targets(joints[:, sh], ray(el, kp_el), ray(wr, kp_wr), centre, upper, fore):
            cands.append(arm_pose_from_targets(parent_rot, rest[el] - rest[sh], rest[wr] - rest[el], hinge,
                                               joints[:, sh], e, w))
        unary = []
        with torch.no_grad():
            original = p.body_pose.clone()
            for s_rv, e_rv in cands:
                p.body_pose[:, sh - 1] = torch.as_tensor(s_rv, dtype=torch.float32)
                p.body_pose[:, el - 1] = torch.as_tensor(e_rv, dtype=torch.float32)
                unary.append(_frame_loss(model, p, target, weights, K, R, t, size, opts, 1, limits, body_sig,
                                         keypoints_fn).double().numpy())
                p.body_pose.copy_(original)
        unary = np.stack(unary, 1)                                                    # (F, C)
        poses = np.stack([np.concatenate([s_, e_], -1) for s_, e_ in cands], 1)       # (F, C, 6)
        pair = opts.velocity_weight * ((poses[:-1, :, None] - poses[1:, None]) ** 2).sum(-1)
        path = _viterbi(unary, pair)
        with torch.no_grad():
            pick = poses[np.arange(frames), path]
            p.body_pose[:, sh - 1] = torch.as_tensor(pick[:, :3], dtype=torch.float32)
            p.body_pose[:, el - 1] = torch.as_tensor(pick[:, 3:], dtype=torch.float32)
        chosen[side] = path
    return chosen


# ---------------------------------------------------------------------------------------------- outputs


def reprojection_errors(model: Any, p: FitParams, keypoints: Mapping[str, np.ndarray], K: np.ndarray,
                        t: np.ndarray, min_confidence: float,
                        keypoints_fn: KeypointFn = default_keypoints_fn) -> dict[str, np.ndarray]:
    """Mean pixel error per frame and part over confident keypoints (NaN where a part has none)."""
    with torch.no_grad():
        points = as_part_dict(keypoints_fn(body_forward(model, p), model))
        Kt, Rt = torch.as_tensor(K, dtype=torch.float32), torch.as_tensor(CAMERA_R, dtype=torch.float32)
        tt = torch.as_tensor(t, dtype=torch.float32)
        out = {}
        for part in PARTS:
            uv = project(points[part], Kt, Rt, tt).numpy()
            kp = keypoints[part]
            ok = kp[..., 2] >= min_confidence
            err = np.linalg.norm(uv - kp[..., :2], axis=-1)
            with np.errstate(invalid="ignore"):
                out[part] = np.where(ok.any(1), (err * ok).sum(1) / np.maximum(ok.sum(1), 1), np.nan)
    return {k: v.astype(np.float32) for k, v in out.items()}


def smooth_fit_params(p: FitParams, window: int, sigma: float) -> FitParams:
    """Gaussian-smooth every per-frame parameter of ``p`` over time (betas untouched)."""
    out = {}
    for f_ in dataclasses.fields(p):
        value = getattr(p, f_.name).detach()
        if f_.name != "betas":
            value = torch.as_tensor(gaussian_smooth(value.numpy(), window, sigma))
        out[f_.name] = value
    return FitParams(**out)


def result_arrays(model: Any, p: FitParams, K: np.ndarray, t: np.ndarray, size: int) -> dict[str, np.ndarray]:
    """Every key of docs/contracts.md `smplx/s.npz` from fitted parameters and the static camera."""
    frames = p.global_orient.shape[0]
    f32 = lambda x: np.asarray(x, dtype=np.float32)  # noqa: E731
    with torch.no_grad():
        posed = body_forward(model, p, return_verts=True)
        zero = FitParams.zeros(frames, p.betas.shape[1], p.expression.shape[1])
        zero.betas = p.betas.detach()
        canon = body_forward(model, zero, return_verts=True)
    v = posed.vertices.numpy()
    cv = canon.vertices[0].numpy()
    a = p.numpy()
    parents = model.parents.detach().cpu().numpy().astype(np.int64).copy()
    parents[0] = -1
    return {
        "global_orient": a["global_orient"],
        "body_pose": a["body_pose"],
        "poses_body": np.concatenate([a["global_orient"][:, None], a["body_pose"]], axis=1),
        "jaw_pose": a["jaw_pose"],
        "left_hand_pose": a["left_hand_pose"],
        "right_hand_pose": a["right_hand_pose"],
        "hands": np.concatenate([a["left_hand_pose"].reshape(frames, 45),
                                 a["right_hand_pose"].reshape(frames, 45)], axis=1),
        "expression": a["expression"],
        "betas": a["betas"][0],
        "transl": a["transl"],
        "K": f32(np.repeat(np.asarray(K)[None], frames, axis=0)),
        "R": f32(np.repeat(CAMERA_R[None], frames, axis=0)),
        "t": f32(np.repeat(np.asarray(t)[None], frames, axis=0)),
        "size": np.array(int(size)),
        "joints": f32(posed.joints[:, :55].numpy()),
        "canonical_joints": f32(canon.joints[0, :55].numpy()),
        "parents": parents,
        "canonical_bbox": f32(np.stack([cv.min(0), cv.max(0)])),
        "canonical_vertices": f32(cv),
        "bbox": f32(np.stack([v.min(1), v.max(1)], axis=1)),
        "vertices_count": np.array(int(v.shape[1])),
    }


def _frame_count_and_size(frames_dir: Path) -> tuple[int, int, dict | None]:
    """Frame count, size and meta.json (None without one) of frames/s/ (falling back to the PNGs themselves)."""
    from talkinnerf.io import read_json

    if not frames_dir.is_dir():
        raise FileNotFoundError(f"frames folder {frames_dir} does not exist")
    meta_path = frames_dir / "meta.json"
    pngs = sorted(frames_dir.glob("*.png"))
    if meta_path.is_file():
        meta = read_json(meta_path)
        return int(meta["count"]), int(meta["size"]), meta
    if not pngs:
        raise FileNotFoundError(f"frames folder {frames_dir} has neither meta.json nor PNG frames")
    import cv2

    img = cv2.imread(str(pngs[0]), cv2.IMREAD_UNCHANGED)
    if img is None or img.shape[0] != img.shape[1]:
        raise ValueError(f"frame {pngs[0]} is unreadable or not square")
    return len(pngs), int(img.shape[0]), None


# arrays of the fit that must be finite for training (reprojection errors may be NaN where nothing was seen)
FINITE_KEYS = ("poses_body", "global_orient", "jaw_pose", "expression", "hands", "betas", "transl", "K", "R", "t",
               "canonical_joints", "canonical_bbox", "canonical_vertices", "bbox", "stage_losses")


def check_fit_finite(arrays: dict[str, np.ndarray], frames_dir: str | Path) -> None:
    """A fit that diverged (NaN / Inf) is an error naming what diverged, not a file that poisons training."""
    bad = [k for k in FINITE_KEYS if k in arrays and not np.isfinite(np.asarray(arrays[k], dtype=np.float64)).all()]
    if bad:
        from talkinnerf.failures import SubjectInputError

        raise SubjectInputError(
            f"fit of {frames_dir} diverged: {', '.join(bad)} hold NaN or Inf (keypoints too sparse or noisy, "
            "or a person too small in the frame)",
            "check the keypoints on results/figures/subjects/<subject>.png; try fit.optimizer: adam or a smaller "
            "fit.lr, or a video where the upper body is larger and fully visible")


def fit_subject(frames_dir: str | Path, keypoints_path: str | Path, model_path: str | Path, out_path: str | Path,
                opts: FitOptions, keypoints_fn: KeypointFn = default_keypoints_fn,
                model_loader: Callable[..., Any] | None = None) -> dict[str, Any]:
    """CLI body of `preprocess fit`: load, fit, optionally smooth, write results/smplx/s.npz atomically.

    ``keypoints_fn`` / ``model_loader`` default to the body package's (seams for tests). Returns a small
    summary (frames, seconds, median reprojection error per part).
    """
    from talkinnerf.io import save_npz

    if model_loader is None:
        from talkinnerf.body.model import load_body_model as model_loader

    frames_dir = Path(frames_dir)
    count, size, meta = _frame_count_and_size(frames_dir)
    K = source_intrinsics(meta, opts.fov_deg) if meta and "transform" in meta and "source_size" in meta else None
    keypoints = load_keypoints(keypoints_path, count)
    if not Path(model_path).is_file():
        raise FileNotFoundError(f"body model {model_path} does not exist")
    model = model_loader(str(model_path), batch_size=count, device="cpu")
    res = fit_sequence(model, keypoints, size, opts, keypoints_fn, K=K)
    params = smooth_fit_params(res.params, opts.smooth_window, opts.smooth_sigma) if opts.smooth else res.params
    arrays = result_arrays(model, params, res.K, res.t, size)
    errors = reprojection_errors(model, params, keypoints, res.K, res.t, opts.min_confidence, keypoints_fn)
    for part, err in errors.items():
        arrays[f"reproj_error_{part}"] = err
    arrays["stage_losses"] = np.asarray(res.losses, dtype=np.float32)
    check_fit_finite(arrays, frames_dir)
    save_npz(out_path, **arrays)
    return {"frames": count, "seconds": round(res.seconds, 1),
            **{f"median_error_px_{k}": float(np.nanmedian(v)) if np.isfinite(v).any() else None
               for k, v in errors.items()}}
