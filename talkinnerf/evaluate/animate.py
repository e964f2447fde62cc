"""`talkinnerf evaluate animate`: render a trained avatar under any motion, with the motion's audio.

Motions: a file in our motion format (`talkinnerf motion convert`, talkinnerf.motion.format: `global_orient`,
`body_pose`, `jaw_pose`, hands, `expression`, `transl`, `fps`, sidecar .json) or, as before, another subject's fit
`results/smplx/<s>.npz` (poses_body or global_orient + body_pose, jaw_pose, expression, hands or
left/right_hand_pose; transl optional).

Retargeting (docs/motion.md, "Animating an avatar"):
- shape: the avatar keeps its own skeleton (its canonical joints, parents and canonical mesh box); the motion
  brings joint rotations only (its body shape is never read);
- placement: the motion's translation is taken relative to its first frame and added to the avatar's
  translation in its anchor frame (``camera_frame``): frame 0 stands where the avatar stood in training, drift
  kept; ``heading: avatar`` also turns the whole motion about the vertical axis through its first root so that
  its first frame faces as the avatar did (``motion``, the default, keeps the facing as recorded);
- camera: the avatar's training camera of the anchor frame;
- face: jaw and expression drive F_face (eye rotations of a motion are not modelled and are ignored).
The rate: the motion's own (our format's ``fps``; a fit's frames/<s>/meta.json), resampled by slerp when the
``fps`` option asks for another. Poses are smoothed (paper: Gaussian, window 5, sigma 1) by default. Ray bounds
come from the posed skeleton, grown by how far the avatar's canonical mesh box reaches beyond its joints.

Audio (``--audio auto``): ``<motion>.wav`` beside the motion, else the audio its sidecar names, else (fits)
``frames/<s>/audio.wav``; muxed as AAC with sample 0 at frame 0; when audio and motion differ in length the
shorter wins and the json says so.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from talkinnerf.io import load_npz, read_json, write_json
from talkinnerf.nerf.render import RenderOptions

MOTION_KEYS = ("poses_body", "jaw_pose", "expression", "hands", "transl")
HEADINGS = ("motion", "avatar")


@dataclass
class AnimateConfig:
    """Options of `evaluate animate` (config.yaml `animation` section)."""

    smoothing: bool = True
    smoothing_window: int = 5
    smoothing_sigma: float = 1.0
    chunk: int = 4096
    render: RenderOptions = field(default_factory=RenderOptions)   # fast path (default) or dense reference
    max_frames: int = 0          # 0: every motion frame
    fps: float = 0.0             # 0: the motion's own rate (else the avatar's); > 0: the motion resampled to it
    camera_frame: int = 0        # avatar frame whose camera and translation anchor the motion
    heading: str = "motion"      # motion: facing as recorded; avatar: first frame turned to face as the avatar did
    audio: bool = True           # mux the motion's audio (when it has one)
    box_padding: float = 0.05
    device: str = "auto"
    threads: int = 0
    crf: int = 18
    progress: bool = True

    def __post_init__(self) -> None:
        check_render_options(self, "animation")
        if self.heading not in HEADINGS:
            raise ValueError(f"animation: option heading must be one of {HEADINGS}, got {self.heading!r}")
        if self.max_frames < 0:
            raise ValueError(f"animation: option max_frames must be >= 0, got {self.max_frames}")
        if self.camera_frame < 0:
            raise ValueError(f"animation: option camera_frame must be >= 0, got {self.camera_frame}")


def check_render_options(cfg: Any, section: str) -> None:
    """The checks animate and turntable share: rates, smoothing, chunk, crf."""
    if not (math.isfinite(cfg.fps) and cfg.fps >= 0):
        raise ValueError(f"{section}: option fps must be >= 0 (0: the motion's own rate), got {cfg.fps}")
    if getattr(cfg, "smoothing", False):
        if cfg.smoothing_window < 1 or cfg.smoothing_window % 2 == 0:
            raise ValueError(f"{section}: option smoothing_window must be a positive odd number, "
                             f"got {cfg.smoothing_window}")
        if not cfg.smoothing_sigma > 0:
            raise ValueError(f"{section}: option smoothing_sigma must be > 0, got {cfg.smoothing_sigma}")
    if cfg.chunk < 1:
        raise ValueError(f"{section}: option chunk must be >= 1, got {cfg.chunk}")
    if not 0 <= cfg.crf <= 51:
        raise ValueError(f"{section}: option crf must be in 0..51, got {cfg.crf}")
    if cfg.box_padding < 0:
        raise ValueError(f"{section}: option box_padding must be >= 0, got {cfg.box_padding}")


# ---------------------------------------------------------------------------------------------- motions

def _motion_arrays(arrays: dict[str, np.ndarray], path: str | Path) -> dict[str, np.ndarray]:
    """MOTION_KEYS (float64, translation as recorded) of a fit-style or motion-format npz."""
    m: dict[str, np.ndarray] = {}
    if "poses_body" in arrays:
        m["poses_body"] = arrays["poses_body"].reshape(-1, 22, 3)
    elif "global_orient" in arrays and "body_pose" in arrays:
        m["poses_body"] = np.concatenate([arrays["global_orient"].reshape(-1, 1, 3),
                                          arrays["body_pose"].reshape(-1, 21, 3)], axis=1)
    else:
        raise ValueError(f"motion {path}: needs 'poses_body' or 'global_orient' + 'body_pose' "
                         f"(found: {sorted(arrays)}); convert it with `talkinnerf motion convert`")
    n = len(m["poses_body"])
    if "hands" in arrays:
        m["hands"] = arrays["hands"].reshape(n, 90)
    elif "left_hand_pose" in arrays and "right_hand_pose" in arrays:
        m["hands"] = np.concatenate([arrays["left_hand_pose"].reshape(n, 45),
                                     arrays["right_hand_pose"].reshape(n, 45)], 1)
    else:
        m["hands"] = np.zeros((n, 90))
    m["jaw_pose"] = arrays["jaw_pose"].reshape(n, 3) if "jaw_pose" in arrays else np.zeros((n, 3))
    expr = arrays["expression"].reshape(n, -1) if "expression" in arrays else np.zeros((n, 10))
    m["expression"] = np.pad(expr[:, :10], ((0, 0), (0, max(0, 10 - expr.shape[1]))))
    m["transl"] = arrays["transl"].reshape(n, 3) if "transl" in arrays else np.zeros((n, 3))
    return {k: np.asarray(v, dtype=np.float64) for k, v in m.items()}


def load_motion(path: str | Path) -> dict[str, np.ndarray]:
    """Read a motion .npz -> poses_body (F,22,3), jaw_pose (F,3), expression (F,10), hands (F,90), transl (F,3)
    relative to the first frame; float32. (Kept for callers of the earlier API; animate uses read_driving_motion.)"""
    m = _motion_arrays(load_npz(path), path)
    m["transl"] = m["transl"] - m["transl"][:1]
    return {k: v.astype(np.float32) for k, v in m.items()}


@dataclass
class DrivingMotion:
    """A motion as animate uses it: MOTION_KEYS arrays (float64, translation as recorded) plus provenance."""

    arrays: dict[str, np.ndarray]
    fps: float | None              # None: the file does not say (a fit without frames/<s>/meta.json)
    path: str
    source_format: str
    source_file: str
    conversions: list[str]
    audio: str | None              # the audio its sidecar (or the fit's frames folder) names
    notes: list[str] = field(default_factory=list)   # what animate changed

    @property
    def frames(self) -> int:
        return int(len(self.arrays["poses_body"]))

    def with_arrays(self, arrays: dict[str, np.ndarray], note: str | None = None, **changes) -> "DrivingMotion":
        notes = self.notes + ([note] if note else [])
        return DrivingMotion(**{**self.__dict__, "arrays": arrays, "notes": notes, **changes})


def read_driving_motion(path: str | Path) -> DrivingMotion:
    """Our motion format (validated) or a fit-style npz (results/smplx/<s>.npz) -> DrivingMotion."""
    from talkinnerf.failures import describe, marker_of
    from talkinnerf.motion.format import ARRAY_SHAPES, load_motion_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"motion {path} does not exist")
    record = marker_of(path)
    if record is not None:
        raise ValueError(f"motion {path} is a failure marker, not a motion: {describe(record)}")
    arrays = load_npz(path)
    if all(k in arrays for k in (*ARRAY_SHAPES, "fps")):
        motion = load_motion_file(path)
        parts = {k: getattr(motion, k) for k in ARRAY_SHAPES}
        m = DrivingMotion(arrays=_motion_arrays(parts, path), fps=float(motion.fps), path=str(path),
                          source_format=motion.source_format, source_file=motion.source_file or str(path),
                          conversions=list(motion.conversions), audio=motion.audio)
        if np.abs(motion.leye_pose).max() > 0 or np.abs(motion.reye_pose).max() > 0:
            m.notes.append("eye rotations: not modelled by the avatar, ignored")
        return m
    from talkinnerf.motion.readers import frames_meta_path

    fps = float(arrays["fps"]) if "fps" in arrays and np.size(arrays["fps"]) == 1 else None
    meta = frames_meta_path(path)
    if fps is None and meta.is_file():
        fps = float(read_json(meta)["fps"])
    audio = meta.parent / "audio.wav"
    return DrivingMotion(arrays=_motion_arrays(arrays, path), fps=fps, path=str(path), source_format="ours (fit)",
                         source_file=str(path), conversions=[], audio=str(audio) if audio.is_file() else None)


def resample_to(m: DrivingMotion, fps: float) -> DrivingMotion:
    """The motion at ``fps`` (slerp for rotations, linear for expression and translation; exact on source
    frames); unchanged when the rate already matches or is unknown."""
    from talkinnerf.motion.resample import resample_linear, resample_rotations, sample_positions

    if m.fps is None or fps == m.fps:
        return m
    index, frac = sample_positions(m.frames, m.fps, fps)
    a = m.arrays
    out = {"poses_body": resample_rotations(a["poses_body"], index, frac),
           "jaw_pose": resample_rotations(a["jaw_pose"], index, frac),
           "hands": resample_rotations(a["hands"].reshape(-1, 30, 3), index, frac).reshape(-1, 90),
           "expression": resample_linear(a["expression"], index, frac),
           "transl": resample_linear(a["transl"], index, frac)}
    return m.with_arrays(out, f"resampled {m.fps:g} -> {fps:g} fps by slerp: {m.frames} -> {len(index)} frames",
                         fps=float(fps))


def smooth(m: DrivingMotion, window: int, sigma: float) -> DrivingMotion:
    from talkinnerf.preprocess.smoothing import smooth_params

    arrays = smooth_params(m.arrays, window, sigma, keys=MOTION_KEYS)
    return m.with_arrays(dict(arrays), f"smoothed: Gaussian over time, window {window}, sigma {sigma:g}")


def heading_of(global_orient: np.ndarray) -> float:
    """Angle (radians) about the vertical axis (y) of the way a body with this root rotation faces (+z at 0)."""
    from talkinnerf.motion.rotations import aa_to_matrix

    forward = aa_to_matrix(np.asarray(global_orient, np.float64)) @ np.array([0.0, 0.0, 1.0])
    return float(np.arctan2(forward[0], forward[2]))


def yaw_matrix(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def retarget(m: DrivingMotion, anchor_transl: np.ndarray, anchor_orient: np.ndarray, heading: str = "motion"
             ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Place a motion on an avatar: returns (MOTION_KEYS float32 with ``transl`` in the avatar's world, info).

    World translation of frame f = the avatar's anchor translation + (motion transl[f] - transl[0]) (computed in
    float64: the avatar's own fit comes back bit for bit). With ``heading="avatar"`` the root rotations and the
    drift are turned about the vertical axis so that frame 0 faces as the avatar's anchor frame."""
    a = {k: np.asarray(v, np.float64) for k, v in m.arrays.items()}
    drift = a["transl"] - a["transl"][:1]
    poses = a["poses_body"].copy()
    turn = 0.0
    if heading == "avatar":
        turn = heading_of(np.asarray(anchor_orient, np.float64)) - heading_of(poses[0, 0])
        turn = math.atan2(math.sin(turn), math.cos(turn))
        if abs(turn) > 1e-9:
            from talkinnerf.motion.rotations import compose_aa

            yaw = np.array([0.0, turn, 0.0])
            poses[:, 0] = compose_aa(np.broadcast_to(yaw, poses[:, 0].shape), poses[:, 0])
            drift = drift @ yaw_matrix(turn).T
    elif heading != "motion":
        raise ValueError(f"heading must be one of {HEADINGS}, got {heading!r}")
    anchor = np.asarray(anchor_transl, np.float64).reshape(3)
    world = anchor[None] + drift
    out = {**a, "poses_body": poses, "transl": world}
    info = {"anchor_transl": anchor.round(6).tolist(), "motion_first_transl": a["transl"][0].round(6).tolist(),
            "drift_m": float(np.linalg.norm(drift, axis=1).max()), "heading": heading,
            "heading_turn_deg": round(math.degrees(turn), 4)}
    return {k: v.astype(np.float32) for k, v in out.items()}, info


