"""Time the GL rasterizer against the pure-torch reference on the Anny body mesh.

    python benchmarks/raster_speed.py [--sizes 128 256] [--repeats 10]

Prints milliseconds per frame (mean over repeats, after one warm-up) for each size and backend.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _anny_mesh() -> tuple[np.ndarray, np.ndarray]:
    import anny

    model = anny.Anny()
    out = model()
    v = out["vertices"][0].detach().cpu().numpy()
    f = model.get_triangular_faces().cpu().numpy()
    return v, f


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)

    from talkinnerf.raster import rasterize
    from talkinnerf.raster.reference import rasterize_torch

    v, f = _anny_mesh()
    # Anny is z-up; put it 3 m in front of an OpenCV camera (x right, y down, z forward)
    v_cam = np.stack([v[:, 0], -v[:, 2], v[:, 1] + 3.0], axis=1).astype(np.float32)
    colors = np.random.default_rng(0).uniform(size=v.shape).astype(np.float32)
    labels = np.random.default_rng(1).integers(1, 5, len(v))
    print(f"mesh: {len(v)} vertices, {len(f)} faces")
    for size in args.sizes:
        K = np.array([[size * 1.4, 0, size / 2], [0, size * 1.4, size / 2], [0, 0, 1]], np.float32)
        for name, fn in (
            ("gl", lambda: rasterize(v_cam, f, K, size, colors, labels, light=True)),
            ("torch", lambda: rasterize_torch(v_cam, f, K, size, labels)),
        ):
            fn()
            t0 = time.perf_counter()
            for _ in range(args.repeats):
                fn()
            ms = (time.perf_counter() - t0) / args.repeats * 1e3
            print(f"size {size:4d}  {name:5s}  {ms:8.1f} ms/frame")


if __name__ == "__main__":
    main()
