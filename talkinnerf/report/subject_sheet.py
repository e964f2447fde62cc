"""A contact sheet per subject for people: every preprocessing stage on real frames, side by side.

One row per chosen frame, columns ``RGB | matte | keypoints | fitted mesh | part labels``; a header names the
subject, the frames (held-out ones marked), the matte / keypoint backends, the keypoint detection rate and the
fit's mean reprojection error. Frames are upsampled by an integer ``scale`` (nearest), and the fitted mesh is
rasterised at the display resolution with the camera scaled to match (pixel centres at +0.5, so continuous
pixel coordinates scale by the same factor: ``u' = scale * u``). The mesh goes through
:func:`talkinnerf.raster.rasterize`, the rasterizer the ``segment`` stage uses.

The drawing functions are pure (arrays in, arrays out); :func:`subject_sheet` reads a subject's files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkinnerf.demo.contact_sheet import PART_COLORS, overlay_parts

COLUMNS = ("RGB", "matte", "keypoints", "fitted mesh", "part labels")
KEYPOINT_GROUPS = ("body", "left_hand", "right_hand", "face")
PART_LEGEND = ("body", "arms", "hands", "head")  # labels 1..4

# OpenPose BODY_25 limbs (joint indices; names in talkinnerf.body.openpose.BODY25_NAMES)
BODY25_EDGES = (
    (1, 8), (1, 2), (2, 3), (3, 4), (1, 5), (5, 6), (6, 7), (8, 9), (9, 10), (10, 11), (8, 12), (12, 13),
    (13, 14), (1, 0), (0, 15), (15, 17), (0, 16), (16, 18), (14, 19), (19, 20), (14, 21), (11, 22), (22, 23),
    (11, 24),
)
# subject's right-side joints of BODY_25 (the rest are left or on the midline)
_BODY25_RIGHT = frozenset((2, 3, 4, 9, 10, 11, 15, 17, 22, 23, 24))
_BODY25_LEFT = frozenset((5, 6, 7, 12, 13, 14, 16, 18, 19, 20, 21))
# hand: wrist 0, then 4 points per finger (thumb, index, middle, ring, pinky) from the base to the tip
HAND_EDGES = tuple((0 if k == 0 else 1 + 4 * f + k - 1, 1 + 4 * f + k) for f in range(5) for k in range(4))


def _chain(first: int, last: int, closed: bool = False) -> tuple[tuple[int, int], ...]:
    edges = tuple((i, i + 1) for i in range(first, last))
    return edges + ((last, first),) if closed else edges


# face 70 (iBUG 68 + 2 pupils): contour, brows, nose bridge and base, eyes, outer and inner lips
FACE_EDGES = (_chain(0, 16) + _chain(17, 21) + _chain(22, 26) + _chain(27, 30) + _chain(31, 35)
              + _chain(36, 41, True) + _chain(42, 47, True) + _chain(48, 59, True) + _chain(60, 67, True))

# line colours (RGB): subject's right side orange, left side blue, midline white, face cyan
_RIGHT, _LEFT, _MID, _FACE = (255, 140, 30), (40, 150, 255), (235, 235, 235), (60, 230, 230)
MESH_COLOR = (0.75, 0.8, 0.95)
OUTLINE_COLOR = (255, 255, 0)
_WHITE = (255, 255, 255)
_INK = (20, 20, 20)


# ---------------------------------------------------------------------------------------------- pure drawing


def upsample(image: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour upsampling by an integer factor: pixel (i, j) becomes the block [s i, s i + s)²."""
    if scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    return image.repeat(scale, axis=0).repeat(scale, axis=1)


def confidence_color(conf: float) -> tuple[int, int, int]:
    """RGB of a keypoint confidence in [0, 1]: red (0) -> yellow (0.5) -> green (1)."""
    c = float(np.clip(conf, 0.0, 1.0))
    return (255, int(round(510 * c)), 0) if c < 0.5 else (int(round(255 * (2 - 2 * c))), 255, 0)


