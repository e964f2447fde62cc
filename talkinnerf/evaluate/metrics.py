"""Image quality metrics on float images (H,W,3) in [0,1]: PSNR, SSIM, LPIPS.

SSIM follows Wang et al. 2004 as commonly reported for NeRFs: skimage's structural_similarity with a
Gaussian window (sigma 1.5, 11 taps), population covariance, data range 1, averaged over RGB. Crops
smaller than 11 px fall back to a uniform window of the largest odd size that fits (>= 3 px; smaller
crops give NaN).

LPIPS needs images of at least LPIPS_MIN_SIDE (16) px (VGG's four poolings): a smaller crop is enlarged first,
bilinearly, both images alike, so that its shorter side is 16 px (aspect kept); it is never "n/a" for its size.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from talkinnerf.train.losses import LPIPS_MIN_SIDE

PSNR_CAP = 100.0   # dB reported for identical images (finite so means stay finite)


def psnr(pred: np.ndarray, gt: np.ndarray, cap: float = PSNR_CAP) -> float:
    """Peak signal-to-noise ratio in dB for data range 1; identical images give ``cap``."""
    if pred.shape != gt.shape:
        raise ValueError(f"psnr: shape mismatch {pred.shape} vs {gt.shape}")
    if pred.size == 0:
        return math.nan
    mse = float(np.mean((pred.astype(np.float64) - gt.astype(np.float64)) ** 2))
    if mse <= 10.0 ** (-cap / 10.0):
        return cap
    return min(cap, -10.0 * math.log10(mse))


SSIM_WINDOW = 11     # taps of the Gaussian window (sigma 1.5) below
SSIM_OPTIONS = dict(channel_axis=-1, data_range=1.0, use_sample_covariance=False)
SSIM_GAUSSIAN = dict(gaussian_weights=True, sigma=1.5)   # Wang et al.'s window: SSIM_WINDOW taps


def ssim(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean SSIM over channels (see module docstring for the window)."""
    from skimage.metrics import structural_similarity

    if pred.shape != gt.shape:
        raise ValueError(f"ssim: shape mismatch {pred.shape} vs {gt.shape}")
    side = min(pred.shape[:2])
    if side >= SSIM_WINDOW:
        return float(structural_similarity(pred, gt, **SSIM_GAUSSIAN, **SSIM_OPTIONS))
    win = side if side % 2 else side - 1
    if win < 3:
        return math.nan
    return float(structural_similarity(pred, gt, win_size=win, **SSIM_OPTIONS))


PERSON_MATTE = 0.5   # matte above this: a pixel of the person (as render_eval.coverage)


