"""SMPLify-X-style fitting: robust loss, priors, and recovery of known parameters from exact keypoints."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from talkinnerf.preprocess import fit as F
from talkinnerf.preprocess import priors
from test_fit_fixture import build_fixture_model, fixture_keypoints_fn, load_fixture_model

SIZE = 128


# ------------------------------------------------------------------------------------------ pure functions


def test_geman_mcclure_bounded_and_quadratic_near_zero():
    sigma = 10.0
    r = torch.tensor([0.0, 0.01, 0.1, 1.0, 1e3, 1e6])
    rho = priors.geman_mcclure(r, sigma)
    assert rho[0] == 0
    assert torch.all(rho <= sigma ** 2) and rho[-1] > 0.99 * sigma ** 2       # bounded by sigma^2
    assert torch.allclose(rho[1:3], r[1:3] ** 2, rtol=1e-3)                     # ~ r^2 for r << sigma
    assert torch.all(rho[1:] > rho[:-1])                                        # monotone in |r|
    assert torch.allclose(priors.geman_mcclure_sq(r ** 2, sigma), rho)


def test_angle_limit_zero_for_valid_positive_for_hyperextension():
    limits = priors.joint_limit_signs()["body_pose"]
    valid = torch.zeros(3, 21, 3)
    valid[1, priors.LEFT_ELBOW - 1, 1] = -1.5     # left forearm bent forward
    valid[1, priors.RIGHT_ELBOW - 1, 1] = 1.5     # right forearm bent forward
    valid[2, priors.LEFT_KNEE - 1, 0] = 1.2       # knees bent backwards
    valid[2, priors.RIGHT_KNEE - 1, 0] = 1.2
    assert torch.all(priors.angle_limit_penalty(valid, limits) == 0)
    for joint, axis, bad in ((priors.LEFT_ELBOW, 1, 0.5), (priors.RIGHT_ELBOW, 1, -0.5),
                             (priors.LEFT_KNEE, 0, -0.5), (priors.RIGHT_KNEE, 0, -0.5)):
        pose = torch.zeros(1, 21, 3)
        pose[0, joint - 1, axis] = bad
        assert priors.angle_limit_penalty(pose, limits)[0] > 0.2, (joint, axis)
        assert priors.angle_limit_penalty(pose, limits, margin=0.6)[0] == 0     # within the tolerance
    hand = priors.joint_limit_signs()["left_hand_pose"]
    curl, back = torch.zeros(1, 15, 3), torch.zeros(1, 15, 3)
    curl[0, :12, 2], back[0, :12, 2] = -1.0, 0.4
    assert priors.angle_limit_penalty(curl, hand)[0] == 0
    assert priors.angle_limit_penalty(back, hand)[0] > 0


def test_pose_prior_and_temporal_terms():
    sig = priors.body_pose_sigmas()
    pose = torch.zeros(1, 21, 3)
    assert priors.gaussian_pose_prior(pose, sig)[0] == 0
    bend, side = pose.clone(), pose.clone()
    bend[0, priors.LEFT_ELBOW - 1, 1] = -1.0
    side[0, priors.LEFT_ELBOW - 1, 2] = -1.0
    # the elbow is a hinge: bending about its hinge axis is cheaper than bending sideways
    assert priors.gaussian_pose_prior(bend, sig)[0] < priors.gaussian_pose_prior(side, sig)[0]
    const = torch.ones(6, 3)
    assert priors.temporal_smoothness(const, 1.0, 1.0) == 0
    linear = torch.arange(6.0)[:, None].repeat(1, 3)
    assert priors.temporal_smoothness(linear, 0.0, 1.0) == 0            # constant velocity: no acceleration
    assert priors.temporal_smoothness(linear, 1.0, 0.0) == pytest.approx(15.0)


def test_intrinsics_from_vertical_fov():
    K = F.intrinsics(128, 90.0)
    assert K[0, 0] == pytest.approx(64.0) and K[1, 1] == pytest.approx(64.0)
    assert K[0, 2] == 64.0 and K[1, 2] == 64.0
    # a point on the optical axis projects to the centre; y up in the world is up (smaller v) in the image
    R, t = torch.as_tensor(F.CAMERA_R, dtype=torch.float32), torch.tensor([0.0, 0.0, 3.0])
    uv = F.project(torch.tensor([[[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]]), torch.as_tensor(K, dtype=torch.float32), R, t)
    assert torch.allclose(uv[0, 0], torch.tensor([64.0, 64.0]))
    assert uv[0, 1, 1] < 64.0


# ------------------------------------------------------------------------------------------ recovery


@pytest.fixture(scope="module")
def fixture_model_path(tmp_path_factory):
    return build_fixture_model(tmp_path_factory.mktemp("body") / "fixture_smplx.npz")


def _synthetic(model, frames: int, depth: float, opts: F.FitOptions):
    """Ground-truth parameters and their exact keypoints (confidence 1) seen by the fit's camera."""
    p = F.FitParams.zeros(frames)
    s = torch.linspace(0, 1, frames)
    p.global_orient[:, 1] = 0.35                      # body turned towards its left
    # left arm lowered, elbow bent forward towards the camera: the 2D forearm is foreshortened and the
    # angle limit rules out the mirrored (hyperextended) solution
    p.body_pose[:, 15, 2] = -1.1
    p.body_pose[:, 17, 1] = -1.0 - 0.2 * s
    p.body_pose[:, 16, 2] = 1.1                        # right arm lowered
    p.jaw_pose[:, 0] = 0.25                            # mouth open
    p.transl[:, 0] = 0.1 * s
    kp, t = _exact_keypoints(model, p, depth, opts)
    return p, kp, t


