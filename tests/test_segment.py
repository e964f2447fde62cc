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


def test_trusted_labels_follow_the_mesh_and_leave_out_lost_hands():
    from talkinnerf.preprocess.segment import trusted_labels

    mesh = np.zeros((8, 12), np.uint8)
    mesh[2:6, 2:5] = 1                          # the fitted body
    matte = np.zeros((8, 12), bool)
    matte[2:6, 2:11] = True                     # the person reaches 6 px beyond the mesh (a hand the fit missed)
    trust = trusted_labels(mesh, matte, max_fill_px=2.0)
    assert trust.dtype == bool
    assert trust[2:6, 2:5].all()                # covered
    assert trust[2:6, 5:7].all()                # missed by 1-2 px: the fit's misalignment, its label kept
    assert not trust[2:6, 7:11].any()           # farther: the nearest label is a guess
    assert not trust[~matte].any()
    assert np.array_equal(trusted_labels(mesh, matte, 100.0), matte)   # a large reach trusts every person pixel
    # a lost hand's box (x0, y0, x1, y1) is left out even where the mesh covers it
    boxed = trusted_labels(mesh, matte, 100.0, [(3, 3, 4, 4)])
    assert not boxed[3:5, 3:5].any() and boxed[2, 2] and boxed[5, 5] and boxed[3, 6]
    assert not trusted_labels(np.zeros((8, 12), np.uint8), matte, 100.0).any()   # no mesh: nothing vouched for
    with pytest.raises(ValueError, match="size"):
        trusted_labels(mesh[:, :5], matte, 2.0)


def test_grown_box_and_lost_hands():
    from talkinnerf.preprocess.segment import grown_box, lost_hands

    pts = np.array([[10.0, 20.0], [14.0, 22.0]])      # 4 x 2 px: grown by half the larger side on each side
    assert grown_box(pts, 0.5) == (8.0, 18.0, 16.0, 24.0)
    assert grown_box(pts, 0.0) == (10.0, 20.0, 14.0, 22.0)
    fit = {"global_orient": np.zeros((3, 3)), "reproj_error_left_hand": np.array([1.0, np.nan, 2.0]),
           "reproj_error_right_hand": np.array([np.nan, np.nan, 0.5])}
    lost = lost_hands(fit)
    assert lost["left"].tolist() == [False, True, False] and lost["right"].tolist() == [True, True, False]
    # a fit made elsewhere, without the errors: no hand counts as lost
    assert not any(m.any() for m in lost_hands({"global_orient": np.zeros((3, 3))}).values())


def test_hand_vertices_split_the_hands_by_side(open_model_path):
    from talkinnerf.body.model import load_body_model
    from talkinnerf.body.parts import PART_LABELS, hand_vertices, vertex_part_labels

    model = load_body_model(str(open_model_path), batch_size=1, device="cpu")
    hands = hand_vertices(model)
    labels = vertex_part_labels(model)
    assert len(hands["left"]) > 100 and len(hands["right"]) > 100
    assert not set(hands["left"]) & set(hands["right"])
    # together they are every vertex labelled hand
    assert sorted(np.concatenate([hands["left"], hands["right"]])) == sorted(np.nonzero(labels == PART_LABELS["hands"])[0])
    # SMPL-X's left is +x in the canonical pose
    verts = model.v_template.detach().numpy()
    assert verts[hands["left"], 0].min() > 0 > verts[hands["right"], 0].max()


def test_segment_options_are_checked():
    with pytest.raises(ValueError, match="trust_fill"):
        SegmentOptions(trust_fill=-0.1)
    with pytest.raises(ValueError, match="matte_threshold"):
        SegmentOptions(matte_threshold=300)