@dataclass
class PreparedMotion:
    """A motion read, resampled, smoothed and placed on one avatar (float32 arrays, ``transl`` in world)."""

    motion: DrivingMotion
    arrays: dict[str, np.ndarray]
    fps: float
    retarget: dict[str, Any]


def prepare_motion_for(motion_path: str | Path, data, fps: float, smoothing: bool, window: int, sigma: float,
                       heading: str, anchor: int) -> PreparedMotion:
    """Read ``motion_path`` and place it on the avatar ``data`` (talkinnerf.train.data.SubjectData)."""
    m = read_driving_motion(motion_path)
    if fps > 0:
        m = resample_to(m, fps)
    out_fps = float(fps or m.fps or data.fps)
    if m.fps is None:
        m.notes.append(f"the motion states no frame rate: played at {out_fps:g} fps")
    if smoothing:
        m = smooth(m, window, sigma)
    if not 0 <= anchor < len(data.params["K"]):
        raise ValueError(f"subject {data.name}: camera_frame {anchor} out of range (0..{len(data.params['K']) - 1})")
    arrays, info = retarget(m, data.params["transl"][anchor].numpy(), data.params["poses_body"][anchor][0].numpy(),
                            heading)
    info["anchor_frame"] = anchor
    return PreparedMotion(motion=m, arrays=arrays, fps=out_fps, retarget=info)