def _exact_keypoints(model, p: F.FitParams, depth: float, opts: F.FitOptions):
    """The keypoints (confidence 1) of parameters ``p`` as the fit's camera at ``depth`` sees them, and its t."""
    K = torch.as_tensor(F.intrinsics(SIZE, opts.fov_deg), dtype=torch.float32)
    R, t = torch.as_tensor(F.CAMERA_R, dtype=torch.float32), torch.tensor([0.0, 0.0, depth])
    with torch.no_grad():
        pts = fixture_keypoints_fn(F.body_forward(model, p), model)
    kp = {k: np.concatenate([F.project(v, K, R, t).numpy(), np.ones(v.shape[:2] + (1,), np.float32)], -1)
          for k, v in pts.items()}
    return kp, t


def _pelvis_depth(model, p, t):
    with torch.no_grad():
        j = F.body_forward(model, p).joints[:, 0]
    return (j @ torch.as_tensor(F.CAMERA_R, dtype=torch.float32).T + torch.as_tensor(t))[:, 2]


def _elbow_flexion(model, p):
    """Angle between upper arm and forearm of the left arm (rad), per frame (observable in 2D+prior)."""
    with torch.no_grad():
        j = F.body_forward(model, p).joints[:, :55]
    upper, fore = j[:, 18] - j[:, 16], j[:, 20] - j[:, 18]
    cos = (upper * fore).sum(-1) / (upper.norm(dim=-1) * fore.norm(dim=-1))
    return torch.arccos(cos.clamp(-1, 1))


@pytest.fixture(scope="module")
def fitted(fixture_model_path):
    frames = 4
    model = load_fixture_model(fixture_model_path, frames)
    opts = F.FitOptions(progress=False)
    gt, kp, t_gt = _synthetic(model, frames, depth=3.5, opts=opts)
    res = F.fit_sequence(model, kp, SIZE, opts, keypoints_fn=fixture_keypoints_fn)
    return model, gt, kp, t_gt, res


