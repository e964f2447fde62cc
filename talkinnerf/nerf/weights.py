"""D_r's blend weights: a canonical-space weight volume decoded by transposed 3D convolutions (HumanNeRF style).

The volume covers the subject's padded canonical bbox (so one decoder serves subjects of different sizes: it lives
in normalised box coordinates). A Gaussian "bone" prior built from the subject's canonical joints is added in log
space before the channel softmax, so skinning is sensible from step 0 and the decoder learns a correction.
Channel k < K is the weight of skinned joint k; channel K is background (empty space).
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

BACKGROUND_LOG_PRIOR = -8.0  # = a bone's log-prior 4 sigma away: beyond that, empty space wins


class WeightVolumeDecoder(nn.Module):
    """Learned latent (volume_latent,) -> logits (K+1, S, S, S): Linear to 4^3, then ConvTranspose3d x2 per level."""

    def __init__(self, num_joints: int, latent_dim: int, size: int, channels: int) -> None:
        super().__init__()
        self.num_joints = num_joints
        self.size = size
        self.channels = channels
        self.latent = nn.Parameter(torch.randn(latent_dim) * 0.1)
        self.fc = nn.Linear(latent_dim, channels * 4 ** 3)
        levels = int(math.log2(size)) - 2                     # 4 -> size, x2 per level
        convs, ch = [], channels
        for level in range(levels):
            last = level == levels - 1
            out = num_joints + 1 if last else max(ch // 2, 8)
            convs.append(nn.ConvTranspose3d(ch, out, kernel_size=4, stride=2, padding=1))
            ch = out
        self.convs = nn.ModuleList(convs)
        # the last level emits the K+1 logits directly; it starts near zero, i.e. (almost) at the bone prior
        nn.init.zeros_(self.out.bias)
        nn.init.normal_(self.out.weight, std=1e-3)

    @property
    def out(self) -> nn.ConvTranspose3d:
        return self.convs[-1]

    def forward(self) -> torch.Tensor:
        h = F.leaky_relu(self.fc(self.latent), 0.2).reshape(1, self.channels, 4, 4, 4)
        for conv in self.convs[:-1]:
            h = F.leaky_relu(conv(h), 0.2)
        return self.convs[-1](h)[0]                            # (K+1, S, S, S)


def voxel_centres(bbox: torch.Tensor, size: int) -> torch.Tensor:
    """Voxel centres (S,S,S,3) of a volume spanning bbox (2,3) corner to corner, indexed [z, y, x] like grid_sample."""
    axes = [torch.linspace(float(bbox[0, a]), float(bbox[1, a]), size, device=bbox.device) for a in range(3)]
    z, y, x = torch.meshgrid(axes[2], axes[1], axes[0], indexing="ij")
    return torch.stack([x, y, z], dim=-1)


def owned_bones(parents: torch.Tensor, skinned: list[int]) -> tuple[list[int], list[int], list[int]]:
    """Bones (start joint, end joint, owning channel) of a tree: a bone parent->child belongs to the nearest skinned
    ancestor-or-self of the parent (so a wrist owns the fingers when the hand joints are not skinned); leaves also
    own a point at themselves (start = end)."""
    par = parents.tolist()
    channel = {j: c for c, j in enumerate(skinned)}
    owner: list[int] = []
    for j in range(len(par)):
        owner.append(channel[j] if j in channel else (owner[par[j]] if par[j] >= 0 else -1))
    has_child = {p for p in par if p >= 0}
    starts, ends, owners = [], [], []
    for j in range(1, len(par)):
        if owner[par[j]] >= 0:
            starts.append(par[j]); ends.append(j); owners.append(owner[par[j]])
    for j in range(len(par)):
        if j not in has_child and owner[j] >= 0:
            starts.append(j); ends.append(j); owners.append(owner[j])
    return starts, ends, owners


def bone_sq_distances(points: torch.Tensor, joints: torch.Tensor, parents: torch.Tensor, skinned: list[int]
                      ) -> torch.Tensor:
    """(N,K) squared distance of each point (N,3) to the nearest bone each skinned joint owns (owned_bones) in the
    skeleton ``joints`` (J,3); inf for a joint that owns no bone."""
    starts, ends, owners = owned_bones(parents[:len(joints)], skinned)
    a, b = joints[starts], joints[ends]                                       # (B,3)
    ab = b - a
    t = (((points[:, None] - a) * ab).sum(-1) / (ab * ab).sum(-1).clamp_min(1e-12)).clamp(0, 1)
    d2 = ((points[:, None] - (a + t[..., None] * ab)) ** 2).sum(-1)          # (N,B)
    idx = torch.tensor(owners, device=points.device).expand_as(d2)
    out = torch.full((points.shape[0], len(skinned)), float("inf"), device=points.device, dtype=points.dtype)
    return out.scatter_reduce(1, idx, d2, reduce="amin")


def bone_log_prior(centres: torch.Tensor, joints: torch.Tensor, parents: torch.Tensor, skinned: list[int],
                   sigma: float) -> torch.Tensor:
    """Log Gaussian distance to each skinned joint's bones (owned_bones), plus the background channel.

    centres (...,3); joints (J,3) all rest joints; parents (J,); skinned: indices of the K joints that get a
    channel. Returns (K+1, ...) log-prior (-1e4 for a joint without bones).
    """
    d2 = bone_sq_distances(centres.reshape(-1, 3), joints, parents, skinned)
    per_joint = torch.where(torch.isinf(d2), torch.full_like(d2, -1e4), -d2 / (2 * sigma ** 2))
    bg = torch.full_like(per_joint[:, :1], BACKGROUND_LOG_PRIOR)
    return torch.cat([per_joint, bg], dim=1).T.reshape(len(skinned) + 1, *centres.shape[:-1])


CLAIM_WEIGHT = 0.5      # a candidate whose own joint's weight exceeds this claims the point
CLAIMS_APART = 0.05     # metres: two claiming candidates this far apart cannot both be the point's canonical position


def disputed_points(joint: torch.Tensor, point: torch.Tensor, cand: torch.Tensor, w: torch.Tensor, n: int
                    ) -> torch.Tensor:
    """(n,) bool: points whose inverse-LBS candidates disagree. Pairs (``joint`` (M,), ``point`` (M,) into n
    points) carry each candidate (M,3) and the weight (M,) of its joint there; a point is disputed where a
    candidate with weight > CLAIM_WEIGHT lies more than CLAIMS_APART from the point's strongest candidate."""
    best = torch.full((n,), -1.0, dtype=w.dtype, device=w.device).scatter_reduce(0, point, w, reduce="amax")
    is_best = w >= best.index_select(0, point)
    # the strongest candidate of each point (among equal weights, the one of the highest joint index)
    rank = torch.where(is_best, joint, torch.full_like(joint, -1))
    top = torch.full((n,), -1, dtype=joint.dtype, device=joint.device).scatter_reduce(0, point, rank, reduce="amax")
    strongest = is_best & (joint == top.index_select(0, point))              # one pair per point
    anchor = cand.new_zeros(n, 3).index_put((point[strongest],), cand[strongest])
    far = (w > CLAIM_WEIGHT) & ((cand - anchor.index_select(0, point)).norm(dim=-1) > CLAIMS_APART)
    return torch.zeros(n, dtype=torch.bool, device=w.device).index_fill(0, point[far], True)