# ---------------------------------------------------------------------------------------------- rendering

def posed_skeleton_box(poses_body: torch.Tensor, jaw: torch.Tensor, hands: torch.Tensor,
                       canonical_joints: torch.Tensor, parents: torch.Tensor, canonical_bbox: torch.Tensor,
                       padding: float) -> torch.Tensor:
    """(2,3) box around the posed joints (posed body frame), grown by the canonical mesh's reach past its joints."""
    from talkinnerf.nerf.skeleton import posed_full_skeleton

    posed = posed_full_skeleton(poses_body, jaw, hands, canonical_joints, parents)
    reach = torch.maximum(canonical_joints.min(0).values - canonical_bbox[0],
                          canonical_bbox[1] - canonical_joints.max(0).values).max().clamp_min(0)
    return torch.stack([posed.min(0).values - reach - padding, posed.max(0).values + reach + padding])


def motion_conditioning(data, arrays: dict[str, np.ndarray], f: int, device):
    """FrameConditioning of motion frame ``f`` on avatar ``data``, and the motion's (3,) world translation."""
    from talkinnerf.nerf.model import FrameConditioning

    p = data.params
    mt = {k: torch.from_numpy(np.asarray(v[f], dtype=np.float32)) for k, v in arrays.items()}
    cond = FrameConditioning(identity=torch.tensor(data.identity, device=device),
                             poses_body=mt["poses_body"].to(device), jaw=mt["jaw_pose"].to(device),
                             expression=mt["expression"].to(device), hands=mt["hands"].to(device),
                             canonical_joints=p["canonical_joints"].to(device), parents=p["parents"].to(device),
                             canonical_bbox=p["canonical_bbox"].to(device),
                             canonical_vertices=(p["canonical_vertices"].to(device) if "canonical_vertices" in p
                                                 else None))
    return cond, mt