def test_fit_recovers_depth_orientation_and_jaw(fitted):
    model, gt, kp, t_gt, res = fitted
    q = res.params
    # camera depth of the body within 3 %
    d_fit, d_gt = _pelvis_depth(model, q, res.t), _pelvis_depth(model, gt, t_gt)
    assert torch.all((d_fit / d_gt - 1).abs() < 0.03), (d_fit, d_gt)
    # global orientation: the yaw towards the left, within 0.1 rad of the 0.35 rad truth
    assert torch.all((q.global_orient[:, 1] - 0.35).abs() < 0.1), q.global_orient
    # the jaw opens (positive x) by about the true amount, with little twist
    jaw = q.jaw_pose
    assert torch.all((jaw[:, 0] - 0.25).abs() < 0.08) and torch.all(jaw[:, 1:].abs() < 0.08), jaw
    # the keypoints are reproduced to about a pixel
    err = F.reprojection_errors(model, q, kp, res.K, res.t, 0.1, fixture_keypoints_fn)
    assert np.nanmax(err["body"]) < 1.5 and np.nanmax(err["face"]) < 1.0, err


@pytest.mark.xfail(reason="known limitation: without a learned pose prior the optimiser can settle on a "
                          "less-bent elbow compensated by the shoulder (see docs/fitting.md)", strict=False)
def test_fit_recovers_bent_elbow(fitted):
    model, gt, kp, t_gt, res = fitted
    flex_fit, flex_gt = _elbow_flexion(model, res.params), _elbow_flexion(model, gt)
    assert torch.all(flex_gt > 0.9)
    assert torch.all((flex_fit - flex_gt).abs() < 0.12), (flex_fit, flex_gt)


def test_pose_standins_turn_a_hand_the_hand_model_missed(fixture_model_path):
    """A left hand bent at the wrist, seen only through the wrist and two knuckle points (what the keypoints stage
    writes for a hand MediaPipe's hand model missed): the fit turns the hand towards them; with no hand points it
    stays where the prior holds it."""
    frames = 2
    model = load_fixture_model(fixture_model_path, frames)
    opts = F.FitOptions(progress=False)
    p = F.FitParams.zeros(frames)
    p.body_pose[:, 15, 2] = -1.1
    p.body_pose[:, 16, 2] = 1.1
    p.body_pose[:, 19, 2] = 0.9                         # left wrist bent by ~50 degrees
    truth, _ = _exact_keypoints(model, p, 3.5, opts)
    errors = {}
    for arm in ("none", "standins"):
        seen = {k: v.copy() for k, v in truth.items()}
        seen["left_hand"][:] = 0.0
        if arm == "standins":
            seen["left_hand"][:, [0, 5, 13]] = truth["left_hand"][:, [0, 5, 13]] * [1, 1, 0.45]
        res = F.fit_sequence(model, seen, SIZE, opts, keypoints_fn=fixture_keypoints_fn)
        errors[arm] = F.reprojection_errors(model, res.params, truth, res.K, res.t, 0.1,
                                            fixture_keypoints_fn)["left_hand"]
    # all 21 points of the hand, of which the fit saw three: the stand-ins at least halve the error
    assert np.all(errors["standins"] < 0.5 * errors["none"]), errors
    assert np.all(errors["none"] > 2.0), errors   # the bend is visible: without points the hand is off


