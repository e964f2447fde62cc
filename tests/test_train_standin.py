"""Shared test helpers for the train/evaluate tests: a tiny stand-in NeRF with the model interface and a
synthetic subject folder (frames, matte, parts, smplx npz, split) in the documented formats.

Importable from the other test files (pytest puts tests/ on sys.path); the tests at the bottom check the
helpers themselves.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from talkinnerf.body.joints import SMPLX_PARENTS
from talkinnerf.io import save_npz, write_json

CANON_BOX = np.array([[-0.3, -0.5, -0.2], [0.3, 0.5, 0.2]], dtype=np.float32)


class StandInNeRF(nn.Module):
    """World-space MLP radiance field with the TalkinNeRF call signature (no deformation at all)."""

    def __init__(self, cfg, num_identities: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.num_identities = num_identities
        self.identity = nn.Embedding(num_identities, 8)
        self.bands = 4
        width = 64
        self.mlp = nn.Sequential(nn.Linear(3 * (1 + 2 * self.bands) + 8, width), nn.ReLU(),
                                 nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 4 + cfg.num_classes))

    def forward(self, rays_o, rays_d, near, far, cond, step):
        s = self.cfg.samples_per_ray
        u = torch.linspace(0, 1, s + 1, device=rays_o.device)[:-1].expand(len(rays_o), s)
        if self.training:
            u = u + torch.rand_like(u) / s
        else:
            u = u + 0.5 / s
        z = near[:, None] + (far - near)[:, None] * u                       # (R,S)
        pts = rays_o[:, None] + rays_d[:, None] * z[..., None]              # (R,S,3)
        freqs = 2.0 ** torch.arange(self.bands, device=pts.device) * torch.pi
        ang = pts[..., None] * freqs                                        # (R,S,3,B)
        pe = torch.cat([pts, ang.sin().flatten(-2), ang.cos().flatten(-2)], -1)
        code = self.identity(cond.identity).expand(*pe.shape[:2], -1)
        raw = self.mlp(torch.cat([pe, code], -1))
        rgb = torch.sigmoid(raw[..., :3])
        sigma = torch.relu(raw[..., 3])
        delta = torch.cat([z[:, 1:] - z[:, :-1], (far - near)[:, None] / s], -1)
        alpha = 1 - torch.exp(-sigma * delta * 10)
        trans = torch.cumprod(torch.cat([torch.ones_like(alpha[:, :1]), 1 - alpha + 1e-10], -1), -1)[:, :-1]
        w = alpha * trans
        acc = w.sum(-1)
        bg = torch.tensor(self.cfg.background, device=rgb.device)
        out_rgb = (w[..., None] * rgb).sum(1) + (1 - acc)[:, None] * bg
        logits = (w[..., None] * raw[..., 4:]).sum(1)
        logits = logits + (1 - acc)[:, None] * torch.nn.functional.one_hot(
            torch.tensor(0), self.cfg.num_classes).to(logits) * self.cfg.background_logit
        return {"rgb": out_rgb, "acc": acc, "depth": (w * z).sum(-1), "seg_logits": logits}

    def param_groups(self, base_lr):
        return [{"params": list(self.mlp.parameters()), "lr": base_lr, "name": "mlp"},
                {"params": list(self.identity.parameters()), "lr": base_lr, "name": "identity"}]


@torch.no_grad()
def standin_render_image(model, rays_o, rays_d, near, far, hit_mask, cond, step, chunk=4096):
    """Same contract as talkinnerf.nerf.render.render_image, for the stand-in."""
    n = len(rays_o)
    rgb = torch.tensor(model.cfg.background).expand(n, 3).clone()
    acc = torch.zeros(n)
    idx = torch.nonzero(hit_mask).reshape(-1)
    for i in range(0, len(idx), chunk):
        j = idx[i:i + chunk]
        out = model(rays_o[j], rays_d[j], near[j], far[j], cond, step)
        rgb[j] = out["rgb"]
        acc[j] = out["acc"]
    return {"rgb": rgb, "acc": acc}


def make_camera(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    f = size * 1.6
    K = np.array([[f, 0, size / 2], [0, f, size / 2], [0, 0, 1]], dtype=np.float32)
    R = np.diag([1.0, -1.0, -1.0]).astype(np.float32)       # frontal camera (docs/contracts.md)
    t = np.array([0.0, 0.0, 3.0], dtype=np.float32)
    return K, R, t


def _project(p: np.ndarray, K, R, t) -> np.ndarray:
    cam = p @ R.T + t
    uv = (cam / cam[:, 2:3]) @ K.T
    return uv[:, :2]


def make_subject(root: Path, name: str = "s0", size: int = 32, frames: int = 6, seed: int = 0,
                 test_every: int = 3, flat: bool = False,
                 figure: bool = False) -> Path:
    """Write a synthetic subject under ``root`` (a results/ folder); returns root.

    The 'body' is the front face of a box with a colour gradient; hands/arms are labelled blocks in it.
    ``figure=True`` instead draws a flat-shaded stick figure of talkinnerf.nerf.synthetic's skeleton
    (a subject the real model's skinning can represent).
    """
    if figure:
        return _make_figure_subject(root, name, size, frames, seed, test_every)
    rng = np.random.default_rng(seed)
    K, R, t = make_camera(size)
    transl = (rng.normal(size=(frames, 3)) * 0.01).astype(np.float32)
    transl[:, 2] = 0.0
    joints = np.zeros((55, 3), dtype=np.float32)
    joints[:, 1] = np.linspace(-0.4, 0.4, 55)             # a plausible vertical spread inside the box
    base = 0.2 + 0.6 * rng.random(3)
    for sub in ("frames", "matte", "parts"):
        (root / sub / name).mkdir(parents=True, exist_ok=True)
    for f in range(frames):
        corners = CANON_BOX + transl[f]
        uv = _project(np.array([[corners[0, 0], corners[1, 1], 0.2], [corners[1, 0], corners[0, 1], 0.2]]) ,
                      K, R, t)
        (c0, r0), (c1, r1) = np.floor(uv.min(0)).astype(int), np.ceil(uv.max(0)).astype(int)
        img = np.zeros((size, size, 3), np.uint8)
        alpha = np.zeros((size, size), np.uint8)
        parts = np.zeros((size, size), np.uint8)
        yy, xx = np.mgrid[0:size, 0:size]
        inside = (yy >= r0) & (yy < r1) & (xx >= c0) & (xx < c1)
        grad = np.stack([xx / size, yy / size, np.full_like(xx, 0.5, dtype=float)], -1)
        colour = base if flat else 0.5 * base + 0.5 * grad[inside]
        img[inside] = (255 * colour).astype(np.uint8)
        alpha[inside] = 255
        parts[inside] = 1
        mid = (r0 + r1) // 2
        parts[mid:mid + 3, c0:c0 + 3] = 3                  # a "hand"
        parts[mid - 4:mid, c0:c0 + 3] = 2                  # an "arm"
        parts[r0:r0 + 3, c0:c1] = 4                        # the "head"
        parts[~inside] = 0
        cv2.imwrite(str(root / "frames" / name / f"{f:06d}.png"), img[:, :, ::-1])
        cv2.imwrite(str(root / "matte" / name / f"{f:06d}.png"), alpha)
        cv2.imwrite(str(root / "parts" / name / f"{f:06d}.png"), parts)
    write_json(root / "frames" / name / "meta.json", {"fps": 10.0, "count": frames, "size": size, "source": "synthetic"})
    F = frames
    posed_joints = joints[None] + transl[:, None]
    save_npz(root / "smplx" / f"{name}.npz",
             global_orient=np.zeros((F, 3), np.float32), body_pose=np.zeros((F, 21, 3), np.float32),
             poses_body=np.zeros((F, 22, 3), np.float32), jaw_pose=np.zeros((F, 3), np.float32),
             left_hand_pose=np.zeros((F, 15, 3), np.float32), right_hand_pose=np.zeros((F, 15, 3), np.float32),
             hands=np.zeros((F, 90), np.float32), expression=np.zeros((F, 10), np.float32),
             betas=np.zeros(10, np.float32), transl=transl,
             K=np.repeat(K[None], F, 0), R=np.repeat(R[None], F, 0), t=np.repeat(t[None], F, 0),
             size=np.array(size), joints=posed_joints.astype(np.float32), canonical_joints=joints,
             parents=np.array(SMPLX_PARENTS, dtype=np.int64), canonical_bbox=CANON_BOX,
             bbox=(CANON_BOX[None] + transl[:, None]).astype(np.float32), vertices_count=np.array(100))
    test = [f for f in range(frames) if f % test_every == test_every - 1]
    (root / "splits").mkdir(parents=True, exist_ok=True)
    (root / "splits" / f"{name}.json").write_text(json.dumps(
        {"train": [f for f in range(frames) if f not in test], "test": test, "rule": "every 3rd"}))
    return root


def _make_figure_subject(root: Path, name: str, size: int, frames: int, seed: int, test_every: int) -> Path:
    from talkinnerf.nerf.synthetic import synthetic_joints

    rng = np.random.default_rng(seed)
    K, R, t = make_camera(size)
    joints = synthetic_joints().numpy()
    box = np.stack([joints.min(0) - [0.05, 0.1, 0.15], joints.max(0) + [0.05, 0.15, 0.15]]).astype(np.float32)
    colour = tuple(int(c) for c in rng.integers(60, 230, 3))
    for sub in ("frames", "matte", "parts"):
        (root / sub / name).mkdir(parents=True, exist_ok=True)
    uv = _project(joints, K, R, t)
    img = np.zeros((size, size, 3), np.uint8)
    parts = np.zeros((size, size), np.uint8)
    scale = 16                                              # draw at 16x with sub-pixel precision, then downsample
    big = np.zeros((size * scale, size * scale, 3), np.uint8)
    bigp = np.zeros((size * scale, size * scale), np.uint8)
    for k, p in enumerate(SMPLX_PARENTS):
        if p < 0 or k in (22, 23, 24):
            continue
        label = 3 if k >= 25 else 2 if k in (18, 19, 20, 21) else 1
        a, b = (uv[p] * scale).astype(int), (uv[k] * scale).astype(int)
        thick = int(0.05 * size * scale) if label != 3 else int(0.02 * size * scale)
        cv2.line(big, tuple(a), tuple(b), colour, max(1, thick))
        cv2.line(bigp, tuple(a), tuple(b), label, max(1, thick))
    head = (uv[15] * scale).astype(int)
    cv2.circle(big, tuple(head), int(0.07 * size * scale), tuple(255 - c for c in colour), -1)
    cv2.circle(bigp, tuple(head), int(0.07 * size * scale), 4, -1)
    img = cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA)
    alpha = (cv2.resize((bigp > 0).astype(np.float32), (size, size), interpolation=cv2.INTER_AREA) * 255).astype(np.uint8)
    parts = cv2.resize(bigp, (size, size), interpolation=cv2.INTER_NEAREST)
    F = frames
    for f in range(F):
        cv2.imwrite(str(root / "frames" / name / f"{f:06d}.png"), img[:, :, ::-1])
        cv2.imwrite(str(root / "matte" / name / f"{f:06d}.png"), alpha)
        cv2.imwrite(str(root / "parts" / name / f"{f:06d}.png"), parts)
    write_json(root / "frames" / name / "meta.json", {"fps": 10.0, "count": F, "size": size, "source": "figure"})
    z = lambda *shape: np.zeros((F, *shape), np.float32)  # noqa: E731
    save_npz(root / "smplx" / f"{name}.npz", global_orient=z(3), body_pose=z(21, 3), poses_body=z(22, 3),
             jaw_pose=z(3), left_hand_pose=z(15, 3), right_hand_pose=z(15, 3), hands=z(90), expression=z(10),
             betas=np.zeros(10, np.float32), transl=z(3), K=np.repeat(K[None], F, 0), R=np.repeat(R[None], F, 0),
             t=np.repeat(t[None], F, 0), size=np.array(size), joints=np.repeat(joints[None], F, 0),
             canonical_joints=joints, parents=np.array(SMPLX_PARENTS, dtype=np.int64), canonical_bbox=box,
             bbox=np.repeat(box[None], F, 0), vertices_count=np.array(100))
    test = [f for f in range(F) if f % test_every == test_every - 1]
    (root / "splits").mkdir(parents=True, exist_ok=True)
    (root / "splits" / f"{name}.json").write_text(json.dumps(
        {"train": [f for f in range(F) if f not in test] or [0], "test": test or [0], "rule": "every Nth"}))
    return root


# ----------------------------------------------------------------------------------------------- self-tests
def test_standin_renders_background_without_density():
    from talkinnerf.nerf.config import ModelConfig

    cfg = ModelConfig(background=(0.2, 0.4, 0.6))
    model = StandInNeRF(cfg, 1).eval()
    with torch.no_grad():
        for p in model.mlp[-1].parameters():
            p.zero_()
        model.mlp[-1].bias[3] = -10.0                       # no density anywhere
    cond = type("C", (), {"identity": torch.tensor(0)})()
    out = model(torch.zeros(4, 3), torch.tensor([[0.0, 0.0, 1.0]]).expand(4, 3), torch.ones(4), 2 * torch.ones(4),
                cond, 0)
    assert torch.allclose(out["rgb"], torch.tensor([0.2, 0.4, 0.6]).expand(4, 3), atol=1e-5)
    assert out["seg_logits"].argmax(-1).eq(0).all()


def test_make_subject_writes_documented_files(tmp_path):
    make_subject(tmp_path, "a", size=32, frames=3)
    assert (tmp_path / "frames" / "a" / "000002.png").is_file()
    lab = cv2.imread(str(tmp_path / "parts" / "a" / "000000.png"), cv2.IMREAD_GRAYSCALE)
    assert set(np.unique(lab)) == {0, 1, 2, 3, 4}
