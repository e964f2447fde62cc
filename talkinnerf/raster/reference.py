"""A pure-torch z-buffer rasterizer: slow, simple, used to cross-check the GL path and to time the alternative.

Each face enumerates the pixel centres of its screen bounding box (faces are processed in groups of similar
box size so the enumeration stays dense), tests them with edge functions, interpolates 1/z linearly in screen
space (which is exact for perspective), and keeps the nearest face per pixel with a scatter-min.
No shading, no colours: coverage, depth and face labels only, which is what the cross-check needs.
"""

from __future__ import annotations

import numpy as np
import torch


def rasterize_torch(vertices_cam: np.ndarray, faces: np.ndarray, K: np.ndarray, size: int,
                    vertex_labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (alpha (H,W) uint8 0/255, labels (H,W) uint8, depth (H,W) float32 inf where empty).

    Same conventions as :func:`talkinnerf.raster.rasterize` (pixel centre at +0.5, OpenCV camera).
    Faces with a vertex at z <= 1e-6 are skipped (no near-plane clipping).
    """
    from talkinnerf.raster.gl import face_labels

    v = torch.as_tensor(np.asarray(vertices_cam), dtype=torch.float64)
    f = torch.as_tensor(np.asarray(faces), dtype=torch.long)
    k = torch.as_tensor(np.asarray(K), dtype=torch.float64)
    labels_v = np.ones(len(v), np.int64) if vertex_labels is None else np.asarray(vertex_labels)
    lab_f = torch.as_tensor(face_labels(labels_v, np.asarray(faces)), dtype=torch.long)
    npix = size * size
    zbuf = torch.full((npix,), float("inf"), dtype=torch.float64)
    fbuf = torch.full((npix,), -1, dtype=torch.long)

    z = v[:, 2]
    uvw = v @ k.T
    uv = uvw[:, :2] / uvw[:, 2:3].clamp_min(1e-12)
    tri = uv[f]  # (F,3,2)
    ok = (z[f] > 1e-6).all(dim=1)
    lo = torch.floor(tri.min(dim=1).values - 0.5).clamp(0, size - 1).long()  # first pixel index whose centre may be in
    hi = torch.ceil(tri.max(dim=1).values - 0.5).clamp(0, size - 1).long()
    ext = (hi - lo + 1).max(dim=1).values
    ok &= (tri.max(dim=1).values >= 0).all(dim=1) & (tri.min(dim=1).values <= size).all(dim=1)

    cand_pix, cand_face, cand_depth = [], [], []
    for e in torch.unique(ext[ok]).tolist():
        sel = torch.nonzero(ok & (ext == e)).squeeze(1)
        off = torch.arange(e)
        oy, ox = torch.meshgrid(off, off, indexing="ij")
        px = lo[sel, 0:1] + ox.reshape(1, -1)  # (n, e*e)
        py = lo[sel, 1:2] + oy.reshape(1, -1)
        cx, cy = px.double() + 0.5, py.double() + 0.5
        t = tri[sel]
        a, b, c = t[:, 0], t[:, 1], t[:, 2]

        def edge(p, q):  # signed area of (p, q, pixel centre), broadcast over candidates
            return (q[:, 0:1] - p[:, 0:1]) * (cy - p[:, 1:2]) - (q[:, 1:2] - p[:, 1:2]) * (cx - p[:, 0:1])

        w0, w1, w2 = edge(b, c), edge(c, a), edge(a, b)
        area = w0 + w1 + w2
        inside = (((w0 >= 0) & (w1 >= 0) & (w2 >= 0)) | ((w0 <= 0) & (w1 <= 0) & (w2 <= 0))) & (area.abs() > 1e-12)
        inside &= (px < size) & (py < size)
        safe = torch.where(area.abs() > 1e-12, area, torch.ones_like(area))
        zi = z[f[sel]]
        inv_z = (w0 * (1 / zi[:, 0:1]) + w1 * (1 / zi[:, 1:2]) + w2 * (1 / zi[:, 2:3])) / safe
        depth = 1 / inv_z
        pix = py * size + px
        cand_pix.append(pix[inside])
        cand_face.append(sel[:, None].expand_as(pix)[inside])
        cand_depth.append(depth[inside])
    if cand_pix:
        pix = torch.cat(cand_pix)
        face = torch.cat(cand_face)
        depth = torch.cat(cand_depth)
        zbuf.scatter_reduce_(0, pix, depth, reduce="amin")
        win = depth <= zbuf[pix]
        fbuf[pix[win]] = face[win]
    covered = fbuf >= 0
    alpha = np.where(covered.numpy(), 255, 0).astype(np.uint8).reshape(size, size)
    labels = torch.where(covered, lab_f[fbuf.clamp_min(0)], 0).numpy().astype(np.uint8).reshape(size, size)
    depth = zbuf.numpy().astype(np.float32).reshape(size, size)
    return alpha, labels, depth