def test_result_arrays_follow_the_contract(fixture_model_path):
    frames = 3
    model = load_fixture_model(fixture_model_path, frames)
    p = F.FitParams.zeros(frames)
    p.transl[:, 1] = torch.tensor([0.0, 0.1, 0.2])
    K = F.intrinsics(SIZE, 30.0)
    out = F.result_arrays(model, p, K, np.array([0, 0, 3.0], np.float32), SIZE)
    expect = {"global_orient": (3, 3), "body_pose": (3, 21, 3), "poses_body": (3, 22, 3), "jaw_pose": (3, 3),
              "left_hand_pose": (3, 15, 3), "right_hand_pose": (3, 15, 3), "hands": (3, 90),
              "expression": (3, 10), "betas": (10,), "transl": (3, 3), "K": (3, 3, 3), "R": (3, 3, 3),
              "t": (3, 3), "size": (), "joints": (3, 55, 3), "canonical_joints": (55, 3), "parents": (55,),
              "canonical_bbox": (2, 3), "bbox": (3, 2, 3), "vertices_count": ()}
    for key, shape in expect.items():
        assert out[key].shape == shape, key
    assert out["parents"].dtype == np.int64 and out["parents"][0] == -1 and out["parents"][20] == 18
    # translation moves posed joints and boxes but not the canonical ones
    assert np.allclose(out["joints"][2] - out["joints"][0], [0, 0.2, 0], atol=1e-5)
    assert np.allclose(out["canonical_joints"], out["joints"][0], atol=1e-5)
    assert np.allclose(out["bbox"][1] - out["bbox"][0], [[0, 0.1, 0]] * 2, atol=1e-5)
    assert np.all(out["canonical_bbox"][0] < out["canonical_bbox"][1])
    verts = out["canonical_vertices"]        # the zero-pose mesh the density shell measures from
    assert verts.shape == (int(out["vertices_count"]), 3) and verts.dtype == np.float32
    assert np.allclose(np.stack([verts.min(0), verts.max(0)]), out["canonical_bbox"])


def test_initial_depth_from_torso_height():
    canonical = np.zeros((25, 3), np.float32)
    canonical[F.NECK] = (0, 0.5, 0)
    K = F.intrinsics(SIZE, 30.0)
    f = K[1, 1]
    body = np.zeros((2, 25, 3), np.float32)
    body[:, F.NECK] = (64, 40, 1)
    body[0, F.MID_HIP] = (64, 60, 1)                 # 20 px torso -> depth f * 0.5 / 20
    body[1, F.MID_HIP] = (64, 50, 1)                 # 10 px torso -> twice as far
    transl, D = F.initial_translation({"body": body}, canonical, K, 0.1)
    depths = D - transl[:, 2]                        # camera z of the mid-hip = D - z_world
    assert np.allclose(depths, [f * 0.5 / 20, f * 0.5 / 10], rtol=1e-4)
    with pytest.raises(ValueError, match="torso"):
        F.initial_translation({"body": np.zeros((2, 25, 3), np.float32)}, canonical, K, 0.1)


def test_options_reject_bad_values():
    with pytest.raises(ValueError, match="iterations"):
        F.FitOptions(iterations=[1, 2])
    from talkinnerf.options import from_json

    opts = from_json(F.FitOptions, '{"fov_deg": 40, "smooth": true}')
    assert opts.fov_deg == 40 and opts.smooth
    with pytest.raises(ValueError, match="unknown"):
        from_json(F.FitOptions, '{"fov": 40}')


def test_fit_subject_writes_contract_npz(tmp_path, fixture_model_path):
    """End to end on the fixture model: frames/meta.json + keypoints npz -> smplx npz (smoothed)."""
    from talkinnerf.io import load_npz, save_npz, write_json

    frames = 3
    model = load_fixture_model(fixture_model_path, frames)
    opts = F.FitOptions(progress=False, iterations=[5, 6, 5], smooth=True)
    _, kp, _ = _synthetic(model, frames, depth=3.5, opts=opts)
    write_json(tmp_path / "frames" / "meta.json", {"count": frames, "size": SIZE})
    save_npz(tmp_path / "kp.npz", **kp)
    out = tmp_path / "smplx" / "s.npz"
    summary = F.fit_subject(tmp_path / "frames", tmp_path / "kp.npz", fixture_model_path, out, opts,
                            keypoints_fn=fixture_keypoints_fn,
                            model_loader=lambda path, batch_size, device: load_fixture_model(path, batch_size))
    data = load_npz(out)
    assert summary["frames"] == frames and data["joints"].shape == (frames, 55, 3)
    assert data["reproj_error_body"].shape == (frames,) and int(data["size"]) == SIZE
    save_npz(tmp_path / "bad.npz", **{k: v[:2] for k, v in kp.items()})
    with pytest.raises(ValueError, match="frames"):
        F.fit_subject(tmp_path / "frames", tmp_path / "bad.npz", fixture_model_path, out, opts)


# ------------------------------------------------------------------------------------------ hinges from the model


