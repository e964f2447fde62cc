"""Speech-like jaw rhythm, blinks, gesture tracks and part overlays of the demo (pure numpy, fast)."""

from __future__ import annotations

import numpy as np

from talkinnerf.demo import signals
from talkinnerf.demo.contact_sheet import PART_COLORS, overlay_parts
from talkinnerf.demo.motion import make_performance


def test_syllable_envelope_has_a_4hz_rhythm_with_pauses():
    rng = np.random.default_rng(0)
    t = np.arange(0, 20, 0.01)
    segs = signals.speech_segments(20.0, rng)
    env = signals.syllable_envelope(t, segs, rng, rate_hz=4.0)
    assert 0 <= env.min() and env.max() <= 1
    spec = np.abs(np.fft.rfft(env - env.mean()))
    freqs = np.fft.rfftfreq(len(env), 0.01)
    mass = lambda lo, hi: spec[(freqs > lo) & (freqs < hi)].sum()  # noqa: E731
    # above the phrase/pause rhythm, the syllable band (3-5.5 Hz) dominates its neighbours
    assert mass(3.0, 5.5) > 2 * mass(1.5, 3.0) and mass(3.0, 5.5) > 2 * mass(5.5, 10.0)
    talking = np.zeros_like(t, bool)
    for a, b in segs:
        talking |= (t >= a) & (t <= b)
    assert (~talking).mean() > 0.05 and env[~talking].max() < 0.05  # pauses are silent


def test_blinks_close_the_eyes_briefly_at_low_fps():
    t = np.arange(0, 10, 1 / 12)
    b = signals.blinks(t, np.random.default_rng(1))
    assert b.max() >= 0.99  # at least one frame fully closed
    assert 0 < (b > 0.5).mean() < 0.15


def test_performance_is_deterministic_and_varied():
    t = np.arange(60) / 12
    p1 = make_performance(t, np.random.default_rng(5))
    p2 = make_performance(t, np.random.default_rng(5))
    p3 = make_performance(t, np.random.default_rng(6))
    np.testing.assert_array_equal(p1.facial["jawOpen"], p2.facial["jawOpen"])
    np.testing.assert_array_equal(p1.arm["L"], p2.arm["L"])
    assert not np.array_equal(p1.arm["L"], p3.arm["L"])
    assert p1.facial["jawOpen"].std() > 0.05
    assert np.ptp(p1.arm["L"][:, 3]) > 20  # the elbows move: gestures, not a still pose
    assert ((p1.finger_curl["L"] >= 0) & (p1.finger_curl["L"] <= 1)).all()


def test_overlay_parts_only_touches_labelled_pixels():
    rgb = np.full((4, 4, 3), 100, np.uint8)
    parts = np.zeros((4, 4), np.uint8)
    parts[1, 2] = 3
    out = overlay_parts(rgb, parts, opacity=0.5)
    np.testing.assert_array_equal(out[0, 0], [100, 100, 100])
    np.testing.assert_allclose(out[1, 2], 0.5 * 100 + 0.5 * PART_COLORS[3], atol=1)
