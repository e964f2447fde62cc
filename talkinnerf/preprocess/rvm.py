"""Robust Video Matting (Lin et al., WACV 2022), MobileNetV3-Large variant, written for this project.

Layout (the module tree *is* the published ``rvm_mobilenetv3.pth`` state-dict layout, 380 tensors; every
attribute name below is a key prefix, so do not rename them):

```
MattingNetwork
  backbone   MobileNetV3LargeEncoder  features.0..16 (torchvision indices); taps f1 (1/2, 16 ch), f2 (1/4, 24),
                                      f3 (1/8, 40), f4 (1/16, 960: the last stage is dilated, not strided)
  aspp       LRASPP                   960 -> 128: 1x1 conv branch × global-pool sigmoid gate
  decoder    RecurrentDecoder         decode4 (bottleneck, ConvGRU on 64 ch) -> decode3/2/1 (upsample ×2, concat
                                      encoder skip + avg-pooled source, conv, ConvGRU on half the channels)
                                      -> decode0 (upsample, concat source, two convs) : 16 ch at input/ratio scale
  project_mat Projection              16 -> 4: foreground residual (3) + alpha (1)
  project_seg Projection              16 -> 1: segmentation logit (training aid; `segmentation_pass=True`)
  refiner    DeepGuidedFilterRefiner  upsamples residual + alpha to full resolution when downsample_ratio != 1
```

Call: ``fgr, pha, *rec = net(src, *rec, downsample_ratio=r)`` with ``src`` (B,3,H,W) or a time series
(B,T,3,H,W) in [0, 1] and ``rec`` four recurrent states (None at the first frame). The recurrent states live
at the 1/2, 1/4, 1/8 and 1/16 scales *of the downsampled image*, so keep `r` and the frame size fixed while
carrying them. `matte_frames` / `iter_mattes` run a long video in chunks with the state carried across chunks.

Conformance: tests/test_rvm.py strict-loads random weights in the published layout (../shared/rvm) and
reproduces the reference network's outputs to < 1e-4. Numbers depend on details kept here on purpose:
BatchNorm eps 1e-3 in the backbone (torchvision's MobileNetV3) but 1e-5 elsewhere, hardswish/hardsigmoid in
the backbone, bilinear interpolation with align_corners=False everywhere, ceil-mode average pooling of the
source, the ConvGRU gate order (reset, update), and ``fgr = clamp(residual + src)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "MattingNetwork",
    "auto_downsample_ratio",
    "iter_mattes",
    "load_matting_network",
    "matte_frames",
]

# ImageNet statistics: the backbone was pre-trained on normalised images; the network takes [0, 1] input.
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_BACKBONE_BN_EPS = 1e-3  # torchvision's MobileNetV3 BatchNorm (eps=0.001); the rest of RVM uses the default 1e-5


# ------------------------------------------------------------------------------------------ time-series helpers

def _flat(x: Tensor) -> Tensor:
    """(B,T,C,H,W) -> (B*T,C,H,W); 4-D input passes through."""
    return x.flatten(0, 1) if x.ndim == 5 else x


def _unflat(x: Tensor, like: Tensor) -> Tensor:
    """Undo `_flat` with the leading (B,T) of `like` when `like` is a time series."""
    return x.unflatten(0, like.shape[:2]) if like.ndim == 5 else x


def _resize_to(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear resize of (N,C,h,w) to (N,C,*size), half-pixel centres (align_corners=False)."""
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def _downsample_source(src: Tensor, ratio: float) -> Tensor:
    """The low-resolution copy the encoder/decoder see: (…,3,H,W) -> (…,3,floor(H·r),floor(W·r)).

    recompute_scale_factor=False: sampling positions use `ratio` itself, not out_size / in_size (they differ
    when H·r is not an integer), as the published network does.
    """
    x = F.interpolate(_flat(src), scale_factor=ratio, mode="bilinear", align_corners=False,
                      recompute_scale_factor=False)
    return _unflat(x, src)


# ------------------------------------------------------------------------------------------------ encoder

