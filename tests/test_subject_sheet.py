"""Per-subject contact sheet: layout, frame choice, keypoint placement and where the mesh overlay lands."""

from __future__ import annotations

import json

import numpy as np
import pytest

from talkinnerf.report.subject_sheet import (COLUMNS, SheetLayout, choose_frames, draw_keypoints, overlay_mesh,
                                             scale_intrinsics, subject_sheet, upsample)

SIZE, SCALE, FRAMES = 48, 2, 4


def test_choose_frames_spreads_and_includes_a_held_out_frame():
    assert choose_frames(61, 6) == [0, 12, 24, 36, 48, 60]
    shown = choose_frames(61, 6, held_out=[5, 17])
    assert len(shown) == 6 and set(shown) & {5, 17}
    assert choose_frames(3, 6) == [0, 1, 2]
    assert choose_frames(61, 6, held_out=[12]) == [0, 12, 24, 36, 48, 60]   # already shown: unchanged


def test_scaled_intrinsics_scale_continuous_pixel_coordinates():
    K = np.array([[50.0, 0.5, 23.7], [0, 52.0, 25.1], [0, 0, 1]])
    x = np.array([0.12, -0.3, 2.5])
    uv = (K @ x)[:2] / x[2]
    uv3 = (scale_intrinsics(K, 3) @ x)[:2] / x[2]
    assert np.allclose(uv3, 3 * uv)


def test_keypoint_dot_is_centred_on_the_upsampled_point():
    """A point at continuous frame pixel (u, v) covers display pixel centres around (s u, s v): in array indices
    (centre of pixel (i, j) at (j + 0.5, i + 0.5)) its intensity centroid is at (s u - 0.5, s v - 0.5)."""
    s = 4
    black = np.zeros((20 * s, 20 * s, 3), np.uint8)
    u, v = 7.3, 11.6
    body = np.zeros((25, 3))
    body[8] = (u, v, 1.0)  # only mid-hip detected: no limbs, one dot
    out = draw_keypoints(black, {"body": body}, scale=s).astype(np.float64).sum(-1)
    ii, jj = np.mgrid[0:out.shape[0], 0:out.shape[1]]
    cy, cx = (out * ii).sum() / out.sum(), (out * jj).sum() / out.sum()
    assert abs(cx - (s * u - 0.5)) < 0.25 and abs(cy - (s * v - 0.5)) < 0.25
    # missing points (confidence 0) are not drawn; the image is only dimmed
    none = draw_keypoints(np.full((8, 8, 3), 200, np.uint8), {"body": np.zeros((25, 3))}, scale=1)
    assert np.all(none == none[0, 0])


def test_overlay_mesh_touches_only_covered_pixels():
    rgb = np.random.default_rng(0).integers(0, 255, (10, 10, 3), dtype=np.uint8)
    alpha = np.zeros((10, 10), np.uint8)
    alpha[3:7, 2:8] = 255
    out = overlay_mesh(rgb, np.full_like(rgb, 200), alpha)
    assert np.array_equal(out[alpha == 0], rgb[alpha == 0])
    assert np.all(np.any(out[alpha > 0] != rgb[alpha > 0], axis=-1))
    assert np.array_equal(upsample(alpha, 3)[::3, ::3], alpha)


def _camera():
    R = np.diag([1.0, -1.0, -1.0])
    K = np.array([[60.0, 0, SIZE / 2], [0, 60.0, SIZE / 2], [0, 0, 1]])
    return K, R


