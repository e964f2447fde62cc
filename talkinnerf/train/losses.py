"""Training loss: L = w_lpips * LPIPS(VGG) + w_mse * MSE + w_ce * CE (paper eq. 10: 1, 0.2, 0.05).

LPIPS is ``lpips.LPIPS(net="vgg")`` (its calibrated linear layers ship with the package) with the VGG16 ImageNet
backbone loaded from the pretrained cache (``talkinnerf weights fetch lpips``, see talkinnerf/pretrained.py): the
package would otherwise download torchvision's file at construction. Without those weights the term is switched
off with one warning naming the fetch command (the reason is recorded in the run's meta.json), unless the run
requires LPIPS (``train.lpips_required``, on in configs/paper.yaml): then it fails instead of changing the loss.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

# 5-class labels (bg, body, arms, hands, head) -> 4 classes (bg, body+arms, hands, head)
FOUR_CLASS_MAP = torch.tensor([0, 1, 1, 2, 3])

# VGG16's relu5_3 sits behind 4 max-poolings: smaller inputs have no feature map left there
LPIPS_MIN_SIDE = 16
_ARCH = {"vgg": "vgg16", "alex": "alexnet"}


def remap_labels(labels: torch.Tensor, four_classes: bool) -> torch.Tensor:
    """Part labels 0..4 -> class indices of the model's segmentation head (arms merged when four_classes)."""
    return FOUR_CLASS_MAP.to(labels.device)[labels] if four_classes else labels


