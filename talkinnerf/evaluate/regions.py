"""Face and hand crops for region metrics, from the fitted SMPL-X joints projected into the frame.

The paper crops with a face detector (3DDFA) and DensePose hand boxes; we use what every subject has:
the fitted joints. Boxes have a fixed side, a fraction of the frame size (so they scale with the frame),
centred on the mean projection of the region's joints and shifted to lie inside the frame.
"""

from __future__ import annotations

import numpy as np

from talkinnerf.camera import project
from talkinnerf.body.joints import JAW_INDEX, LEFT_EYE_INDEX, LEFT_HAND_START, RIGHT_EYE_INDEX, RIGHT_HAND_START

HEAD_INDEX, LEFT_WRIST, RIGHT_WRIST = 15, 20, 21
FACE_JOINTS = (HEAD_INDEX, JAW_INDEX, LEFT_EYE_INDEX, RIGHT_EYE_INDEX)
LEFT_HAND_JOINTS = (LEFT_WRIST, *range(LEFT_HAND_START, LEFT_HAND_START + 15))
RIGHT_HAND_JOINTS = (RIGHT_WRIST, *range(RIGHT_HAND_START, RIGHT_HAND_START + 15))

Box = tuple[int, int, int, int]   # (r0, r1, c0, c1), end-exclusive


def centred_box(centre_uv: np.ndarray, side: int, size: int) -> Box | None:
    """A side x side box around (u, v), shifted inside a size x size frame; None if the centre is outside."""
    u, v = float(centre_uv[0]), float(centre_uv[1])
    if not (0 <= u < size and 0 <= v < size):
        return None
    side = max(1, min(side, size))
    r0 = int(round(v - side / 2))
    c0 = int(round(u - side / 2))
    r0 = min(max(r0, 0), size - side)
    c0 = min(max(c0, 0), size - side)
    return r0, r0 + side, c0, c0 + side


def region_boxes(joints: np.ndarray, K: np.ndarray, R: np.ndarray, t: np.ndarray, size: int,
                 face_frac: float = 0.16, hand_frac: float = 0.10) -> dict[str, Box | None]:
    """Boxes "face", "left_hand", "right_hand" for one frame. joints (55,3) posed world joints."""
    uv, _ = project(joints, K, R, t)
    face_side = int(round(face_frac * size))
    hand_side = int(round(hand_frac * size))
    return {
        "face": centred_box(uv[list(FACE_JOINTS)].mean(0), face_side, size),
        "left_hand": centred_box(uv[list(LEFT_HAND_JOINTS)].mean(0), hand_side, size),
        "right_hand": centred_box(uv[list(RIGHT_HAND_JOINTS)].mean(0), hand_side, size),
    }


def crop(image: np.ndarray, box: Box) -> np.ndarray:
    r0, r1, c0, c1 = box
    return image[r0:r1, c0:c1]
