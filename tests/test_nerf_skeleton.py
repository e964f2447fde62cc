"""Rodrigues, forward kinematics, forward/inverse LBS round trips, blend-weight volume lookup."""

import math

import pytest
import torch
from scipy.spatial.transform import Rotation

from talkinnerf.nerf import skeleton as sk
from talkinnerf.nerf.synthetic import SMPLX_PARENTS, synthetic_joints
from talkinnerf.nerf.weights import bone_log_prior, padded_bbox, query_joint_weights, voxel_centres

torch.set_default_dtype(torch.float32)
PARENTS = torch.tensor(SMPLX_PARENTS)


def test_rodrigues_matches_scipy_and_is_rotation():
    aa = torch.randn(50, 3, dtype=torch.float64) * 2
    aa[0] = 0.0
    aa[1] = torch.tensor([1e-9, 0, 0])
    rot = sk.rodrigues(aa)
    ref = torch.from_numpy(Rotation.from_rotvec(aa.numpy()).as_matrix())
    assert torch.allclose(rot, ref, atol=1e-10)
    eye = torch.eye(3, dtype=torch.float64).expand(50, 3, 3)
    assert torch.allclose(rot @ rot.transpose(1, 2), eye, atol=1e-12)


def test_rodrigues_gradient_finite_at_zero():
    aa = torch.zeros(3, requires_grad=True)
    (sk.rodrigues(aa) * torch.randn(3, 3)).sum().backward()
    assert torch.isfinite(aa.grad).all()


def test_forward_kinematics_elbow_bend():
    joints = synthetic_joints()[:22]
    pose = torch.zeros(22, 3)
    pose[18, 2] = math.pi / 2                        # left elbow 90 deg about z: forearm (+x) turns to +y
    glob, posed = sk.forward_kinematics(sk.rodrigues(pose), joints, PARENTS[:22])
    forearm = joints[20, 0] - joints[18, 0]
    assert torch.allclose(posed[20], joints[18] + torch.tensor([0.0, forearm, 0.0]), atol=1e-6)
    assert torch.allclose(posed[:20], joints[:20], atol=1e-6)       # nothing else moved
    assert torch.allclose(glob[20], glob[18], atol=1e-6)             # rotation inherited by the child


def test_inverse_lbs_round_trip_one_hot():
    gen = torch.Generator().manual_seed(1)
    joints = synthetic_joints()[:22]
    rots = sk.rodrigues(0.5 * torch.randn(22, 3, generator=gen))
    glob, posed = sk.forward_kinematics(rots, joints, PARENTS[:22])
    canon = torch.randn(300, 3, generator=gen) * 0.4
    owner = torch.randint(0, 22, (300,), generator=gen)
    one_hot = torch.nn.functional.one_hot(owner, 22).float()
    obs = sk.forward_lbs(canon, one_hot, glob, joints, posed)
    assert not torch.allclose(obs, canon, atol=1e-2)
    rot, t = sk.inverse_transforms(glob, joints, posed)
    cands = sk.apply_per_joint(obs, rot, t)                          # (22,300,3)
    back = sk.blend(cands, one_hot.T)
    assert torch.allclose(back, canon, atol=1e-5)


def test_inverse_lbs_round_trip_smooth_volume_on_rigid_part():
    """Points in the middle of the left forearm, posed with a bent elbow + rotated root, come back through the
    HumanNeRF-style lookup (each joint's weight read at its own back-transformed point) in a smooth volume."""
    joints_all = synthetic_joints()
    joints = joints_all[:22]
    bbox = padded_bbox(torch.stack([joints_all.min(0).values, joints_all.max(0).values]), 0.1)
    prior = bone_log_prior(voxel_centres(bbox, 64), joints_all, PARENTS, list(range(22)), sigma=0.015)
    volume = torch.softmax(prior, dim=0)                             # smooth (trilinear) weights
    pose = torch.zeros(22, 3)
    pose[0] = torch.tensor([0.2, 0.5, -0.1])
    pose[18, 2] = 1.2
    glob, posed = sk.forward_kinematics(sk.rodrigues(pose), joints, PARENTS[:22])
    s = torch.linspace(0.45, 0.6, 20)[:, None]
    canon = joints[18] + s * (joints[20] - joints[18])               # forearm points (owned by the elbow)
    one_hot = torch.zeros(20, 22)
    one_hot[:, 18] = 1
    obs = sk.forward_lbs(canon, one_hot, glob, joints, posed)
    rot, t = sk.inverse_transforms(glob, joints, posed)
    cands = sk.apply_per_joint(obs, rot, t)
    weights = query_joint_weights(volume, cands, bbox)
    assert weights.shape == (22, 20)
    assert (weights[18] > 0.99).all()
    back = sk.blend(cands, weights)
    assert torch.allclose(back, canon, atol=1e-5)


