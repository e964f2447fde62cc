"""Per-subject training/evaluation data: frames, mattes, part labels, SMPL-X conditioning, cameras.

One :class:`SubjectData` per subject (its index in the subject list is its identity). Images are read
lazily and kept in a bounded cache, so paper-size videos do not have to fit in memory at once.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from talkinnerf.io import load_npz, read_json
from talkinnerf.train.rays import box_corners, pad_box, pixel_rays, project_points, ray_box_intersect
from talkinnerf.train.sampling import FrameMasks

# keys of results/smplx/s.npz the trainer needs (docs/contracts.md)
REQUIRED_KEYS = ("poses_body", "jaw_pose", "expression", "hands", "transl", "K", "R", "t",
                 "canonical_joints", "parents", "canonical_bbox", "bbox")

ARMS_LABEL, HANDS_LABEL, HEAD_LABEL = 2, 3, 4


def _read_png(path: Path, subject: str, gray: bool) -> np.ndarray:
    from talkinnerf.video.frames import read_image

    if not path.is_file():
        raise FileNotFoundError(f"subject {subject}: missing {path}")
    return read_image(path, gray)


@dataclass
class SubjectData:
    """Everything about one subject; frame indices are the global ``%06d`` numbers of results/frames/s/."""

    name: str
    identity: int
    root: Path
    size: int
    fps: float
    params: dict[str, torch.Tensor]          # npz arrays as float32/long tensors
    train_frames: list[int]
    test_frames: list[int]
    background: torch.Tensor                 # (3,) colour GT images are composited on
    box_padding: float = 0.05                # metres added around the posed bbox for ray bounds
    cache_size: int = 4096
    _cache: OrderedDict = field(default_factory=OrderedDict, repr=False)

    # ---------------------------------------------------------------------------------------------- images
    def _cached(self, key: tuple, load):
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        value = load()
        self._cache[key] = value
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return value

    def _check(self, arr: np.ndarray, path: Path) -> np.ndarray:
        if arr.shape[:2] != (self.size, self.size):
            raise ValueError(f"subject {self.name}: {path} is {arr.shape[1]}x{arr.shape[0]}, "
                             f"expected {self.size}x{self.size} (frames/meta.json size)")
        return arr

    def image(self, frame: int) -> torch.Tensor:
        """GT colour composited on the background with the matte: (H,W,3) float32 in [0,1]."""
        def load():
            p = self.root / "frames" / self.name / f"{frame:06d}.png"
            rgb = torch.from_numpy(self._check(_read_png(p, self.name, gray=False), p)).float() / 255.0
            alpha = self.alpha(frame)[..., None]
            return rgb * alpha + self.background * (1.0 - alpha)
        return self._cached(("rgb", frame), load)

    def alpha(self, frame: int) -> torch.Tensor:
        """Matte (H,W) float32 in [0,1]."""
        def load():
            p = self.root / "matte" / self.name / f"{frame:06d}.png"
            return torch.from_numpy(self._check(_read_png(p, self.name, gray=True), p)).float() / 255.0
        return self._cached(("alpha", frame), load)

    def labels(self, frame: int) -> torch.Tensor:
        """Part labels (H,W) long in 0..4 (background, body, arms, hands, head)."""
        def load():
            p = self.root / "parts" / self.name / f"{frame:06d}.png"
            lab = torch.from_numpy(self._check(_read_png(p, self.name, gray=True), p)).long()
            if int(lab.max()) > 4:
                raise ValueError(f"subject {self.name}: {p} has label {int(lab.max())} > 4")
            return lab
        return self._cached(("labels", frame), load)

    def label_trust(self, frame: int) -> torch.Tensor:
        """(H,W) long, 1 where the fit vouches for the part label (parts/<s>/trust, written by `preprocess
        segment`), else 0."""
        def load():
            p = self.root / "parts" / self.name / "trust" / f"{frame:06d}.png"
            if not p.is_file():
                raise FileNotFoundError(
                    f"subject {self.name}: {p} does not exist: train.part_trust reads the label trust that "
                    f"`talkinnerf preprocess segment` writes, and this parts folder predates it; rerun the segment "
                    f"rule for {self.name} (snakemake -R segment), or set train.part_trust: false")
            return (torch.from_numpy(self._check(_read_png(p, self.name, gray=True), p)) >= 128).long()
        return self._cached(("trust", frame), load)

    # ---------------------------------------------------------------------------------------------- geometry
    def camera(self, frame: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.params["K"][frame], self.params["R"][frame], self.params["t"][frame]

    def posed_box(self, frame: int) -> torch.Tensor:
        """Padded posed-mesh box in the posed body frame (world minus transl): (2,3)."""
        return pad_box(self.params["bbox"][frame] - self.params["transl"][frame], self.box_padding)

    def rays(self, frame: int, rows: torch.Tensor, cols: torch.Tensor):
        """Rays through pixels, in the posed body frame.

        rows, cols (N,) -> origins (N,3), dirs (N,3), near (N,), far (N,), hit (N,) bool.
        """
        K, R, t = self.camera(frame)
        origins, dirs = pixel_rays(K, R, t, rows, cols)
        origins = origins - self.params["transl"][frame]          # the model never sees transl
        near, far, hit = ray_box_intersect(origins, dirs, self.posed_box(frame))
        return origins, dirs, near, far, hit

    def subject_rect(self, frame: int) -> tuple[int, int, int, int]:
        """Pixel rectangle (r0, r1, c0, c1), end-exclusive, of the projected padded posed box."""
        K, R, t = self.camera(frame)
        box = pad_box(self.params["bbox"][frame], self.box_padding)
        uv = project_points(box_corners(box), K, R, t)
        c0, r0 = (int(np.floor(float(x))) for x in uv.min(dim=0).values)
        c1, r1 = (int(np.ceil(float(x))) for x in uv.max(dim=0).values)
        clip = lambda x: min(max(x, 0), self.size)  # noqa: E731
        return clip(r0), clip(r1), clip(c0), clip(c1)

    def masks(self, frame: int) -> FrameMasks:
        """Pixel pools for patch centres (subject box, arm, hand and head pixels)."""
        def load():
            r0, r1, c0, c1 = self.subject_rect(frame)
            inside = torch.zeros(self.size, self.size, dtype=torch.bool)
            inside[r0:r1, c0:c1] = True
            lab = self.labels(frame)
            flat = lambda m: torch.nonzero(m.reshape(-1)).reshape(-1)  # noqa: E731
            return FrameMasks(self.size, flat(inside), flat(lab == ARMS_LABEL), flat(lab == HANDS_LABEL),
                              flat(lab == HEAD_LABEL))
        return self._cached(("masks", frame), load)

    def conditioning(self, frame: int, device: torch.device | str = "cpu"):
        """The model's per-frame conditioning (talkinnerf.nerf.model.FrameConditioning)."""
        from talkinnerf.nerf.model import FrameConditioning

        p = self.params
        return FrameConditioning(
            identity=torch.tensor(self.identity, dtype=torch.long, device=device),
            poses_body=p["poses_body"][frame].to(device),
            jaw=p["jaw_pose"][frame].to(device),
            expression=p["expression"][frame].to(device),
            hands=p["hands"][frame].to(device),
            canonical_joints=p["canonical_joints"].to(device),
            parents=p["parents"].to(device),
            canonical_bbox=p["canonical_bbox"].to(device),
            canonical_vertices=(p["canonical_vertices"].to(device) if "canonical_vertices" in p else None),
        )


