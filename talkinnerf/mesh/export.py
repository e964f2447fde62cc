"""`talkinnerf evaluate mesh`: a trained avatar's canonical surface as a triangle mesh, and posed meshes under a motion.

Canonical mesh (docs/motion.md, "Mesh export"):
- geometry: marching cubes of the density the renderer's body pass composites, evaluated in canonical space with the
  model's own per-sample pipeline (``talkinnerf.nerf.packed.evaluate_points``) on a frame state whose per-joint maps
  are the identity (observation frame = canonical frame): F_body's density for the subject's identity code
  (F_face's where the segmentation routes a point to the head: it adds to, or with ``face_residual`` off replaces,
  F_body's raw density, exactly as in rendering), times the skinning-weight foreground factor ``min(sum w_k, 1)``;
  zero where the summed weight is below MIN_WEIGHT_SUM (empty space). D_nr (the pose-dependent non-rigid offset)
  is **not** applied: the canonical field is read where it is defined, x_c, with no pose. F_hands' own density is
  not used for the geometry (the hands keep F_body's surface, as in the body pass);
- grid: the weight volume's box (the subject's canonical box padded by ``bbox_padding``), isotropic voxels with
  ``resolution`` samples along its longest side;
- surface: the density clipped at 2 x ``threshold`` (1/m), smoothed with a Gaussian of ``smoothing_m``, and its
  level ``threshold`` extracted with scikit-image's marching cubes (closed by empty voxels around the grid);
- colours: what the renderer shows along each vertex's inward normal (a short ray composited with the model's own
  two-pass hand compositing): F_body's colour, F_face's where routed to the head (with the expression and jaw of
  ``expression``: ``first`` = the subject's first training frame, ``neutral`` = zeros), F_hands' (after D_hands,
  with the same frame's hand pose or the flat hand) where routed to the hands. One colour per vertex.

Posed meshes: the canonical vertices skinned forward by linear blend skinning with the learned weight volume (its
weights at each canonical vertex, normalised over the joints) and the inverse of the per-joint
observation -> canonical maps ``model.pose_skeleton`` computes for the frame (pose refiner included, as in
rendering): x = sum_k w_k R_k^T (x_c - t_k), then the frame's world translation. Same faces and colours as the
canonical mesh; D_nr not applied.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from talkinnerf.io import atomic_path, write_json

FORMATS = ("ply", "obj")
EXPRESSIONS = ("first", "neutral")
COLOURS = ("ray", "vertex")
HEADINGS = ("motion", "avatar")


@dataclass
class MeshConfig:
    """Options of `evaluate mesh` (config.yaml `mesh` section, when present; the CLI flags override them)."""

    resolution: int = 128            # grid samples along the longest side of the canonical (weight-volume) box
    threshold: float = 2.0           # density level (1/m) of the surface, on the smoothed density
    smoothing_m: float = 0.015       # std (metres) of the Gaussian the density (clipped at 2 x threshold) is
                                     # smoothed with before marching cubes (0: none)
    format: str = "ply"              # ply (binary, uchar colours, per-vertex class label) | obj (colours as floats)
    colour: str = "ray"              # ray: the colour a ray along the inward normal renders | vertex: at the vertex
    colour_ray_m: float = 0.04       # that ray runs from this far outside the vertex to this far inside
    expression: str = "first"        # F_face / F_hands condition: the subject's first training frame | neutral
    chunk: int = 65536               # points per model call
    # posed meshes (--motion): the motion is placed on the avatar as `evaluate animate` places it
    fps: float = 0.0                 # 0: the motion's own rate
    smoothing: bool = False
    smoothing_window: int = 5
    smoothing_sigma: float = 1.0
    heading: str = "motion"
    camera_frame: int = 0            # avatar frame whose translation anchors the motion
    device: str = "auto"
    threads: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        if not 8 <= self.resolution <= 1024:
            raise ValueError(f"mesh: option resolution must be in 8..1024, got {self.resolution}")
        if not (math.isfinite(self.threshold) and self.threshold > 0):
            raise ValueError(f"mesh: option threshold must be a density > 0 (1/m), got {self.threshold}")
        if not (math.isfinite(self.smoothing_m) and self.smoothing_m >= 0):
            raise ValueError(f"mesh: option smoothing_m must be >= 0 (metres; 0: no smoothing), got {self.smoothing_m}")
        if self.format not in FORMATS:
            raise ValueError(f"mesh: option format must be one of {FORMATS}, got {self.format!r}")
        if self.colour not in COLOURS:
            raise ValueError(f"mesh: option colour must be one of {COLOURS}, got {self.colour!r}")
        if not (math.isfinite(self.colour_ray_m) and self.colour_ray_m > 0):
            raise ValueError(f"mesh: option colour_ray_m must be > 0 (metres), got {self.colour_ray_m}")
        if self.expression not in EXPRESSIONS:
            raise ValueError(f"mesh: option expression must be one of {EXPRESSIONS}, got {self.expression!r}")
        if self.chunk < 1:
            raise ValueError(f"mesh: option chunk must be >= 1, got {self.chunk}")
        if not (math.isfinite(self.fps) and self.fps >= 0):
            raise ValueError(f"mesh: option fps must be >= 0 (0: the motion's own rate), got {self.fps}")
        if self.heading not in HEADINGS:
            raise ValueError(f"mesh: option heading must be one of {HEADINGS}, got {self.heading!r}")
        if self.camera_frame < 0:
            raise ValueError(f"mesh: option camera_frame must be >= 0, got {self.camera_frame}")
        if self.smoothing and (self.smoothing_window < 1 or self.smoothing_window % 2 == 0
                               or not self.smoothing_sigma > 0):
            raise ValueError(f"mesh: smoothing needs a positive odd smoothing_window and smoothing_sigma > 0, got "
                             f"{self.smoothing_window} / {self.smoothing_sigma}")


@dataclass
class Mesh:
    """A triangle mesh: vertices (V,3) float32 metres, faces (F,3) int64, colours (V,3) uint8, labels (V,) uint8
    (the vertex's segmentation class, 0 background .. 4 head; 255 where the vertex is in empty space)."""

    vertices: np.ndarray
    faces: np.ndarray
    colours: np.ndarray
    labels: np.ndarray

    def with_vertices(self, vertices: np.ndarray) -> "Mesh":
        return dataclasses.replace(self, vertices=np.asarray(vertices, np.float32))

    @property
    def bbox(self) -> np.ndarray:
        return np.stack([self.vertices.min(0), self.vertices.max(0)])


# ---------------------------------------------------------------------------------------------- the canonical field

def _marching_cubes():
    try:
        from skimage.measure import marching_cubes
    except ImportError as err:     # scikit-image is a dependency of the project (pyproject.toml)
        raise ImportError("mesh export needs scikit-image (skimage.measure.marching_cubes): "
                          "install the project's dependencies (`bash scripts/setup.sh`, or "
                          "`.venv/bin/pip install 'scikit-image>=0.22'`)") from err
    return marching_cubes


class _WithoutNonRigid:
    """The model as ``packed.evaluate_points`` sees it, with D_nr absent (``non_rigid_inputs`` then returns None):
    the canonical field read at the point itself. Everything else is the model's own (not a copy, not modified)."""

    non_rigid = None

    def __init__(self, model) -> None:
        self._model = model

    def __getattr__(self, name: str):
        return getattr(self._model, name)


def canonical_conditioning(data, expression: str, device):
    """(FrameConditioning, frame) of the subject: its first training frame (pose, expression, jaw, hand pose);
    ``neutral`` sets expression, jaw and hands to zero (the SMPL-X mean face, closed mouth, flat hands)."""
    frame = data.train_frames[0] if data.train_frames else 0
    cond = data.conditioning(frame, device)
    if expression == "neutral":
        cond = dataclasses.replace(cond, expression=torch.zeros_like(cond.expression),
                                   jaw=torch.zeros_like(cond.jaw), hands=torch.zeros_like(cond.hands))
    elif expression != "first":
        raise ValueError(f"expression must be one of {EXPRESSIONS}, got {expression!r}")
    return cond, frame


@torch.no_grad()
def canonical_state(model, cond, step: int, device):
    """The model's frame state (talkinnerf.nerf.packed.FrameState) for ``cond`` with identity per-joint maps: a
    point handed to ``evaluate_points`` is then read at itself in canonical space (every joint's candidate is the
    point, its weights are the weight volume's there, the foreground factor min(sum w, 1) as in rendering)."""
    from talkinnerf.nerf import packed

    state = packed.frame_state(model, cond, step, torch.float32, torch.device(device))
    k = state.skel["inv_rot"].shape[0]
    eye = torch.eye(3, dtype=torch.float32, device=state.bbox.device).expand(k, 3, 3).contiguous()
    skel = {**state.skel, "inv_rot": eye, "inv_t": torch.zeros(k, 3, dtype=torch.float32, device=eye.device)}
    # every candidate is the point itself: nothing for the posed gate (model.posed_gate) to choose between
    return dataclasses.replace(state, skel=skel, gate_joints=None)


@torch.no_grad()
def evaluate_canonical(model, state, points: torch.Tensor, chunk: int = 65536) -> dict[str, torch.Tensor]:
    """The renderer's per-sample values at canonical ``points`` (N,3), D_nr not applied. ``density`` (N,): the
    body pass's (F_body; F_face where routed to the head) x foreground factor, 0 in empty space; ``rgb`` (N,3) its
    colour; ``hand_density`` / ``hand_rgb``: F_hands' (after D_hands) where ``is_hand`` (N,) bool; ``logits``
    (N,C); ``classes`` (N,) long (-1 in empty space); ``active`` (N,) bool."""
    from talkinnerf.nerf import packed

    view = _WithoutNonRigid(model)
    n = points.shape[0]
    dev = points.device
    c = max(model.cfg.num_classes, 1)
    out = {"density": torch.zeros(n, device=dev), "rgb": torch.zeros(n, 3, device=dev),
           "hand_density": torch.zeros(n, device=dev), "hand_rgb": torch.zeros(n, 3, device=dev),
           "is_hand": torch.zeros(n, dtype=torch.bool, device=dev), "logits": torch.zeros(n, c, device=dev),
           "classes": torch.full((n,), -1, dtype=torch.long, device=dev),
           "active": torch.zeros(n, dtype=torch.bool, device=dev)}
    for i in range(0, n, chunk):
        res = packed.evaluate_points(view, state, points[i:i + chunk], 0.0, "off", None)
        idx = res["active"] + i
        for key, value in (("density", res["sigma"]), ("rgb", res["rgb"]), ("hand_density", res["hand_sigma"]),
                           ("hand_rgb", res["hand_rgb"]), ("is_hand", res["is_hand"]), ("classes", res["classes"])):
            out[key][idx] = value
        if model.cfg.num_classes:
            out["logits"][idx] = res["logits"]
        out["active"][idx] = True
    return out


def canonical_grid(bbox: torch.Tensor, resolution: int) -> tuple[np.ndarray, float, tuple[int, int, int]]:
    """Grid over ``bbox`` (2,3): origin (3,), isotropic spacing (m) with ``resolution`` samples along the longest
    side, and the sample counts (nx, ny, nz); samples at origin + spacing * index, covering the box."""
    lo = bbox[0].double().cpu().numpy()
    ext = (bbox[1] - bbox[0]).double().cpu().numpy()
    spacing = float(ext.max()) / (resolution - 1)
    counts = tuple(int(math.ceil(e / spacing - 1e-9)) + 1 for e in ext)
    return lo, spacing, counts


@torch.no_grad()
def density_volume(model, state, resolution: int, chunk: int = 65536, progress: bool = False
                   ) -> tuple[np.ndarray, np.ndarray, float]:
    """Density (nx,ny,nz) float32 (1/m) over the weight volume's box, indexed [x, y, z]; its origin and spacing."""
    from talkinnerf.progress import Progress

    origin, spacing, (nx, ny, nz) = canonical_grid(state.bbox, resolution)
    dev = state.bbox.device
    axes = [torch.as_tensor(origin[a] + spacing * np.arange(c), dtype=torch.float32, device=dev)
            for a, c in enumerate((nx, ny, nz))]
    out = torch.zeros(nx, ny, nz)
    # one x-slab of the grid at a time keeps memory at (ny*nz) points x K joints
    per = max(1, chunk // (ny * nz))
    with Progress(nx, desc="canonical density", unit="slice", enabled=progress) as bar:
        for i in range(0, nx, per):
            xs = axes[0][i:i + per]
            gx, gy, gz = torch.meshgrid(xs, axes[1], axes[2], indexing="ij")
            pts = torch.stack([gx, gy, gz], -1).reshape(-1, 3)
            out[i:i + len(xs)] = evaluate_canonical(model, state, pts, chunk)["density"].reshape(
                len(xs), ny, nz).cpu()
            bar.update(len(xs))
    return out.numpy(), origin, spacing


def extract_surface(volume: np.ndarray, origin: np.ndarray, spacing: float, threshold: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Marching cubes of ``volume`` (indexed [x,y,z]) at ``threshold``: vertices (V,3) float32 in metres, faces
    (F,3) int64 wound counter-clockwise seen from outside (normals out of the dense side). The volume is
    surrounded by one layer of zeros: the surface is closed where the density reaches the grid's edge."""
    peak = float(volume.max()) if volume.size else 0.0
    if not peak >= threshold:
        raise ValueError(f"no density reaches the threshold {threshold:g}/m (highest density on the grid: "
                         f"{peak:.3g}/m): nothing to mesh; lower --threshold (mesh.threshold) below {peak:.3g}, "
                         f"or check the model and subject")
    marching_cubes = _marching_cubes()
    padded = np.pad(volume.astype(np.float32), 1)
    verts, faces, _, _ = marching_cubes(padded, level=float(threshold), spacing=(spacing,) * 3,
                                        allow_degenerate=False)
    verts = verts - spacing + np.asarray(origin)[None]
    faces = faces.astype(np.int64)
    if signed_volume(verts, faces) < 0:          # wind the faces so that normals point out of the body
        faces = faces[:, ::-1].copy()
    return verts.astype(np.float32), faces


def signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Signed volume enclosed by a mesh (> 0 when its faces are counter-clockwise seen from outside)."""
    v = np.asarray(vertices, np.float64)[np.asarray(faces)]
    return float(np.einsum("ij,ij->i", v[:, 0], np.cross(v[:, 1], v[:, 2])).sum() / 6.0)


def connected_components(faces: np.ndarray, num_vertices: int) -> np.ndarray:
    """Component index (V,) of every vertex (vertices joined by edges); the largest component is 0."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components as cc

    f = np.asarray(faces)
    rows = np.concatenate([f[:, 0], f[:, 1], f[:, 2]])
    cols = np.concatenate([f[:, 1], f[:, 2], f[:, 0]])
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(num_vertices, num_vertices))
    _, labels = cc(graph, directed=False)
    order = np.argsort(-np.bincount(labels), kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[labels]


def smooth_volume(volume: np.ndarray, spacing: float, sigma_m: float, clip: float) -> np.ndarray:
    """``volume`` clipped at ``clip`` and convolved with a Gaussian of std ``sigma_m`` metres (zero outside the
    grid); unchanged at ``sigma_m`` 0. With ``clip`` = 2 x the threshold, a sharp surface (density rising from ~0 to
    far above the threshold within a voxel) stays where it is: the threshold is the clipped step's half height,
    which the smoothing keeps on the step (a flat one exactly; a convex one moves in by ~sigma^2 / 2 radius). Without
    the clip a dense body would grow by ~3 sigma; with it, density fluctuating about the threshold inside a foggy
    body is averaged (the demo models' case) instead of breaking the surface into pieces."""
    if sigma_m <= 0:
        return volume
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(np.minimum(volume, clip).astype(np.float32), sigma_m / spacing, mode="constant",
                           cval=0.0)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals (V,3) (outwards for faces wound as extract_surface winds them)."""
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces)
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    out = np.zeros_like(v)
    for i in range(3):
        np.add.at(out, f[:, i], n)
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    return (out / np.where(norm > 0, norm, 1.0)).astype(np.float32)


@torch.no_grad()
def vertex_colours(model, state, vertices: np.ndarray, normals: np.ndarray, cfg: "MeshConfig"
                   ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Colour (V,3) in [0,1] and class (V,) long (-1: empty space) of every vertex.

    ``colour: ray`` (default): what the renderer shows along the inward normal: a ray from ``colour_ray_m``
    outside the vertex to ``colour_ray_m`` inside (24 samples) composited with the model's own two-pass hand
    compositing (talkinnerf.nerf.composite.composite_with_hands: body pass of F_body / F_face, hand samples with
    F_hands' colour and density over it), normalised by its opacity (no background); where that ray gathers
    almost no opacity (< 1e-3), the vertex's own colour. ``colour: vertex``: the colour at the vertex (F_hands'
    where the vertex is routed to the hands). The class is the one at the vertex."""
    from talkinnerf.nerf.composite import composite_with_hands

    dev = state.bbox.device
    verts = torch.from_numpy(np.asarray(vertices, np.float32)).to(dev)
    at = evaluate_canonical(model, state, verts, cfg.chunk)
    colour = torch.where(at["is_hand"][:, None], at["hand_rgb"], at["rgb"])
    info: dict[str, Any] = {"colour": cfg.colour}
    if cfg.colour == "ray" and len(verts):
        samples = 24
        n = torch.from_numpy(np.asarray(normals, np.float32)).to(dev)
        t = torch.linspace(-cfg.colour_ray_m, cfg.colour_ray_m, samples, device=dev)         # along -n
        delta = float(t[1] - t[0])
        per = max(1, cfg.chunk // samples)
        black = torch.zeros(3, device=dev)
        for i in range(0, len(verts), per):
            v, nv = verts[i:i + per], n[i:i + per]
            r = len(v)
            pts = (v[:, None] - t[None, :, None] * nv[:, None]).reshape(-1, 3)
            res = evaluate_canonical(model, state, pts, cfg.chunk)
            shape = (r, samples)
            ray = composite_with_hands(res["rgb"].reshape(*shape, 3), res["density"].reshape(shape),
                                       res["hand_rgb"].reshape(*shape, 3), res["hand_density"].reshape(shape),
                                       res["is_hand"].reshape(shape), res["logits"].reshape(*shape, -1),
                                       t.expand(r, -1), torch.full(shape, delta, device=dev), black,
                                       torch.zeros(res["logits"].shape[-1], device=dev),
                                       hand_background=not model.cfg.no_hand_background)
            acc = ray["acc"]
            shown = ray["rgb"] / acc.clamp_min(1e-8)[:, None]
            colour[i:i + per] = torch.where((acc > 1e-3)[:, None], shown, colour[i:i + per])
        info["colour_ray_m"] = cfg.colour_ray_m
    return colour.clamp(0, 1).cpu().numpy(), at["classes"].cpu().numpy(), info


@torch.no_grad()
def canonical_mesh(model, state, cfg: MeshConfig) -> tuple[Mesh, dict[str, Any]]:
    """The canonical mesh of the subject ``state`` was made for (canonical_state), and what it is."""
    t0 = time.perf_counter()
    raw, origin, spacing = density_volume(model, state, cfg.resolution, cfg.chunk, cfg.progress)
    # the model's density is zero outside the box: the smoothing sees that zero (3 of its widths of it) instead of
    # spreading the density at the box's faces out of the grid
    margin = int(math.ceil(3.0 * cfg.smoothing_m / spacing))
    volume = smooth_volume(np.pad(raw, margin), spacing, cfg.smoothing_m, 2.0 * cfg.threshold)
    t1 = time.perf_counter()
    if not float(volume.max()) >= cfg.threshold:
        raise ValueError(f"no density reaches the threshold {cfg.threshold:g}/m: the highest on the grid is "
                         f"{float(volume.max()):.3g}/m after smoothing ({float(raw.max()):.3g}/m before); nothing to "
                         f"mesh: lower --threshold (mesh.threshold) below {float(volume.max()):.3g}, or check the "
                         "model and subject")
    verts, faces = extract_surface(volume, origin - margin * spacing, spacing, cfg.threshold)
    t2 = time.perf_counter()
    colour, classes, colour_info = vertex_colours(model, state, verts, vertex_normals(verts, faces), cfg)
    colours = np.round(colour * 255.0).clip(0, 255).astype(np.uint8)
    labels = np.where(classes < 0, 255, classes).astype(np.uint8)
    mesh = Mesh(verts, faces, colours, labels)
    comps = connected_components(faces, len(verts))
    counts = np.bincount(comps)
    t3 = time.perf_counter()
    info = {
        "vertices": int(len(verts)), "faces": int(len(faces)),
        "components": int(len(counts)), "largest_component_vertices": int(counts[0]),
        "grid": {"origin": np.round(origin, 6).tolist(), "spacing_m": round(spacing, 6),
                 "shape": list(raw.shape), "box": np.round(state.bbox.cpu().numpy(), 6).tolist(),
                 "resolution": cfg.resolution},
        "threshold": cfg.threshold, "smoothing_m": cfg.smoothing_m,
        "density_max": round(float(raw.max()), 3), "smoothed_density_max": round(float(volume.max()), 3),
        "occupied_fraction": round(float((volume >= cfg.threshold).mean()), 6),
        **colour_info,
        "vertex_classes": {str(c): int((labels == c).sum()) for c in np.unique(labels)},
        "empty_space_vertices": int((classes < 0).sum()),
        "seconds": {"density": round(t1 - t0, 3), "marching_cubes": round(t2 - t1, 3),
                    "colours": round(t3 - t2, 3)},
    }
    return mesh, info


@torch.no_grad()
def non_rigid_offsets(model, cond, step: int, vertices: torch.Tensor, state) -> dict[str, float] | None:
    """Size of D_nr's offset at the canonical vertices for ``cond``'s pose (what the mesh leaves out); None when
    the model has no D_nr or it has not kicked in at ``step``."""
    from talkinnerf.nerf import packed

    posed_state = dataclasses.replace(state, cond=cond.prepared(state.bbox.device, torch.float32), step=step)
    inputs = packed.non_rigid_inputs(model, posed_state)
    if inputs is None or len(vertices) == 0:
        return None
    norm = model.non_rigid(vertices, *inputs).norm(dim=-1)
    return {"mean_m": round(float(norm.mean()), 6), "max_m": round(float(norm.max()), 6)}


# ---------------------------------------------------------------------------------------------- posing

@torch.no_grad()
def skinning_weights(state, vertices: torch.Tensor) -> torch.Tensor:
    """(V,K) weights of the skinned joints at canonical ``vertices`` (V,3): the weight volume's (the frame state's
    softmax of decoder + bone prior), normalised over the joints; a vertex with no joint weight follows the root."""
    from talkinnerf.nerf.weights import query_joint_weights

    k = state.volume.shape[0] - 1
    w = query_joint_weights(state.volume, vertices[None].expand(k, -1, -1), state.bbox).T     # (V,K)
    total = w.sum(1, keepdim=True)
    root = torch.zeros_like(w)
    root[:, 0] = 1.0
    return torch.where(total > 1e-8, w / total.clamp_min(1e-8), root)


@torch.no_grad()
def pose_vertices(model, cond, step: int, vertices: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Canonical ``vertices`` (V,3) -> the frame's posed root frame (world minus translation) by linear blend
    skinning: the inverse of each joint's observation -> canonical map x_c = R_k x + t_k (model.pose_skeleton, pose
    refiner included), blended with ``weights`` (V,K)."""
    cond = cond.prepared(vertices.device, torch.float32)
    skel = model.pose_skeleton(cond, step)
    rot, t = skel["inv_rot"], skel["inv_t"]                       # (K,3,3), (K,3)
    back = rot.transpose(-1, -2)
    moved = torch.einsum("kij,vj->kvi", back, vertices) - torch.einsum("kij,kj->ki", back, t)[:, None]   # (K,V,3)
    return (weights.T[..., None] * moved).sum(0)


# ---------------------------------------------------------------------------------------------- files

def write_mesh(path: str | Path, mesh: Mesh, fmt: str | None = None) -> None:
    """Write ``mesh`` atomically as binary PLY (x y z float, red green blue uchar, label uchar; faces as uchar-
    counted int lists) or OBJ (``v x y z r g b`` with colours in [0,1], 1-based faces)."""
    path = Path(path)
    fmt = fmt or path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise ValueError(f"mesh format must be one of {FORMATS}, got {fmt!r} ({path})")
    v = np.ascontiguousarray(mesh.vertices, np.float32)
    f = np.ascontiguousarray(mesh.faces, np.int64)
    if len(f) and (f.min() < 0 or f.max() >= len(v)):
        raise ValueError(f"faces index vertices outside 0..{len(v) - 1}")
    with atomic_path(path) as tmp:
        if fmt == "ply":
            header = ("ply\nformat binary_little_endian 1.0\ncomment talkinnerf evaluate mesh\n"
                      f"element vertex {len(v)}\nproperty float x\nproperty float y\nproperty float z\n"
                      "property uchar red\nproperty uchar green\nproperty uchar blue\nproperty uchar label\n"
                      f"element face {len(f)}\nproperty list uchar int vertex_indices\nend_header\n")
            vrec = np.empty(len(v), dtype=[("xyz", "<f4", 3), ("rgb", "u1", 3), ("label", "u1")])
            vrec["xyz"], vrec["rgb"], vrec["label"] = v, mesh.colours, mesh.labels
            frec = np.empty(len(f), dtype=[("n", "u1"), ("idx", "<i4", 3)])
            frec["n"], frec["idx"] = 3, f
            with open(tmp, "wb") as fh:
                fh.write(header.encode("ascii"))
                fh.write(vrec.tobytes())
                fh.write(frec.tobytes())
        else:
            rgb = mesh.colours.astype(np.float64) / 255.0
            lines = ["# talkinnerf evaluate mesh: v x y z r g b (vertex colours in [0,1])"]
            lines += [f"v {a:.6f} {b:.6f} {c:.6f} {r:.4f} {g:.4f} {bl:.4f}"
                      for (a, b, c), (r, g, bl) in zip(v.tolist(), rgb.tolist())]
            lines += [f"f {i + 1} {j + 1} {k + 1}" for i, j, k in f.tolist()]
            tmp.write_text("\n".join(lines) + "\n")


def read_ply(path: str | Path) -> Mesh:
    """Read a binary little-endian PLY written by :func:`write_mesh` (vertices, faces, colours, labels)."""
    data = Path(path).read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode("ascii").splitlines()
    if header[0] != "ply" or "format binary_little_endian 1.0" not in header:
        raise ValueError(f"{path}: not a binary little-endian PLY")
    counts = {line.split()[1]: int(line.split()[2]) for line in header if line.startswith("element")}
    props = [line.split()[-1] for line in header if line.startswith("property") and "list" not in line]
    if props != ["x", "y", "z", "red", "green", "blue", "label"]:
        raise ValueError(f"{path}: unexpected vertex properties {props}")
    vdt = np.dtype([("xyz", "<f4", 3), ("rgb", "u1", 3), ("label", "u1")])
    fdt = np.dtype([("n", "u1"), ("idx", "<i4", 3)])
    nv, nf = counts["vertex"], counts["face"]
    vrec = np.frombuffer(data, vdt, nv, end)
    frec = np.frombuffer(data, fdt, nf, end + nv * vdt.itemsize)
    if len(frec) and not (frec["n"] == 3).all():
        raise ValueError(f"{path}: only triangles are read")
    if len(data) != end + nv * vdt.itemsize + nf * fdt.itemsize:
        raise ValueError(f"{path}: {len(data)} bytes, expected {end + nv * vdt.itemsize + nf * fdt.itemsize}")
    return Mesh(vrec["xyz"].copy(), frec["idx"].astype(np.int64), vrec["rgb"].copy(), vrec["label"].copy())


def parse_frames(spec: str | None, count: int) -> list[int]:
    """Motion frames of ``a:b`` (python slice, end exclusive; either side may be left out), ``a`` (one frame) or
    None (all) -> indices; an error names the motion's range when the selection is empty or out of range."""
    if spec is None or spec.strip() in ("", ":"):
        frames = list(range(count))
    else:
        m = re.fullmatch(r"\s*(-?\d*)\s*(?::\s*(-?\d*)\s*)?", spec)
        if m is None:
            raise ValueError(f"--frames must be A:B (end exclusive), A: , :B or A, got {spec!r}")
        if m.group(2) is None and m.group(0).find(":") < 0:
            a = int(m.group(1))
            if not -count <= a < count:
                raise ValueError(f"--frames {spec}: frame out of range (the motion has frames 0..{count - 1})")
            frames = [a % count]
        else:
            a = int(m.group(1)) if m.group(1) else None
            b = int(m.group(2)) if m.group(2) else None
            frames = list(range(count))[slice(a, b)]
    if not frames:
        raise ValueError(f"--frames {spec}: no frame selected (the motion has frames 0..{count - 1})")
    return frames


# ---------------------------------------------------------------------------------------------- the command

def export_meshes(model_path: str | Path, subject: str, data_root: str | Path, out: str | Path, cfg: MeshConfig,
                  motion: str | Path | None = None, frames: str | None = None, model_factory=None
                  ) -> dict[str, Any]:
    """Write ``out``/canonical.<fmt> and canonical.json; with ``motion`` also ``out``/<motion stem>/<frame>.<fmt>
    (posed meshes in world coordinates: posed root frame + the frame's translation) and frames.json."""
    from talkinnerf.evaluate.render_eval import load_avatar

    model, model_cfg, step, data, device = load_avatar(model_path, subject, data_root, cfg.device, cfg.threads,
                                                      0.05, 1, model_factory)
    out = Path(out)
    t0 = time.perf_counter()
    cond, frame = canonical_conditioning(data, cfg.expression, device)
    state = canonical_state(model, cond, step, device)
    mesh, info = canonical_mesh(model, state, cfg)
    verts = torch.from_numpy(mesh.vertices).to(device)
    canon = model.canonical_skeleton(state.cond)
    fitted = canon["bbox"].double().cpu().numpy()
    diff = np.concatenate([mesh.bbox[0] - fitted[0], mesh.bbox[1] - fitted[1]])
    path = out / f"canonical.{cfg.format}"
    write_mesh(path, mesh, cfg.format)
    summary = {
        "model": str(model_path), "subject": subject, "step": step, "mesh": str(path), "format": cfg.format,
        **info,
        "bbox": np.round(mesh.bbox, 5).tolist(),
        "fitted_canonical_bbox": np.round(fitted, 5).tolist(),
        "bbox_difference_m": {"min_xyz": np.round(diff[:3], 5).tolist(), "max_xyz": np.round(diff[3:], 5).tolist(),
                              "largest": round(float(np.abs(diff).max()), 5)},
        "canonical_pose": ("the zero pose (the fitted rest pose)" if canon["rotations"] is None else
                           f"the rest pose with the arms raised by {model_cfg.canonical_arm_raise:g} rad "
                           "(model.canonical_arm_raise); the fitted box grown to the moved joints"),
        "conditioning": (f"expression, jaw and hand pose of the subject's first training frame ({frame})"
                         if cfg.expression == "first" else "neutral: zero expression and jaw, flat hands"),
        "geometry": "body-pass density (F_body; F_face where routed to the head) x skinning foreground factor; "
                    "F_hands' density not used; D_nr not applied",
        "non_rigid_offset_at_first_frame_pose": non_rigid_offsets(model, data.conditioning(frame, device), step,
                                                                  verts, state),
    }
    if motion is not None:
        summary["posed"] = _export_posed(model, step, data, state, mesh, cfg, motion, frames, out, device)
    summary["seconds"] = {**info["seconds"], "total": round(time.perf_counter() - t0, 3)}
    write_json(out / "canonical.json", summary)
    return summary


def _export_posed(model, step, data, state, mesh: Mesh, cfg: MeshConfig, motion, frames, out: Path, device
                  ) -> dict[str, Any]:
    from talkinnerf.evaluate.animate import motion_conditioning, prepare_motion_for
    from talkinnerf.progress import Progress

    prepared = prepare_motion_for(motion, data, cfg.fps, cfg.smoothing, cfg.smoothing_window, cfg.smoothing_sigma,
                                  cfg.heading, cfg.camera_frame)
    selected = parse_frames(frames, prepared.motion.frames)
    verts = torch.from_numpy(mesh.vertices).to(device)
    weights = skinning_weights(state, verts)
    folder = out / Path(motion).stem
    t0 = time.perf_counter()
    written = []
    with Progress(len(selected), desc=f"posed meshes {data.name}", unit="frame", enabled=cfg.progress) as bar:
        for f in selected:
            cond, mt = motion_conditioning(data, prepared.arrays, f, device)
            posed = pose_vertices(model, cond, step, verts, weights) + mt["transl"].to(device)
            path = folder / f"{f:06d}.{cfg.format}"
            write_mesh(path, mesh.with_vertices(posed.cpu().numpy()), cfg.format)
            written.append(path.name)
            bar.update(1)
    seconds = time.perf_counter() - t0
    K, R, t = data.camera(cfg.camera_frame)
    info = {"motion": str(motion), "folder": str(folder), "frames": selected, "files": written,
            "fps": prepared.fps, "motion_frames": prepared.motion.frames,
            "coordinates": "world (the avatar's camera world: posed root frame + the frame's translation)",
            "camera": {"frame": cfg.camera_frame, "K": K.tolist(), "R": R.tolist(), "t": t.tolist()},
            "retarget": prepared.retarget, "animate_changes": prepared.motion.notes,
            "skinning": "linear blend of the inverted per-joint maps with the weight volume at each canonical "
                        "vertex (pose refiner as in rendering); D_nr not applied",
            "seconds_per_frame": round(seconds / len(selected), 4)}
    write_json(folder / "frames.json", info)
    return {k: info[k] for k in ("motion", "folder", "fps", "seconds_per_frame")} | {"frames": len(selected)}
