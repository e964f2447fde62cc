"""Render one synthetic talking subject: the video plus its ground truth and an OpenPose stand-in.

Outputs (docs/contracts.md): ``<video>`` (H.264 mp4 with the subject's voice as an AAC track) and beside it
``<stem>/gt/`` (camera.json, anny_params.npz, joints3d.npy, keypoints2d.npz, alpha/%06d.png, parts/%06d.png, and
extra to the contract background.png, audio.wav: the voice as written, 16-bit PCM, and voice.json) and
``<stem>/openpose/%06d_keypoints.json``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkinnerf.camera import project
from talkinnerf.demo.options import IdentityOptions, SynthesizeOptions


@dataclass
class Camera:
    """Static pinhole camera (OpenCV): x_cam = R x_world + t; K in pixels; square images of ``size``."""

    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    size: int

    def to_json(self, fps: float) -> dict:
        return {"K": self.K.tolist(), "R": self.R.tolist(), "t": self.t.tolist(), "width": self.size,
                "height": self.size, "fps": float(fps)}


def subject_seed(subject: str, seed: int) -> int:
    """A stable per-subject seed: the same (subject, seed) always gives the same performance."""
    return (zlib.crc32(subject.encode()) ^ (int(seed) * 0x9E3779B1)) & 0xFFFFFFFF


def frontal_camera(rest_world: np.ndarray, size: int, height_fraction: float, distance: float) -> Camera:
    """A level camera in front of the body (R = diag(1,-1,-1)) framing its standing height at ``height_fraction``.

    rest_world (V,3): the body standing at zero pose, world space.
    """
    lo, hi = rest_world.min(0), rest_world.max(0)
    height = float(hi[1] - lo[1])
    centre = np.array([0.5 * (lo[0] + hi[0]), 0.5 * (lo[1] + hi[1]), distance])
    R = np.diag([1.0, -1.0, -1.0])
    t = -R @ centre
    # framed at the depth of the body's origin (the pelvis); the nearer face/feet come out ~2 % larger
    f = height_fraction * size * distance / height
    K = np.array([[f, 0.0, size / 2.0], [0.0, f, size / 2.0], [0.0, 0.0, 1.0]])
    return Camera(K=K, R=R, t=t, size=size)


def synthesize(subject: str, out_video: str | Path, opts: SynthesizeOptions, identity: IdentityOptions,
               progress: bool = True) -> dict:
    """Render ``subject`` to ``out_video`` and its ground truth folder; returns a small summary dict."""
    import torch
    from PIL import Image

    from talkinnerf.body.anny_map import anny_to_smplx_coords, openpose_from_anny, smplx_joints_from_anny
    from talkinnerf.demo import appearance, detector
    from talkinnerf.demo.motion import make_performance
    from talkinnerf.demo.rig import anny_model, pose_sequence
    from talkinnerf.demo.voice import synthesize_voice
    from talkinnerf.evaluate.media import Audio, write_video_with_audio
    from talkinnerf.io import atomic_dir, save_npz, write_json
    from talkinnerf.progress import Progress  # a bar on a terminal, one line per tenth in a log file
    from talkinnerf.raster import rasterize

    opts.validate()
    identity.validate(subject)
    out_video = Path(out_video)
    gt_root = out_video.with_suffix("")
    size = int(opts.resolution)
    n_frames = max(1, int(round(opts.seconds * opts.fps)))
    t = np.arange(n_frames) / float(opts.fps)
    seed = subject_seed(subject, opts.seed)
    rng = np.random.default_rng(seed)

    perf = make_performance(t, rng, gesture_amount=identity.gesture_amount,
                            talkativeness=identity.talkativeness, smile_bias=identity.smile)
    phenotype = {k: getattr(identity, k) for k in ("gender", "age", "muscle", "weight", "height", "proportions")}
    seq = pose_sequence(perf, phenotype)
    model = anny_model()
    with torch.no_grad():
        joints = smplx_joints_from_anny(model, seq.model_output).numpy().astype(np.float32)
        op3d = {k: v.numpy() for k, v in openpose_from_anny(model, seq.model_output).items()}

    rest_world = anny_to_smplx_coords(seq.rest_vertices)
    cam = frontal_camera(rest_world, size, opts.body_height_fraction, opts.camera_distance)
    rest_bones = seq.model_output["rest_bone_poses"][0].numpy()
    regions = appearance.vertex_regions(model, seq.rest_vertices, rest_bones, identity)
    colors = appearance.vertex_colors(regions, seq.rest_vertices, identity)
    part_labels = appearance.vertex_part_labels(model)
    feet_uv, _ = project(rest_world[np.argmin(rest_world[:, 1])][None], cam.K, cam.R, cam.t)
    background = appearance.backdrop(size, identity, floor_row=float(feet_uv[0, 1]) - 0.01 * size, seed=seed)

    frames = np.empty((n_frames, size, size, 3), np.uint8)
    kp_uv = {g: np.zeros((n_frames, detector.GROUP_SIZES[g], 2), np.float32) for g in detector.GROUPS}
    kp_vis = {g: np.zeros((n_frames, detector.GROUP_SIZES[g]), bool) for g in detector.GROUPS}
    noise_rng = np.random.default_rng(seed + 1)
    with atomic_dir(gt_root) as root:
        (root / "gt" / "alpha").mkdir(parents=True)
        (root / "gt" / "parts").mkdir(parents=True)
        (root / "openpose").mkdir(parents=True)
        bar = Progress(n_frames, f"demo {subject}", enabled=progress, unit="frames")
        for i in range(n_frames):
            bar.update(1)
            v_cam = seq.vertices[i] @ cam.R.T.astype(np.float32) + cam.t.astype(np.float32)
            r = rasterize(v_cam, seq.faces, cam.K, size, vertex_colors=colors, vertex_labels=part_labels,
                          light=opts.light)
            cov = r.alpha[..., None] > 0
            frames[i] = np.where(cov, r.rgb, background)
            Image.fromarray(r.alpha).save(root / "gt" / "alpha" / f"{i:06d}.png")
            Image.fromarray(r.labels).save(root / "gt" / "parts" / f"{i:06d}.png")
            dets = {}
            for g in detector.GROUPS:
                uv, z = project(op3d[g][i].astype(np.float64), cam.K, cam.R, cam.t)
                vis = detector.visibility(uv, z, r.depth, detector.DEPTH_TOLERANCE[g])
                kp_uv[g][i], kp_vis[g][i] = uv, vis
                dets[g] = detector.noisy_detections(uv, vis, g, opts.noise, noise_rng)
            write_json(root / "openpose" / f"{i:06d}_keypoints.json", detector.openpose_json(dets))

        write_json(root / "gt" / "camera.json", cam.to_json(opts.fps))
        # the static backdrop (extra to the contract): ground truth for background-subtraction matting
        Image.fromarray(background).save(root / "gt" / "background.png")
        np.save(root / "gt" / "joints3d.npy", joints)
        save_npz(root / "gt" / "keypoints2d.npz", **kp_uv, **{f"{g}_visible": kp_vis[g] for g in detector.GROUPS})
        transl_world = anny_to_smplx_coords(seq.pose_parameters[:, 0, :3, 3].astype(np.float64))
        save_npz(root / "gt" / "anny_params.npz",
                 pose_parameters=seq.pose_parameters,  # (F,104,4,4) Anny "local-ref" input, root incl. transl
                 bone_labels=np.array(seq.bone_labels),
                 facial_actions=seq.facial, facial_action_labels=np.array(seq.facial_labels),
                 phenotype=seq.phenotype, phenotype_labels=np.array(seq.phenotype_labels),
                 transl=seq.pose_parameters[:, 0, :3, 3],  # Anny space
                 transl_world=transl_world.astype(np.float32),
                 vertex_part_labels=part_labels, vertex_regions=regions.astype(np.uint8),
                 region_names=np.array(appearance.REGIONS),
                 jaw_open=seq.facial[:, seq.facial_labels.index("jawOpen")],
                 speech_envelope=perf.speech.astype(np.float32), fps=np.float32(opts.fps),
                 seed=np.int64(seed))
        # the voice: loudness from the same jaw signal, sample 0 at frame 0, as long as the frames
        voice, voice_info = synthesize_voice(perf, n_frames / float(opts.fps), identity.gender,
                                             np.random.default_rng(seed + 2))
        _write_wav(root / "gt" / "audio.wav", voice, voice_info["rate"])
        write_json(root / "gt" / "voice.json", voice_info)
        write_video_with_audio(out_video, frames, opts.fps, Audio(voice[:, None], voice_info["rate"], "voice"),
                               crf=opts.crf, bitrate=48000)
    return {"subject": subject, "frames": n_frames, "size": size, "video": str(out_video), "gt": str(gt_root),
            "voice_seconds": voice_info["seconds"]}


def _write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    """16-bit PCM mono WAV."""
    import wave

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(rate))
        w.writeframes(np.ascontiguousarray(samples, "<i2").tobytes())
