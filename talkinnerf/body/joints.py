"""SMPL-X joint table: the 55 skeleton joints in SMPL-X order and their kinematic tree.

Shared by every stage (fitting, demo ground truth, skinning in the NeRF), so the order here is the
order of every ``(…, 55, 3)`` array in the project (see docs/contracts.md).
"""

from __future__ import annotations

_FINGERS = ("index", "middle", "pinky", "ring", "thumb")

SMPLX_JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee",
    "spine2", "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot",
    "neck", "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "jaw", "left_eye_smplhf", "right_eye_smplhf",
) + tuple(f"left_{f}{i}" for f in _FINGERS for i in (1, 2, 3)) \
  + tuple(f"right_{f}{i}" for f in _FINGERS for i in (1, 2, 3))

NUM_JOINTS = 55
NUM_BODY_JOINTS = 22          # pelvis .. right_wrist (global orient + 21 body_pose joints)
NUM_HAND_JOINTS = 15          # per hand
JAW_INDEX = 22
LEFT_EYE_INDEX = 23
RIGHT_EYE_INDEX = 24
LEFT_HAND_START = 25          # left_index1
RIGHT_HAND_START = 40         # right_index1

_BODY_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)


def _hand_parents(wrist: int, start: int) -> tuple[int, ...]:
    # each finger is a chain of 3 joints hanging off the wrist
    parents: list[int] = []
    for f in range(5):
        base = start + 3 * f
        parents += [wrist, base, base + 1]
    return tuple(parents)


SMPLX_PARENTS: tuple[int, ...] = (
    _BODY_PARENTS + (15, 15, 15)                      # jaw, left eye, right eye hang off the head
    + _hand_parents(20, LEFT_HAND_START)
    + _hand_parents(21, RIGHT_HAND_START)
)

JOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(SMPLX_JOINT_NAMES)}

assert len(SMPLX_JOINT_NAMES) == NUM_JOINTS and len(SMPLX_PARENTS) == NUM_JOINTS


def joint_index(name: str) -> int:
    """Index of a SMPL-X joint by name; ValueError names the unknown joint."""
    try:
        return JOINT_INDEX[name]
    except KeyError:
        raise ValueError(f"unknown SMPL-X joint {name!r}") from None