def render_motion_frames(model, model_cfg, step: int, data, arrays: dict[str, np.ndarray], frames: list[int],
                         camera: tuple[torch.Tensor, torch.Tensor, torch.Tensor], cfg: AnimateConfig, device,
                         render_fn=None, options: RenderOptions | None = None, desc: str = "animate"
                         ) -> list[np.ndarray]:
    """Render motion ``frames`` of a placed motion on avatar ``data`` -> float (H,W,3) images in [0,1]."""
    from talkinnerf.evaluate.render_eval import render_view
    from talkinnerf.progress import Progress

    K, R, t = camera
    p = data.params
    images = []
    with Progress(len(frames), desc=desc, unit="frame", enabled=cfg.progress) as bar:
        for f in frames:
            cond, mt = motion_conditioning(data, arrays, f, device)
            box = posed_skeleton_box(mt["poses_body"], mt["jaw_pose"], mt["hands"], p["canonical_joints"],
                                     p["parents"], p["canonical_bbox"], cfg.box_padding)
            images.append(render_view(model, cond, K, R, t, mt["transl"], box, data.size, step, cfg.chunk,
                                      model_cfg.background, device, render_fn, options))
            bar.update(1)
    return images


# ---------------------------------------------------------------------------------------------- audio, side by side

def resolve_audio(m: DrivingMotion, audio: str | None = "auto") -> tuple[Path | None, str]:
    """The audio file of a motion and how it was found: ``audio`` is a path, "none" or "auto" (``<motion>.wav``
    beside the motion, else the file its sidecar / frames folder names)."""
    if audio in (None, "", "none"):
        return None, "off"
    if audio != "auto":
        path = Path(audio)
        if not path.is_file():
            raise FileNotFoundError(f"audio file {path} (--audio) does not exist")
        return path, "given"
    beside = Path(m.path).with_suffix(".wav")
    if beside.is_file():
        return beside, "beside the motion"
    if m.audio and Path(m.audio).is_file():
        return Path(m.audio), "named by the motion"
    if m.audio:
        return None, f"the motion names {m.audio}, which does not exist: silent"
    return None, "none"


