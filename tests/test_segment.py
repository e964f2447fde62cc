"""Part segmentation: mesh labels intersected with the matte, backend registry."""

from __future__ import annotations

import numpy as np
import pytest

from talkinnerf.preprocess.segment import BACKENDS, SegmentOptions, labels_from_mesh_and_matte, segment_subject


def test_mesh_and_matte_intersection_by_hand():
    mesh = np.zeros((6, 8), np.uint8)
    mesh[1:5, 1:3] = 2          # arm on the left
    mesh[1:5, 4:6] = 1          # body on the right
    mesh[0, 7] = 4              # a head pixel outside the matte
    matte = np.zeros((6, 8), bool)
    matte[1:5, 1:7] = True      # the person also covers column 3 (gap) and column 6 (beyond the mesh)
    out = labels_from_mesh_and_matte(mesh, matte)
    assert out.dtype == np.uint8
    assert np.all(out[1:5, 1:3] == 2) and np.all(out[1:5, 4:6] == 1)   # covered matte keeps mesh labels
    assert np.all(out[1:5, 6] == 1)             # missed matte pixel takes the nearest (body) label
    assert np.all(out[1:5, 3] == 2) or np.all(out[1:5, 3] == 1)    # equidistant: either neighbour, never 0
    assert out[0, 7] == 0                       # mesh outside the matte is background
    assert np.all(out[~matte] == 0)


def test_nearest_label_wins_over_far_one():
    mesh = np.zeros((1, 10), np.uint8)
    mesh[0, 0], mesh[0, 9] = 3, 4
    out = labels_from_mesh_and_matte(mesh, np.ones((1, 10), bool))
    assert list(out[0]) == [3] * 5 + [4] * 5


def test_empty_mesh_labels_matte_as_body_and_shape_mismatch():
    matte = np.zeros((4, 4), bool)
    matte[1:3, 1:3] = True
    out = labels_from_mesh_and_matte(np.zeros((4, 4), np.uint8), matte)
    assert np.array_equal(out, matte.astype(np.uint8))
    with pytest.raises(ValueError, match="size"):
        labels_from_mesh_and_matte(np.zeros((4, 5), np.uint8), matte)


def test_backend_registry(tmp_path):
    assert set(BACKENDS) == {"smplx", "densepose"}
    for d in ("frames", "matte"):
        (tmp_path / d).mkdir()
    (tmp_path / "fit.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="detectron2"):
        segment_subject(tmp_path / "frames", tmp_path / "matte", tmp_path / "fit.npz", tmp_path / "m.npz",
                        tmp_path / "out", SegmentOptions(backend="densepose"))
    assert not (tmp_path / "out").exists()      # nothing half-written
    with pytest.raises(ValueError, match="unknown segment backend"):
        segment_subject(tmp_path / "frames", tmp_path / "matte", tmp_path / "fit.npz", tmp_path / "m.npz",
                        tmp_path / "out", SegmentOptions(backend="sam"))
    with pytest.raises(FileNotFoundError, match="matte folder"):
        segment_subject(tmp_path / "frames", tmp_path / "nope", tmp_path / "fit.npz", tmp_path / "m.npz",
                        tmp_path / "out", SegmentOptions())
