"""Triangle meshes of trained avatars: the canonical surface (marching cubes of the canonical density, vertex
colours) and posed meshes by linear blend skinning (`talkinnerf evaluate mesh`; docs/motion.md, Mesh export).

A package of its own, outside talkinnerf/evaluate/, so that the workflow's evaluation rules (whose code version is
the digest of that folder) do not rerun when only the mesh export changes."""
