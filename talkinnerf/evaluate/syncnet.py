"""SyncNet's LSE-D / LSE-C (Chung & Zisserman 2016; the protocol Wav2Lip and the paper's Table 4 use), when the user
brings SyncNet's weights.

The weights (``syncnet_v2.model``, released with the authors' ``syncnet_python``) are not on the package index and
state no licence, so this project never fetches them: put the file at ``$TALKINNERF_WEIGHTS/syncnet/syncnet_v2.model``
(``talkinnerf weights list`` shows the place) or name it in ``experiments.lipsync.syncnet``. Without it Table 4 keeps
the FaceMesh / audio-RMS measure of ``lipsync.py`` and says LSE-D/C are n/a.

The protocol, as the authors' evaluation runs it:

- video at 25 fps, audio at 16 kHz mono; MFCCs (``python_speech_features.mfcc`` defaults: 13 coefficients at 100 Hz)
  of the int16-scaled samples, so four MFCC frames per video frame;
- per frame a face box (here MediaPipe's full-range face detector; the authors use S3FD), missing detections filled
  by linear interpolation, centres and sizes median-filtered over 13 frames (repeating the end boxes); the crop
  reaches one half-size above the box centre, 1.8 half-sizes below it and 1.4 either side (``crop_scale`` 0.4),
  outside the frame grey 110, resized to 224 x 224, BGR values 0-255;
- a lip embedding from every 5 consecutive frames, an audio embedding from the 20 MFCC frames starting at the same
  time; for every offset ``o`` in ``[-vshift, vshift]`` (15) the mean over frames of the Euclidean distance between
  lip embedding ``i`` and audio embedding ``i - o`` (zero vectors past either end, as the authors pad);
- **LSE-D** = the smallest mean distance, **LSE-C** = the median over offsets minus it, the **offset** where it
  lies (positive: the mouth trails the audio, as in lipsync.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

SYNCNET_FPS = 25.0
SYNCNET_RATE = 16000
CROP_SIDE = 224
MFCC_PER_FRAME = 4           # 100 Hz MFCCs / 25 fps
LIP_WINDOW = 5               # frames per lip embedding
AUDIO_WINDOW = 20            # MFCC frames per audio embedding
PAD_GREY = 110               # the authors pad the frame with this value before cropping
SMOOTH_KERNEL = 13           # median filter over the face boxes (frames)


# ------------------------------------------------------------------------------------------------- network
def _build_network(embedding: int = 1024):
    """SyncNet's "S" network as its released weights expect it: the parameter names (``netcnnaud.<i>``,
    ``netfcaud.<i>``, ``netcnnlip.<i>``, ``netfclip.<i>``) are the positions in four ``nn.Sequential``s."""
    import torch.nn as nn

    def conv_bn(conv, bn, pool=None, inplace=True) -> list:
        layers = [conv, bn, nn.ReLU(inplace=inplace)]
        return layers + ([pool] if pool is not None else [])

    audio = []
    audio += conv_bn(nn.Conv2d(1, 64, 3, 1, 1), nn.BatchNorm2d(64), nn.MaxPool2d(1, 1))
    audio += conv_bn(nn.Conv2d(64, 192, 3, 1, 1), nn.BatchNorm2d(192), nn.MaxPool2d(3, (1, 2)))
    audio += conv_bn(nn.Conv2d(192, 384, 3, padding=1), nn.BatchNorm2d(384))
    audio += conv_bn(nn.Conv2d(384, 256, 3, padding=1), nn.BatchNorm2d(256))
    audio += conv_bn(nn.Conv2d(256, 256, 3, padding=1), nn.BatchNorm2d(256), nn.MaxPool2d(3, 2))
    audio += conv_bn(nn.Conv2d(256, 512, (5, 4)), nn.BatchNorm2d(512), inplace=False)

    lip = []
    lip += conv_bn(nn.Conv3d(3, 96, (5, 7, 7), (1, 2, 2)), nn.BatchNorm3d(96), nn.MaxPool3d((1, 3, 3), (1, 2, 2)))
    lip += conv_bn(nn.Conv3d(96, 256, (1, 5, 5), (1, 2, 2), (0, 1, 1)), nn.BatchNorm3d(256),
                   nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)))
    lip += conv_bn(nn.Conv3d(256, 256, (1, 3, 3), padding=(0, 1, 1)), nn.BatchNorm3d(256))
    lip += conv_bn(nn.Conv3d(256, 256, (1, 3, 3), padding=(0, 1, 1)), nn.BatchNorm3d(256))
    lip += conv_bn(nn.Conv3d(256, 256, (1, 3, 3), padding=(0, 1, 1)), nn.BatchNorm3d(256),
                   nn.MaxPool3d((1, 3, 3), (1, 2, 2)))
    lip += conv_bn(nn.Conv3d(256, 512, (1, 6, 6)), nn.BatchNorm3d(512))

    def head():
        return nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, embedding))

    class SyncNetS(nn.Module):
        """Lip clips (B, 3, 5, 224, 224) and MFCC windows (B, 1, 13, 20) -> embeddings (B, 1024)."""

        def __init__(self) -> None:
            super().__init__()
            self.netcnnaud, self.netfcaud = nn.Sequential(*audio), head()
            self.netcnnlip, self.netfclip = nn.Sequential(*lip), head()

        def audio_embedding(self, mfcc):
            return self.netfcaud(self.netcnnaud(mfcc).flatten(1))

        def lip_embedding(self, clips):
            return self.netfclip(self.netcnnlip(clips).flatten(1))

    return SyncNetS()


def syncnet_network():
    """An untrained SyncNet "S" network (eval mode); ``load_syncnet`` fills it from the released file."""
    return _build_network().eval()


def default_weights_path() -> Path:
    from talkinnerf.pretrained import entry

    return entry("syncnet").path


def _setting_path(setting: str | None) -> Path | None:
    """The file ``experiments.lipsync.syncnet`` points at: None -> the cache's, "off" -> None, else the path."""
    if setting is None:
        return default_weights_path()
    return None if str(setting).lower() == "off" else Path(setting).expanduser()