def _specs(rest: str):
    from test_fit_fixture import PARENTS, _joints

    j = _joints(rest)
    return j, priors.hinge_specs(j, PARENTS)


def test_hinge_axes_from_tpose_match_smplx_conventions():
    _, specs = _specs("tpose")
    body = specs["body_pose"]
    axes = dict(zip(body.joints, body.frames[:, 0]))
    assert np.allclose(axes[priors.LEFT_ELBOW - 1], [0, -1, 0], atol=1e-6)     # left forearm swings to +z
    assert np.allclose(axes[priors.RIGHT_ELBOW - 1], [0, 1, 0], atol=1e-6)
    assert np.allclose(axes[priors.LEFT_KNEE - 1], [1, 0, 0], atol=0.01)        # shins swing backwards
    assert np.allclose(body.rest_flexion[[body.joints.index(priors.LEFT_ELBOW - 1)]], 0.0, atol=1e-6)
    assert np.allclose(specs["left_hand_pose"].frames[1, 0], [0, 0, -1], atol=1e-6)   # curl towards the palm
    assert np.allclose(specs["right_hand_pose"].frames[1, 0], [0, 0, 1], atol=1e-6)


@pytest.mark.parametrize("rest", ["tpose", "apose"])
def test_hinge_limits_follow_the_rest_pose(rest):
    from scipy.spatial.transform import Rotation

    j, specs = _specs(rest)
    body = specs["body_pose"]
    row = body.joints.index(priors.LEFT_ELBOW - 1)
    axis, rest_flex = body.frames[row, 0], body.rest_flexion[row]
    assert rest_flex == pytest.approx(0.0 if rest == "tpose" else math.radians(40), abs=1e-4)
    # a positive flexion component bends the forearm further, towards the front (+z)
    upper, fore = j[18] - j[16], j[20] - j[18]
    bent = Rotation.from_rotvec(0.3 * axis).apply(fore)
    angle = lambda a, b: math.acos(a @ b / np.linalg.norm(a) / np.linalg.norm(b))  # noqa: E731
    assert angle(upper, bent) == pytest.approx(angle(upper, fore) + 0.3, abs=1e-6)
    assert bent[2] > fore[2]

    def penalty(flex_total_deg):
        pose = torch.zeros(1, 21, 3)
        pose[0, priors.LEFT_ELBOW - 1] = torch.as_tensor(axis * (math.radians(flex_total_deg) - rest_flex))
        return float(priors.hinge_limit_penalty(pose, body)[0])

    assert penalty(0.0) == 0 and penalty(90.0) == 0 and penalty(145.0) == 0   # straight .. fully bent
    assert penalty(-20.0) > 0.1 and penalty(175.0) > 0.1                       # hyperextended / over-bent


def test_hinge_prior_prefers_flexion_to_sideways_bending():
    _, specs = _specs("apose")
    body = specs["body_pose"]
    row = body.joints.index(priors.LEFT_ELBOW - 1)
    sig = priors.body_pose_sigmas()
    costs = []
    for k in range(3):  # flexion, twist, side
        pose = torch.zeros(1, 21, 3)
        pose[0, priors.LEFT_ELBOW - 1] = torch.as_tensor(0.5 * body.frames[row, k])
        costs.append(float(priors.body_pose_prior(pose, sig, body)[0]))
    assert costs[0] < costs[1] < costs[2]
    assert float(priors.body_pose_prior(torch.zeros(2, 21, 3), sig, body).sum()) == 0


