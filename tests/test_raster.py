"""The GL rasterizer puts surfaces exactly where K says, keeps the nearest surface, and never blends labels."""

from __future__ import annotations

import numpy as np
import pytest

from talkinnerf.raster import face_labels, rasterize
from talkinnerf.raster.reference import rasterize_torch

SIZE = 64
K = np.array([[70.0, 0.0, 31.3], [0.0, 75.0, 33.9], [0.0, 0.0, 1.0]], dtype=np.float32)


def _project(v: np.ndarray) -> np.ndarray:
    p = v @ K.T.astype(np.float64)
    return p[:, :2] / p[:, 2:3]


def _cross2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def _signed_dist_inside(uv: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Signed distance (pixels) of points to the triangle's boundary, positive inside. uv (3,2), pts (N,2)."""
    area = _cross2(uv[1] - uv[0], uv[2] - uv[0])
    d = []
    for a, b in ((0, 1), (1, 2), (2, 0)):
        e = uv[b] - uv[a]
        d.append(np.sign(area) * _cross2(e, pts - uv[a]) / np.linalg.norm(e))
    return np.min(d, axis=0)


def _pixel_centres(size: int) -> np.ndarray:
    i, j = np.mgrid[0:size, 0:size]
    return np.stack([j + 0.5, i + 0.5], axis=-1).reshape(-1, 2)


def test_triangle_covers_exactly_the_projected_pixels():
    # a slanted triangle: vertices at different depths, non-square pixels, off-centre principal point
    v = np.array([[-0.31, -0.27, 1.9], [0.42, -0.05, 2.6], [-0.05, 0.38, 2.2]], dtype=np.float32)
    out = rasterize(v, np.array([[0, 1, 2]]), K, SIZE, vertex_labels=np.array([2, 2, 2]), light=False)
    d = _signed_dist_inside(_project(v), _pixel_centres(SIZE)).reshape(SIZE, SIZE)
    covered = out.alpha == 255
    # every centre clearly inside is covered and every centre clearly outside is not: the projection is right
    # to far better than 0.5 px (a 0.5 px shift would flip every pixel within 0.5 px of an edge)
    assert covered[d > 0.02].all()
    assert not covered[d < -0.02].any()
    assert covered.sum() > 200
    assert set(np.unique(out.labels[covered])) == {2}
    assert (out.labels[~covered] == 0).all()
    assert np.isinf(out.depth[~covered]).all()


def test_vertex_projection_sub_half_pixel():
    # tiny triangles (0.2 px) around chosen points: the covered pixel must be the one holding K @ x / z
    rng = np.random.default_rng(0)
    for _ in range(20):
        uv = rng.uniform(4, SIZE - 4, size=2)
        z = rng.uniform(1.0, 5.0)
        # keep the point away from pixel borders so the expected pixel is unambiguous
        uv = np.floor(uv) + rng.uniform(0.3, 0.7, size=2)
        centre = np.array([(uv[0] - K[0, 2]) * z / K[0, 0], (uv[1] - K[1, 2]) * z / K[1, 1], z])
        r = 0.45 * z / K[0, 0]  # a triangle of ~0.45 px circumradius, containing the pixel centre nearest uv
        ang = np.array([0.0, 2.1, 4.2])
        v = centre + np.stack([r * np.cos(ang), r * np.sin(ang), np.zeros(3)], axis=1)
        c = np.floor(uv) + 0.5
        # shift the tiny triangle so it contains the pixel centre (offset of at most 0.2 px) -> that pixel only
        shift = (c - uv) * z / K[[0, 1], [0, 1]]
        v[:, :2] += shift
        out = rasterize(v.astype(np.float32), np.array([[0, 1, 2]]), K, SIZE, light=False)
        ys, xs = np.nonzero(out.alpha)
        assert list(zip(xs, ys)) == [(int(np.floor(uv[0])), int(np.floor(uv[1])))]
        assert out.depth[ys[0], xs[0]] == pytest.approx(z, rel=1e-5)


def test_depth_is_camera_z_and_nearest_surface_wins():
    big = np.array([[-5.0, -3.0, 0.0], [5.0, -3.0, 0.0], [0.0, 6.0, 0.0]], dtype=np.float32)
    near = big + np.array([0, 0, 2.0], np.float32)
    far = big + np.array([0, 0, 3.0], np.float32)
    for order in ((near, far), (far, near)):  # draw order must not matter
        v = np.concatenate(order)
        labels = np.array([1, 1, 1, 4, 4, 4]) if order[0] is near else np.array([4, 4, 4, 1, 1, 1])
        out = rasterize(v, np.array([[0, 1, 2], [3, 4, 5]]), K, SIZE, vertex_labels=labels)
        assert (out.alpha == 255).all()
        assert (out.labels == 1).all()  # the near plane carries label 1 in both orders
        np.testing.assert_allclose(out.depth, 2.0, rtol=1e-5)


def test_tilted_plane_depth_matches_ray_intersection():
    # plane z = 2 + 0.5 x: at pixel (u, v) the ray x = (u - cx) z / fx meets it at z = 2 / (1 - 0.5 (u - cx) / fx)
    v = np.array([[-1.5, -1.5, 0], [1.5, -1.5, 0], [1.5, 1.5, 0], [-1.5, 1.5, 0]], dtype=np.float32)
    v[:, 2] = 2 + 0.5 * v[:, 0]
    out = rasterize(v, np.array([[0, 1, 2], [0, 2, 3]]), K, SIZE, light=False)
    u = np.arange(SIZE) + 0.5
    expect = 2.0 / (1 - 0.5 * (u - K[0, 2]) / K[0, 0])
    rows = out.depth[10:50]
    np.testing.assert_allclose(rows, np.broadcast_to(expect, rows.shape), rtol=1e-4)


def _cube(center, half, rot):
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64) * half
    faces = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                      [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])
    return (corners @ rot.T + center).astype(np.float32), faces


