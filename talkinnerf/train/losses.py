"""Training loss: L = w_lpips * LPIPS(VGG) + w_mse * MSE + w_ce * CE (paper eq. 10: 1, 0.2, 0.05).

LPIPS needs torchvision's VGG16 ImageNet weights, which `lpips.LPIPS(net="vgg")` would download: we only
build it when the file is already in the torch hub cache, and otherwise switch the term off with one
warning (the reason is recorded in the run's meta.json).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

VGG16_FILE = "vgg16-397923af.pth"

# 5-class labels (bg, body, arms, hands, head) -> 4 classes (bg, body+arms, hands, head)
FOUR_CLASS_MAP = torch.tensor([0, 1, 1, 2, 3])


def vgg_weights_path() -> Path:
    """Where torchvision looks for (and would download) the VGG16 weights LPIPS uses."""
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG16_FILE


def remap_labels(labels: torch.Tensor, four_classes: bool) -> torch.Tensor:
    """Part labels 0..4 -> class indices of the model's segmentation head (arms merged when four_classes)."""
    return FOUR_CLASS_MAP.to(labels.device)[labels] if four_classes else labels


def make_lpips(enabled: bool = True, device: str | torch.device = "cpu") -> tuple[nn.Module | None, str]:
    """Build a frozen LPIPS(VGG) when possible -> (module or None, status string for meta.json).

    Warns once (here) when the VGG weights are missing; the status is "on" or "off: <reason>".
    """
    if not enabled:
        return None, "off: disabled by option"
    path = vgg_weights_path()
    if not path.is_file():
        reason = (f"VGG16 weights not found at {path}; put torchvision's {VGG16_FILE} there "
                  f"(or set $TORCH_HOME) to enable the LPIPS term")
        warnings.warn(f"LPIPS off: {reason}", stacklevel=2)
        return None, f"off: {reason}"
    import lpips

    module = lpips.LPIPS(net="vgg", verbose=False).to(device).eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module, "on"


@dataclass
class LossWeights:
    lpips: float = 1.0
    mse: float = 0.2
    ce: float = 0.05


class TalkinLoss(nn.Module):
    """Combined loss over a batch of square patches.

    forward(rgb (n,P,P,3), gt (n,P,P,3), seg_logits (R,C), labels (R,) long 0..4) -> dict of scalar tensors
    "total", "lpips", "mse", "ce" (terms unweighted; "total" weighted). ``labels`` are raw part labels;
    they are remapped here for four_classes. An empty (R=0) segmentation batch gives CE 0.
    """

    def __init__(self, weights: LossWeights, four_classes: bool, lpips_module: nn.Module | None) -> None:
        super().__init__()
        self.weights = weights
        self.four_classes = four_classes
        self.lpips = lpips_module

    def forward(self, rgb: torch.Tensor, gt: torch.Tensor, seg_logits: torch.Tensor,
                labels: torch.Tensor) -> dict[str, torch.Tensor]:
        mse = F.mse_loss(rgb, gt)
        if len(labels):
            ce = F.cross_entropy(seg_logits, remap_labels(labels, self.four_classes))
        else:
            ce = rgb.sum() * 0.0
        if self.lpips is not None and self.weights.lpips > 0:
            # LPIPS wants (n,3,P,P) in [-1,1]; normalize=True maps [0,1] there
            lp = self.lpips(rgb.permute(0, 3, 1, 2), gt.permute(0, 3, 1, 2), normalize=True).mean()
        else:
            lp = torch.zeros((), device=rgb.device)
        total = self.weights.lpips * lp + self.weights.mse * mse + self.weights.ce * ce
        return {"total": total, "lpips": lp.detach(), "mse": mse.detach(), "ce": ce.detach()}


def psnr_from_mse(mse: float) -> float:
    import math

    return 10.0 * math.log10(1.0 / max(mse, 1e-10))