def test_mirrored_arm_targets_lie_on_the_rays_with_the_bone_lengths():
    rng = np.random.default_rng(1)
    centre = np.array([0.0, 0.0, 4.0])
    s = rng.normal(0, 0.1, (5, 3))
    e = s + rng.normal(0, 0.2, (5, 3))
    w = e + rng.normal(0, 0.2, (5, 3))
    upper, fore = np.linalg.norm(e - s, axis=-1), np.linalg.norm(w - e, axis=-1)
    cands = F.mirrored_arm_targets(s, e - centre, w - centre, centre, upper, fore)
    assert len(cands) == 4
    ray = lambda x: (x - centre) / np.linalg.norm(x - centre, axis=-1, keepdims=True)  # noqa: E731
    for ce, cw in cands:
        assert np.allclose(ray(ce), ray(e), atol=1e-6) and np.allclose(ray(cw), ray(w), atol=1e-6)
        assert np.allclose(np.linalg.norm(ce - s, axis=-1), upper, atol=1e-6)
        # the wrist ray may miss the sphere about a mirrored elbow: then its closest point (further away)
        assert np.all(np.linalg.norm(cw - ce, axis=-1) >= fore - 1e-6)
    # the true elbow is one of the two elbow roots, and its wrist one of the wrist roots about it
    near_is_true = np.linalg.norm(cands[0][0] - e, axis=-1) < 1e-6
    assert np.all(near_is_true | (np.linalg.norm(cands[2][0] - e, axis=-1) < 1e-6))
    assert not np.allclose(cands[0][0], cands[2][0], atol=1e-3)                       # two distinct depths
    pick = np.where(near_is_true[:, None], cands[0][1], cands[2][1]), np.where(near_is_true[:, None], cands[1][1],
                                                                               cands[3][1])
    d = np.minimum(np.linalg.norm(pick[0] - w, axis=-1), np.linalg.norm(pick[1] - w, axis=-1))
    assert np.all(d < 1e-6)
    for cw in pick:                                                                   # true elbow: exact lengths
        assert np.allclose(np.linalg.norm(cw - e, axis=-1), fore, atol=1e-6)
    # a ray that misses the sphere gives its closest point
    far = F.mirrored_arm_targets(s[:1], np.array([[1.0, 0, 0]]), w[:1] - centre, centre, upper[:1], fore[:1])
    assert np.allclose(far[0][0], far[2][0])


def test_viterbi_trades_unary_against_switching():
    unary = np.array([[0.0, 1.0], [0.6, 0.0], [0.0, 1.0]])
    cheap = np.array([[[0.0, 0.1], [0.1, 0.0]]] * 2)
    dear = np.array([[[0.0, 5.0], [5.0, 0.0]]] * 2)
    assert list(F._viterbi(unary, cheap)) == [0, 1, 0]
    assert list(F._viterbi(unary, dear)) == [0, 0, 0]


@pytest.fixture(scope="module")
def apose_model_path(tmp_path_factory):
    return build_fixture_model(tmp_path_factory.mktemp("body_a") / "fixture_apose.npz", rest="apose")


def test_arm_pose_from_targets_reaches_the_targets(apose_model_path):
    from smplx.lbs import batch_rodrigues

    frames = 3
    model = load_fixture_model(apose_model_path, frames)
    _, specs = _specs("apose")
    p = F.FitParams.zeros(frames)
    p.global_orient[:, 1] = torch.tensor([0.0, 0.3, -0.2])
    p.body_pose[:, 8, 0] = 0.1                                                        # spine3 bends
    p.body_pose[:, 15] = torch.tensor([[0.3, 0.2, -0.4], [-0.5, 0.1, 0.2], [0.1, -0.6, 0.0]])
    p.body_pose[:, 17] = torch.as_tensor(specs["body_pose"].frames[0, 0]) * torch.tensor([[0.2], [1.0], [1.6]])
    with torch.no_grad():
        target = F.body_forward(model, p).joints[:, :55].double().numpy()
        rest = F.body_forward(model, F.FitParams.zeros(frames)).joints[0, :55].double().numpy()
        rot = batch_rodrigues(torch.cat([p.global_orient[:, None], p.body_pose], 1).reshape(-1, 3))
    rot = rot.reshape(frames, 22, 3, 3).double().numpy()
    parent = rot[:, 0] @ rot[:, 3] @ rot[:, 6] @ rot[:, 9] @ rot[:, 13]
    sh, el = F.arm_pose_from_targets(parent, rest[18] - rest[16], rest[20] - rest[18], specs["body_pose"].frames[0, 0],
                                     target[:, 16], target[:, 18], target[:, 20])
    q = F.FitParams(**{k: v.clone() for k, v in vars(p).items()})
    q.body_pose[:, 15] = torch.as_tensor(sh, dtype=torch.float32)
    q.body_pose[:, 17] = torch.as_tensor(el, dtype=torch.float32)
    with torch.no_grad():
        got = F.body_forward(model, q).joints[:, :55].numpy()
    assert np.allclose(got[:, [18, 20]], target[:, [18, 20]], atol=1e-4)
    # the elbow stays a pure hinge about its flexion axis
    comp = priors.hinge_components(q.body_pose, specs["body_pose"])[:, 0]
    assert torch.allclose(comp[:, 1:], torch.zeros(frames, 2), atol=1e-5)


