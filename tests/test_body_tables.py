"""Joint table, part labels, OpenPose index tables (no Anny needed)."""

import numpy as np
import pytest

from talkinnerf.body.joints import NUM_BODY_JOINTS, SMPLX_JOINT_NAMES, SMPLX_PARENTS, joint_index
from talkinnerf.body.openpose import BODY25_INDEX, LEFT_HAND_INDEX, RIGHT_HAND_INDEX, assemble_openpose
from talkinnerf.body.parts import JOINT_PARTS, PART_LABELS, joint_part, vertex_part_labels


def test_joint_table_matches_smplx():
    smplx_names = pytest.importorskip("smplx.joint_names").JOINT_NAMES
    assert list(SMPLX_JOINT_NAMES) == list(smplx_names[:55])
    assert NUM_BODY_JOINTS == 22 and SMPLX_PARENTS[0] == -1
    assert all(p < j for j, p in enumerate(SMPLX_PARENTS))   # parents come first
    assert SMPLX_JOINT_NAMES[SMPLX_PARENTS[joint_index("left_index3")]] == "left_index2"
    assert SMPLX_JOINT_NAMES[SMPLX_PARENTS[joint_index("jaw")]] == "head"


def test_joint_parts():
    assert joint_part(joint_index("left_collar")) == PART_LABELS["body"]
    assert joint_part(joint_index("right_shoulder")) == PART_LABELS["arms"]
    assert joint_part(joint_index("left_wrist")) == PART_LABELS["hands"]
    assert joint_part(joint_index("right_thumb3")) == PART_LABELS["hands"]
    assert joint_part(joint_index("jaw")) == PART_LABELS["head"]
    assert joint_part(joint_index("neck")) == PART_LABELS["body"]
    assert set(JOINT_PARTS.tolist()) == {1, 2, 3, 4}
    with pytest.raises(ValueError):
        joint_part(55)


def test_vertex_part_labels_argmax():
    w = np.zeros((3, 55))
    w[0, joint_index("head")] = 0.6
    w[0, joint_index("neck")] = 0.4
    w[1, joint_index("left_elbow")] = 1.0
    w[2, joint_index("left_wrist")] = 0.3
    w[2, joint_index("left_index1")] = 0.7
    assert vertex_part_labels(w).tolist() == [4, 2, 3]
    with pytest.raises(ValueError):
        vertex_part_labels(np.zeros((3, 24)))


def test_openpose_assembly_order():
    import torch
    joints = torch.arange(55.0)[None, :, None].repeat(1, 1, 3)
    extra = (100 + torch.arange(21.0))[None, :, None].repeat(1, 1, 3)
    op = assemble_openpose(joints, extra, torch.zeros(1, 51, 3), torch.ones(1, 17, 3))
    body = op["body"][0, :, 0].tolist()
    assert body[0] == 100 and body[1] == joint_index("neck") and body[8] == joint_index("pelvis")
    assert body[2] == joint_index("right_shoulder") and body[5] == joint_index("left_shoulder")
    assert body[15] == 101 and body[16] == 102   # reye, leye
    lh = op["left_hand"][0, :, 0].tolist()
    assert lh[:5] == [joint_index("left_wrist"), joint_index("left_thumb1"), joint_index("left_thumb2"),
                      joint_index("left_thumb3"), 111]
    assert op["right_hand"][0, 4, 0] == 116 and op["right_hand"][0, 20, 0] == 120
    assert op["face"].shape == (1, 70, 3) and op["face"][0, 0, 0] == 1 and op["face"][0, 68, 0] == 101
    assert len(BODY25_INDEX) == 25 and len(LEFT_HAND_INDEX) == len(RIGHT_HAND_INDEX) == 21
