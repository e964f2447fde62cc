"""`talkinnerf evaluate turntable`: a free-viewpoint video of an avatar in one pose, the camera orbiting 360°.

The pose: by default the avatar's first training frame as fitted (its own pose, translation and ray box, exactly
what `evaluate render` renders for that frame); with a motion, one frame of it placed on the avatar as
`evaluate animate` places it (talkinnerf.evaluate.animate.prepare_motion_for).

The orbit: the avatar's training camera (of the posed frame; of ``camera_frame`` for a motion) moved rigidly
about the vertical axis (world y, docs/contracts.md) through the body's root (the pelvis joint, in world
coordinates: canonical pelvis + translation). Output frame k turns it by 360° k / frames, so frame 0 is the
training camera itself, bit for bit. ``elevation`` (degrees above the horizontal plane through the root) first
tilts the camera about the horizontal axis through the root (default: the training camera's own elevation);
``radius`` (metres from the root) moves it along its line to the root (default: the training camera's distance).
The camera keeps its orientation relative to the body: the avatar stays where the training view framed it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from talkinnerf.io import write_json
from talkinnerf.nerf.render import RenderOptions


@dataclass
class TurntableConfig:
    """Options of `evaluate turntable` (config.yaml `turntable` section; the CLI flags override them)."""

    frames: int = 60                 # views over the full turn
    fps: float = 30.0
    elevation: float | None = None   # degrees above the horizontal through the root; null: the training camera's
    radius: float = 0.0              # metres from the root; 0: the training camera's distance
    frame: int = -1                  # avatar frame posed (-1: its first training frame); with a motion: its frame
    camera_frame: int = 0            # with a motion: the avatar frame whose camera and translation anchor it
    heading: str = "motion"          # with a motion: as `animation.heading`
    smoothing: bool = False          # with a motion: smooth it first (as `animation.smoothing`)
    smoothing_window: int = 5
    smoothing_sigma: float = 1.0
    chunk: int = 4096
    render: RenderOptions = field(default_factory=RenderOptions)
    box_padding: float = 0.05
    device: str = "auto"
    threads: int = 0
    crf: int = 18
    progress: bool = True

    def __post_init__(self) -> None:
        from talkinnerf.evaluate.animate import HEADINGS, check_render_options

        check_render_options(self, "turntable")
        if self.frames < 1:
            raise ValueError(f"turntable: option frames must be >= 1, got {self.frames}")
        if not self.fps > 0:
            raise ValueError(f"turntable: option fps must be > 0, got {self.fps}")
        if self.elevation is not None and not -90.0 < self.elevation < 90.0:
            raise ValueError(f"turntable: option elevation must be between -90 and 90 degrees, got {self.elevation}")
        if not (math.isfinite(self.radius) and self.radius >= 0):
            raise ValueError(f"turntable: option radius must be >= 0 (0: the training camera's distance), "
                             f"got {self.radius}")
        if self.frame < -1:
            raise ValueError(f"turntable: option frame must be >= 0 (or -1: the first training frame), got {self.frame}")
        if self.heading not in HEADINGS:
            raise ValueError(f"turntable: option heading must be one of {HEADINGS}, got {self.heading!r}")


def _axis_rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rotation matrix about a unit axis (Rodrigues); exactly the identity at angle 0."""
    x, y, z = axis
    skew = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return math.cos(angle) * np.eye(3) + math.sin(angle) * skew + (1.0 - math.cos(angle)) * np.outer(axis, axis)


def orbit_cameras(R: np.ndarray, t: np.ndarray, root: np.ndarray, frames: int, elevation: float | None = None,
                  radius: float = 0.0) -> tuple[list[tuple[np.ndarray, np.ndarray]], dict[str, float]]:
    """Cameras (R_k, t_k) (OpenCV, x_cam = R x + t) of the orbit of camera (R, t) about the vertical through
    ``root``, and what the orbit is (radius, elevation, start azimuth). Frame 0 is (R, t) itself when neither
    elevation nor radius changes."""
    R64, t64, p = (np.asarray(a, np.float64) for a in (R, t, root))
    centre = -R64.T @ t64
    v = centre - p
    distance = float(np.linalg.norm(v))
    if distance <= 1e-9:
        raise ValueError("turntable: the training camera sits on the body's root; no orbit to make")
    horizontal = math.hypot(v[0], v[2])
    elevation0 = math.atan2(v[1], horizontal)
    tilt = 0.0 if elevation is None else math.radians(elevation) - elevation0
    if tilt != 0.0 and horizontal <= 1e-9:
        raise ValueError("turntable: the training camera looks straight down the vertical axis; cannot set its "
                         "elevation")
    tilt_rot = np.eye(3)
    if tilt != 0.0:
        h = np.array([v[0], 0.0, v[2]]) / horizontal
        tilt_rot = _axis_rotation(np.cross(h, [0.0, 1.0, 0.0]), tilt)   # turns h towards +y
    scale = 1.0 if radius <= 0 else radius / distance
    Rp = R64 @ p
    cameras = []
    for k in range(frames):
        theta = 2.0 * math.pi * k / frames
        G = _axis_rotation(np.array([0.0, 1.0, 0.0]), theta) @ tilt_rot
        Rk = R64 @ G.T
        # t_k = -R G^T p + s (R p + t), written so that G = I, s = 1 gives t exactly
        tk = (Rk @ (-p) + Rp) + t64 + (scale - 1.0) * (Rp + t64)
        cameras.append((Rk.astype(np.float32), tk.astype(np.float32)))
    info = {"radius": round(distance * scale, 6), "training_distance": round(distance, 6),
            "elevation_deg": round(math.degrees(elevation0 + tilt), 4),
            "training_elevation_deg": round(math.degrees(elevation0), 4),
            "start_azimuth_deg": round(math.degrees(math.atan2(v[0], v[2])), 4)}
    return cameras, info


