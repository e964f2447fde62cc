"""Offscreen triangle rasterizer: moderngl on an EGL context (Mesa llvmpipe on CPU-only machines).

One GL context per process (created lazily, reused); framebuffers are cached per image size. Inputs and
outputs are numpy arrays in the project's OpenCV camera convention (docs/contracts.md):
pixel (i, j) covers [j, j+1) x [i, i+1) with its centre at (j + 0.5, i + 0.5), so a camera-space point
``x`` lands at ``(u, v) = (K @ x)[:2] / z`` in those continuous pixel coordinates.

How the projection is built: GL window coordinates also put pixel centres at +0.5, and ``x_ndc = 2 x_w / W - 1``.
Feeding ``x_clip = (2/W) (fx x + s y + cx z) - z`` with ``w_clip = z`` gives ``x_w = u`` exactly; the same for
``y`` gives ``y_w = v``. Because GL's first read-back row is window row 0 (its bottom), and we map v (which
grows downward) straight onto y_w, the read-back image is already in top-left-origin row order; no flip.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

# Depth range of the projection; the actual camera-space z is written to a float target, so these only clip.
NEAR = 0.01
FAR = 1000.0

_VERTEX_SHADER = """
#version 330
uniform mat3 K;          // row-major values uploaded transposed, so K * x is the usual K @ x
uniform vec2 size;       // (W, H)
uniform vec2 depth_ab;   // z_clip = a z + b
in vec3 in_pos;          // OpenCV camera coordinates (x right, y down, z forward)
in vec3 in_color;
in vec3 in_normal;
in float in_label;
out vec3 v_color;
out vec3 v_normal;
out float v_z;
flat out float v_label;
void main() {
    vec3 p = K * in_pos;  // (u z, v z, z)
    float z = in_pos.z;
    gl_Position = vec4(2.0 * p.x / size.x - z, 2.0 * p.y / size.y - z, depth_ab.x * z + depth_ab.y, z);
    v_color = in_color;
    v_normal = in_normal;
    v_z = z;
    v_label = in_label;
}
"""

_FRAGMENT_SHADER = """
#version 330
uniform int use_light;
uniform vec3 light_dir;  // unit vector towards the light, camera coordinates
uniform float ambient;
in vec3 v_color;
in vec3 v_normal;
in float v_z;
flat in float v_label;
layout(location = 0) out vec4 out_color;
layout(location = 1) out vec4 out_aux;   // (camera z, label, 1, 0)
void main() {
    vec3 c = v_color;
    if (use_light == 1) {
        vec3 n = normalize(v_normal);
        // two-sided: the mesh winding is not guaranteed, so light whichever side faces the camera
        float lambert = abs(dot(n, light_dir));
        c = c * (ambient + (1.0 - ambient) * lambert);
    }
    out_color = vec4(clamp(c, 0.0, 1.0), 1.0);
    out_aux = vec4(v_z, v_label, 1.0, 0.0);
}
"""


@dataclass
class RasterOutput:
    """Rasterized image layers, all (H, W[, 3]) with H = W = size.

    rgb: uint8 (H, W, 3), black where empty. alpha: uint8 (H, W) 0/255. labels: uint8 (H, W), 0 where empty.
    depth: float32 (H, W) camera-space z of the visible surface, inf where empty.
    """

    rgb: np.ndarray
    alpha: np.ndarray
    labels: np.ndarray
    depth: np.ndarray


class _GL:
    """Process-wide GL state: context, program and per-size framebuffers."""

    def __init__(self) -> None:
        self.ctx = _create_context()
        self.prog = self.ctx.program(vertex_shader=_VERTEX_SHADER, fragment_shader=_FRAGMENT_SHADER)
        self.fbos: dict[int, tuple] = {}

    def framebuffer(self, size: int):
        if size not in self.fbos:
            color = self.ctx.renderbuffer((size, size), components=4, dtype="f1")
            aux = self.ctx.renderbuffer((size, size), components=4, dtype="f4")
            depth = self.ctx.depth_renderbuffer((size, size))
            fbo = self.ctx.framebuffer(color_attachments=[color, aux], depth_attachment=depth)
            self.fbos[size] = (fbo, color, aux, depth)
        return self.fbos[size][0]


_STATE: _GL | None = None
_LOCK = threading.Lock()


def _preload_conflicting_llvm() -> None:
    """Load triton's bundled LLVM before Mesa's llvmpipe loads the system one.

    Measured here: once an EGL/llvmpipe context exists, the first import of ``triton._C.libtriton`` (which
    torch-based packages such as anny pull in) segfaults the process; in the other order both work.
    """
    import importlib
    import importlib.util

    try:
        if importlib.util.find_spec("triton") is not None:
            importlib.import_module("triton._C.libtriton")
    except Exception:  # noqa: BLE001 - best effort; without triton there is nothing to pre-load
        pass


def _create_context():
    _preload_conflicting_llvm()
    try:
        import moderngl
    except ImportError as err:  # pragma: no cover - moderngl is a declared dependency
        raise RuntimeError("moderngl is not installed: pip install moderngl") from err
    try:
        return moderngl.create_standalone_context(backend="egl")
    except Exception as err:
        raise RuntimeError(
            "could not create an EGL OpenGL context for offscreen rendering "
            f"({type(err).__name__}: {err}). On Debian/Ubuntu install the packages "
            "libegl1 libegl-mesa0 libgl1-mesa-dri (Mesa llvmpipe renders on the CPU; no GPU or display needed)."
        ) from err


def _state() -> _GL:
    global _STATE
    if _STATE is None:
        _STATE = _GL()
    return _STATE


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals. vertices (V,3), faces (F,3) -> (V,3) float32."""
    v = np.asarray(vertices, dtype=np.float64)
    tri = v[faces]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # length = 2 * area
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, faces[:, k], fn)
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    return n.astype(np.float32)


