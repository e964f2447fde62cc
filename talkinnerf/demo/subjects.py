"""Identity presets of the demo subjects: three for training, one held out as the novel identity."""

from __future__ import annotations

from talkinnerf.demo.options import IdentityOptions
from talkinnerf.options import from_dict

DEFAULT_SUBJECTS: dict[str, dict] = {
    "ava": dict(gender=0.1, age=0.5, muscle=0.45, weight=0.45, height=0.45, proportions=0.6, skin_tone=0.15,
                hair_color=[0.55, 0.35, 0.15], hair_style="long",
                shirt_color=[0.75, 0.15, 0.2], shirt_color2=[0.95, 0.85, 0.8], shirt_pattern="stripes",
                sleeves="short", trousers_color=[0.12, 0.2, 0.45], trousers_pattern="plain",
                shoe_color=[0.9, 0.9, 0.88], backdrop_color=[0.78, 0.75, 0.68], backdrop_color2=[0.55, 0.62, 0.7],
                gesture_amount=1.0, talkativeness=1.0, smile=0.3),
    "ben": dict(gender=0.9, age=0.6, muscle=0.65, weight=0.55, height=0.6, proportions=0.5, skin_tone=0.7,
                hair_color=[0.06, 0.05, 0.05], hair_style="short",
                shirt_color=[0.2, 0.5, 0.3], shirt_color2=[0.9, 0.85, 0.55], shirt_pattern="checks",
                sleeves="long", trousers_color=[0.55, 0.45, 0.3], trousers_pattern="plain",
                shoe_color=[0.25, 0.15, 0.08], backdrop_color=[0.62, 0.7, 0.75], backdrop_color2=[0.35, 0.38, 0.45],
                gesture_amount=1.2, talkativeness=0.9, smile=0.15),
    "chloe": dict(gender=0.2, age=0.7, muscle=0.4, weight=0.65, height=0.4, proportions=0.45, skin_tone=0.45,
                  hair_color=[0.35, 0.33, 0.32], hair_style="short",
                  shirt_color=[0.95, 0.8, 0.3], shirt_color2=[0.3, 0.3, 0.3], shirt_pattern="plain",
                  sleeves="long", trousers_color=[0.1, 0.1, 0.1], trousers_color2=[0.45, 0.45, 0.45],
                  trousers_pattern="stripes", shoe_color=[0.5, 0.1, 0.1],
                  backdrop_color=[0.82, 0.8, 0.78], backdrop_color2=[0.6, 0.55, 0.5],
                  gesture_amount=0.8, talkativeness=1.1, smile=0.4),
    "dev": dict(gender=0.75, age=0.45, muscle=0.5, weight=0.4, height=0.55, proportions=0.55, skin_tone=0.85,
                hair_color=[0.1, 0.07, 0.05], hair_style="none",
                shirt_color=[0.5, 0.25, 0.6], shirt_color2=[0.85, 0.85, 0.9], shirt_pattern="checks",
                sleeves="short", trousers_color=[0.3, 0.35, 0.3], trousers_color2=[0.2, 0.22, 0.2],
                trousers_pattern="checks", shoe_color=[0.05, 0.05, 0.05],
                backdrop_color=[0.7, 0.66, 0.72], backdrop_color2=[0.4, 0.45, 0.4],
                gesture_amount=1.0, talkativeness=1.0, smile=0.2),
}
"""name -> IdentityOptions fields. ava, ben, chloe: training identities; dev: the novel identity."""

TRAIN_SUBJECTS = ("ava", "ben", "chloe")
NOVEL_SUBJECTS = ("dev",)


def resolve_identity(subject: str, overrides: dict | None = None) -> IdentityOptions:
    """The subject's preset (or the defaults for an unknown name) with ``overrides`` applied, validated."""
    data = dict(DEFAULT_SUBJECTS.get(subject, {}))
    data.update(overrides or {})
    identity = from_dict(IdentityOptions, data, f"demo identity of {subject!r}")
    identity.validate(subject)
    return identity