def _rot(ax, ay):
    cx, sx, cy, sy = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay)
    return np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]]) @ np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])


def test_cube_matches_torch_reference_and_labels_are_exact():
    v, f = _cube(np.array([0.05, -0.1, 3.0]), 0.6, _rot(0.5, 0.7))
    labels_v = np.arange(8) % 5  # per-vertex ids; each face must carry exactly face_labels(...) of its vertices
    out = rasterize(v, f, K, SIZE, vertex_labels=labels_v)
    a_ref, l_ref, d_ref = rasterize_torch(v, f, K, SIZE, labels_v)
    cov = out.alpha > 0
    assert cov.sum() > 300
    # pixels whose centre sits exactly on an edge may go either way; allow a handful
    assert (cov != (a_ref > 0)).sum() <= 4
    both = cov & (a_ref > 0)
    np.testing.assert_allclose(out.depth[both], d_ref[both], rtol=1e-4)
    assert (out.labels[both] != l_ref[both]).sum() <= 4
    assert set(np.unique(out.labels[cov])) <= set(face_labels(labels_v, f).tolist())


def test_face_labels_majority_and_no_interpolation():
    faces = np.array([[0, 1, 2], [0, 1, 3], [3, 1, 1], [0, 3, 1], [2, 0, 1], [1, 0, 0]])
    lab = np.array([1, 3, 4, 3])
    # majority wins; a three-way tie takes the first vertex's label; never a mean (e.g. 8/3 -> 3)
    np.testing.assert_array_equal(face_labels(lab, faces), [1, 3, 3, 3, 4, 1])


def test_colours_and_lighting():
    v = np.array([[-2.0, -2.0, 2.0], [2.0, -2.0, 2.0], [0.0, 2.5, 2.0]], dtype=np.float32)
    col = np.tile([[1.0, 0.5, 0.0]], (3, 1))
    flat = rasterize(v, np.array([[0, 1, 2]]), K, SIZE, vertex_colors=col, light=False)
    np.testing.assert_array_equal(flat.rgb[32, 32], [255, 128, 0])
    lit = rasterize(v, np.array([[0, 1, 2]]), K, SIZE, vertex_colors=col, light=True, light_dir=(1, 0, 0))
    # light parallel to the plane: only ambient light is left
    assert lit.rgb[32, 32, 0] == pytest.approx(255 * 0.35, abs=1.5)


def test_bad_inputs_raise():
    with pytest.raises(ValueError):
        rasterize(np.zeros((3, 2)), np.array([[0, 1, 2]]), K, SIZE)
    with pytest.raises(ValueError):
        rasterize(np.zeros((3, 3)), np.array([[0, 1, 5]]), K, SIZE)