def face_labels(vertex_labels: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """One label per face: the majority of its three vertex labels, the first vertex's on a three-way tie.

    vertex_labels (V,) int, faces (F,3) -> (F,) int. Labels are never interpolated (ids are not ordinal).
    """
    lab = np.asarray(vertex_labels)[faces]
    out = lab[:, 0].copy()
    pick_b = (lab[:, 1] == lab[:, 2]) & (lab[:, 0] != lab[:, 1])
    out[pick_b] = lab[pick_b, 1]
    return out


def rasterize(
    vertices_cam: np.ndarray,
    faces: np.ndarray,
    K: np.ndarray,
    size: int,
    vertex_colors: np.ndarray | None = None,
    vertex_labels: np.ndarray | None = None,
    light: bool = True,
    light_dir: tuple[float, float, float] = (0.3, -0.5, -1.0),
    ambient: float = 0.35,
) -> RasterOutput:
    """Rasterize a triangle mesh seen by a pinhole camera.

    vertices_cam: (V,3) float, OpenCV camera coordinates (z > 0 in front of the camera).
    faces: (F,3) int vertex indices. K: (3,3) intrinsics in pixels. size: output is size x size.
    vertex_colors: (V,3) float in [0,1] (default light grey), interpolated across faces.
    vertex_labels: (V,) int in 0..255 (default 1); each face takes its majority vertex label (no interpolation).
    light: two-sided Lambertian shading, ``ambient + (1 - ambient) |n . l|`` with ``l`` = normalised ``light_dir``
    (camera coordinates; the sign does not matter because the shading is two-sided).
    """
    vertices_cam = np.asarray(vertices_cam, dtype=np.float32)
    faces = np.asarray(faces, dtype=np.int64)
    K = np.asarray(K, dtype=np.float32)
    if vertices_cam.ndim != 2 or vertices_cam.shape[1] != 3:
        raise ValueError(f"vertices_cam must be (V,3), got {vertices_cam.shape}")
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"faces must be (F,3), got {faces.shape}")
    if K.shape != (3, 3):
        raise ValueError(f"K must be (3,3), got {K.shape}")
    if size <= 0:
        raise ValueError(f"size must be positive, got {size}")
    nv = len(vertices_cam)
    if len(faces) and (faces.min() < 0 or faces.max() >= nv):
        raise ValueError(f"faces index vertices outside 0..{nv - 1}")
    colors = (np.full((nv, 3), 0.8, np.float32) if vertex_colors is None
              else np.asarray(vertex_colors, dtype=np.float32).reshape(nv, 3))
    labels_v = np.ones(nv, np.int64) if vertex_labels is None else np.asarray(vertex_labels).reshape(nv)
    if labels_v.size and (labels_v.min() < 0 or labels_v.max() > 255):
        raise ValueError("vertex_labels must lie in 0..255")
    normals = vertex_normals(vertices_cam, faces) if light else np.zeros_like(vertices_cam)

    # De-index so each face carries its own (flat) label; a few hundred thousand vertices are cheap to upload.
    flat = faces.reshape(-1)
    lab_f = np.repeat(face_labels(labels_v, faces).astype(np.float32), 3)
    data = np.concatenate(
        [vertices_cam[flat], colors[flat], normals[flat], lab_f[:, None]], axis=1
    ).astype(np.float32)

    ld = np.asarray(light_dir, dtype=np.float32)
    ld = ld / max(float(np.linalg.norm(ld)), 1e-12)
    a = (FAR + NEAR) / (FAR - NEAR)
    b = -2.0 * FAR * NEAR / (FAR - NEAR)

    with _LOCK:
        st = _state()
        ctx, prog = st.ctx, st.prog
        fbo = st.framebuffer(size)
        prog["K"].write(np.ascontiguousarray(K.T).tobytes())  # GLSL mat3 is column-major
        prog["size"].value = (float(size), float(size))
        prog["depth_ab"].value = (a, b)
        prog["use_light"].value = int(bool(light))
        prog["light_dir"].value = tuple(float(x) for x in ld)
        prog["ambient"].value = float(ambient)
        fbo.use()
        ctx.viewport = (0, 0, size, size)
        ctx.enable(ctx.DEPTH_TEST)
        ctx.disable(ctx.CULL_FACE)
        ctx.disable(ctx.BLEND)
        fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        if len(faces):
            vbo = ctx.buffer(data.tobytes())
            vao = ctx.vertex_array(prog, [(vbo, "3f 3f 3f 1f", "in_pos", "in_color", "in_normal", "in_label")])
            vao.render(mode=ctx.TRIANGLES)
            vao.release()
            vbo.release()
        color = np.frombuffer(fbo.read(components=4, attachment=0, dtype="f1"), np.uint8).reshape(size, size, 4)
        aux = np.frombuffer(fbo.read(components=4, attachment=1, dtype="f4"), np.float32).reshape(size, size, 4)

    covered = aux[..., 2] > 0.5
    rgb = np.where(covered[..., None], color[..., :3], 0).astype(np.uint8)
    alpha = np.where(covered, 255, 0).astype(np.uint8)
    labels = np.where(covered, np.rint(aux[..., 1]), 0).astype(np.uint8)
    depth = np.where(covered, aux[..., 0], np.inf).astype(np.float32)
    return RasterOutput(rgb=rgb, alpha=alpha, labels=labels, depth=depth)
