"""A synthetic voice for the demo subjects: a voiced buzz whose loudness follows the jaw that drives the mouth.

Not speech, but what a lip-sync measure needs from speech: sound when the mouth opens, silence in the pauses, the
loudness of each syllable where the video shows it. Per audio sample at time t (seconds from the first frame):

- loudness A(t) = (jawOpen(t) - jawOpen at rest) / (its largest possible excursion), the very jaw signal of the
  video evaluated at the sample's time (``Performance.jaw_at``: the same syllables), so A is 0 in the pauses;
- pitch f0(t): the subject's own (from its sex phenotype, 120-205 Hz, and a per-subject factor), falling over each
  phrase (declination), raised on loud syllables, with a slow random drift;
- timbre: the harmonics k = 1, 2, ... below ``max_hz`` with a -6 dB/octave glottal tilt, shaped by two formants
  (F1, F2) of a vowel drawn per syllable (a, e, i, o, u, schwa), glided between syllables;
- the carrier is normalised to unit RMS sample by sample (its RMS is known in closed form: sqrt(sum a_k^2 / 2)),
  so the short-time RMS of the voice is A(t) times a constant, whatever the vowel and pitch; a noise floor at
  -60 dB below the loudest syllable keeps the pauses from being digital silence.

Deterministic: everything random comes from the subject's seed (``subject_seed``), through its own generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkinnerf.demo import signals

VOICE_RATE = 16000   # Hz: mono, 16-bit, enough for the harmonics below 4 kHz
# vowel formants (F1, F2) in Hz, an average adult voice
VOWELS = {"a": (730.0, 1090.0), "e": (530.0, 1840.0), "i": (300.0, 2250.0), "o": (570.0, 840.0),
          "u": (320.0, 950.0), "schwa": (500.0, 1500.0)}


@dataclass
class VoiceOptions:
    rate: int = VOICE_RATE
    peak: float = 0.5          # the loudest sample, as a fraction of full scale
    max_hz: float = 4000.0     # highest harmonic
    noise_floor: float = 1e-3  # RMS of the noise floor relative to the loudest syllable's RMS (-60 dB)


def base_pitch(gender: float, rng: np.random.Generator) -> float:
    """The subject's mean f0 (Hz): 205 Hz at gender 0 (female) down to 120 Hz at 1 (male), times 0.93-1.07."""
    return float((205.0 - 85.0 * float(np.clip(gender, 0.0, 1.0))) * rng.uniform(0.93, 1.07))


def _formant_gain(freq: np.ndarray, f1: np.ndarray, f2: np.ndarray) -> np.ndarray:
    """Gain of two resonances (bandwidths 90 / 120 Hz) plus a floor, at harmonic frequencies ``freq`` (K,N)."""
    return 0.15 + 1.0 / (1.0 + ((freq - f1) / 90.0) ** 2) + 0.7 / (1.0 + ((freq - f2) / 120.0) ** 2)


