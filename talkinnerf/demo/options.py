"""Typed options of `talkinnerf demo synthesize` (a config.yaml `demo` section passed as --options JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field

PATTERNS = ("plain", "stripes", "checks")
HAIR_STYLES = ("short", "long", "none")
SLEEVES = ("long", "short")


@dataclass
class IdentityOptions:
    """Who the subject is: Anny phenotype (each in [0, 1]), colours (RGB in [0, 1]) and clothing patterns.

    Phenotypes: gender 0 = female .. 1 = male; age 0.5 is a young adult (keep >= 0.4 for adults);
    height 0.5 is about 1.65 m. skin_tone 0 = very light .. 1 = very dark. Talking style: gesture_amount scales
    arm gestures, talkativeness the jaw opening, smile the resting smile.
    """

    gender: float = 0.5
    age: float = 0.55
    muscle: float = 0.5
    weight: float = 0.5
    height: float = 0.5
    proportions: float = 0.5
    skin_tone: float = 0.3
    hair_color: list[float] = field(default_factory=lambda: [0.25, 0.16, 0.09])
    hair_style: str = "short"
    shirt_color: list[float] = field(default_factory=lambda: [0.2, 0.35, 0.7])
    shirt_color2: list[float] = field(default_factory=lambda: [0.9, 0.9, 0.9])
    shirt_pattern: str = "stripes"
    sleeves: str = "long"
    trousers_color: list[float] = field(default_factory=lambda: [0.15, 0.15, 0.2])
    trousers_color2: list[float] = field(default_factory=lambda: [0.3, 0.3, 0.35])
    trousers_pattern: str = "plain"
    shoe_color: list[float] = field(default_factory=lambda: [0.1, 0.08, 0.07])
    backdrop_color: list[float] = field(default_factory=lambda: [0.75, 0.72, 0.66])
    backdrop_color2: list[float] = field(default_factory=lambda: [0.45, 0.5, 0.55])
    gesture_amount: float = 1.0
    talkativeness: float = 1.0
    smile: float = 0.2

    def validate(self, subject: str = "") -> None:
        where = f"demo subject {subject!r}" if subject else "demo identity"
        for name in ("gender", "age", "muscle", "weight", "height", "proportions", "skin_tone", "smile"):
            v = getattr(self, name)
            if not 0.0 <= float(v) <= 1.0:
                raise ValueError(f"{where}: {name} must lie in [0, 1], got {v}")
        for name in ("hair_color", "shirt_color", "shirt_color2", "trousers_color", "trousers_color2",
                     "shoe_color", "backdrop_color", "backdrop_color2"):
            v = getattr(self, name)
            if len(v) != 3 or not all(0.0 <= float(c) <= 1.0 for c in v):
                raise ValueError(f"{where}: {name} must be 3 numbers in [0, 1], got {v}")
        for name, allowed in (("shirt_pattern", PATTERNS), ("trousers_pattern", PATTERNS),
                              ("hair_style", HAIR_STYLES), ("sleeves", SLEEVES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{where}: {name} must be one of {allowed}, got {getattr(self, name)!r}")


@dataclass
class NoiseOptions:
    """The OpenPose stand-in's errors (pixels are video pixels).

    pixel_sigma: Gaussian noise of visible body points; hands and face use it times hand_scale / face_scale;
    occluded points get occluded_scale times more noise, a confidence in occluded_confidence, and are dropped
    with probability occluded_dropout; any point is dropped (x = y = c = 0) with probability dropout.
    Visible confidence = confidence - confidence_slope * (error / sigma) + N(0, confidence_jitter), in [0.05, 1].
    """

    pixel_sigma: float = 0.6
    hand_scale: float = 1.5
    face_scale: float = 0.6
    occluded_scale: float = 3.0
    dropout: float = 0.02
    occluded_dropout: float = 0.3
    confidence: float = 0.9
    confidence_slope: float = 0.08
    confidence_jitter: float = 0.05
    occluded_confidence: list[float] = field(default_factory=lambda: [0.1, 0.4])


@dataclass
class SynthesizeOptions:
    """Options of `talkinnerf demo synthesize` (defaults are the CPU demo's).

    identity: keys of IdentityOptions overriding the subject's preset (DEFAULT_SUBJECTS) or the defaults.
    seed: with the subject name, fixes the performance (same seed + name -> same video).
    body_height_fraction: standing height as a fraction of the frame height; camera_distance in metres.
    """

    resolution: int = 128
    fps: float = 12.0
    seconds: float = 5.0
    seed: int = 0
    identity: dict = field(default_factory=dict)
    noise: NoiseOptions = field(default_factory=NoiseOptions)
    body_height_fraction: float = 0.85
    camera_distance: float = 4.0
    light: bool = True
    crf: int = 18

    def validate(self) -> None:
        if int(self.resolution) < 16:
            raise ValueError(f"demo resolution must be >= 16, got {self.resolution}")
        if self.fps <= 0 or self.seconds <= 0:
            raise ValueError(f"demo fps and seconds must be positive, got {self.fps}, {self.seconds}")
        if not 0.2 <= self.body_height_fraction <= 0.98:
            raise ValueError(f"body_height_fraction must lie in [0.2, 0.98], got {self.body_height_fraction}")
