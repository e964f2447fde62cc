"""A network with HumanNeRF's published sizes, as the yardstick of train_throughput.py --compare-humannerf.

Our own code (built from talkinnerf's MLP, weight-volume decoder and compositing), not HumanNeRF's: what it
matches is the architecture and the work per iteration described in the HumanNeRF paper (Weng et al. 2022):
canonical MLP 8 x 256 (PE 10, input again at layer 4) -> rgb + density; non-rigid motion MLP 6 x 128 (PE 6,
conditioned on the 69-D pose, input again at layer 4); pose correction MLP 4 x 256; motion weight volume decoded
from a 256-D latent to 32^3 x (24 joints + background); 128 samples per ray; inverse LBS with one weight lookup
per joint. Like that work, every sample of every ray runs through both MLPs (no empty-space skipping); the
density is multiplied by the foreground likelihood. One training iteration = forward, MSE, backward, Adam.
"""

from __future__ import annotations

import torch
from torch import nn

from talkinnerf.nerf import skeleton as sk
from talkinnerf.nerf.composite import composite, sample_intervals, stratified_samples
from talkinnerf.nerf.encoding import encoding_dim, positional_encoding
from talkinnerf.nerf.mlp import MLP
from talkinnerf.nerf.weights import WeightVolumeDecoder, padded_bbox, query_joint_weights

JOINTS = 24          # SMPL joints (HumanNeRF is SMPL-based); our synthetic skeleton supplies the first 22 + 2 more
SAMPLES = 128


class HumanNeRFArch(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.canonical = MLP(encoding_dim(3, 10), 4, 8, 256, skip=4)
        self.non_rigid = MLP(encoding_dim(3, 6) + 69, 3, 6, 128, skip=4, last_init=1e-5)
        self.pose_refine = MLP(69, 69, 4, 256, None, last_init=1e-5)
        self.volume = WeightVolumeDecoder(JOINTS, 256, 32, 64)

    def forward(self, rays_o, rays_d, near, far, cond) -> torch.Tensor:
        n_rays = rays_o.shape[0]
        t = stratified_samples(near, far, SAMPLES, perturb=True)
        deltas = sample_intervals(t, near, far, rays_d.norm(dim=-1))
        pts = (rays_o[:, None] + t[..., None] * rays_d[:, None]).reshape(-1, 3)
        joints = cond.canonical_joints[:JOINTS]
        parents = cond.parents[:JOINTS].clone()
        poses = torch.cat([cond.poses_body.reshape(22, 3), cond.hands.reshape(30, 3)[:2]])   # 24 x 3
        delta = self.pose_refine(poses[1:].reshape(1, -1)).reshape(JOINTS - 1, 3)
        rots = torch.cat([sk.rodrigues(poses[:1]), sk.rodrigues(poses[1:]) @ sk.rodrigues(delta)])
        glob, posed = sk.forward_kinematics(rots, joints, parents)
        rot, tr = sk.inverse_transforms(glob, joints, posed)
        bbox = padded_bbox(cond.canonical_bbox, 0.1)
        volume = torch.softmax(self.volume(), dim=0)
        cands = sk.apply_per_joint(pts, rot, tr)                                # (24,P,3)
        w = query_joint_weights(volume, cands, bbox)
        x_c = sk.blend(cands, w)
        fg = w.sum(0).clamp(max=1.0)
        h = torch.cat([positional_encoding(x_c, 6), poses[1:].reshape(1, -1).expand(x_c.shape[0], -1)], dim=-1)
        x_c = x_c + self.non_rigid(h)
        out = self.canonical(positional_encoding(x_c, 10))
        rgb = torch.sigmoid(out[:, :3]).reshape(n_rays, SAMPLES, 3)
        sigma = (torch.relu(out[:, 3]) * fg).reshape(n_rays, SAMPLES)
        zeros = torch.zeros(n_rays, SAMPLES, 0)
        res = composite(rgb, sigma, zeros, t, deltas, torch.zeros(3), torch.zeros(0), torch.zeros(()),
                        torch.zeros(()))
        return res["rgb"]
