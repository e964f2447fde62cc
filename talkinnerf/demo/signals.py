"""Deterministic 1-D time signals for synthetic talking: smooth noise, speech envelopes, blinks, keyframe tracks.

Pure numpy; every function takes the frame times ``t`` (T,) in seconds and a ``numpy.random.Generator``, so a
subject's whole performance is reproducible from one seed.
"""

from __future__ import annotations

import numpy as np


def smooth_noise(t: np.ndarray, rng: np.random.Generator, freq: tuple[float, float] = (0.1, 0.6),
                 n_terms: int = 4) -> np.ndarray:
    """Band-limited random signal in roughly [-1, 1]: a sum of sines with random frequencies and phases. (T,)"""
    f = rng.uniform(*freq, size=n_terms)
    phase = rng.uniform(0, 2 * np.pi, size=n_terms)
    amp = rng.uniform(0.5, 1.0, size=n_terms)
    s = (amp[:, None] * np.sin(2 * np.pi * f[:, None] * t[None] + phase[:, None])).sum(0)
    return s / amp.sum() * np.sqrt(n_terms)  # sum of n random-phase sines has std ~ sqrt(n/2) * mean amp


def _bump(t: np.ndarray, start: float, dur: float) -> np.ndarray:
    """Raised-cosine pulse of height 1 on [start, start + dur]; 0 elsewhere. (T,)"""
    x = (t - start) / dur
    return np.where((x >= 0) & (x <= 1), 0.5 - 0.5 * np.cos(2 * np.pi * np.clip(x, 0, 1)), 0.0)


def speech_segments(duration: float, rng: np.random.Generator, phrase: tuple[float, float] = (1.2, 3.2),
                    pause: tuple[float, float] = (0.25, 0.8)) -> list[tuple[float, float]]:
    """Talking intervals [(start, end)] alternating with pauses; starts talking within the first 0.3 s."""
    segs, time = [], rng.uniform(0.0, 0.3)
    while time < duration:
        length = rng.uniform(*phrase)
        segs.append((time, min(time + length, duration)))
        time += length + rng.uniform(*pause)
    return segs


def syllables(segments: list[tuple[float, float]], rng: np.random.Generator,
              rate_hz: float = 4.0) -> list[tuple[float, float, float]]:
    """The syllables of the talking segments: [(start, duration, peak)] in seconds, peak in [0, 1].

    Syllable lengths jitter +-35 % around 1/rate and their loudness varies (stressed / unstressed); a slow
    phrase contour (louder in the middle of a phrase) scales the peaks, like a speech amplitude envelope. A
    syllable is cut at the end of its segment. ``envelope_at`` turns the list into a signal at any times (the
    video's frames, the voice's audio samples), so both follow the same syllables.
    """
    out = []
    period = 1.0 / rate_hz
    for start, end in segments:
        time = start
        while time < end:
            dur = period * rng.uniform(0.65, 1.35)
            loud = rng.choice([rng.uniform(0.25, 0.55), rng.uniform(0.6, 1.0)], p=[0.4, 0.6])
            contour = 0.6 + 0.4 * np.sin(np.pi * np.clip((time - start) / max(end - start, 1e-6), 0, 1))
            out.append((float(time), float(min(dur, end - time + 1e-3)), float(loud * contour)))
            time += dur
    return out


def envelope_at(t: np.ndarray, sylls: list[tuple[float, float, float]]) -> np.ndarray:
    """Mouth-opening envelope in [0, 1] at times ``t`` (seconds): each syllable a raised-cosine pulse of its peak
    height, overlapping pulses combined by their maximum. (T,)"""
    t = np.asarray(t, dtype=np.float64)
    env = np.zeros_like(t, dtype=np.float64)
    ordered = t.ndim == 1 and bool(np.all(np.diff(t) >= 0))
    for start, dur, peak in sylls:
        if not ordered:
            env = np.maximum(env, peak * _bump(t, start, dur))
            continue
        # the pulse is 0 outside [start, start + dur]: only the times near it are evaluated
        lo = max(int(np.searchsorted(t, start)) - 1, 0)
        hi = min(int(np.searchsorted(t, start + dur, side="right")) + 1, len(t))
        if hi > lo:
            env[lo:hi] = np.maximum(env[lo:hi], peak * _bump(t[lo:hi], start, dur))
    return np.clip(env, 0.0, 1.0)


def syllable_envelope(t: np.ndarray, segments: list[tuple[float, float]], rng: np.random.Generator,
                      rate_hz: float = 4.0) -> np.ndarray:
    """Mouth-opening envelope in [0, 1]: syllable pulses at ~``rate_hz`` inside talking segments. (T,)

    ``envelope_at(t, syllables(segments, rng, rate_hz))``: see those two.
    """
    return envelope_at(t, syllables(segments, rng, rate_hz))


def blinks(t: np.ndarray, rng: np.random.Generator, interval: tuple[float, float] = (1.8, 5.0),
           dur: float = 0.2) -> np.ndarray:
    """Eyelid closure in [0, 1]: brief full blinks at random intervals. (T,)

    A blink lasts ``dur`` seconds; at low frame rates it is widened to cover at least one frame centre.
    """
    if len(t) < 2:
        return np.zeros_like(t, dtype=np.float64)
    dt = float(np.median(np.diff(t)))
    dur = max(dur, 2.2 * dt)
    out = np.zeros_like(t, dtype=np.float64)
    time = rng.uniform(0.3, interval[1])
    while time < t[-1] + dur:
        out = np.maximum(out, _bump(t, time, dur))
        time += rng.uniform(*interval)
    return np.clip(out * 1.15, 0, 1)  # flatten the top so the lid fully closes on the middle frame


def keyframe_track(t: np.ndarray, rng: np.random.Generator, n_keys: int, hold: tuple[float, float] = (0.5, 1.4),
                   weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random sequence of key poses with smoothstep transitions.

    Returns (index_from (T,), index_to (T,), blend (T,) in [0,1]): the pose at each frame is
    ``lerp(key[index_from], key[index_to], blend)``. Each key is held/approached over ``hold`` seconds.
    """
    p = None if weights is None else np.asarray(weights, float) / np.sum(weights)
    times, keys, time = [t[0] - 1e-6], [int(rng.choice(n_keys, p=p))], t[0]
    while time <= t[-1]:
        time += rng.uniform(*hold)
        times.append(time)
        keys.append(int(rng.choice(n_keys, p=p)))
    times_a, keys_a = np.array(times), np.array(keys)
    seg = np.clip(np.searchsorted(times_a, t, side="right") - 1, 0, len(times_a) - 2)
    x = (t - times_a[seg]) / (times_a[seg + 1] - times_a[seg])
    # ease in-out over the first 70 % of each interval, then hold: gestures are strokes followed by holds
    x = np.clip(x / 0.7, 0, 1)
    blend = x * x * (3 - 2 * x)
    return keys_a[seg], keys_a[seg + 1], blend
