"""The open SMPL-X-format model built from Anny: loads in smplx, poses, agrees with the Anny mapping."""

import numpy as np
import pytest
import torch

anny = pytest.importorskip("anny")
smplx = pytest.importorskip("smplx")

from talkinnerf.body.anny_map import openpose_from_anny, smplx_joints_from_anny  # noqa: E402
from talkinnerf.body.joints import JOINT_INDEX  # noqa: E402
from talkinnerf.body.model import load_body_model  # noqa: E402
from talkinnerf.body.openpose import openpose_from_smplx  # noqa: E402
from talkinnerf.body.parts import vertex_part_labels  # noqa: E402


@pytest.fixture(scope="session")
def body(open_model_path):
    return load_body_model(open_model_path)


@pytest.fixture(scope="session")
def anny_model():
    return anny.Anny(facial_actions="all")


def _moved(body, **pose):
    with torch.no_grad():
        rest = body().vertices[0]
        posed = body(**pose).vertices[0]
    return ((posed - rest).norm(dim=-1) > 1e-4).numpy()  # 0.1 mm


def test_loads_with_plain_smplx_create(open_model_path):
    model = smplx.create(str(open_model_path), model_type="smplx", use_pca=False, num_expression_coeffs=10)
    out = model(body_pose=torch.full((1, 63), 0.1))
    assert out.vertices.shape == (1, 13718, 3) and torch.isfinite(out.vertices).all()


def test_missing_file_message(tmp_path):
    with pytest.raises(FileNotFoundError, match="build-open-model"):
        load_body_model(tmp_path / "nope.npz")


def test_part_labels_cover_parts(body):
    labels = vertex_part_labels(body)
    assert labels.shape == (13718,)
    assert set(np.unique(labels).tolist()) == {1, 2, 3, 4}


def test_jaw_moves_only_mouth_and_chin(body):
    moved = _moved(body, jaw_pose=torch.tensor([[0.3, 0.0, 0.0]]))
    v = body.v_template.numpy()
    head_y = body().joints[0, JOINT_INDEX["head"], 1].item()
    assert moved.sum() > 100
    assert (v[moved, 1] < head_y + 0.05).all()          # nothing above the eyes/forehead
    assert (np.abs(v[moved, 0]) < 0.09).all()            # nothing outside the head's width
    assert (v[moved, 1] > head_y - 0.2).all()            # not the torso


@pytest.mark.parametrize("side", ["left", "right"])
def test_each_finger_moves_only_its_vertices(body, side):
    weights = body.lbs_weights.numpy()
    hand_pose = f"{side}_hand_pose"
    for f, finger in enumerate(("index", "middle", "pinky", "ring", "thumb")):
        pose = torch.zeros(1, 45)
        pose[0, 3 * f * 3: 3 * f * 3 + 9] = 0.4   # bend the finger's 3 joints
        moved = _moved(body, **{hand_pose: pose})
        own = sum(weights[:, JOINT_INDEX[f"{side}_{finger}{i}"]] for i in (1, 2, 3))
        assert moved.sum() > 20
        assert (own[moved] > 0).all(), finger


def test_betas_change_height(body):
    heights = []
    for b in (-1.0, 1.0):
        betas = torch.zeros(1, 10)
        betas[0, 0] = b
        with torch.no_grad():
            v = body(betas=betas).vertices[0]
        heights.append((v[:, 1].max() - v[:, 1].min()).item())
    assert abs(heights[0] - heights[1]) > 0.05


def test_expression_moves_only_face(body):
    v = body.v_template.numpy()
    labels = vertex_part_labels(body)
    for e in range(10):
        expr = torch.zeros(1, 10)
        expr[0, e] = 1.0
        moved = _moved(body, expression=expr)
        assert moved.sum() > 5
        assert (labels[moved] == 4).mean() > 0.9 and (v[moved, 1] > 1.3 * v[:, 1].max() / 2).all()
    # expressions never move joints (the regressor avoids expression vertices)
    expr = torch.ones(1, 10)
    with torch.no_grad():
        assert torch.allclose(body(expression=expr).joints[:, :55], body().joints[:, :55], atol=1e-6)


def _anny_rest(anny_model, age=2 / 3):
    pk = {"age": torch.tensor([age], dtype=anny_model.dtype)}
    with torch.no_grad():
        rest = anny_model(phenotype_kwargs=pk)
        return anny_model(pose_parameters={"root": rest["rest_bone_poses"][:, 0]}, phenotype_kwargs=pk)


def test_regressed_joints_match_anny_at_rest(body, anny_model):
    with torch.no_grad():
        joints = body().joints[0, :55].double()
    anny_joints = smplx_joints_from_anny(anny_model, _anny_rest(anny_model))[0]
    assert (joints - anny_joints).norm(dim=-1).max() < 1e-3


def test_openpose_agree_at_rest(body, anny_model):
    with torch.no_grad():
        out = body()
    a = openpose_from_anny(anny_model, _anny_rest(anny_model))
    s = openpose_from_smplx(out, body)
    for key, shape in (("body", 25), ("left_hand", 21), ("right_hand", 21), ("face", 70)):
        assert s[key].shape == (1, shape, 3)
        assert (a[key].float() - s[key]).norm(dim=-1).max() < 0.01, key


def test_anny_mapping_follows_pose(anny_model):
    """A bent Anny elbow moves the mapped wrist but not the shoulder."""
    rest = _anny_rest(anny_model)
    root = rest["bone_poses"][:, 0]
    bend = torch.eye(4, dtype=anny_model.dtype)[None].clone()
    bend[0, :3, :3] = torch.tensor([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=anny_model.dtype)
    with torch.no_grad():
        posed = anny_model(pose_parameters={"root": root, "lowerarm01.L": bend},
                           phenotype_kwargs={"age": torch.tensor([2 / 3], dtype=anny_model.dtype)})
    j0 = smplx_joints_from_anny(anny_model, rest)[0]
    j1 = smplx_joints_from_anny(anny_model, posed)[0]
    assert (j1[JOINT_INDEX["left_shoulder"]] - j0[JOINT_INDEX["left_shoulder"]]).norm() < 1e-6
    assert (j1[JOINT_INDEX["left_wrist"]] - j0[JOINT_INDEX["left_wrist"]]).norm() > 0.05
    assert (j1[JOINT_INDEX["right_wrist"]] - j0[JOINT_INDEX["right_wrist"]]).norm() < 1e-6