def params_to_tensors(arrays: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """npz arrays -> tensors: integer arrays to long, the rest to float32."""
    out = {}
    for k, v in arrays.items():
        if v.dtype.kind in "iu":
            out[k] = torch.from_numpy(v.astype(np.int64))
        elif v.dtype.kind == "f":
            out[k] = torch.from_numpy(v.astype(np.float32))
    return out


SUBJECT_INPUTS = ("frames/{name}", "matte/{name}", "parts/{name}", "smplx/{name}.npz", "splits/{name}.json")


def file_digest(paths: list[Path], root: Path, digest=None):
    """sha1 over the names (relative to ``root``) and bytes of ``paths``; folders count with every file in them."""
    digest = digest or hashlib.sha1()
    for path in paths:
        files = sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path]
        for f in files:
            digest.update(f.relative_to(root).as_posix().encode())
            digest.update(hashlib.sha1(f.read_bytes()).digest())
    return digest


def data_digest(root: str | Path, names: list[str]) -> str:
    """Digest of everything training reads for ``names`` (frames, mattes, part labels, fit, split). A checkpoint
    written on other data (a subject's video changed and its preprocessing reran) is then not resumed."""
    root = Path(root)
    paths = [root / pattern.format(name=name) for name in names for pattern in SUBJECT_INPUTS]
    return file_digest(paths, root).hexdigest()[:16]


def load_subject(root: str | Path, name: str, identity: int, background=(0.0, 0.0, 0.0),
                 box_padding: float = 0.05, cache_size: int = 4096) -> SubjectData:
    """Read meta, fit and split of subject ``name`` under ``root`` (the results/ folder) and check them."""
    root = Path(root)
    meta = read_json(root / "frames" / name / "meta.json")
    npz_path = root / "smplx" / f"{name}.npz"
    arrays = load_npz(npz_path)
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    if missing:
        raise ValueError(f"subject {name}: {npz_path} lacks keys {missing}")
    count = int(meta["count"])
    if arrays["poses_body"].shape[0] != count:
        raise ValueError(f"subject {name}: {npz_path} has {arrays['poses_body'].shape[0]} frames, "
                         f"frames/meta.json says {count}")
    split = read_json(root / "splits" / f"{name}.json")
    for key in ("train", "test"):
        bad = [f for f in split.get(key, []) if not 0 <= int(f) < count]
        if bad:
            raise ValueError(f"subject {name}: splits/{name}.json {key} frames {bad[:5]} outside 0..{count - 1}")
    return SubjectData(
        name=name, identity=identity, root=root, size=int(meta["size"]), fps=float(meta["fps"]),
        params=params_to_tensors(arrays), train_frames=[int(f) for f in split["train"]],
        test_frames=[int(f) for f in split.get("test", [])],
        background=torch.tensor(background, dtype=torch.float32), box_padding=box_padding,
        cache_size=cache_size)