def blend_matte(rgb: np.ndarray, alpha: np.ndarray, checker: int = 8) -> np.ndarray:
    """``rgb`` (H,W,3) uint8 composited by ``alpha`` (H,W) uint8 over a grey checkerboard of ``checker`` px."""
    if rgb.shape[:2] != alpha.shape:
        raise ValueError(f"image {rgb.shape[:2]} and matte {alpha.shape} differ in size")
    h, w = alpha.shape
    ii, jj = np.mgrid[0:h, 0:w]
    board = np.where(((ii // checker + jj // checker) % 2)[..., None] == 0, 90.0, 150.0)
    board = board * np.array([1.0, 0.85, 1.0])  # a faint magenta cast: clearly not part of any frame
    a = alpha.astype(np.float32)[..., None] / 255.0
    return np.clip(rgb * a + board * (1 - a) + 0.5, 0, 255).astype(np.uint8)


def _to_cv(uv: np.ndarray, scale: float) -> np.ndarray:
    """Continuous frame-pixel coordinates -> cv2 fixed-point (shift 4) coordinates at ``scale``.

    cv2 puts pixel centres at integer coordinates, the project at +0.5: a point at u lands at u*scale - 0.5.
    """
    return np.round((np.asarray(uv, np.float64) * scale - 0.5) * 16).astype(np.int64)


def draw_keypoints(image: np.ndarray, keypoints: dict[str, np.ndarray], scale: float = 1.0,
                   dim: float = 0.55) -> np.ndarray:
    """Draw one frame's keypoints with their confidences on a dimmed copy of ``image``.

    image: (H,W,3) uint8, already upsampled by ``scale`` from the frame the keypoints refer to.
    keypoints: group -> (N,3) [u, v, confidence] in frame pixels for any of ``body`` (BODY_25), ``left_hand``,
    ``right_hand`` (21 each) and ``face`` (70); confidence 0 = missing (not drawn). Limbs are coloured by side
    (subject's right orange, left blue) and drawn with opacity = the lower confidence of their two ends;
    dots are coloured by confidence (:func:`confidence_color`). Returns (H,W,3) uint8.
    """
    import cv2

    canvas = np.clip(image.astype(np.float32) * dim, 0, 255)
    thick = max(1, int(round(scale / 2)))
    radius = max(1.5, 1.2 * scale)

    def line(a, b, color, opacity):
        layer = np.zeros(canvas.shape[:2], np.uint8)
        cv2.line(layer, tuple(int(x) for x in a), tuple(int(x) for x in b), 255, thick, cv2.LINE_AA, 4)
        w = layer.astype(np.float32)[..., None] / 255.0 * opacity
        canvas[:] = canvas * (1 - w) + np.asarray(color, np.float32) * w

    plan = []  # (group, edges, colour of each edge)
    if "body" in keypoints:
        sides = [_RIGHT if {a, b} & _BODY25_RIGHT else _LEFT if {a, b} & _BODY25_LEFT else _MID
                 for a, b in BODY25_EDGES]
        plan.append(("body", BODY25_EDGES, sides))
    for group, color in (("left_hand", _LEFT), ("right_hand", _RIGHT)):
        if group in keypoints:
            plan.append((group, HAND_EDGES, [color] * len(HAND_EDGES)))
    if "face" in keypoints:
        plan.append(("face", FACE_EDGES, [_FACE] * len(FACE_EDGES)))
    for group, edges, colors in plan:
        pts = np.asarray(keypoints[group], np.float64)
        conf = pts[:, 2]
        cv_pts = _to_cv(pts[:, :2], scale)
        for (a, b), color in zip(edges, colors):
            if conf[a] > 0 and conf[b] > 0:
                line(cv_pts[a], cv_pts[b], color, float(np.clip(min(conf[a], conf[b]), 0.3, 1.0)))
    out = np.ascontiguousarray(np.clip(canvas + 0.5, 0, 255).astype(np.uint8))
    for group, _, _ in plan:
        pts = np.asarray(keypoints[group], np.float64)
        if group == "face":  # 70 points on a face a few pixels wide: one pixel each, or they merge into a blob
            h, w = out.shape[:2]
            for (x, y), c in zip(np.floor(pts[:, :2] * scale).astype(int), pts[:, 2]):
                if c > 0 and 0 <= y < h and 0 <= x < w:
                    out[y, x] = confidence_color(c)
            continue
        r = radius * (1.0 if group == "body" else 0.5)
        for (x, y), c in zip(_to_cv(pts[:, :2], scale), pts[:, 2]):
            if c > 0:
                cv2.circle(out, (int(x), int(y)), int(round(r * 16)), confidence_color(c), -1, cv2.LINE_AA, 4)
    return out


def overlay_mesh(rgb: np.ndarray, mesh_rgb: np.ndarray, mesh_alpha: np.ndarray, opacity: float = 0.6,
                 outline: bool = True) -> np.ndarray:
    """Blend a rasterised mesh over ``rgb`` (all (H,W[,3]) uint8) where ``mesh_alpha`` > 0.

    ``outline`` paints the mesh's silhouette pixels (covered, with an uncovered 4-neighbour) opaque yellow, so
    an offset between mesh and person shows at a glance. Pixels the mesh does not cover are returned unchanged.
    """
    if rgb.shape != mesh_rgb.shape or rgb.shape[:2] != mesh_alpha.shape:
        raise ValueError(f"image {rgb.shape}, mesh {mesh_rgb.shape} and mesh alpha {mesh_alpha.shape} differ")
    covered = mesh_alpha > 0
    a = np.where(covered, opacity, 0.0)[..., None]
    out = np.clip(rgb * (1 - a) + mesh_rgb.astype(np.float32) * a + 0.5, 0, 255).astype(np.uint8)
    out = np.where(covered[..., None], out, rgb)
    if outline:
        padded = np.pad(covered, 1, constant_values=False)
        inner = (padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:])
        out[covered & ~inner] = OUTLINE_COLOR
    return out


def hatch(image: np.ndarray, mask: np.ndarray, period: int = 6) -> np.ndarray:
    """``image`` (H,W,3) uint8 with dark diagonal stripes over ``mask`` (H,W) bool: the part labels the fit does not
    vouch for (parts/<s>/trust, train.part_trust), still showing their colour between the stripes."""
    rows, cols = np.indices(mask.shape)
    out = image.copy()
    out[mask & ((rows + cols) % period < 2)] = 0
    return out


def scale_intrinsics(K: np.ndarray, scale: float) -> np.ndarray:
    """Intrinsics of the same camera imaging ``scale`` times as many pixels per side.

    With pixel centres at +0.5 a continuous pixel coordinate scales as ``u' = scale * u``, so fx, fy, the skew
    and cx, cy all scale by ``scale`` (no half-pixel shift).
    """
    K2 = np.asarray(K, np.float64).copy()
    K2[:2] *= scale
    return K2


def choose_frames(count: int, rows: int = 6, held_out: list[int] | None = None) -> list[int]:
    """``rows`` frames spread evenly over 0..count-1; if none of them is held out, the one closest to a held-out
    frame is replaced by it (so the sheet shows at least one frame the model never trains on)."""
    if count < 1:
        raise ValueError("the subject has no frames")
    picked = sorted(set(np.linspace(0, count - 1, max(1, min(rows, count))).round().astype(int).tolist()))
    test = sorted(i for i in set(held_out or []) if 0 <= i < count)
    if test and not set(picked) & set(test):
        dist = np.abs(np.asarray(picked)[:, None] - np.asarray(test)[None])
        r, c = np.unravel_index(np.argmin(dist), dist.shape)
        picked[r] = test[c]
        picked = sorted(set(picked))
    return picked


def keypoint_summary(keypoints: dict[str, np.ndarray]) -> dict[str, tuple[float, float]]:
    """Per group: (fraction of frames with any detected point, mean confidence of the detected points)."""
    out = {}
    for group in KEYPOINT_GROUPS:
        if group not in keypoints:
            continue
        conf = np.asarray(keypoints[group])[..., 2]
        found = conf > 0
        out[group] = (float(found.any(axis=1).mean()), float(conf[found].mean()) if found.any() else 0.0)
    return out


def reprojection_summary(fit: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The fitter's per-frame reprojection errors (px) by part, from keys ``reproj_error_<part>``."""
    prefix = "reproj_error_"
    return {k[len(prefix):]: np.asarray(v, np.float64) for k, v in fit.items() if k.startswith(prefix)}


# ---------------------------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class SheetLayout:
    """Where each cell of the sheet lies (pixels of the sheet image)."""

    rows: int
    cell: int             # side of one (upsampled) frame
    header: int = 128     # title lines, legends, column names
    label: int = 110      # left column with the frame number
    gap: int = 6
    margin: int = 8

    @property
    def width(self) -> int:
        return self.margin * 2 + self.label + len(COLUMNS) * self.cell + (len(COLUMNS) - 1) * self.gap

    @property
    def height(self) -> int:
        return self.margin * 2 + self.header + self.rows * self.cell + (self.rows - 1) * self.gap

    def origin(self, row: int, col: int) -> tuple[int, int]:
        """(y, x) of the top-left pixel of cell (row, col)."""
        return (self.margin + self.header + row * (self.cell + self.gap),
                self.margin + self.label + col * (self.cell + self.gap))

    def cell_view(self, sheet: np.ndarray, row: int, col: int) -> np.ndarray:
        y, x = self.origin(row, col)
        return sheet[y:y + self.cell, x:x + self.cell]


def _text(img: np.ndarray, text: str, x: int, y: int, size: float = 0.5, color=_INK, bold: bool = False) -> None:
    import cv2

    cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, size, color, 2 if bold else 1, cv2.LINE_AA)


def compose_sheet(rows: list[list[np.ndarray]], row_labels: list[list[str]], title: list[str],
                  layout: SheetLayout) -> np.ndarray:
    """Paste ``rows`` (each ``len(COLUMNS)`` tiles of layout.cell², uint8 RGB) into a white sheet with text."""
    import cv2

    sheet = np.full((layout.height, layout.width, 3), 255, np.uint8)
    m = layout.margin
    for k, line in enumerate(title):
        _text(sheet, line, m, m + 18 + 20 * k, 0.55 if k == 0 else 0.45, bold=k == 0)
    # legends below the title: part colours and the keypoint confidence ramp
    y = m + 20 * len(title) + 12
    for k, name in enumerate(PART_LEGEND):
        x = m + 70 * k
        cv2.rectangle(sheet, (x, y), (x + 14, y + 14), tuple(int(c) for c in PART_COLORS[k + 1]), -1)
        _text(sheet, name, x + 18, y + 12, 0.42)
    x = m + 70 * len(PART_LEGEND) + 20
    _text(sheet, "keypoint confidence 0", x, y + 12, 0.42)
    for k in range(100):
        cv2.line(sheet, (x + 172 + k, y), (x + 172 + k, y + 14), confidence_color(k / 99), 1)
    _text(sheet, "1", x + 278, y + 12, 0.42)
    _text(sheet, "limbs: subject's right orange, left blue; mesh: yellow outline; hatched: a label the fit does not "
          "vouch for", x + 300, y + 12, 0.42)
    for c, name in enumerate(COLUMNS):
        y, xx = layout.origin(0, c)
        _text(sheet, name, xx + 4, y - 8, 0.5, bold=True)
    for r, tiles in enumerate(rows):
        if len(tiles) != len(COLUMNS):
            raise ValueError(f"row {r} has {len(tiles)} tiles, expected {len(COLUMNS)}")
        for c, tile in enumerate(tiles):
            if tile.shape != (layout.cell, layout.cell, 3):
                raise ValueError(f"tile ({r}, {c}) is {tile.shape}, expected {(layout.cell, layout.cell, 3)}")
            y, xx = layout.origin(r, c)
            sheet[y:y + layout.cell, xx:xx + layout.cell] = tile
        y, _ = layout.origin(r, 0)
        for k, line in enumerate(row_labels[r]):
            _text(sheet, line, m, y + 20 + 18 * k, 0.5 if k == 0 else 0.42, bold=k == 0)
    return sheet


# ---------------------------------------------------------------------------------------------- files


def _read_frame_dir(folder: Path, what: str, i: int, gray: bool) -> np.ndarray:
    from talkinnerf.video.frames import read_image

    path = folder / f"{i:06d}.png"
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} is missing")
    return read_image(path, gray=gray)


def _parts_tile(rgb: np.ndarray, parts: np.ndarray, trust: np.ndarray | None, scale: int) -> np.ndarray:
    """The part labels over the frame, the ones the fit does not vouch for (``trust`` < 128) hatched; parts folders
    written before the trust (``trust`` None) show plain labels."""
    tile = upsample(overlay_parts(rgb, parts, opacity=0.6), scale)
    if trust is None:
        return tile
    return hatch(tile, upsample(((parts > 0) & (trust < 128)).astype(np.uint8), scale) > 0)


def matte_backend_that_ran(matte_dir: str | Path) -> str | None:
    """The backend a matte folder was made with (its meta.json: `auto` resolved), or None when unrecorded."""
    from talkinnerf.io import read_json

    meta = Path(matte_dir) / "meta.json"
    return read_json(meta).get("backend") if meta.is_file() else None


def subject_sheet(subject: str, frames_dir: str | Path, matte_dir: str | Path, keypoints_path: str | Path,
                  smplx_path: str | Path, parts_dir: str | Path, model_path: str | Path, out: str | Path,
                  split_path: str | Path | None = None, rows: int = 6, scale: int | None = None,
                  matte_backend: str | None = None, keypoints_backend: str | None = None,
                  ) -> tuple[np.ndarray, SheetLayout, list[int]]:
    """Write the subject's sheet PNG to ``out``; returns (sheet uint8 RGB, its layout, the frames shown).

    ``scale`` (default: 256 // frame size, at least 1) upsamples each frame; ``split_path`` (splits/s.json)
    marks held-out frames and makes sure one is shown; the backend names only go into the title (the matte's
    defaults to the one that ran, from matte/s/meta.json).
    """
    import cv2

    from talkinnerf.body.model import fitted_vertices, load_body_model
    from talkinnerf.io import atomic_path, load_npz, read_json
    from talkinnerf.raster import rasterize
    from talkinnerf.video.frames import list_frames

    frames_dir, matte_dir, parts_dir = Path(frames_dir), Path(matte_dir), Path(parts_dir)
    for what, path in (("matte folder", matte_dir), ("parts folder", parts_dir)):
        if not path.is_dir():
            raise FileNotFoundError(f"subject {subject}: {what} {path} does not exist")
    for what, path in (("keypoints", keypoints_path), ("fit", smplx_path)):
        if not Path(path).is_file():
            raise FileNotFoundError(f"subject {subject}: {what} file {path} does not exist")
    count = len(list_frames(frames_dir))
    fit = load_npz(smplx_path)
    kp = load_npz(keypoints_path)
    n_fit = int(fit["global_orient"].shape[0])
    n_kp = min(int(kp[g].shape[0]) for g in KEYPOINT_GROUPS if g in kp)
    if n_fit != count or n_kp != count:
        raise ValueError(f"subject {subject}: {count} frames in {frames_dir}, but the fit has {n_fit} and the "
                         f"keypoints {n_kp}")
    size = int(fit["size"])
    scale = max(1, 256 // size) if scale is None else int(scale)
    held_out = list(read_json(split_path)["test"]) if split_path else []
    shown = choose_frames(count, rows, held_out)

    model = load_body_model(str(model_path), batch_size=len(shown), device="cpu")
    faces = np.asarray(model.faces, dtype=np.int64)
    verts = fitted_vertices(model, fit, shown)
    errors = reprojection_summary(fit)
    layout = SheetLayout(rows=len(shown), cell=size * scale)
    tiles, labels = [], []
    for r, i in enumerate(shown):
        rgb = _read_frame_dir(frames_dir, "frame", i, gray=False)
        alpha = _read_frame_dir(matte_dir, "matte frame", i, gray=True)
        parts = _read_frame_dir(parts_dir, "part labels", i, gray=True)
        has_trust = (parts_dir / "trust" / f"{i:06d}.png").is_file()
        trust = _read_frame_dir(parts_dir / "trust", "label trust", i, gray=True) if has_trust else None
        for what, img in (("frame", rgb), ("matte", alpha), ("part labels", parts), ("label trust", trust)):
            if img is not None and img.shape[:2] != (size, size):
                raise ValueError(f"subject {subject}: {what} {i} is {img.shape[:2]}, the fit says {size}x{size}")
        big = upsample(rgb, scale)
        cam = verts[r] @ np.asarray(fit["R"][i], np.float64).T + np.asarray(fit["t"][i], np.float64)
        mesh = rasterize(cam, faces, scale_intrinsics(fit["K"][i], scale), size * scale,
                         vertex_colors=np.broadcast_to(np.asarray(MESH_COLOR, np.float32), cam.shape))
        frame_kp = {g: np.asarray(kp[g][i]) for g in KEYPOINT_GROUPS if g in kp}
        tiles.append([
            big,
            upsample(blend_matte(rgb, alpha), scale),
            draw_keypoints(big, frame_kp, scale),
            overlay_mesh(big, mesh.rgb, mesh.alpha),
            _parts_tile(rgb, parts, trust, scale),
        ])
        lines = [f"frame {i}"]
        if i in held_out:
            lines.append("held out")
        err = [v[i] for v in errors.values() if np.isfinite(v[i])]
        if err:
            lines.append(f"reproj {np.mean(err):.1f} px")
        labels.append(lines)

    held = [i for i in shown if i in held_out]
    title = [f"{subject}: frames {', '.join(map(str, shown))} of {count} ({size}px, shown x{scale})"
             + (f"; held out: {', '.join(map(str, held))}" if held else "")]
    det = keypoint_summary(kp)
    det_text = ", ".join(f"{g.replace('_hand', ' hand')} {rate:.0%} (conf {c:.2f})" for g, (rate, c) in det.items())
    matte_backend = matte_backend or matte_backend_that_ran(matte_dir)
    title.append(f"matte: {matte_backend or '?'} | keypoints: {keypoints_backend or '?'}, found in {det_text}")
    if errors:
        mean = {k: float(np.nanmean(v)) for k, v in errors.items() if np.isfinite(v).any()}
        title.append("fit mean reprojection error: " + ", ".join(f"{k.replace('_hand', ' hand')} {v:.2f} px"
                                                                   for k, v in mean.items()))
    else:
        title.append("fit reprojection error: not in the fit file")
    sheet = compose_sheet(tiles, labels, title, layout)
    with atomic_path(out) as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
            raise ValueError(f"cannot write {out}")
    return sheet, layout, shown