def load_lpips_backbone(module: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Copy torchvision-named backbone weights (``features.<i>.weight/bias``) into an ``lpips.LPIPS``'s ``net``,
    whose slices keep torchvision's indices as module names (``slice<k>.<i>.weight``). Every parameter must be
    covered."""
    target = module.net.state_dict()
    new = {}
    for key in target:
        _, idx, param = key.split(".")
        src = f"features.{idx}.{param}"
        if src not in state:
            raise ValueError(f"LPIPS backbone weights lack {src}")
        if state[src].shape != target[key].shape:
            raise ValueError(f"LPIPS backbone {src} has shape {tuple(state[src].shape)}, "
                             f"expected {tuple(target[key].shape)}")
        new[key] = state[src]
    module.net.load_state_dict(new, strict=True)


def build_lpips(net: str = "vgg", device: str | torch.device = "cpu") -> tuple[nn.Module, str]:
    """A frozen ``lpips.LPIPS`` with the real backbone -> (module in eval mode, where the backbone came from).

    Raises talkinnerf.pretrained.MissingWeights when the backbone is in neither the cache nor the torch hub cache.
    """
    import lpips

    from talkinnerf.pretrained import lpips_backbone

    state, source = lpips_backbone(_ARCH[net])
    with warnings.catch_warnings():   # lpips 0.1.4 still passes torchvision's deprecated `pretrained=False`
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torchvision\.models\._utils")
        # pnet_rand: torchvision builds the backbone without downloading; the real weights are loaded below
        module = lpips.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False)
    load_lpips_backbone(module, state)
    module = module.to(device).eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module, source


def make_lpips(enabled: bool = True, device: str | torch.device = "cpu", required: bool = False,
               min_side: int | None = None) -> tuple[nn.Module | None, str]:
    """LPIPS(VGG) for the loss / metric when possible -> (module or None, status string for meta.json).

    ``min_side``: the side of the images it will see (patch size); below LPIPS_MIN_SIDE the term cannot be
    computed. When it is unavailable this warns once and returns status "off: <reason>", or, with ``required``,
    raises MissingWeights / ValueError instead. Status "on: <backbone file>" when built.
    """
    from talkinnerf.pretrained import MissingWeights

    if not enabled:
        return None, "off: disabled by option"
    if min_side is not None and min_side < LPIPS_MIN_SIDE:
        reason = f"{min_side}-px patches are smaller than the {LPIPS_MIN_SIDE} px LPIPS(VGG) needs"
        if required:
            raise ValueError(f"LPIPS is required but {reason}")
    else:
        try:
            module, source = build_lpips("vgg", device)
            return module, f"on: VGG16 backbone from {source}"
        except MissingWeights as err:
            if required:
                raise MissingWeights(f"LPIPS is required (train.lpips_required) but {err}") from None
            reason = str(err)
    warnings.warn(f"LPIPS off: {reason}", stacklevel=2)
    return None, f"off: {reason}"


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
    ``with_lpips=False`` skips the LPIPS term for this batch and weighs the others with ``weights_without_lpips``
    (default: ``weights``), as for a run without LPIPS (train.lpips_every).
    """

    def __init__(self, weights: LossWeights, four_classes: bool, lpips_module: nn.Module | None,
                 weights_without_lpips: LossWeights | None = None) -> None:
        super().__init__()
        self.weights = weights
        self.weights_without_lpips = weights_without_lpips or weights
        self.four_classes = four_classes
        self.lpips = lpips_module

    def forward(self, rgb: torch.Tensor, gt: torch.Tensor, seg_logits: torch.Tensor,
                labels: torch.Tensor, with_lpips: bool = True) -> dict[str, torch.Tensor]:
        use_lpips = self.lpips is not None and self.weights.lpips > 0 and with_lpips
        w = self.weights if use_lpips else self.weights_without_lpips
        mse = F.mse_loss(rgb, gt)
        if len(labels) and seg_logits.shape[-1]:   # no classes (HumanNeRF baseline): no segmentation loss
            ce = F.cross_entropy(seg_logits, remap_labels(labels, self.four_classes))
        else:
            ce = rgb.sum() * 0.0
        if use_lpips:
            # LPIPS wants (n,3,P,P) in [-1,1]; normalize=True maps [0,1] there. Contiguous: a permuted (channels-last)
            # input makes every convolution reorder its weights, which doubles the cost on the CPU
            lp = self.lpips(rgb.permute(0, 3, 1, 2).contiguous(), gt.permute(0, 3, 1, 2).contiguous(),
                            normalize=True).mean()
        else:
            lp = torch.zeros((), device=rgb.device)
        total = (w.lpips * lp if use_lpips else 0.0) + w.mse * mse + w.ce * ce
        return {"total": total, "lpips": lp.detach(), "mse": mse.detach(), "ce": ce.detach()}


def misplaced_part_mass(part_mass: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """train.loss_part's term: over the rays whose pixel is labelled a person part (labels (R,) 1..4; background
    rays are left out), the share of their rendered opacity that comes from other parts' joints (summed over the
    rays, divided by their summed opacity). part_mass (R,5): the rendered opacity split by the parts whose joints
    skin each sample (TalkinNeRF's ``part_mass``). 0 without a labelled ray.

    Why: a monocular ray through a hand in front of the chest can be explained by density that skins with the
    chest (the hand's colour stored on the canonical chest, which other frames then show; docs/real-videos.md).
    The labels come from the fitted mesh, as the skinning does, so the term asks the density that draws a pixel
    to skin with the part of the fitted body seen there; it trains the density and the learned skinning weights.
    A share, not the misplaced opacity itself: charged per ray, the cheapest way down was a see-through body
    (measured: opacity over the person 0.73 -> 0.64 / 0.40 at weights 0.1 / 0.3, 1300 iterations)."""
    person = torch.nonzero(labels > 0).squeeze(1)
    if person.numel() == 0:
        return part_mass.sum() * 0.0
    mass = part_mass.index_select(0, person)
    own = mass.gather(1, labels.index_select(0, person).long()[:, None]).squeeze(1)
    opacity = mass.sum(1)
    return (opacity - own).sum() / opacity.sum().clamp_min(1e-6)


def psnr_from_mse(mse: float) -> float:
    import math

    return 10.0 * math.log10(1.0 / max(mse, 1e-10))