def turntable_frames(model, model_cfg, step: int, data, cfg: TurntableConfig, device, motion: str | Path | None = None,
                     render_fn=None) -> tuple[list[np.ndarray], dict[str, Any]]:
    """Render the orbit -> (float (H,W,3) images, info)."""
    from talkinnerf.evaluate.animate import motion_conditioning, posed_skeleton_box, prepare_motion_for
    from talkinnerf.evaluate.render_eval import device_render_options, render_view
    from talkinnerf.progress import Progress

    if motion is None:
        frame = cfg.frame if cfg.frame >= 0 else (data.train_frames[0] if data.train_frames else 0)
        if not 0 <= frame < len(data.params["K"]):
            raise ValueError(f"subject {data.name}: frame {frame} out of range (0..{len(data.params['K']) - 1})")
        cond = data.conditioning(frame, device)
        K, R, t = data.camera(frame)
        transl, box = data.params["transl"][frame], data.posed_box(frame)
        pose = {"pose": f"the avatar's own frame {frame}" + (" (its first training frame)" if cfg.frame < 0 else ""),
                "frame": frame}
    else:
        prepared = prepare_motion_for(motion, data, 0.0, cfg.smoothing, cfg.smoothing_window, cfg.smoothing_sigma,
                                      cfg.heading, cfg.camera_frame)
        frame = max(cfg.frame, 0)
        if frame >= prepared.motion.frames:
            raise ValueError(f"motion {motion}: frame {frame} out of range (0..{prepared.motion.frames - 1})")
        cond, mt = motion_conditioning(data, prepared.arrays, frame, device)
        p = data.params
        box = posed_skeleton_box(mt["poses_body"], mt["jaw_pose"], mt["hands"], p["canonical_joints"], p["parents"],
                                 p["canonical_bbox"], cfg.box_padding)
        K, R, t = data.camera(cfg.camera_frame)
        transl = mt["transl"]
        pose = {"pose": f"frame {frame} of motion {motion}", "frame": frame, "motion": str(motion),
                "retarget": prepared.retarget, "animate_changes": prepared.motion.notes}
    root = data.params["canonical_joints"][0].double().numpy() + transl.double().numpy()
    cameras, orbit = orbit_cameras(R.numpy(), t.numpy(), root, cfg.frames, cfg.elevation, cfg.radius)
    options = device_render_options(cfg.render, device)
    images = []
    with Progress(len(cameras), desc=f"turntable {data.name}", unit="view", enabled=cfg.progress) as bar:
        for Rk, tk in cameras:
            images.append(render_view(model, cond, K, torch.from_numpy(Rk), torch.from_numpy(tk), transl, box,
                                      data.size, step, cfg.chunk, model_cfg.background, device, render_fn, options))
            bar.update(1)
    return images, {**pose, "orbit": {**orbit, "root": np.round(root, 6).tolist(), "frames": cfg.frames,
                                      "axis": "world y (vertical) through the root"},
                    "render_autocast": options.autocast}


def turntable(model_path: str | Path, subject: str, data_root: str | Path, out: str | Path, cfg: TurntableConfig,
              motion: str | Path | None = None, json_path: str | Path | None = None, model_factory=None,
              render_fn=None) -> dict[str, Any]:
    """Write the orbit of ``subject`` of ``model_path`` to ``out`` (.mp4) and its description to ``json_path``."""
    from talkinnerf.evaluate.render_eval import load_avatar, to_uint8
    from talkinnerf.video.encode import write_video

    model, model_cfg, step, data, device = load_avatar(model_path, subject, data_root, cfg.device, cfg.threads,
                                                      cfg.box_padding, 1, model_factory)
    t0 = time.perf_counter()
    images, info = turntable_frames(model, model_cfg, step, data, cfg, device, motion, render_fn)
    seconds = time.perf_counter() - t0
    out = Path(out)
    write_video(out, np.stack([to_uint8(i) for i in images]), cfg.fps, crf=cfg.crf)
    summary = {"model": str(model_path), "subject": subject, "frames": len(images), "fps": cfg.fps, **info,
               "seconds": round(seconds, 3), "render_seconds_per_frame": round(seconds / len(images), 4)}
    write_json(Path(json_path) if json_path else out.with_suffix(".json"), summary)
    return summary
