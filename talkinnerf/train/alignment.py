"""Per-frame corrections of the fitted SMPL-X, learned while training (`train.frame_alignment`).

A monocular fit is off by a few degrees and millimetres in every frame, differently in each. The canonical fields
then see the same glasses or lips land at a slightly different canonical point in every frame; a field with enough
resolution (the face planes) learns several copies and a held-out frame shows them superposed, a coarse one a blur.
EVA (NeurIPS 2024) names this misalignment the first cause of blurred faces and hands on monocular video and
corrects the fit per frame. Here each training frame gets a learned axis-angle offset for a few joints (by default
the global orientation, neck, head and wrists) and a root translation offset, both starting at zero, optimised by
the photometric loss through the skinning, and pulled to zero by a small L2 prior so a frame that the images do
not constrain keeps its fit. The offsets of a subject's training frames are used minus their mean: they correct
each frame's error about the fit, never the fit as a whole, because held-out frames and new motions are rendered
with the fit as it is; a common drift of every training frame would move the canonical body away from it (a first
version without this lost 2 dB on real faces at 500 iterations). The offsets are added to the fitted axis-angles: for the small corrections wanted this
spans the same neighbourhood of rotations as composing with a rotation, and keeps the fit's parametrisation.

Only training frames have offsets worth the name; evaluation and animation render the fit as it is (a held-out
frame or a new motion has no photometric signal to correct it). Not in the paper: `configs/paper.yaml` keeps it off.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

GLOBAL_ORIENT, NECK, HEAD, LEFT_WRIST, RIGHT_WRIST = 0, 12, 15, 20, 21
BODY_JOINTS = 22   # rows of FrameConditioning.poses_body


class FrameAlignment(nn.Module):
    """Learned per-frame offsets: ``rotation`` (F, J, 3) axis-angle for ``joints`` and ``translation`` (F, 3) metres,
    one row per (subject, frame) of the subjects it was built for (rows of each subject in frame order)."""

    def __init__(self, frame_counts: dict[str, int], joints: Sequence[int],
                 trained: dict[str, Sequence[int]] | None = None):
        super().__init__()
        joints = tuple(int(j) for j in joints)
        bad = [j for j in joints if not 0 <= j < BODY_JOINTS]
        if bad or len(set(joints)) != len(joints):
            raise ValueError(f"train.alignment_joints must be distinct body joints 0..{BODY_JOINTS - 1}, got {joints}")
        self.joints = joints
        self.subjects = list(frame_counts)
        starts, total = {}, 0
        for name in self.subjects:          # insertion order: the training subjects' order
            starts[name] = total
            total += int(frame_counts[name])
        self.starts = starts
        self.counts = {name: int(frame_counts[name]) for name in self.subjects}
        self.register_buffer("joint_index", torch.tensor(joints, dtype=torch.long), persistent=False)
        # weights of each row in its subject's mean (1/n over the trained frames; all frames when not given)
        weights = torch.zeros(total)
        for name in self.subjects:
            frames = list(range(self.counts[name])) if trained is None else sorted(set(int(f) for f in trained[name]))
            if frames and not 0 <= frames[0] <= frames[-1] < self.counts[name]:
                raise IndexError(f"frame alignment: trained frames of {name!r} outside its {self.counts[name]} frames")
            for f in frames:
                weights[starts[name] + f] = 1.0 / len(frames)
        self.register_buffer("mean_weights", weights, persistent=False)
        self.rotation = nn.Parameter(torch.zeros(total, len(joints), 3))
        self.translation = nn.Parameter(torch.zeros(total, 3))

    def row(self, subject: str, frame: int) -> int:
        if subject not in self.starts:
            raise KeyError(f"frame alignment has no subject {subject!r} (built for {self.subjects})")
        if not 0 <= frame < self.counts[subject]:
            raise IndexError(f"frame alignment: frame {frame} of subject {subject!r} is outside its "
                             f"{self.counts[subject]} fitted frames")
        return self.starts[subject] + int(frame)

    def forward(self, poses_body: torch.Tensor, origins: torch.Tensor, subject: str, frame: int
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Corrected (22,3) body axis-angles and ray origins (N,3) of one frame. Moving the body by +dt equals moving
        the rays by -dt (the rays live in the posed root frame)."""
        r = self.row(subject, frame)
        rotation, translation = self.centred(subject, r)
        poses = poses_body.index_add(0, self.joint_index.to(poses_body.device), rotation.to(poses_body))
        return poses, origins - translation.to(origins)

    def centred(self, subject: str, row: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Row ``row``'s offsets minus the mean over its subject's trained frames: (J,3) and (3,)."""
        rows = slice(self.starts[subject], self.starts[subject] + self.counts[subject])
        w = self.mean_weights[rows]
        mean_rot = torch.einsum("f,fjk->jk", w, self.rotation[rows])
        mean_tr = w @ self.translation[rows]
        return self.rotation[row] - mean_rot, self.translation[row] - mean_tr

    def prior(self, rotation_weight: float, translation_weight: float) -> torch.Tensor:
        """L2 pull towards the fit: mean over rows of the squared offsets (radians², metres²)."""
        return (rotation_weight * self.rotation.pow(2).sum((1, 2)).mean()
                + translation_weight * self.translation.pow(2).sum(1).mean())

    def summary(self) -> dict[str, float]:
        """Mean and largest applied (centred) offsets over the frames that moved (degrees, millimetres): for
        meta.json."""
        with torch.no_grad():
            parts = [self.centred(name, self.starts[name] + f) for name in self.subjects
                     for f in range(self.counts[name]) if self.mean_weights[self.starts[name] + f] > 0]
            if not parts:
                return {"frames_moved": 0}
            angles = torch.stack([p[0] for p in parts]).norm(dim=-1) * (180.0 / math.pi)    # (F, J)
            shifts = torch.stack([p[1] for p in parts]).norm(dim=-1) * 1000.0             # (F,)
            moved = (angles.amax(1) > 0) | (shifts > 0)
            if not bool(moved.any()):
                return {"frames_moved": 0}
            out = {"frames_moved": int(moved.sum())}
            for k, j in enumerate(self.joints):
                out[f"joint{j}_deg_mean"] = round(float(angles[moved, k].mean()), 3)
                out[f"joint{j}_deg_max"] = round(float(angles[moved, k].max()), 3)
            out["translation_mm_mean"] = round(float(shifts[moved].mean()), 3)
            out["translation_mm_max"] = round(float(shifts[moved].max()), 3)
            return out


def param_group(alignment: FrameAlignment, lr: float) -> dict:
    """Its own Adam group: a row is seen only when its frame is drawn, so its lr is set apart from the fields'."""
    return {"params": list(alignment.parameters()), "lr": lr, "name": "frame_alignment"}