@pytest.fixture(scope="module")
def sheet_inputs(open_model_path, tmp_path_factory):
    """A subject of FRAMES noisy frames seeing the open model at zero pose from the front."""
    import cv2
    import torch

    from talkinnerf.body.model import load_body_model

    root = tmp_path_factory.mktemp("sheet")
    model = load_body_model(open_model_path, batch_size=1)
    with torch.no_grad():
        out = model(return_verts=True)
    verts, joints = out.vertices[0].numpy(), out.joints[0, :55].numpy()
    K, R = _camera()
    centre = (verts.min(0) + verts.max(0)) / 2
    t = -R @ centre + np.array([0, 0, 3.0])  # body centre 3 m in front: ~1.7 m tall -> ~34 px of 48
    F = FRAMES
    z = lambda *shape: np.zeros((F, *shape), np.float32)  # noqa: E731
    np.savez(root / "fit.npz", global_orient=z(3), body_pose=z(21, 3), jaw_pose=z(3), left_hand_pose=z(15, 3),
             right_hand_pose=z(15, 3), expression=z(10), betas=np.zeros(10, np.float32), transl=z(3),
             K=np.repeat(K[None], F, 0), R=np.repeat(R[None], F, 0), t=np.repeat(t[None], F, 0),
             size=np.array(SIZE), joints=np.repeat(joints[None], F, 0).astype(np.float32),
             reproj_error_body=np.full(F, 1.5, np.float32), reproj_error_face=np.array([np.nan] * F, np.float32))
    rng = np.random.default_rng(1)
    for d in ("frames", "matte", "parts"):
        (root / d).mkdir()
    for i in range(F):
        rgb = rng.integers(30, 220, (SIZE, SIZE, 3), dtype=np.uint8)
        cv2.imwrite(str(root / "frames" / f"{i:06d}.png"), rgb)
        matte = np.zeros((SIZE, SIZE), np.uint8)
        matte[10:40, 18:30] = 255
        cv2.imwrite(str(root / "matte" / f"{i:06d}.png"), matte)
        cv2.imwrite(str(root / "parts" / f"{i:06d}.png"), (matte > 0).astype(np.uint8) * (1 + i % 4))
    kp = {g: rng.uniform(0, SIZE, (F, n, 3)).astype(np.float32) for g, n in
          (("body", 25), ("left_hand", 21), ("right_hand", 21), ("face", 70))}
    for g in kp:
        kp[g][..., 2] = rng.uniform(0, 1, kp[g].shape[:2])
    kp["face"][1] = 0  # no face in frame 1
    np.savez(root / "keypoints.npz", **kp)
    (root / "split.json").write_text(json.dumps({"train": [0, 1, 3], "test": [2], "rule": "test"}))
    return root, verts, joints, K, R, t, np.asarray(model.faces, np.int64)


def test_sheet_layout_and_mesh_overlay_position(sheet_inputs, open_model_path):
    import cv2

    from talkinnerf.raster.reference import rasterize_torch

    root, verts, joints, K, R, t, faces = sheet_inputs
    out = root / "sheet.png"
    sheet, layout, shown = subject_sheet("tiny", root / "frames", root / "matte", root / "keypoints.npz",
                                         root / "fit.npz", root / "parts", open_model_path, out,
                                         split_path=root / "split.json", rows=2, scale=SCALE,
                                         matte_backend="background", keypoints_backend="openpose")
    assert 2 in shown and len(shown) == 2 and 0 in shown         # evenly spaced [0, 3], 3 -> held-out 2
    assert layout == SheetLayout(rows=2, cell=SIZE * SCALE)
    assert sheet.shape == (layout.height, layout.width, 3)
    assert layout.width > len(COLUMNS) * SIZE * SCALE and layout.height > 2 * SIZE * SCALE
    written = cv2.cvtColor(cv2.imread(str(out)), cv2.COLOR_BGR2RGB)
    assert np.array_equal(written, sheet)

    for r in range(2):
        rgb = layout.cell_view(sheet, r, 0)
        frame = cv2.cvtColor(cv2.imread(str(root / "frames" / f"{shown[r]:06d}.png")), cv2.COLOR_BGR2RGB)
        assert np.array_equal(rgb, upsample(frame, SCALE))          # the RGB column is the frame itself
        mesh = layout.cell_view(sheet, r, COLUMNS.index("fitted mesh"))
        changed = np.any(mesh != rgb, axis=-1)
        # far from the body (a corner) nothing changes; at the projected pelvis the mesh is drawn
        assert not changed[:6, :6].any() and not changed[-6:, -6:].any()
        p = K @ (R @ joints[0] + t)
        u, v = p[:2] / p[2] * SCALE
        assert changed[int(v), int(u)]
        # every changed pixel lies within the projected mesh's extent (display pixels, centres at +0.5)
        q = (K @ (verts @ R.T + t).T).T
        uv = q[:, :2] / q[:, 2:] * SCALE
        ii, jj = np.nonzero(changed)
        assert jj.min() + 0.5 >= uv[:, 0].min() and jj.max() + 0.5 <= uv[:, 0].max()
        assert ii.min() + 0.5 >= uv[:, 1].min() and ii.max() + 0.5 <= uv[:, 1].max()
        # ... and is where the slow reference rasterizer, given the display camera built here by hand, puts
        # the mesh: a half-pixel shift (pixel-centre convention) moves a whole silhouette ring of pixels
        K_display = np.diag([SCALE, SCALE, 1.0]) @ K
        ref_alpha, _, _ = rasterize_torch(verts @ R.T + t, faces, K_display, SIZE * SCALE)
        ref = ref_alpha > 0
        assert (changed != ref).sum() <= 0.01 * ref.sum(), ((changed != ref).sum(), ref.sum())


