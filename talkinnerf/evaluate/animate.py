"""`talkinnerf evaluate animate`: render a subject under another subject's poses or an imported motion.

The motion (.npz with the pose keys of results/smplx/s.npz: poses_body or global_orient + body_pose,
jaw_pose, expression, hands or left/right_hand_pose; transl optional) drives the subject's own skeleton
(its canonical joints) seen by the subject's own camera of its first frame. The motion's translation is
applied relative to its first frame. Poses are smoothed (paper: Gaussian, window 5, sigma 1) by default.
Ray bounds come from the posed skeleton, grown by how far the subject's canonical mesh box reaches
beyond its canonical joints.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from talkinnerf.io import load_npz, write_json
from talkinnerf.nerf.render import RenderOptions

MOTION_KEYS = ("poses_body", "jaw_pose", "expression", "hands", "transl")


@dataclass
class AnimateConfig:
    """Options of `evaluate animate`."""

    smoothing: bool = True
    smoothing_window: int = 5
    smoothing_sigma: float = 1.0
    chunk: int = 4096
    render: RenderOptions = field(default_factory=RenderOptions)   # fast path (default) or dense reference
    max_frames: int = 0          # 0: every motion frame
    fps: float = 0.0             # 0: the subject's fps
    camera_frame: int = 0        # subject frame whose camera (and translation) anchors the motion
    box_padding: float = 0.05
    device: str = "auto"
    threads: int = 0
    crf: int = 18


def load_motion(path: str | Path) -> dict[str, np.ndarray]:
    """Read a motion .npz -> poses_body (F,22,3), jaw_pose (F,3), expression (F,10), hands (F,90), transl (F,3)."""
    arrays = load_npz(path)
    m: dict[str, np.ndarray] = {}
    if "poses_body" in arrays:
        m["poses_body"] = arrays["poses_body"].reshape(-1, 22, 3)
    elif "global_orient" in arrays and "body_pose" in arrays:
        m["poses_body"] = np.concatenate([arrays["global_orient"].reshape(-1, 1, 3),
                                          arrays["body_pose"].reshape(-1, 21, 3)], axis=1)
    else:
        raise ValueError(f"motion {path}: needs 'poses_body' or 'global_orient' + 'body_pose'")
    n = len(m["poses_body"])
    if "hands" in arrays:
        m["hands"] = arrays["hands"].reshape(n, 90)
    elif "left_hand_pose" in arrays and "right_hand_pose" in arrays:
        m["hands"] = np.concatenate([arrays["left_hand_pose"].reshape(n, 45), arrays["right_hand_pose"].reshape(n, 45)], 1)
    else:
        m["hands"] = np.zeros((n, 90))
    m["jaw_pose"] = arrays["jaw_pose"].reshape(n, 3) if "jaw_pose" in arrays else np.zeros((n, 3))
    expr = arrays["expression"].reshape(n, -1) if "expression" in arrays else np.zeros((n, 10))
    m["expression"] = np.pad(expr[:, :10], ((0, 0), (0, max(0, 10 - expr.shape[1]))))
    transl = arrays["transl"].reshape(n, 3) if "transl" in arrays else np.zeros((n, 3))
    m["transl"] = transl - transl[:1]
    return {k: v.astype(np.float32) for k, v in m.items()}


def posed_skeleton_box(poses_body: torch.Tensor, jaw: torch.Tensor, hands: torch.Tensor,
                       canonical_joints: torch.Tensor, parents: torch.Tensor, canonical_bbox: torch.Tensor,
                       padding: float) -> torch.Tensor:
    """(2,3) box around the posed joints (posed body frame), grown by the canonical mesh's reach past its joints."""
    from talkinnerf.nerf.skeleton import forward_kinematics, full_local_rotations

    _, posed = forward_kinematics(full_local_rotations(poses_body, jaw, hands), canonical_joints, parents)
    reach = torch.maximum(canonical_joints.min(0).values - canonical_bbox[0],
                          canonical_bbox[1] - canonical_joints.max(0).values).max().clamp_min(0)
    return torch.stack([posed.min(0).values - reach - padding, posed.max(0).values + reach + padding])


def animate(model_path: str | Path, subject: str, motion_path: str | Path, data_root: str | Path, out: str | Path,
            cfg: AnimateConfig, model_factory=None, render_fn=None) -> dict[str, Any]:
    from talkinnerf.evaluate.render_eval import device_render_options, render_view, to_uint8
    from talkinnerf.nerf.model import FrameConditioning
    from talkinnerf.train.data import load_subject
    from talkinnerf.train.trainer import default_model_factory, load_model, resolve_device
    from talkinnerf.video.encode import write_video

    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    model, model_cfg, names, step = load_model(model_path, device, model_factory or default_model_factory)
    if subject not in names:
        raise ValueError(f"subject {subject} is not an identity of {model_path} (identities: {names})")
    data = load_subject(data_root, subject, names.index(subject), model_cfg.background, cfg.box_padding, 1)
    motion = load_motion(motion_path)
    if cfg.smoothing:
        from talkinnerf.preprocess.smoothing import smooth_params

        motion = smooth_params(motion, cfg.smoothing_window, cfg.smoothing_sigma, keys=MOTION_KEYS)
    count = len(motion["poses_body"])
    frames = range(count) if cfg.max_frames <= 0 else range(min(count, cfg.max_frames))
    anchor = cfg.camera_frame
    if not 0 <= anchor < len(data.params["K"]):
        raise ValueError(f"subject {subject}: camera_frame {anchor} out of range")
    K, R, t = data.camera(anchor)
    options = device_render_options(cfg.render, device)
    p = data.params
    images = []
    t0 = time.perf_counter()
    for f in frames:
        mt = {k: torch.from_numpy(np.asarray(v[f], dtype=np.float32)) for k, v in motion.items()}
        cond = FrameConditioning(identity=torch.tensor(data.identity, device=device),
                                 poses_body=mt["poses_body"].to(device), jaw=mt["jaw_pose"].to(device),
                                 expression=mt["expression"].to(device), hands=mt["hands"].to(device),
                                 canonical_joints=p["canonical_joints"].to(device), parents=p["parents"].to(device),
                                 canonical_bbox=p["canonical_bbox"].to(device))
        box = posed_skeleton_box(mt["poses_body"], mt["jaw_pose"], mt["hands"], p["canonical_joints"],
                                 p["parents"], p["canonical_bbox"], cfg.box_padding)
        transl = p["transl"][anchor] + mt["transl"]
        images.append(to_uint8(render_view(model, cond, K, R, t, transl, box, data.size, step, cfg.chunk,
                                           model_cfg.background, device, render_fn, options)))
    seconds = time.perf_counter() - t0
    out = Path(out)
    write_video(out, np.stack(images), cfg.fps or data.fps, crf=cfg.crf)
    summary = {"model": str(model_path), "subject": subject, "motion": str(motion_path), "frames": len(images),
               "smoothing": cfg.smoothing, "render_autocast": options.autocast, "seconds": round(seconds, 3)}
    write_json(out.with_suffix(".json"), summary)
    return summary