def resolve_weights(setting: str | None) -> Path | None:
    """The weights file a lipsync run uses: ``setting`` None -> the cache file when present (else None: no
    SyncNet); "off" -> None; a path -> that file, which must exist."""
    path = _setting_path(setting)
    if path is None or (setting is None and not path.is_file()):
        return None
    if not path.is_file():
        raise FileNotFoundError(
            f"SyncNet weights: {path} does not exist. Get syncnet_v2.model from the SyncNet authors' release "
            f"(github.com/joonson/syncnet_python, download_model.sh) and put it there, or at "
            f"{default_weights_path()} and leave experiments.lipsync.syncnet empty; 'off' skips LSE-D/C")
    return path


def weights_identity(setting: str | None) -> str:
    """What a lipsync result depends on beyond its options and code (the workflow's rule params): "off", "absent"
    or the weights file's path, size and modification time, so that adding or replacing the file reruns Table 4.
    Cheap: no hashing, no torch."""
    path = _setting_path(setting)
    if path is None:
        return "off"
    if not path.is_file():
        return f"{path}:absent"
    stat = path.stat()
    return f"{path}:{stat.st_size}:{stat.st_mtime_ns}"


def load_syncnet(path: str | Path):
    """SyncNet with the weights of ``path`` (a tensor state dict as the authors save it, read by the project's
    weights loader; a ``module.`` or ``__S__.`` prefix, as wrappers save it, is dropped). A file whose names or
    shapes do not fit is a ValueError naming them."""
    from talkinnerf.pretrained import load_tensors

    path = Path(path)
    try:
        state = load_tensors(path)
    except Exception as exc:   # noqa: BLE001 - any unreadable file gets the same clear message
        raise ValueError(f"SyncNet weights {path}: not a PyTorch state dict ({exc})") from exc
    for prefix in ("module.", "__S__."):
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    net = syncnet_network()
    own = net.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    if missing or unexpected or wrong:
        def few(keys):
            return ", ".join(keys[:5]) + (f" (+{len(keys) - 5} more)" if len(keys) > 5 else "")
        parts = [f"missing {few(missing)}" if missing else "", f"unexpected {few(unexpected)}" if unexpected else "",
                 f"wrong shape {few(wrong)}" if wrong else ""]
        raise ValueError(f"SyncNet weights {path} do not fit SyncNet's S network (syncnet_v2.model): "
                         + "; ".join(p for p in parts if p))
    net.load_state_dict({k: v.float() for k, v in state.items()})
    return net.eval()