def test_sheet_rejects_mismatched_inputs(sheet_inputs, open_model_path, tmp_path):
    root = sheet_inputs[0]
    short = dict(np.load(root / "keypoints.npz"))
    np.savez(tmp_path / "kp.npz", **{k: v[:2] for k, v in short.items()})
    with pytest.raises(ValueError, match="keypoints 2"):
        subject_sheet("tiny", root / "frames", root / "matte", tmp_path / "kp.npz", root / "fit.npz",
                      root / "parts", open_model_path, tmp_path / "s.png")
    with pytest.raises(FileNotFoundError, match="parts folder"):
        subject_sheet("tiny", root / "frames", root / "matte", root / "keypoints.npz", root / "fit.npz",
                      tmp_path / "none", open_model_path, tmp_path / "s.png")
    assert not (tmp_path / "s.png").exists()


def test_title_names_the_matte_backend_that_ran(tmp_path):
    """The sheet names what the matte stage ran (auto resolved, demo.matte applied), not the config's request."""
    from talkinnerf.io import write_json
    from talkinnerf.report.subject_sheet import matte_backend_that_ran

    assert matte_backend_that_ran(tmp_path) is None
    write_json(tmp_path / "meta.json", {"backend": "mediapipe", "requested": "auto", "count": 3})
    assert matte_backend_that_ran(tmp_path) == "mediapipe"


def test_parts_column_hatches_the_labels_the_fit_does_not_vouch_for(sheet_inputs, open_model_path, tmp_path):
    import shutil

    import cv2

    root = sheet_inputs[0]
    parts = tmp_path / "parts"
    shutil.copytree(root / "parts", parts)
    args = ("tiny", root / "frames", root / "matte", root / "keypoints.npz", root / "fit.npz", parts,
            open_model_path)
    kw = dict(split_path=root / "split.json", rows=2, scale=SCALE)
    plain, layout, shown = subject_sheet(*args, tmp_path / "a.png", **kw)
    (parts / "trust").mkdir()
    for i in range(4):
        trust = np.zeros((SIZE, SIZE), np.uint8)
        trust[10:25, 18:30] = 255                    # the upper half of the person is vouched for
        cv2.imwrite(str(parts / "trust" / f"{i:06d}.png"), trust)
    hatched = subject_sheet(*args, tmp_path / "b.png", **kw)[0]
    col = COLUMNS.index("part labels")
    for r in range(2):
        a, b = layout.cell_view(plain, r, col), layout.cell_view(hatched, r, col)
        differs = np.any(a != b, axis=-1)
        s = SCALE
        assert not differs[10 * s:25 * s].any()      # vouched-for labels drawn as before
        assert differs[25 * s:40 * s, 18 * s:30 * s].mean() > 0.2   # the rest striped ...
        assert not differs[:10 * s].any() and not differs[40 * s:].any()   # ... and nothing off the person
        assert np.all(b[differs] == 0)