def side_by_side(driver_frames: str | Path, avatar: np.ndarray, fps: float) -> np.ndarray:
    """[driver frame | avatar frame] for every avatar frame; the driver frame nearest in time (the driver's own
    rate from its meta.json), scaled to the avatar's height."""
    import cv2

    from talkinnerf.video.frames import list_frames, read_image

    folder = Path(driver_frames)
    files = list_frames(folder)
    meta = folder / "meta.json"
    driver_fps = float(read_json(meta)["fps"]) if meta.is_file() else fps
    size = avatar.shape[1]
    out = []
    for j, image in enumerate(avatar):
        i = min(len(files) - 1, int(round(j * driver_fps / fps)))
        frame = read_image(files[i])
        if frame.shape[0] != size:
            scale = size / frame.shape[0]
            width = max(1, int(round(frame.shape[1] * scale)))
            frame = cv2.resize(frame, (width, size), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        out.append(np.concatenate([frame, image], axis=1))
    return np.stack(out)


# ---------------------------------------------------------------------------------------------- the command

def animate(model_path: str | Path, subject: str, motion_path: str | Path, data_root: str | Path, out: str | Path,
            cfg: AnimateConfig, model_factory=None, render_fn=None, json_path: str | Path | None = None,
            audio: str | None = "auto", side_by_side_out: str | Path | None = None,
            driver_frames: str | Path | None = None) -> dict[str, Any]:
    """Render ``subject`` of ``model_path`` under ``motion_path``; write ``out`` (.mp4, the motion's audio muxed),
    ``json_path`` (default: ``out`` with .json) and, with ``driver_frames``, ``side_by_side_out``."""
    from talkinnerf.evaluate.media import fit_to_frames, read_wav, write_video_with_audio
    from talkinnerf.evaluate.render_eval import device_render_options, load_avatar, to_uint8

    if side_by_side_out is not None and driver_frames is None:
        raise ValueError("a side-by-side video needs the driver's frames (--driver-frames)")
    model, model_cfg, step, data, device = load_avatar(model_path, subject, data_root, cfg.device, cfg.threads,
                                                      cfg.box_padding, 1, model_factory)
    prepared = prepare_motion_for(motion_path, data, cfg.fps, cfg.smoothing, cfg.smoothing_window,
                                  cfg.smoothing_sigma, cfg.heading, cfg.camera_frame)
    m, fps = prepared.motion, prepared.fps
    count = m.frames if cfg.max_frames <= 0 else min(m.frames, cfg.max_frames)
    audio_path, audio_how = resolve_audio(m, audio if cfg.audio else "none")
    sound, length_note = None, None
    if audio_path is not None:
        sound, count, length_note = fit_to_frames(read_wav(audio_path), count, fps)
    options = device_render_options(cfg.render, device)
    t0 = time.perf_counter()
    images = render_motion_frames(model, model_cfg, step, data, prepared.arrays, list(range(count)),
                                  data.camera(cfg.camera_frame), cfg, device, render_fn, options,
                                  desc=f"animate {subject} <- {Path(motion_path).stem}")
    seconds = time.perf_counter() - t0
    video = np.stack([to_uint8(i) for i in images])
    out = Path(out)
    muxed = write_video_with_audio(out, video, fps, sound, crf=cfg.crf)
    if side_by_side_out is not None:
        write_video_with_audio(side_by_side_out, side_by_side(driver_frames, video, fps), fps, sound, crf=cfg.crf)
    summary = {
        "model": str(model_path), "subject": subject, "motion": str(motion_path), "frames": len(images),
        "motion_frames": m.frames, "fps": fps, "source_format": m.source_format, "source_file": m.source_file,
        "source_fps": m.fps, "conversions": m.conversions, "animate_changes": m.notes,
        "retarget": {**prepared.retarget, "camera": f"the avatar's training camera of frame {cfg.camera_frame}",
                     "shape": "the avatar's own (canonical joints); the motion's shape is not used"},
        "smoothing": cfg.smoothing, "render_autocast": options.autocast, "seconds": round(seconds, 3),
        "render_seconds_per_frame": round(seconds / max(1, len(images)), 4),
        "audio": None if audio_path is None else {"file": str(audio_path), "found": audio_how, **(muxed or {})},
        "audio_search": audio_how, "length_note": length_note,
        "side_by_side": None if side_by_side_out is None else str(side_by_side_out),
    }
    if length_note:
        print(f"animate {subject} <- {motion_path}: {length_note}", flush=True)
    write_json(Path(json_path) if json_path else out.with_suffix(".json"), summary)
    return summary
