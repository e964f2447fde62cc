"""Matte backend `mediapipe`: MediaPipe selfie segmentation (Apache-2.0, its models ship inside the wheel).

The segmentation's per-pixel person confidence is the alpha (soft, not thresholded), computed frame by frame
at the network's own input size (general model 256×256, landscape 144×256) and resized back by MediaPipe.
`mediapipe_smoothing` > 0 blends each frame's mask with the previous alpha (exponential smoothing), which calms
flicker on a still person at the cost of lag on fast hands. Always available: no download, no GPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from talkinnerf.preprocess.matte import MatteOptions

MODELS = {0: "general (256x256)", 1: "landscape (144x256)"}


def selfie_masks(frames: np.ndarray, model_selection: int = 0) -> np.ndarray:
    """Person confidence float32 (T,H,W) in [0,1] of frames uint8 (T,H,W,3) RGB, one MediaPipe call per frame."""
    import mediapipe as mp

    if model_selection not in MODELS:
        raise ValueError(f"mediapipe_model must be one of {sorted(MODELS)} ({MODELS}), not {model_selection!r}")
    masks = np.empty(frames.shape[:3], np.float32)
    with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=model_selection) as seg:
        for i, frame in enumerate(frames):
            result = seg.process(np.ascontiguousarray(frame))
            mask = result.segmentation_mask
            if mask is None:  # MediaPipe found nothing to segment
                masks[i] = 0.0
            else:
                masks[i] = np.clip(mask, 0.0, 1.0)
    return masks


def smooth_in_time(masks: np.ndarray, weight: float) -> np.ndarray:
    """Exponential smoothing along axis 0: out_t = (1 - weight) · masks_t + weight · out_{t-1}; weight in [0, 1)."""
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"mediapipe_smoothing must lie in [0, 1), not {weight}")
    if weight == 0.0 or len(masks) == 0:
        return masks
    out = np.empty_like(masks)
    out[0] = masks[0]
    for t in range(1, len(masks)):
        out[t] = (1.0 - weight) * masks[t] + weight * out[t - 1]
    return out


def matte_mediapipe(frames: np.ndarray, opts: MatteOptions, frames_dir: Path) -> np.ndarray:
    """Backend `mediapipe`: frames uint8 (T,H,W,3) → alpha uint8 (T,H,W)."""
    masks = smooth_in_time(selfie_masks(frames, opts.mediapipe_model), opts.mediapipe_smoothing)
    return np.clip(masks * 255.0 + 0.5, 0, 255).astype(np.uint8)