def test_query_outside_box_is_zero():
    bbox = torch.tensor([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]])
    volume = torch.full((3, 8, 8, 8), 0.5)
    cands = torch.tensor([[[0.0, 0.0, 0.0], [1.5, 0.0, 0.0]], [[0.2, 0.1, 0.3], [0.0, 0.0, -3.0]]])
    w = query_joint_weights(volume, cands, bbox)
    assert torch.allclose(w, torch.tensor([[0.5, 0.0], [0.5, 0.0]]))


def test_bone_prior_assigns_fingers_to_wrist_when_hands_not_skinned():
    joints = synthetic_joints()
    fingertip = joints[27:28]                                         # left index tip (a hand joint)
    prior = bone_log_prior(fingertip, joints, PARENTS, list(range(22)), sigma=0.05)   # (23,1)
    assert prior[:, 0].argmax().item() == 20                          # left wrist
    prior52 = bone_log_prior(fingertip, joints, PARENTS, list(range(22)) + list(range(25, 55)), sigma=0.05)
    assert prior52.shape[0] == 53 and prior52[:, 0].argmax().item() >= 22


def test_check_parents_rejects_unsorted_tree():
    bad = PARENTS.clone()
    bad[5] = 7
    with pytest.raises(ValueError, match="parents"):
        sk.check_parents(bad, 22)
    sk.check_parents(PARENTS, 55)


def test_fk_and_lbs_match_smplx(open_model_path):
    """Our FK over all 55 joints and LBS with smplx's weights reproduce smplx's posed joints and vertices."""
    from talkinnerf.body.model import load_body_model

    model = load_body_model(open_model_path)
    gen = torch.Generator().manual_seed(0)
    pose, hands, jaw = (0.4 * torch.randn(22, 3, generator=gen), 0.3 * torch.randn(90, generator=gen),
                        0.2 * torch.randn(3, generator=gen))
    with torch.no_grad():
        zero = model(return_verts=True)
        out = model(global_orient=pose[:1], body_pose=pose[1:].reshape(1, 63), jaw_pose=jaw[None],
                    left_hand_pose=hands[None, :45], right_hand_pose=hands[None, 45:], return_verts=True)
    joints = zero.joints[0, :55]
    glob, posed = sk.forward_kinematics(sk.full_local_rotations(pose, jaw, hands), joints, model.parents)
    assert torch.allclose(posed, out.joints[0, :55], atol=1e-5)
    verts = sk.forward_lbs(zero.vertices[0], model.lbs_weights, glob, joints, posed)
    assert torch.allclose(verts, out.vertices[0], atol=1e-5)


def test_posed_bone_gate_lets_only_nearby_joints_claim_a_point():
    from talkinnerf.nerf.weights import posed_bone_gate

    # a root with two arms that end side by side: joint 1 owns bone 1->2, joint 3 owns bone 3->4
    joints = torch.tensor([[0.0, 0, 0], [0.2, 0, 0], [0.4, 0.0, 0], [0.2, 0.1, 0], [0.4, 0.1, 0]])
    parents = torch.tensor([-1, 0, 1, 0, 3])
    skinned = [0, 1, 3]
    on_lower = torch.tensor([[0.3, 0.01, 0.0]])            # 1 cm from the lower arm, 9 cm from the upper
    between = torch.tensor([[0.3, 0.05, 0.0]])              # as near to both arms
    gate = posed_bone_gate(torch.cat([on_lower, between]), joints, parents, skinned, slack=0.02)
    assert gate.shape == (3, 2)
    assert gate[:, 0].tolist() == [0.0, 1.0, 0.0]            # only the lower arm's joint claims it
    assert gate[:, 1].tolist() == [0.0, 1.0, 1.0]            # both arms may, the root's bones are 6.2 cm farther
    wide = posed_bone_gate(torch.cat([on_lower, between]), joints, parents, skinned, slack=1.0)
    assert bool((wide == 1).all())


