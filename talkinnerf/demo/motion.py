"""A synthetic talking performance: per-frame Anny bone rotations, facial actions and root motion.

Rotations are rotation vectors in Anny's rest-world axes (Anny is z-up, faces -y, subject's left is +x), which
is what Anny's default "local-ref" pose parameterization expects: the parameter of a bone rotates it about
those axes as carried along by its posed parents. Right-side values mirror the left ones across x = 0
(a rotation vector (rx, ry, rz) mirrors to (rx, -ry, -rz)).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from talkinnerf.demo import signals

# Arm key poses, degrees: (shoulder forward flexion (positive swings the arm forward), shoulder abduction (outwards), upper-arm inward rotation,
# elbow flexion, wrist flexion), relative to the arm hanging at the side (the rig turns them into Anny bone
# rotations from each bone's rest axes). Talking gestures move between them.
ARM_KEYS = np.array([
    [0.0, 0.0, 0.0, 5.0, 0.0],       # rest, arm hanging
    [18.0, 2.0, 30.0, 85.0, 10.0],   # hands together in front of the belly
    [28.0, 22.0, -12.0, 65.0, -15.0],  # open-palm gesture out to the side
    [45.0, 8.0, 12.0, 100.0, 5.0],   # raised emphasis in front of the chest
    [32.0, 6.0, 18.0, 72.0, 0.0],    # explaining, forearm forward
    [12.0, -4.0, 40.0, 115.0, 15.0], # hand to chest
])
ARM_KEY_WEIGHTS = np.array([0.22, 0.2, 0.16, 0.12, 0.2, 0.1])

FINGERS = (1, 2, 3, 4, 5)  # Anny: finger1 = thumb .. finger5 = little finger
FACIAL_CHANNELS = ("jawOpen", "mouthFunnel", "mouthClose", "mouthSmileLeft", "mouthSmileRight",
                   "eyeBlinkLeft", "eyeBlinkRight", "browInnerUp", "mouthStretchLeft", "mouthStretchRight")


@dataclass
class Performance:
    """Per-frame animation. arm: side ('L'/'R') -> (T,5) degrees in ARM_KEYS columns; forearm_twist: side ->
    (T,) degrees; rotvecs: other bones, name -> (T,3) rotation vectors in Anny rest-world axes;
    finger_curl: side ('L'/'R') -> (T,5) curl in [0,1] per finger (thumb first), to be turned into finger-joint
    rotations by the rig (it knows each finger's flexion axis); facial: channel -> (T,) in [0,1];
    root_rotvec / root_transl: (T,3) in Anny axes (metres); speech: (T,) the syllable envelope (diagnostics);
    syllables: [(start s, duration s, peak)] behind ``speech`` and the jaw, and talkativeness, the jaw's gain:
    ``jaw_at`` evaluates the jaw opening at any times (the voice's audio samples).
    """

    t: np.ndarray
    arm: dict[str, np.ndarray] = field(default_factory=dict)
    forearm_twist: dict[str, np.ndarray] = field(default_factory=dict)
    rotvecs: dict[str, np.ndarray] = field(default_factory=dict)
    finger_curl: dict[str, np.ndarray] = field(default_factory=dict)
    facial: dict[str, np.ndarray] = field(default_factory=dict)
    root_rotvec: np.ndarray | None = None
    root_transl: np.ndarray | None = None
    speech: np.ndarray | None = None
    syllables: list[tuple[float, float, float]] = field(default_factory=list)
    talkativeness: float = 1.0

    def jaw_at(self, times: np.ndarray) -> np.ndarray:
        """The jawOpen signal at any times (seconds), from the same syllables as the frames' (T,)."""
        return jaw_opening(signals.envelope_at(times, self.syllables), self.talkativeness)


def jaw_opening(env: np.ndarray, talkativeness: float) -> np.ndarray:
    """jawOpen in [0, 1] from the syllable envelope: slightly parted at rest, open with each syllable."""
    return np.clip(talkativeness * (0.05 + 0.55 * env), 0, 1)


def _rv(axis: str, deg: np.ndarray) -> np.ndarray:
    """Rotation vectors (T,3) about a coordinate axis by ``deg`` degrees."""
    out = np.zeros((len(deg), 3))
    out[:, "xyz".index(axis)] = np.deg2rad(deg)
    return out


def _compose(*rvs: np.ndarray) -> np.ndarray:
    """Rotation vectors of R_1 @ R_2 @ ... (each (T,3))."""
    r = Rotation.from_rotvec(rvs[0])
    for rv in rvs[1:]:
        r = r * Rotation.from_rotvec(rv)
    return r.as_rotvec()


def make_performance(t: np.ndarray, rng: np.random.Generator, gesture_amount: float = 1.0,
                     talkativeness: float = 1.0, smile_bias: float = 0.2) -> Performance:
    """Sample a talking performance at frame times ``t`` (T,) seconds.

    gesture_amount scales arm-gesture amplitude (0 = arms hang still); talkativeness scales jaw opening;
    smile_bias is the resting smile level in [0, 1].
    """
    t = np.asarray(t, dtype=np.float64)
    T = len(t)
    perf = Performance(t=t)
    duration = float(t[-1]) + 1e-3 if T else 0.0

    # --- speech: phrases and syllables drive the jaw, lips, brows, and beat gestures
    segs = signals.speech_segments(duration, rng)
    sylls = signals.syllables(segs, rng)
    env = signals.envelope_at(t, sylls)
    perf.speech, perf.syllables, perf.talkativeness = env, sylls, float(talkativeness)
    talking = np.zeros(T)
    for a, b in segs:
        talking = np.maximum(talking, ((t >= a) & (t <= b)).astype(float))
    jaw = jaw_opening(env, talkativeness)
    funnel = np.clip(0.35 * env * (signals.smooth_noise(t, rng, (0.3, 1.0)) > 0.4), 0, 1)
    smile = np.clip(smile_bias + 0.35 * np.maximum(signals.smooth_noise(t, rng, (0.05, 0.25)), 0), 0, 1)
    blink = signals.blinks(t, rng)
    brow = np.clip(0.4 * env * np.maximum(signals.smooth_noise(t, rng, (0.2, 0.6)), 0), 0, 1)
    stretch = np.clip(0.2 * env * np.maximum(-signals.smooth_noise(t, rng, (0.3, 0.9)), 0), 0, 1)
    perf.facial = {
        "jawOpen": jaw, "mouthFunnel": funnel, "mouthClose": 0.1 * (1 - talking),
        "mouthSmileLeft": smile, "mouthSmileRight": np.clip(smile + 0.05 * signals.smooth_noise(t, rng), 0, 1),
        "eyeBlinkLeft": blink, "eyeBlinkRight": blink, "browInnerUp": brow,
        "mouthStretchLeft": stretch, "mouthStretchRight": stretch,
    }

    # --- arms: gesture strokes between key poses, plus small beats on stressed syllables while talking
    beat = np.convolve(env, np.ones(3) / 3, mode="same") * talking
    for side in ("L", "R"):
        i0, i1, w = signals.keyframe_track(t, rng, len(ARM_KEYS), hold=(0.6, 1.5), weights=ARM_KEY_WEIGHTS)
        params = (1 - w)[:, None] * ARM_KEYS[i0] + w[:, None] * ARM_KEYS[i1]
        params = params * gesture_amount
        params[:, 0] += 4.0 * signals.smooth_noise(t, rng, (0.2, 0.7)) - 6.0 * beat * gesture_amount
        params[:, 3] += 8.0 * signals.smooth_noise(t, rng, (0.2, 0.7)) + 10.0 * beat * gesture_amount
        params[:, 4] += 10.0 * signals.smooth_noise(t, rng, (0.3, 1.0))
        perf.arm[side] = params
        perf.forearm_twist[side] = 25.0 * signals.smooth_noise(t, rng, (0.2, 0.6))
        # fingers: a relaxed curl that drifts, opening during open-palm gestures, sometimes pointing
        base = 0.35 + 0.25 * signals.smooth_noise(t, rng, (0.15, 0.6))
        open_palm = ((i0 == 2) * (1 - w) + (i1 == 2) * w)
        curl = np.stack([np.clip(base - 0.3 * open_palm + 0.12 * signals.smooth_noise(t, rng, (0.3, 1.2)), 0, 1)
                         for _ in FINGERS], axis=1)
        point = (signals.smooth_noise(t, rng, (0.1, 0.3)) > 0.9).astype(float)
        curl[:, 1] *= 1 - 0.9 * point          # index straightens
        curl[:, 2:] = np.maximum(curl[:, 2:], 0.85 * point[:, None])  # the others fold
        perf.finger_curl[side] = curl

    # --- head, neck and spine: nods with speech, slow looks around, tiny breathing
    nod = 4.0 * signals.smooth_noise(t, rng, (0.3, 0.9)) + 3.0 * beat
    yaw = 7.0 * signals.smooth_noise(t, rng, (0.08, 0.35))
    roll = 3.0 * signals.smooth_noise(t, rng, (0.1, 0.4))
    head = _compose(_rv("z", yaw), _rv("y", roll), _rv("x", nod))
    perf.rotvecs["neck01"] = head * 0.4
    perf.rotvecs["head"] = head * 0.6
    breath = 1.2 * np.sin(2 * np.pi * 0.25 * t + rng.uniform(0, 2 * np.pi))
    perf.rotvecs["spine03"] = _compose(_rv("x", breath), _rv("z", 2.0 * signals.smooth_noise(t, rng, (0.05, 0.2))))

    # --- weight shift: the pelvis sways sideways and the legs lean the other way so the feet stay planted
    sway = 0.015 * signals.smooth_noise(t, rng, (0.04, 0.15))
    perf.root_transl = np.stack([sway, np.zeros(T), np.zeros(T)], axis=1)
    perf.root_rotvec = _rv("z", 2.0 * signals.smooth_noise(t, rng, (0.05, 0.2)))
    lean = np.rad2deg(np.arcsin(np.clip(sway / 0.85, -1, 1)))  # 0.85 m: hip-to-ankle of an adult
    for side in ("L", "R"):
        perf.rotvecs[f"upperleg01.{side}"] = _rv("y", lean)
        perf.rotvecs[f"foot.{side}"] = _rv("y", -lean)
    return perf
