"""The model can fit something: a few Adam steps on one frame reduce colour and segmentation losses."""

import torch
import torch.nn.functional as F

from talkinnerf.nerf.config import ModelConfig
from talkinnerf.nerf.model import TalkinNeRF
from talkinnerf.nerf.synthetic import frontal_rays, synthetic_conditioning


def test_overfit_one_frame_torso_silhouette():
    torch.manual_seed(0)
    model = TalkinNeRF(ModelConfig(samples_per_ray=16), num_identities=1).train()
    opt = torch.optim.Adam(model.param_groups(5e-3))
    cond = synthetic_conditioning(pose_scale=0.0)
    o, d, near, far = frontal_rays(256, seed=3)
    hit_xy = o[:, :2] + d[:, :2] * (o[:, 2:] / -d[:, 2:])       # where the ray crosses z = 0
    torso = (hit_xy[:, 0].abs() < 0.12) & (hit_xy[:, 1] > -0.05) & (hit_xy[:, 1] < 0.45)
    target = torch.where(torso[:, None], torch.tensor([0.9, 0.2, 0.1]), torch.zeros(3))
    labels = torso.long()                                          # 1 body, 0 background

    def losses():
        out = model(o, d, near, far, cond, step=0)
        return F.mse_loss(out["rgb"], target), F.cross_entropy(out["seg_logits"], labels)

    first = [v.item() for v in losses()]
    for _ in range(30):
        mse, ce = losses()
        opt.zero_grad()
        (mse + 0.05 * ce).backward()
        opt.step()
    last = [v.item() for v in losses()]
    assert last[0] < 0.35 * first[0], (first, last)
    assert last[1] < first[1], (first, last)