def test_disputed_points_and_gate_pairs():
    from talkinnerf.nerf.weights import disputed_points, gate_pairs

    # point 0: joints 0 and 1 both claim it (weights 0.9, 0.8) with candidates 30 cm apart -> disputed;
    # point 1: joint 1 claims it, joint 2 has a far candidate but a weak weight -> not disputed
    joint = torch.tensor([0, 1, 1, 2])
    point = torch.tensor([0, 0, 1, 1])
    cand = torch.tensor([[0.0, 0, 0], [0.3, 0, 0], [0.0, 0, 0], [0.5, 0, 0]])
    w = torch.tensor([0.9, 0.8, 0.9, 0.3])
    assert disputed_points(joint, point, cand, w, 2).tolist() == [True, False]
    gate = torch.tensor([[0.0, 0.0], [1.0, 1.0], [1.0, 0.0]])       # (K=3, N=2): joint 0 far from both points
    asked = []

    def gate_of(idx):
        asked.append(idx.tolist())
        return gate[:, idx]

    assert gate_pairs(joint, point, cand, w, 2, gate_of).tolist() == [0.0, 1.0, 1.0, 1.0]   # only point 0 is gated
    assert asked == [[0]]                                         # and only its gate is computed


def test_posed_gate_changes_only_disputed_points_and_keeps_the_nearest_bone_candidate():
    from talkinnerf.nerf import packed
    from talkinnerf.nerf.config import ModelConfig
    from talkinnerf.nerf.model import TalkinNeRF
    from talkinnerf.nerf.synthetic import synthetic_conditioning
    from talkinnerf.nerf.weights import bone_sq_distances, disputed_points

    cond = synthetic_conditioning(pose_scale=1.0)          # strong poses: limbs cross the body and each other
    gen = torch.Generator().manual_seed(0)
    box = cond.canonical_bbox
    pts = box[0] - 0.2 + (box[1] - box[0] + 0.4) * torch.rand(8000, 3, generator=gen)
    out = {}
    for gate in (0.0, 0.02):
        torch.manual_seed(0)     # a wider bone prior (6 cm): ~190 of 8000 points are claimed by two joints far apart
        model = TalkinNeRF(ModelConfig(posed_gate=gate, prior_sigma=0.06), 1).eval()   # step 0: no D_nr
        with torch.no_grad():
            state = packed.frame_state(model, cond, 0, torch.float32, torch.device("cpu"))
            res = packed.evaluate_points(model, state, pts, 0.0)
            cands = sk.apply_per_joint(pts, state.skel["inv_rot"], state.skel["inv_t"])     # (K,N,3)
            w = query_joint_weights(state.volume, cands, state.bbox)
        out[gate] = (res, state, cands, w)
    (free, _, cands, w), (gated, state, _, _) = out[0.0], out[0.02]
    k, n = w.shape
    disputed = disputed_points(torch.arange(k).repeat_interleave(n), torch.arange(n).repeat(k),
                               cands.reshape(-1, 3), w.reshape(-1), n)
    x_free = torch.full((n, 3), float("nan")).index_put((free["active"],), free["x_canonical"])
    x_gated = torch.full((n, 3), float("nan")).index_put((gated["active"],), gated["x_canonical"])
    both = ~x_free.isnan().any(1) & ~x_gated.isnan().any(1)
    calm = both & ~disputed
    assert int(calm.sum()) > 500 and torch.allclose(x_free[calm], x_gated[calm], atol=1e-6)
    hot = both & disputed
    assert int(hot.sum()) > 50
    nearest = bone_sq_distances(pts, state.gate_joints, cond.parents, model.skinned).argmin(1)  # (N,)
    target = cands[nearest, torch.arange(n)]
    off_free = (x_free[hot] - target[hot]).norm(dim=-1).mean()
    off_gated = (x_gated[hot] - target[hot]).norm(dim=-1).mean()
    assert off_gated < 0.5 * off_free      # the blend stays with the part the posed point is nearest to


def test_the_humannerf_baseline_keeps_its_published_inverse_lbs_whatever_the_gate():
    """config.yaml's posed gate reaches the baseline through train.model; HumanNeRF as published has no gate."""
    from talkinnerf.nerf import packed
    from talkinnerf.nerf.config import ModelConfig
    from talkinnerf.nerf.model import TalkinNeRF
    from talkinnerf.nerf.synthetic import synthetic_conditioning

    cond = synthetic_conditioning(pose_scale=1.0)
    gates = {}
    for baseline in ("none", "humannerf"):
        torch.manual_seed(0)
        model = TalkinNeRF(ModelConfig(posed_gate=0.02, baseline=baseline), 1).eval()
        state = packed.frame_state(model, cond, 0, torch.float32, torch.device("cpu"))
        gates[baseline] = (state.gate_slack, state.gate_joints)
    assert gates["none"][0] == 0.02 and gates["none"][1] is not None
    assert gates["humannerf"] == (0.0, None)