class ConvBNAct(nn.Sequential):
    """Conv2d (no bias) → BatchNorm → activation; children 0, 1, 2 as torchvision's Conv2dNormActivation.

    Padding is (k-1)/2·dilation, so stride 1 keeps the size and stride 2 gives ceil(size/2).
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int = 1, stride: int = 1, dilation: int = 1,
                 groups: int = 1, act: type[nn.Module] | None = nn.ReLU, eps: float = _BACKBONE_BN_EPS) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(in_ch, out_ch, kernel, stride, padding=(kernel - 1) // 2 * dilation, dilation=dilation,
                      groups=groups, bias=False),
            nn.BatchNorm2d(out_ch, eps=eps),
        ]
        if act is not None:
            layers.append(act())
        super().__init__(*layers)


def _make_divisible(value: float, divisor: int = 8) -> int:
    """Round channels to a multiple of `divisor`, never more than 10% below `value` (MobileNet convention)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class SqueezeExcite(nn.Module):
    """x · hardsigmoid(fc2(relu(fc1(mean_hw(x))))): channel gate; (N,C,H,W) -> (N,C,H,W)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        squeezed = _make_divisible(channels // 4)
        self.fc1 = nn.Conv2d(channels, squeezed, 1)
        self.fc2 = nn.Conv2d(squeezed, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        scale = F.adaptive_avg_pool2d(x, 1)
        scale = F.hardsigmoid(self.fc2(F.relu(self.fc1(scale))))
        return x * scale


@dataclass(frozen=True)
class BlockSpec:
    """One MobileNetV3 inverted-residual block (the paper's table; RVM dilates the last stage)."""

    in_ch: int
    kernel: int
    expand_ch: int
    out_ch: int
    se: bool
    hardswish: bool
    stride: int
    dilation: int = 1


# MobileNetV3-Large as RVM configures it: the three last blocks dilated by 2 instead of striding, so the deepest
# feature stays at 1/16 (more spatial detail for matting). `feature` marks the blocks whose output is tapped.
_LARGE_BLOCKS: tuple[BlockSpec, ...] = (
    BlockSpec(16, 3, 16, 16, False, False, 1),     # features.1  -> f1 (1/2)
    BlockSpec(16, 3, 64, 24, False, False, 2),
    BlockSpec(24, 3, 72, 24, False, False, 1),     # features.3  -> f2 (1/4)
    BlockSpec(24, 5, 72, 40, True, False, 2),
    BlockSpec(40, 5, 120, 40, True, False, 1),
    BlockSpec(40, 5, 120, 40, True, False, 1),     # features.6  -> f3 (1/8)
    BlockSpec(40, 3, 240, 80, False, True, 2),
    BlockSpec(80, 3, 200, 80, False, True, 1),
    BlockSpec(80, 3, 184, 80, False, True, 1),
    BlockSpec(80, 3, 184, 80, False, True, 1),
    BlockSpec(80, 3, 480, 112, True, True, 1),
    BlockSpec(112, 3, 672, 112, True, True, 1),
    BlockSpec(112, 5, 672, 160, True, True, 2, 2),  # stride dropped where dilated (torchvision's rule)
    BlockSpec(160, 5, 960, 160, True, True, 1, 2),
    BlockSpec(160, 5, 960, 160, True, True, 1, 2),
)
_TAPS = (1, 3, 6, 16)  # indices into `features` whose outputs are f1..f4


class InvertedResidual(nn.Module):
    """Expand 1×1 → depthwise k×k (strided or dilated) → [squeeze-excite] → project 1×1 (linear), + skip.

    Submodules sit in `block` (indices as torchvision: the expansion is omitted when it would be identity).
    """

    def __init__(self, spec: BlockSpec) -> None:
        super().__init__()
        act: type[nn.Module] = nn.Hardswish if spec.hardswish else nn.ReLU
        stride = 1 if spec.dilation > 1 else spec.stride
        layers: list[nn.Module] = []
        if spec.expand_ch != spec.in_ch:
            layers.append(ConvBNAct(spec.in_ch, spec.expand_ch, 1, act=act))
        layers.append(ConvBNAct(spec.expand_ch, spec.expand_ch, spec.kernel, stride, spec.dilation,
                                groups=spec.expand_ch, act=act))
        if spec.se:
            layers.append(SqueezeExcite(spec.expand_ch))
        layers.append(ConvBNAct(spec.expand_ch, spec.out_ch, 1, act=None))
        self.block = nn.Sequential(*layers)
        self.residual = spec.stride == 1 and spec.in_ch == spec.out_ch

    def forward(self, x: Tensor) -> Tensor:
        y = self.block(x)
        return x + y if self.residual else y


class MobileNetV3LargeEncoder(nn.Module):
    """ImageNet-normalising MobileNetV3-Large trunk returning four feature maps.

    (…,3,H,W) in [0,1] -> f1 (…,16,H/2,W/2), f2 (…,24,H/4,W/4), f3 (…,40,H/8,W/8), f4 (…,960,H/16,W/16)
    (each size rounded up per stride-2 layer). Accepts single frames or (B,T,…) time series.
    """

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [ConvBNAct(3, 16, 3, stride=2, act=nn.Hardswish)]
        layers += [InvertedResidual(spec) for spec in _LARGE_BLOCKS]
        layers.append(ConvBNAct(160, 960, 1, act=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> list[Tensor]:
        h = (_flat(x) - self.mean) / self.std
        taps = []
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in _TAPS:
                taps.append(_unflat(h, x))
        return taps


class LRASPP(nn.Module):
    """Lite R-ASPP: relu(bn(conv1×1(x))) · sigmoid(conv1×1(global_mean(x))); (…,C_in,h,w) -> (…,C_out,h,w)."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.aspp1 = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU())
        self.aspp2 = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(in_ch, out_ch, 1, bias=False), nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:
        h = _flat(x)
        return _unflat(self.aspp1(h) * self.aspp2(h), x)


# ------------------------------------------------------------------------------------------------ decoder

class ConvGRU(nn.Module):
    """Convolutional GRU over (B,C,h,w) frames; also steps through a (B,T,C,h,w) series.

    r, z = sigmoid(conv([x, h])) (in that channel order); c = tanh(conv([x, r·h])); h' = (1-z)·h + z·c.
    The state starts at zero when None is given.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.ih = nn.Sequential(nn.Conv2d(2 * channels, 2 * channels, 3, padding=1), nn.Sigmoid())
        self.hh = nn.Sequential(nn.Conv2d(2 * channels, channels, 3, padding=1), nn.Tanh())

    def step(self, x: Tensor, h: Tensor) -> Tensor:
        """One frame: x, h (B,C,h,w) -> new state (B,C,h,w) (also the output)."""
        r, z = self.ih(torch.cat([x, h], dim=1)).split(self.channels, dim=1)
        c = self.hh(torch.cat([x, r * h], dim=1))
        return (1 - z) * h + z * c

    def forward(self, x: Tensor, h: Tensor | None) -> tuple[Tensor, Tensor]:
        """x (B,C,h,w) or (B,T,C,h,w); h (B,C,h,w), None or a broadcastable tensor such as zeros(1) (the
        exported models' initial state) -> (output like x, last state (B,C,h,w))."""
        state_shape = (x.shape[0], *x.shape[-3:])
        if h is None:
            h = x.new_zeros(state_shape)
        elif h.shape != state_shape:
            h = h.expand(state_shape)
        if x.ndim == 4:
            h = self.step(x, h)
            return h, h
        outputs = []
        for xt in x.unbind(dim=1):  # recurrence: frames must be processed in order
            h = self.step(xt, h)
            outputs.append(h)
        return torch.stack(outputs, dim=1), h


def _gru_on_half(x: Tensor, gru: ConvGRU, state: Tensor | None) -> tuple[Tensor, Tensor]:
    """Run `gru` on the second half of the channels of x (…,C,h,w), pass the first half through.

    Half the channels stay feed-forward: the paper's trade-off between temporal memory and cost.
    """
    a, b = x.split(x.shape[-3] // 2, dim=-3)
    b, state = gru(b, state)
    return torch.cat([a, b], dim=-3), state


class BottleneckBlock(nn.Module):
    """Deepest decoder stage: ConvGRU on half of the LR-ASPP features; (…,C,h,w) -> (…,C,h,w)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gru = ConvGRU(channels // 2)

    def forward(self, x: Tensor, state: Tensor | None) -> tuple[Tensor, Tensor]:
        return _gru_on_half(x, self.gru, state)


def _upsample_like(x: Tensor, ref: Tensor) -> Tensor:
    """Bilinear ×2 of (N,C,h,w), cropped to ref's (H,W): odd sizes were rounded up by the strided encoder."""
    x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
    return x[:, :, : ref.shape[-2], : ref.shape[-1]]


class UpsamplingBlock(nn.Module):
    """Upsample ×2, concat [x, encoder skip, pooled source], conv3×3-BN-ReLU, ConvGRU on half the channels.

    x (…,C_in,h,w), skip (…,C_skip,H,W), src (…,3,H,W), state (B,C_out/2,H,W)|None -> (…,C_out,H,W), state.
    """

    def __init__(self, in_ch: int, skip_ch: int, src_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(in_ch + skip_ch + src_ch, out_ch, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(out_ch), nn.ReLU())
        self.gru = ConvGRU(out_ch // 2)

    def forward(self, x: Tensor, skip: Tensor, src: Tensor, state: Tensor | None) -> tuple[Tensor, Tensor]:
        s = _flat(src)
        h = torch.cat([_upsample_like(_flat(x), s), _flat(skip), s], dim=1)
        h = _unflat(self.conv(h), src)
        return _gru_on_half(h, self.gru, state)


class OutputBlock(nn.Module):
    """Last decoder stage at the (downsampled) input scale: upsample ×2, concat source, two conv3×3-BN-ReLU.

    x (…,C_in,h,w), src (…,3,H,W) -> (…,C_out,H,W). No recurrence at this scale.
    """

    def __init__(self, in_ch: int, src_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(in_ch + src_ch, out_ch, 3, padding=1, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU(),
            nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU(),
        )

    def forward(self, x: Tensor, src: Tensor) -> Tensor:
        s = _flat(src)
        h = torch.cat([_upsample_like(_flat(x), s), s], dim=1)
        return _unflat(self.conv(h), src)


def _avg_pool_half(x: Tensor) -> Tensor:
    """2×2 mean pooling, odd sizes rounded up (ceil mode, partial windows averaged over valid pixels only)."""
    h = F.avg_pool2d(_flat(x), 2, 2, ceil_mode=True, count_include_pad=False)
    return _unflat(h, x)


class RecurrentDecoder(nn.Module):
    """Decoder from the 1/16 features back to the input scale, one ConvGRU per scale 1/16..1/2.

    Inputs: src (…,3,H,W) (the downsampled source), f1..f3 encoder skips, f4 (…,128,H/16,W/16) after LR-ASPP,
    r1..r4 recurrent states (None or (B,16|20|40|64, H/2|H/4|H/8|H/16, …)).
    Returns hidden (…,16,H,W) and the new states r1..r4.
    """

    def __init__(self, feature_ch: Sequence[int] = (16, 24, 40, 128),
                 decoder_ch: Sequence[int] = (80, 40, 32, 16)) -> None:
        super().__init__()
        self.decode4 = BottleneckBlock(feature_ch[3])
        self.decode3 = UpsamplingBlock(feature_ch[3], feature_ch[2], 3, decoder_ch[0])
        self.decode2 = UpsamplingBlock(decoder_ch[0], feature_ch[1], 3, decoder_ch[1])
        self.decode1 = UpsamplingBlock(decoder_ch[1], feature_ch[0], 3, decoder_ch[2])
        self.decode0 = OutputBlock(decoder_ch[2], 3, decoder_ch[3])

    def forward(self, src: Tensor, f1: Tensor, f2: Tensor, f3: Tensor, f4: Tensor,
                r1: Tensor | None, r2: Tensor | None, r3: Tensor | None, r4: Tensor | None
                ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        s1 = _avg_pool_half(src)
        s2 = _avg_pool_half(s1)
        s3 = _avg_pool_half(s2)
        x4, r4 = self.decode4(f4, r4)
        x3, r3 = self.decode3(x4, f3, s3, r3)
        x2, r2 = self.decode2(x3, f2, s2, r2)
        x1, r1 = self.decode1(x2, f1, s1, r1)
        return self.decode0(x1, src), r1, r2, r3, r4


class Projection(nn.Module):
    """1×1 convolution with bias; (…,C_in,h,w) -> (…,C_out,h,w)."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: Tensor) -> Tensor:
        return _unflat(self.conv(_flat(x)), x)


# ------------------------------------------------------------------------------------------------ refiner

class DeepGuidedFilterRefiner(nn.Module):
    """Deep Guided Filter: per-pixel affine map y ≈ A·x + b fitted at low resolution, applied at full resolution.

    Guide x = [rgb, mean(rgb)] (4 ch), target y = [fgr residual, alpha] (4 ch). Local (3×3 box) covariances plus
    the decoder's hidden features predict A through 1×1 convs (learned instead of the closed-form cov/var); b
    keeps the local means. A and b are upsampled bilinearly and applied to the full-resolution guide.
    """

    def __init__(self, hid_ch: int = 16) -> None:
        super().__init__()
        self.box_filter = nn.Conv2d(4, 4, 3, padding=1, bias=False, groups=4)  # 1/9 at init; loaded anyway
        nn.init.constant_(self.box_filter.weight, 1.0 / 9.0)
        self.conv = nn.Sequential(
            nn.Conv2d(4 * 2 + hid_ch, hid_ch, 1, bias=False), nn.BatchNorm2d(hid_ch), nn.ReLU(),
            nn.Conv2d(hid_ch, hid_ch, 1, bias=False), nn.BatchNorm2d(hid_ch), nn.ReLU(),
            nn.Conv2d(hid_ch, 4, 1),
        )

    def forward(self, fine_src: Tensor, base_src: Tensor, base_fgr: Tensor, base_pha: Tensor,
                base_hid: Tensor) -> tuple[Tensor, Tensor]:
        """fine_src (…,3,H,W); base_src (…,3,h,w), base_fgr (…,3,h,w) residual, base_pha (…,1,h,w),
        base_hid (…,16,h,w) -> fgr residual (…,3,H,W), alpha (…,1,H,W) (neither clamped)."""
        fine = _flat(fine_src)
        fine_x = torch.cat([fine, fine.mean(1, keepdim=True)], dim=1)
        base = _flat(base_src)
        base_x = torch.cat([base, base.mean(1, keepdim=True)], dim=1)
        base_y = torch.cat([_flat(base_fgr), _flat(base_pha)], dim=1)
        mean_x = self.box_filter(base_x)
        mean_y = self.box_filter(base_y)
        cov_xy = self.box_filter(base_x * base_y) - mean_x * mean_y
        var_x = self.box_filter(base_x * base_x) - mean_x * mean_x
        a = self.conv(torch.cat([cov_xy, var_x, _flat(base_hid)], dim=1))
        b = mean_y - a * mean_x
        size = (fine.shape[-2], fine.shape[-1])
        out = _resize_to(a, size) * fine_x + _resize_to(b, size)
        fgr, pha = out.split([3, 1], dim=1)
        return _unflat(fgr, fine_src), _unflat(pha, fine_src)


# ------------------------------------------------------------------------------------------------ network

class MattingNetwork(nn.Module):
    """RVM (MobileNetV3-Large) with the published state-dict layout.

    ``fgr, pha, r1, r2, r3, r4 = net(src, r1, r2, r3, r4, downsample_ratio=r)``:
    src (B,3,H,W) or (B,T,3,H,W) in [0,1]; states None at the first frame, then the returned ones.
    fgr (…,3,H,W) and pha (…,1,H,W) are clamped to [0,1]. The encoder/decoder run on the source resized by
    `downsample_ratio` (≤ 1); the guided-filter refiner brings the result back to (H,W) when it is not 1.
    With ``segmentation_pass=True`` returns ``seg, r1..r4`` (seg (…,1,h,w) logits at the low resolution).
    Use eval mode: BatchNorm uses its running statistics.
    """

    def __init__(self) -> None:
        super().__init__()
        self.backbone = MobileNetV3LargeEncoder()
        self.aspp = LRASPP(960, 128)
        self.decoder = RecurrentDecoder((16, 24, 40, 128), (80, 40, 32, 16))
        self.project_mat = Projection(16, 4)
        self.project_seg = Projection(16, 1)
        self.refiner = DeepGuidedFilterRefiner(16)

    def forward(self, src: Tensor, r1: Tensor | None = None, r2: Tensor | None = None,
                r3: Tensor | None = None, r4: Tensor | None = None, downsample_ratio: float = 1.0,
                segmentation_pass: bool = False) -> list[Tensor]:
        src_sm = _downsample_source(src, downsample_ratio) if downsample_ratio != 1 else src
        f1, f2, f3, f4 = self.backbone(src_sm)
        f4 = self.aspp(f4)
        hid, *rec = self.decoder(src_sm, f1, f2, f3, f4, r1, r2, r3, r4)
        if segmentation_pass:
            return [self.project_seg(hid), *rec]
        fgr_residual, pha = self.project_mat(hid).split([3, 1], dim=-3)
        if downsample_ratio != 1:
            fgr_residual, pha = self.refiner(src, src_sm, fgr_residual, pha, hid)
        # The network predicts the foreground as a correction of the input colour.
        fgr = (fgr_residual + src).clamp(0.0, 1.0)
        return [fgr, pha.clamp(0.0, 1.0), *rec]


def load_matting_network(state_dict: dict[str, Tensor], device: str | torch.device = "cpu") -> MattingNetwork:
    """A MattingNetwork in eval mode with `state_dict` loaded strictly (cast to float32; e.g. float16 files)."""
    net = MattingNetwork()
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state_dict.items()}, strict=True)
    return net.eval().to(device)


# ------------------------------------------------------------------------------------------ video inference

def auto_downsample_ratio(height: int, width: int, long_side: int = 512) -> float:
    """Ratio so the network sees an image whose longer side is about `long_side` px; 1 for smaller frames.

    RVM's guidance: ≤ 512×512 at full resolution; HD at 0.25–0.4 (portrait) / 0.4–0.6 (full body), i.e. a
    long side of 480–768 px. 512 (the reference inference script's automatic choice) keeps CPU cost low; pass
    long_side=768 for full-body subjects that fill little of a 1080p frame. The refiner restores full resolution.
    """
    return min(1.0, long_side / max(height, width))


def _to_tensor(frames: Sequence[np.ndarray], device: torch.device) -> Tensor:
    """uint8 frames [(H,W,3)] -> (1,T,3,H,W) float32 in [0,1] on device."""
    x = torch.from_numpy(np.ascontiguousarray(np.stack(frames))).to(device)
    return x.permute(0, 3, 1, 2).float().div_(255.0).unsqueeze(0)


@torch.inference_mode()
def _matte_chunk(net: MattingNetwork, batch: Sequence[np.ndarray], rec: list[Tensor | None], ratio: float,
                 device: torch.device) -> tuple[np.ndarray, list[Tensor | None]]:
    """One chunk as a (1,T,…) time series: alpha uint8 (T,H,W) and the recurrent states after its last frame."""
    _, pha, *rec = net(_to_tensor(batch, device), *rec, downsample_ratio=ratio)
    return (pha[0, :, 0] * 255.0).round().to(torch.uint8).cpu().numpy(), rec


def iter_mattes(net: MattingNetwork, frames: Iterable[np.ndarray], downsample_ratio: float | None = None,
                chunk: int = 16, device: str | torch.device | None = None) -> Iterator[np.ndarray]:
    """Alpha (H,W) uint8 per frame of `frames` (uint8 (H,W,3) RGB, same size throughout), in order.

    Frames are batched `chunk` at a time as one (1,T,…) time series; the four recurrent states are carried
    from chunk to chunk, so the result equals feeding the frames one by one (up to float rounding). Memory
    holds one chunk. `downsample_ratio` None picks `auto_downsample_ratio` from the first frame. Runs under
    torch.inference_mode (entered per chunk, so the caller's grad mode is untouched between yields).
    """
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    device = torch.device(device) if device is not None else next(net.parameters()).device
    rec: list[Tensor | None] = [None] * 4
    shape: tuple[int, ...] | None = None
    ratio = downsample_ratio
    batch: list[np.ndarray] = []
    for frame in frames:
        frame = np.asarray(frame)
        if shape is None:
            shape = frame.shape
            if len(shape) != 3 or shape[2] != 3 or frame.dtype != np.uint8:
                raise ValueError(f"frames must be uint8 (H,W,3), got {frame.dtype} {shape}")
            ratio = ratio if ratio is not None else auto_downsample_ratio(shape[0], shape[1])
        elif frame.shape != shape:  # the recurrent states are tied to one size
            raise ValueError(f"frame size changed from {shape} to {frame.shape}")
        batch.append(frame)
        if len(batch) == chunk:
            alpha, rec = _matte_chunk(net, batch, rec, ratio, device)
            batch = []
            yield from alpha
    if batch:
        alpha, rec = _matte_chunk(net, batch, rec, ratio, device)
        yield from alpha


def matte_frames(net: MattingNetwork, frames: np.ndarray | Iterable[np.ndarray],
                 downsample_ratio: float | None = None, chunk: int = 16,
                 device: str | torch.device | None = None) -> np.ndarray:
    """Alpha mattes uint8 (T,H,W) for frames uint8 (T,H,W,3) RGB or an iterator of (H,W,3); see `iter_mattes`."""
    alphas = list(iter_mattes(net, frames, downsample_ratio, chunk, device))
    if not alphas:
        height, width = frames.shape[1:3] if isinstance(frames, np.ndarray) and frames.ndim == 4 else (0, 0)
        return np.zeros((0, height, width), np.uint8)
    return np.stack(alphas)