def posed_bone_gate(points: torch.Tensor, posed_joints: torch.Tensor, parents: torch.Tensor, skinned: list[int],
                    slack: float) -> torch.Tensor:
    """(K,N) 1/0: whether skinned joint k may claim posed point n in inverse LBS. A joint may when its posed bones
    lie at most ``slack`` (metres) farther from the point than the nearest posed bone of any joint (the model
    applies it only where the candidates disagree: gate_pairs). Inverse LBS maps a point through every joint and
    blends the candidates that the canonical weights accept; where two body parts touch (a hand on the chest, two
    hands together) both candidates are accepted and the blend lands between them, far from either. The posed
    skeleton knows which part is near the point; the canonical volume cannot."""
    d = bone_sq_distances(points, posed_joints, parents, skinned).sqrt()      # (N,K)
    nearest = d.min(1, keepdim=True).values
    return (d <= nearest + slack).T.to(points.dtype)


def gate_pairs(joint: torch.Tensor, point: torch.Tensor, cand: torch.Tensor, w: torch.Tensor, n: int,
               gate_of: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """(M,) factor of each (joint, point) pair's weight: where the point is disputed (disputed_points), its gate
    ``gate_of(points)`` ((K,D) for D point indices, e.g. posed_bone_gate of those points); 1 elsewhere, so that only
    points whose candidates disagree change (and only they pay for the gate)."""
    disputed = disputed_points(joint, point, cand, w, n)
    factor = torch.ones_like(w)
    idx = torch.nonzero(disputed).squeeze(1)
    if idx.numel() == 0:
        return factor
    gate = gate_of(idx).to(w.dtype)                                          # (K,D)
    slot = torch.full((n,), -1, dtype=torch.long, device=w.device)
    slot[idx] = torch.arange(idx.numel(), device=w.device)
    sel = torch.nonzero(disputed.index_select(0, point)).squeeze(1)         # pairs of disputed points
    return factor.index_put((sel,), gate[joint.index_select(0, sel), slot.index_select(0, point.index_select(0, sel))])


def normalise_to_box(points: torch.Tensor, bbox: torch.Tensor) -> torch.Tensor:
    """Points (...,3) -> [-1,1]^3 coordinates of bbox (2,3) (align_corners convention)."""
    return 2.0 * (points - bbox[0]) / (bbox[1] - bbox[0]) - 1.0


def query_joint_weights(volume: torch.Tensor, candidates: torch.Tensor, bbox: torch.Tensor) -> torch.Tensor:
    """Each joint's weight at its own back-transformed point.

    volume (K+1,S,S,S) softmaxed weights; candidates (K,N,3) canonical positions per joint; bbox (2,3).
    Returns (K,N); zero outside the box. One grid_sample with the joints as the batch, so each candidate
    interpolates only its own channel.
    """
    k, n, _ = candidates.shape
    grid = normalise_to_box(candidates, bbox).reshape(k, 1, 1, n, 3)
    vol = volume[:k, None]                                                   # (K,1,S,S,S)
    out = F.grid_sample(vol, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return out.reshape(k, n)


def padded_bbox(bbox: torch.Tensor, padding: float) -> torch.Tensor:
    """bbox (2,3) grown by ``padding`` x its extent on every side."""
    ext = (bbox[1] - bbox[0]).clamp_min(1e-3)
    return torch.stack([bbox[0] - padding * ext, bbox[1] + padding * ext])
