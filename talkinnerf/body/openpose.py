"""OpenPose keypoints (BODY_25, 2 x hand 21, face 70) from a SMPL-X model output.

The definitions match :func:`talkinnerf.body.anny_map.openpose_from_anny`, so the demo's ground-truth
keypoints (computed on Anny) and the fitted open model's keypoints agree:
- body joints (shoulders, elbows, wrists, hips, knees, ankles) = SMPL-X joints; OpenPose neck = SMPL-X
  ``neck`` joint; mid-hip = ``pelvis``; nose, eyes, ears, big/small toes, heels = single vertices
  (smplx's "extra joints": ``vertex_ids`` of the model file);
- hand 21 = wrist, then per finger (thumb, index, middle, ring, pinky) the 3 SMPL-X finger joints and a
  fingertip vertex;
- face 70 = 17 contour landmarks (iBUG 0..16), 51 static landmarks (iBUG 17..67), then the right and left
  pupils = the body's right/left eye vertices.
"""

from __future__ import annotations

import torch

from .joints import JOINT_INDEX, NUM_JOINTS

NUM_EXTRA = 21          # nose, reye, leye, rear, lear, LBigToe, LSmallToe, LHeel, RBigToe, RSmallToe, RHeel, 10 tips
NUM_STATIC_LMK = 51
NUM_CONTOUR_LMK = 17
EXTRA_NAMES = ("nose", "reye", "leye", "rear", "lear", "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe",
               "RHeel", "lthumb", "lindex", "lmiddle", "lring", "lpinky", "rthumb", "rindex", "rmiddle",
               "rring", "rpinky")
_E = {n: i for i, n in enumerate(EXTRA_NAMES)}

BODY25_NAMES = ("nose", "neck", "rshoulder", "relbow", "rwrist", "lshoulder", "lelbow", "lwrist", "midhip",
                "rhip", "rknee", "rankle", "lhip", "lknee", "lankle", "reye", "leye", "rear", "lear",
                "lbigtoe", "lsmalltoe", "lheel", "rbigtoe", "rsmalltoe", "rheel")

# BODY_25 source: ("j", joint name) or ("e", extra name)
_BODY25_SOURCE = (
    ("e", "nose"), ("j", "neck"), ("j", "right_shoulder"), ("j", "right_elbow"), ("j", "right_wrist"),
    ("j", "left_shoulder"), ("j", "left_elbow"), ("j", "left_wrist"), ("j", "pelvis"),
    ("j", "right_hip"), ("j", "right_knee"), ("j", "right_ankle"),
    ("j", "left_hip"), ("j", "left_knee"), ("j", "left_ankle"),
    ("e", "reye"), ("e", "leye"), ("e", "rear"), ("e", "lear"),
    ("e", "LBigToe"), ("e", "LSmallToe"), ("e", "LHeel"), ("e", "RBigToe"), ("e", "RSmallToe"), ("e", "RHeel"),
)


def _hand_source(side: str) -> tuple[tuple[str, str], ...]:
    src = [("j", f"{side}_wrist")]
    for finger in ("thumb", "index", "middle", "ring", "pinky"):
        src += [("j", f"{side}_{finger}{i}") for i in (1, 2, 3)]
        src.append(("e", f"{side[0]}{finger}"))
    return tuple(src)


def _indices(source) -> list[int]:
    """Indices into cat([joints(55), extra(21)])."""
    return [JOINT_INDEX[n] if kind == "j" else NUM_JOINTS + _E[n] for kind, n in source]


BODY25_INDEX = _indices(_BODY25_SOURCE)
LEFT_HAND_INDEX = _indices(_hand_source("left"))
RIGHT_HAND_INDEX = _indices(_hand_source("right"))


def assemble_openpose(joints: torch.Tensor, extra: torch.Tensor, static_lmk: torch.Tensor,
                      contour_lmk: torch.Tensor) -> dict[str, torch.Tensor]:
    """Arrange model points into the four OpenPose arrays.

    Args:
        joints: (B, 55, 3) SMPL-X joints; extra: (B, 21, 3) in ``EXTRA_NAMES`` order;
        static_lmk: (B, 51, 3) iBUG 17..67; contour_lmk: (B, 17, 3) iBUG 0..16.
    Returns:
        ``body`` (B,25,3), ``left_hand`` (B,21,3), ``right_hand`` (B,21,3), ``face`` (B,70,3).
    """
    points = torch.cat([joints, extra], dim=1)
    pupils = extra[:, [_E["reye"], _E["leye"]]]
    return {
        "body": points[:, BODY25_INDEX],
        "left_hand": points[:, LEFT_HAND_INDEX],
        "right_hand": points[:, RIGHT_HAND_INDEX],
        "face": torch.cat([contour_lmk, static_lmk, pupils], dim=1),
    }


def openpose_from_smplx(output, model=None) -> dict[str, torch.Tensor]:
    """OpenPose arrays from a ``smplx`` SMPLX forward output.

    Args:
        output: ``model(...)`` result whose ``joints`` are (B, 55 + 21 + 51 [+ 17], 3): skeleton joints,
            extra vertex joints, static face landmarks, and (``use_face_contour=True``, as
            :func:`talkinnerf.body.model.load_body_model` sets) the 17 contour landmarks.
        model: optional, the smplx model (only used to check it was built with face contour).
    Returns:
        dict ``body`` (B,25,3), ``left_hand`` (B,21,3), ``right_hand`` (B,21,3), ``face`` (B,70,3), in
        model space (plus ``transl``). Without contour landmarks the face contour rows are NaN.
    """
    joints = output.joints
    n = joints.shape[1]
    base = NUM_JOINTS + NUM_EXTRA + NUM_STATIC_LMK
    if n not in (base, base + NUM_CONTOUR_LMK):
        raise ValueError(f"smplx output has {n} joints; expected {base} or {base + NUM_CONTOUR_LMK} "
                         "(SMPL-X with hands/feet extra joints and face landmarks; load it with "
                         "talkinnerf.body.model.load_body_model)")
    if model is not None and n == base and getattr(model, "use_face_contour", False):
        raise ValueError("model uses face contour but output lacks contour landmarks")
    skel = joints[:, :NUM_JOINTS]
    extra = joints[:, NUM_JOINTS:NUM_JOINTS + NUM_EXTRA]
    static = joints[:, NUM_JOINTS + NUM_EXTRA:base]
    if n == base:
        contour = torch.full_like(static[:, :NUM_CONTOUR_LMK], float("nan"))
    else:
        contour = joints[:, base:]
    return assemble_openpose(skel, extra, static, contour)