def ssim_split(pred: np.ndarray, gt: np.ndarray, alpha: np.ndarray) -> dict[str, float]:
    """The full-frame SSIM split into its person and background parts: SSIM is the mean of a per-pixel map, so
    ``ssim == person_share * ssim_person + (1 - person_share) * ssim_background`` (to float round-off). A frame
    framed with more background (a full-body shot in a square frame) scores higher with the same person: the
    person's part does not depend on the framing. ``alpha`` (H,W) is the ground-truth matte; NaN parts where a
    side has no pixel (and all NaN below SSIM's 11 px window)."""
    from skimage.metrics import structural_similarity

    if pred.shape != gt.shape or alpha.shape != pred.shape[:2]:
        raise ValueError(f"ssim_split: shapes {pred.shape}, {gt.shape}, matte {alpha.shape}")
    nan = {"ssim_person": math.nan, "ssim_background": math.nan, "person_share": math.nan}
    if min(pred.shape[:2]) < SSIM_WINDOW:
        return nan
    _, per_pixel = structural_similarity(pred, gt, **SSIM_GAUSSIAN, **SSIM_OPTIONS, full=True)   # ssim()'s options
    # ssim() is the mean of the map without its 5 px border (skimage crops half the 11-tap window): the same here
    edge = SSIM_WINDOW // 2
    per_pixel = per_pixel.astype(np.float64).mean(-1)[edge:-edge, edge:-edge]   # channel mean, as ssim()
    person = alpha[edge:-edge, edge:-edge] > PERSON_MATTE
    share = float(person.mean())
    return {"ssim_person": float(per_pixel[person].mean()) if person.any() else math.nan,
            "ssim_background": float(per_pixel[~person].mean()) if (~person).any() else math.nan,
            "person_share": share}


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """(H,W,3) float image -> (size,size,3): bilinear when enlarging, pixel-area averaging when shrinking."""
    import cv2

    if image.size == 0:
        raise ValueError("resize_square: empty image")
    shrink = image.shape[0] > size or image.shape[1] > size
    out = cv2.resize(np.ascontiguousarray(image, dtype=np.float32), (size, size),
                     interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return out.reshape(size, size, -1)


def enlarge_to_min_side(image: np.ndarray, side: int) -> np.ndarray:
    """(H,W,3) float image whose shorter side is below ``side`` -> bilinearly enlarged so that it is ``side`` (the
    longer one in proportion, rounded up); images already large enough are returned unchanged."""
    import cv2

    h, w = image.shape[:2]
    if min(h, w) >= side:
        return image
    if min(h, w) == 0:
        raise ValueError("enlarge_to_min_side: empty image")
    f = side / min(h, w)
    size = (max(side, int(math.ceil(w * f - 1e-6))), max(side, int(math.ceil(h * f - 1e-6))))   # (width, height)
    out = cv2.resize(np.ascontiguousarray(image, dtype=np.float32), size, interpolation=cv2.INTER_LINEAR)
    return out.reshape(size[1], size[0], -1)


class LpipsMetric:
    """LPIPS(VGG) distance (lpips 0.1.4 with the real VGG16 backbone, see talkinnerf/pretrained.py), or NaN with
    ``status`` = "n/a: <reason>" when the backbone weights are missing (`talkinnerf weights fetch lpips`)."""

    def __init__(self, enabled: bool = True, device: str | torch.device = "cpu") -> None:
        import warnings

        from talkinnerf.train.losses import make_lpips

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.module, status = make_lpips(enabled, device)
        for w in caught:   # one warning at start, worded for evaluation
            warnings.warn(str(w.message).replace("LPIPS off", "LPIPS metric n/a"), stacklevel=2)
        self.device = device
        self.status = status if self.module is not None else "n/a: " + status.removeprefix("off: ")

    @property
    def available(self) -> bool:
        return self.module is not None

    @torch.no_grad()
    def __call__(self, pred: np.ndarray, gt: np.ndarray, size: int = 0) -> float:
        """LPIPS of two (H,W,3) images; ``size`` > 0 first resizes both to size x size (region crops: crops of
        different sizes would be scored at different scales). Images still below VGG's minimum (LPIPS_MIN_SIDE, 16 px:
        its 4 poolings) are enlarged bilinearly to it (``enlarge_to_min_side``). NaN only without the weights."""
        if pred.shape != gt.shape:
            raise ValueError(f"lpips: shape mismatch {pred.shape} vs {gt.shape}")
        if size > 0 and pred.shape[:2] != (size, size):
            pred, gt = resize_square(pred, size), resize_square(gt, size)
        if self.module is None or pred.size == 0:
            return math.nan
        if min(pred.shape[:2]) < LPIPS_MIN_SIDE:
            pred, gt = enlarge_to_min_side(pred, LPIPS_MIN_SIDE), enlarge_to_min_side(gt, LPIPS_MIN_SIDE)
        # (1,3,H,W) contiguous: a channels-last view would make every convolution reorder its weights
        to_t = lambda a: torch.from_numpy(np.ascontiguousarray(np.moveaxis(a, -1, 0))).float()[None].to(self.device)  # noqa: E731
        return float(self.module(to_t(pred), to_t(gt), normalize=True).mean())