def synthesize_voice(perf, seconds: float, gender: float, rng: np.random.Generator,
                     opts: VoiceOptions | None = None) -> tuple[np.ndarray, dict]:
    """The voice of a performance (talkinnerf.demo.motion.Performance) over ``seconds``: int16 (N,) mono samples at
    ``opts.rate`` (N = round(seconds * rate)) and a summary (pitch, vowels, rate)."""
    opts = opts or VoiceOptions()
    rate = int(opts.rate)
    n = int(round(seconds * rate))
    t = np.arange(n) / rate
    rest = float(perf.jaw_at(np.array([-1.0]))[0])           # before the first syllable: the jaw at rest
    span = max(float(np.clip(perf.talkativeness * 0.6, 0, 1)) - rest, 1e-6)
    loud = np.clip((perf.jaw_at(t) - rest) / span, 0.0, 1.0)

    # pitch: declination over each phrase, accent on loud syllables, slow drift
    f0_mean = base_pitch(gender, rng)
    phrase_pos = np.zeros(n)
    for start, dur, _ in _phrases(perf.syllables):
        inside = (t >= start) & (t <= start + dur)
        phrase_pos[inside] = (t[inside] - start) / max(dur, 1e-6)
    drift = signals.smooth_noise(t, rng, (0.3, 1.5))
    f0 = f0_mean * (1.08 - 0.16 * phrase_pos) * (1.0 + 0.06 * loud) * (1.0 + 0.03 * drift)
    phase = 2.0 * np.pi * np.cumsum(f0) / rate + rng.uniform(0, 2 * np.pi)

    # vowels: one per syllable, formants glided over 40 ms around each syllable start
    names = list(VOWELS)
    picks = [names[int(i)] for i in rng.integers(0, len(names), size=max(1, len(perf.syllables)))]
    f1, f2 = np.full(n, VOWELS["schwa"][0]), np.full(n, VOWELS["schwa"][1])
    for (start, _, _), vowel in zip(perf.syllables, picks):
        f1[t >= start], f2[t >= start] = VOWELS[vowel]
    glide = max(1, int(0.04 * rate))
    kernel = np.hanning(2 * glide + 1)
    kernel /= kernel.sum()
    f1 = np.convolve(np.pad(f1, glide, mode="edge"), kernel, mode="valid")
    f2 = np.convolve(np.pad(f2, glide, mode="edge"), kernel, mode="valid")

    carrier = np.zeros(n)
    power = np.zeros(n)
    for k in range(1, int(opts.max_hz // max(f0.min(), 1.0)) + 1):
        freq = k * f0
        # tapered over the last 300 Hz below max_hz: a harmonic fades in and out as the pitch moves, no clicks
        amp = _formant_gain(freq, f1, f2) / k * np.clip((opts.max_hz - freq) / 300.0, 0.0, 1.0)
        carrier += amp * np.sin(k * phase)
        power += 0.5 * amp * amp
    carrier /= np.sqrt(np.maximum(power, 1e-12))              # unit RMS: loudness is A(t) alone
    noise = rng.standard_normal(n) * opts.noise_floor
    wave = loud * carrier + noise
    scale = opts.peak / max(float(np.abs(wave).max()), 1e-9)
    samples = np.clip(np.round(wave * scale * 32767.0), -32768, 32767).astype(np.int16)
    summary = {"rate": rate, "samples": n, "seconds": n / rate, "f0_mean_hz": round(f0_mean, 2),
               "f0_range_hz": [round(float(f0.min()), 1), round(float(f0.max()), 1)],
               "syllables": len(perf.syllables), "vowels": picks[:len(perf.syllables)],
               "loudness": "(jawOpen - rest) / (0.6 talkativeness - rest), per sample"}
    return samples, summary


def _phrases(sylls: list[tuple[float, float, float]], gap: float = 0.2) -> list[tuple[float, float, float]]:
    """Group syllables into phrases (a gap of more than ``gap`` s starts a new one): [(start, duration, 0)]."""
    out: list[list[float]] = []
    for start, dur, _ in sylls:
        if out and start - (out[-1][0] + out[-1][1]) <= gap:
            out[-1][1] = start + dur - out[-1][0]
        else:
            out.append([start, dur])
    return [(a, d, 0.0) for a, d in out]



def subject_voice(subject: str, opts, identity) -> tuple[np.ndarray, dict]:
    """The voice `demo synthesize` gives ``subject`` with these options (SynthesizeOptions, IdentityOptions),
    without rendering: the same performance from the same seed. For demo videos made before the voice existed."""
    from talkinnerf.demo.motion import make_performance
    from talkinnerf.demo.synthesize import subject_seed

    n_frames = max(1, int(round(opts.seconds * opts.fps)))
    t = np.arange(n_frames) / float(opts.fps)
    seed = subject_seed(subject, opts.seed)
    perf = make_performance(t, np.random.default_rng(seed), gesture_amount=identity.gesture_amount,
                            talkativeness=identity.talkativeness, smile_bias=identity.smile)
    return synthesize_voice(perf, n_frames / float(opts.fps), identity.gender, np.random.default_rng(seed + 2))