@pytest.mark.slow
def test_fit_on_an_apose_model_keeps_elbows_anatomical(apose_model_path):
    """The open model's rest is an A-pose with bent elbows: limits/priors derived from it must not force the
    elbows straight or hyperextended, and depth/orientation are still recovered."""
    frames = 4
    model = load_fixture_model(apose_model_path, frames)
    _, specs = _specs("apose")
    opts = F.FitOptions(progress=False, iterations=[30, 60, 30])
    gt = F.FitParams.zeros(frames)
    gt.global_orient[:, 1] = 0.35
    for row in range(2):  # both elbows bent a further 0.6 rad about their own (derived) flexion axis
        gt.body_pose[:, specs["body_pose"].joints[2 * row]] = torch.as_tensor(0.6 * specs["body_pose"].frames[2 * row, 0])
    kp, t = _exact_keypoints(model, gt, 3.5, opts)
    res = F.fit_sequence(model, kp, SIZE, opts, keypoints_fn=fixture_keypoints_fn)
    q = res.params
    assert torch.all((_pelvis_depth(model, q, res.t) / _pelvis_depth(model, gt, t) - 1).abs() < 0.03)
    assert torch.all((q.global_orient[:, 1] - 0.35).abs() < 0.1), q.global_orient
    assert float(priors.hinge_limit_penalty(q.body_pose, specs["body_pose"]).max()) < 1e-3
    err = F.reprojection_errors(model, q, kp, res.K, res.t, 0.1, fixture_keypoints_fn)
    assert np.nanmax(err["body"]) < 2.0, err
    # bent beyond the rest's 40 deg towards the truth (74 deg); the exact bend is the known limitation
    flex_fit, flex_gt = _elbow_flexion(model, q), _elbow_flexion(model, gt)
    assert torch.all(flex_fit > math.radians(48)) and torch.all(flex_fit < flex_gt + 0.1), (flex_fit, flex_gt)


def test_source_intrinsics_follow_the_crop():
    """A crop of a wide source keeps the source camera: same focal per source pixel, off-centre principal point."""
    # whole square source: the frame's own centred camera
    whole = {"source_size": [128, 128], "transform": {"scale": 1.0, "offset": [0.0, 0.0]}}
    np.testing.assert_allclose(F.source_intrinsics(whole, 30.0), F.intrinsics(128, 30.0))
    # a 240 px square at (300, 100) of a 640x480 video, resized to 128 px
    a = 128 / 240
    meta = {"source_size": [640, 480], "transform": {"scale": a, "offset": [-a * 300, -a * 100]}}
    K = F.source_intrinsics(meta, 45.0)
    assert K[0, 0] == pytest.approx(a * F.focal_from_fov(480, 45.0))
    # the source centre (320, 240) lands where the transform puts it
    assert K[0, 2] == pytest.approx(a * (320 - 300)) and K[1, 2] == pytest.approx(a * (240 - 100))
    # a point on the optical axis of the source projects to the source centre through the crop
    X = np.array([0.0, 0.0, 2.0])
    uv = (K @ X)[:2] / X[2]
    np.testing.assert_allclose(uv / a + [300, 100], [320, 240])