# ------------------------------------------------------------------------------------------------- audio
def mfcc_features(samples: np.ndarray, rate: int) -> np.ndarray:
    """(13, T) MFCCs at 100 Hz of the audio resampled to 16 kHz mono, on the int16 scale SyncNet was trained on."""
    from math import gcd

    import python_speech_features
    from scipy.signal import resample_poly

    x = np.asarray(samples, np.float64)
    if x.ndim == 2:
        x = x.mean(1)
    if rate <= 0:
        raise ValueError(f"mfcc_features: sample rate {rate}")
    if rate != SYNCNET_RATE:
        g = gcd(int(rate), SYNCNET_RATE)
        x = resample_poly(x, SYNCNET_RATE // g, int(rate) // g)
    return np.asarray(python_speech_features.mfcc(x, SYNCNET_RATE), np.float64).T


# ------------------------------------------------------------------------------------------------- video
def resample_indices(n_frames: int, fps: float, target: float = SYNCNET_FPS) -> np.ndarray:
    """Source frame shown at each target frame time (the latest frame started by then): indices into n_frames."""
    if fps <= 0 or n_frames <= 0:
        raise ValueError(f"resample_indices: {n_frames} frames at {fps} fps")
    duration = n_frames / fps
    t = np.arange(int(math.floor(duration * target + 1e-9))) / target
    return np.minimum(np.floor(t * fps + 1e-9).astype(int), n_frames - 1)


def fill_boxes(boxes: list[tuple[float, float, float] | None]) -> np.ndarray | None:
    """(N, 3) centre x, centre y, half-size per frame: missing detections linearly interpolated (held at the ends),
    then each median-filtered over ``SMOOTH_KERNEL`` frames (the ends repeat the last box; the authors' filter pads
    with zeros, which shrinks the first and last boxes). None when no frame has a face."""
    from scipy.ndimage import median_filter

    have = np.array([b is not None for b in boxes])
    if not have.any():
        return None
    known = np.array([b for b in boxes if b is not None], float)
    idx = np.arange(len(boxes))
    out = np.stack([np.interp(idx, idx[have], known[:, j]) for j in range(3)], 1)
    kernel = min(SMOOTH_KERNEL, len(boxes) if len(boxes) % 2 else len(boxes) - 1)
    if kernel >= 3:
        out = np.stack([median_filter(out[:, j], size=kernel, mode="nearest") for j in range(3)], 1)
    return out


def face_crop(image_rgb: np.ndarray, cx: float, cy: float, half: float, crop_scale: float = 0.4) -> np.ndarray:
    """The authors' crop of one frame: rows cy - half .. cy + half (1 + 2 crop_scale), columns
    cx -/+ half (1 + crop_scale), grey 110 outside the frame, resized to 224 x 224; returned BGR uint8."""
    import cv2

    pad = int(half * (1 + 2 * crop_scale)) + 1
    big = np.pad(np.asarray(image_rgb)[..., ::-1], ((pad, pad), (pad, pad), (0, 0)), constant_values=PAD_GREY)
    y0, y1 = int(cy + pad - half), int(cy + pad + half * (1 + 2 * crop_scale))
    x0, x1 = int(cx + pad - half * (1 + crop_scale)), int(cx + pad + half * (1 + crop_scale))
    face = big[max(y0, 0):max(y1, y0 + 1), max(x0, 0):max(x1, x0 + 1)]
    return cv2.resize(np.ascontiguousarray(face), (CROP_SIDE, CROP_SIDE), interpolation=cv2.INTER_LINEAR)


# ------------------------------------------------------------------------------------------------- scores
@dataclass
class LSE:
    distance: float        # LSE-D: smallest mean embedding distance over the offsets
    confidence: float      # LSE-C: median over offsets minus that
    offset: int            # where it lies (+: the mouth trails the audio)
    frames: int            # lip embeddings scored


def sync_distances(lip: np.ndarray, audio: np.ndarray, vshift: int = 15) -> np.ndarray:
    """(2 vshift + 1,) mean over lip embeddings i of |lip_i - audio_{i - o}| for o = -vshift .. vshift (index
    o + vshift); audio embeddings past either end are zero vectors, as the authors pad them."""
    lip, audio = np.asarray(lip, np.float64), np.asarray(audio, np.float64)
    n = len(lip)
    if len(audio) < n or n == 0:
        raise ValueError(f"sync_distances: {n} lip embeddings need as many audio embeddings, got {len(audio)}")
    zeros = np.zeros((vshift, audio.shape[1]))
    padded = np.concatenate([zeros, audio[:n], zeros])
    out = np.empty(2 * vshift + 1)
    for k, o in enumerate(range(-vshift, vshift + 1)):
        # audio_{i - o} sits at padded[i - o + vshift]
        start = vshift - o
        out[k] = float(np.linalg.norm(lip - padded[start:start + n], axis=1).mean())
    return out


def lse_scores(lip: np.ndarray, audio: np.ndarray, vshift: int = 15) -> LSE:
    d = sync_distances(lip, audio, vshift)
    k = int(np.argmin(d))     # first minimum: ties resolve to the most negative offset, on every machine
    return LSE(float(d[k]), float(np.median(d) - d[k]), k - vshift, int(len(lip)))


class SyncNetScorer:
    """LSE-D / LSE-C of a video (frames + fps) against audio (samples + rate) with a loaded SyncNet."""

    def __init__(self, weights: str | Path, vshift: int = 15, crop_scale: float = 0.4, batch: int = 16,
                 detector: Callable[[np.ndarray], tuple[float, float, float] | None] | None = None) -> None:
        self.net = load_syncnet(weights)
        self.vshift, self.crop_scale, self.batch = vshift, crop_scale, batch
        self._detector = detector
        self._meter = None       # the MediaPipe detector this scorer opens when none is injected

    def close(self) -> None:
        """Release the face detector this scorer opened (an injected detector is the caller's)."""
        if self._meter is not None:
            self._meter.close()
            self._meter = None

    def _detect(self, image: np.ndarray) -> tuple[float, float, float] | None:
        if self._detector is None:
            from talkinnerf.evaluate.lipsync import LipsyncConfig, MouthMeter

            meter = self._meter = MouthMeter(LipsyncConfig())

            def detect(img):
                roi = meter.detect(img)
                # MouthMeter's region is face_scale x the detection box; SyncNet wants the box's half-size
                return None if roi is None else (roi[0], roi[1], roi[2] / meter.cfg.face_scale / 2)
            self._detector = detect
        return self._detector(image)

    def crops(self, frames: list[np.ndarray]) -> np.ndarray | None:
        """(N, 224, 224, 3) BGR face crops of RGB frames, or None when no frame has a face."""
        boxes = fill_boxes([self._detect(np.asarray(f)) for f in frames])
        if boxes is None:
            return None
        return np.stack([face_crop(f, *b, crop_scale=self.crop_scale) for f, b in zip(frames, boxes)])

    def embeddings(self, crops: np.ndarray, mfcc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lip and audio embeddings of every 5-frame window that the audio covers (4 MFCC frames per frame)."""
        import torch

        n = min(len(crops), mfcc.shape[1] // MFCC_PER_FRAME) - LIP_WINDOW + 1
        if n < 1:
            return np.zeros((0, 1024)), np.zeros((0, 1024))
        video = torch.from_numpy(np.ascontiguousarray(crops.transpose(3, 0, 1, 2))).float()   # (3, N, H, W)
        cc = torch.from_numpy(np.ascontiguousarray(mfcc)).float()
        lips, auds = [], []
        with torch.no_grad():
            for i in range(0, n, self.batch):
                idx = range(i, min(n, i + self.batch))
                lips.append(self.net.lip_embedding(torch.stack([video[:, j:j + LIP_WINDOW] for j in idx])))
                auds.append(self.net.audio_embedding(torch.stack(
                    [cc[None, :, j * MFCC_PER_FRAME:j * MFCC_PER_FRAME + AUDIO_WINDOW] for j in idx])))
        return torch.cat(lips).numpy(), torch.cat(auds).numpy()

    def score(self, frames: Iterable[np.ndarray], fps: float, samples: np.ndarray, rate: int,
              start: float = 0.0) -> LSE | None:
        """LSE of RGB frames at ``fps`` against audio whose first sample plays at ``start`` seconds after the first
        frame. None when no face is found or fewer than 5 frames are covered by the audio."""
        frames = list(frames)
        picked = [frames[i] for i in resample_indices(len(frames), fps)]
        skip = int(round(start * rate))
        samples = np.asarray(samples)
        if skip > 0:   # audio starting late: pad silence so MFCC frame 0 is video time 0
            samples = np.concatenate([np.zeros((skip,) + samples.shape[1:], samples.dtype), samples])
        elif skip < 0:
            samples = samples[-skip:]
        crops = self.crops(picked)
        if crops is None:
            return None
        lip, aud = self.embeddings(crops, mfcc_features(samples, rate))
        if len(lip) == 0:
            return None
        return lse_scores(lip, aud, self.vshift)
