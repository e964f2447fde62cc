"""Offscreen rasterizing of triangle meshes (numpy in, numpy out).

`rasterize` uses moderngl on an EGL context (Mesa llvmpipe on CPU machines); `reference.rasterize_torch` is a
slow pure-torch z-buffer kept as a cross-check and as a fallback without EGL.
"""

from talkinnerf.raster.gl import RasterOutput, face_labels, rasterize, vertex_normals

__all__ = ["RasterOutput", "face_labels", "rasterize", "vertex_normals"]
