"""Model options: network sizes, step schedules and ablation switches.

The defaults are the *demo* sizes (small enough to train on a 2-core CPU); :meth:`ModelConfig.paper_sizes` gives the
paper / HumanNeRF sizes (8x256 fields, 6x128 deformation MLPs, PE 10/6, 128 samples, 32^3 weight volume, latent 256).
Every ablation of the paper's Tables 1-2 and Fig. 3 is one boolean switch here (see docs/model.md).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


BASELINES = ("none", "humannerf")
FIELD_BACKENDS = ("mlp", "planes", "hashgrid")
EXPLICIT_FIELDS = ("planes", "hashgrid")   # backends over a canonical box (plane_box / face_plane_box)
BODY_CLASS = 1  # part label of the body (talkinnerf/body/parts.py): every sample's class without a segmentation head


@dataclass
class ModelConfig:
    # --- conditioning -------------------------------------------------------------------------------------------
    identity_dim: int = 32            # identity code i (paper: 32)
    identity_init_std: float = 0.1    # std of the codes' random initialisation
    identity_every_layer: bool = False  # feed i to every hidden layer of F_body/F_face/F_hands, not only the input

    # --- fields: F_body, F_face, F_hands (paper: 8 x 256, PE 10) ---------------------------------------------------
    field_depth: int = 4
    field_width: int = 64
    field_pe_bands: int = 6
    face_depth: int = 3
    face_width: int = 64
    hands_depth: int = 4              # = field_depth, so that hands_from_body can copy F_body
    hands_width: int = 64

    # --- field backend (docs/model.md "Field backends"): mlp = the paper's PE + MLP fields; planes = multi-scale
    # feature planes read with grid_sample + a small decoder MLP (talkinnerf/nerf/fields_planes.py); hashgrid = a
    # multi-resolution hash grid + the same decoder (talkinnerf/nerf/fields_hashgrid.py). Every backend keeps every
    # module's role; D_nr, D_hands and the weight volume are the same for all. -----------------------------------
    field: str = "mlp"
    plane_channels: int = 8                              # features per plane and scale
    plane_resolutions: tuple[int, ...] = (32, 64, 128, 256)   # F_body / F_hands planes over plane_box
    plane_box: tuple[float, ...] | None = None          # canonical metres (x0 y0 z0 x1 y1 z1); None: the union of
                                                        # the training subjects' padded canonical boxes (resolved
                                                        # and stored with the model: field_factory.resolve_plane_boxes)
    face_plane_resolutions: tuple[int, ...] = (32, 64, 128, 256)  # F_face planes over face_plane_box (the head)
    face_plane_box: tuple[float, ...] | None = None     # None: a box around the subjects' canonical head joints
    plane_decoder_depth: int = 2                         # decoder MLP after the planes
    plane_decoder_width: int = 64
    plane_tv: float = 0.0                                # weight of the planes' total variation in the loss (0: off;
                                                         # 1e-4 was no better at 400 demo iterations, 26% slower)
    plane_lr_scale: float = 4.0                          # planes' lr / base lr (texels see few samples each)
    # hashgrid: levels from hash_base_resolution to hash_max_resolution cells per side over plane_box (F_face:
    # face_plane_box), 2**hash_log2_table entries of hash_features per level (Instant-NGP: 16 levels, 2 features)
    hash_levels: int = 16
    hash_features: int = 2
    hash_log2_table: int = 15                            # 1M entries per field (Instant-NGP 2**19: 16.8M)
    hash_base_resolution: int = 16
    hash_max_resolution: int = 512
    hash_lr_scale: float = 2.0                           # table lr / base lr (5e-3 x 2 = Instant-NGP's 1e-2)

    face_residual: bool = False       # F_face adds to F_body's colour logit / raw density instead of replacing them
                                      # (paper: replace); its head starts at zero, so the face starts as F_body's
    face_residual_density: bool = True   # with face_residual: F_face adds to the raw density too; False: colour only
                                         # (the face's geometry is F_body's, the same for every expression)

    # --- D_nr: non-rigid offset MLP (paper: 6 x 128, skip at 4, PE 6 with truncated Hann window) --------------------
    nr_depth: int = 3
    nr_width: int = 64
    nr_pe_bands: int = 6
    nr_kick_in: int = 2000            # step at which D_nr starts (paper 100k; HumanNeRF 10k default, 100k monocular)
    nr_full_band: int = 6000          # step at which the Hann window is fully open (HumanNeRF 50k / 200k monocular)

    # --- D_hands: hand offset MLP (paper: 6 x 128, PE 6 with truncated Hann window) ---------------------------------
    hand_def_depth: int = 3
    hand_def_width: int = 32
    hand_def_pe_bands: int = 6
    hand_def_kick_in: int = 0         # window starts opening here (D_hands is active from the start)
    hand_def_full_band: int = 4000
    hands_kick_in: int = 0            # step from which hand-classified samples go to D_hands + F_hands (F_body before)
    hands_from_body: bool = False     # at hands_kick_in F_hands starts as a copy of F_body (same depth/width needed)

    # --- D_r: blend-weight volume decoded by transposed 3D convs (HumanNeRF: latent 256 -> 32^3) ---------------------
    volume_latent: int = 32
    volume_size: int = 32             # power of two >= 8 (16^3 blurs the skinning: -0.4 dB in the demo)
    volume_channels: int = 16         # channels of the first (4^3) decoder level
    bbox_padding: float = 0.1         # fraction of the canonical bbox extent added on every side
    canonical_arm_raise: float = 0.0  # radians the shoulders raise the arms in the canonical pose (0: zero pose)
    prior_sigma: float = 0.035        # metres: width of the Gaussian bone prior added (in log space) to the volume
    posed_gate: float = 0.0           # metres; > 0: where D_r's candidates disagree, a joint's candidate counts only
                                      # where the joint's posed bones lie at most this much farther from the point
                                      # than the nearest posed bone (touching parts no longer blend; 0: HumanNeRF's
                                      # D_r, the paper's)
    density_shell: float = 0.0        # metres; > 0: density only where the canonical point (after D_r) lies within this
                                      # distance of the subject's zero-pose mesh (talkinnerf/nerf/shell.py; needs
                                      # results/smplx canonical_vertices); 0: anywhere in the bbox (the paper's)
    shell_resolution: int = 64        # cells per side of the shell's distance volume over the padded canonical bbox

    # --- pose refinement (HumanNeRF: 4 x 256, kick-in 20k) ----------------------------------------------------------
    pose_refine: bool = True
    pose_refine_depth: int = 2
    pose_refine_width: int = 64
    pose_refine_kick_in: int = 1000

    # --- rendering ------------------------------------------------------------------------------------------------
    samples_per_ray: int = 32
    background: tuple[float, float, float] = (0.0, 0.0, 0.0)
    background_logit: float = 10.0    # logit of class 0 carried by the ray's transmittance past its last sample
    density_scale: float = 40.0       # density (1/m) = density_scale * softplus(raw + density_bias): opaque
    density_bias: float = -1.0        # surfaces at raw ~ 2 (not ~ 100); alpha ~ 0.2 per 2 cm sample at init
    density_noise: float = 0.0        # std of noise added to raw density while training (NeRF regulariser)

    # --- optimisation ----------------------------------------------------------------------------------------------
    lr_scale_slow: float = 0.1        # weight volume, pose refiner, D_nr (HumanNeRF 5e-5 vs 5e-4)

    # --- ablations (paper Table 1/2, Fig. 3) ------------------------------------------------------------------------
    non_rigid: bool = True                  # False: no D_nr at all
    no_hand_deformation: bool = False       # no D_hands: hand points go to F_hands undeformed
    no_hand_background: bool = False        # hands composited in one pass with the body (no body-colour last sample)
    separate_hands: bool = False            # left/right D_hands + F_hands, each with its own 45-D hand pose
    hand_joints_in_canonical: bool = False  # hand joints take part in D_r (inverse LBS) and condition D_nr
    no_jaw: bool = False                    # e = psi only (10-D)
    four_classes: bool = False              # arms merged into body: 4 classes
    humannerf: bool = False                 # body-only ablation: F_body only (keeps logits, identity, part sampling)
    # "humannerf": the faithful HumanNeRF baseline (Weng et al. 2022), one subject per model: F_body only, ReLU
    # density, no segmentation head or CE loss, no identity code, plain 80%-inside patch sampling (docs/model.md)
    baseline: str = "none"
    # initial bias of the HumanNeRF baseline's raw density (ReLU): at 0, most samples start dead (64% in a test
    # scene), and on a dark subject over a dark background Adam's first steps push the rest below 0 too: no density,
    # no gradient, an empty render for ever (3 of 6 demo runs at 0). A positive start keeps the published ReLU alive.
    relu_density_init: float = 0.0

    def __post_init__(self) -> None:
        self.background = tuple(float(c) for c in self.background)  # JSON gives a list
        if len(self.background) != 3:
            raise ValueError(f"ModelConfig.background must have 3 components, got {self.background}")
        if not self.posed_gate >= 0:
            raise ValueError(f"ModelConfig.posed_gate must be >= 0 metres (0: off), got {self.posed_gate}")
        if not self.density_shell >= 0:
            raise ValueError(f"ModelConfig.density_shell must be >= 0 metres (0: off), got {self.density_shell}")
        if self.density_shell > 0 and self.canonical_arm_raise != 0.0:
            raise ValueError("ModelConfig.density_shell is measured from the zero-pose mesh: it needs "
                             f"canonical_arm_raise = 0, got {self.canonical_arm_raise}")
        if self.shell_resolution < 8:
            raise ValueError(f"ModelConfig.shell_resolution must be >= 8, got {self.shell_resolution}")
        size = self.volume_size
        if size < 8 or size & (size - 1):
            raise ValueError(f"ModelConfig.volume_size must be a power of two >= 8, got {size}")
        if self.field not in FIELD_BACKENDS:
            raise ValueError(f"ModelConfig.field must be one of {FIELD_BACKENDS}, got {self.field!r}")
        for name in ("plane_resolutions", "face_plane_resolutions"):
            setattr(self, name, tuple(int(r) for r in getattr(self, name)))
            if not getattr(self, name) or min(getattr(self, name)) < 2:
                raise ValueError(f"ModelConfig.{name} must list resolutions >= 2, got {getattr(self, name)}")
        if self.hash_levels < 1 or self.hash_features < 1 or not 4 <= self.hash_log2_table <= 24 \
                or not 1 <= self.hash_base_resolution <= self.hash_max_resolution:
            raise ValueError("ModelConfig: hash_levels and hash_features must be >= 1, hash_log2_table in 4..24 and "
                             "1 <= hash_base_resolution <= hash_max_resolution, got "
                             f"{self.hash_levels}, {self.hash_features}, {self.hash_log2_table}, "
                             f"{self.hash_base_resolution}, {self.hash_max_resolution}")
        for name in ("plane_box", "face_plane_box"):
            if getattr(self, name) is None:
                continue
            box = tuple(float(v) for v in getattr(self, name))
            if len(box) != 6 or not all(box[i] < box[i + 3] for i in range(3)):
                raise ValueError(f"ModelConfig.{name} must be (x0, y0, z0, x1, y1, z1) with x0 < x1 etc., got {box}")
            setattr(self, name, box)
        if self.baseline not in BASELINES:
            raise ValueError(f"ModelConfig.baseline must be one of {BASELINES}, got {self.baseline!r}")
        if self.samples_per_ray < 2:
            raise ValueError(f"ModelConfig.samples_per_ray must be >= 2, got {self.samples_per_ray}")
        if self.nr_full_band < self.nr_kick_in or self.hand_def_full_band < self.hand_def_kick_in:
            raise ValueError("ModelConfig: a *_full_band step must not precede its *_kick_in step")
        if self.hands_from_body and not self.body_only and self.field == "mlp" and (
                (self.hands_depth, self.hands_width) != (self.field_depth, self.field_width)):
            raise ValueError("ModelConfig.hands_from_body copies F_body into F_hands: hands_depth/hands_width "
                             f"({self.hands_depth}/{self.hands_width}) must equal field_depth/field_width "
                             f"({self.field_depth}/{self.field_width})")

    # ---------------------------------------------------------------------------------------------------------------
    @property
    def faithful_humannerf(self) -> bool:
        return self.baseline == "humannerf"

    @property
    def body_only(self) -> bool:
        """F_body alone: the body-only ablation or the HumanNeRF baseline."""
        return self.humannerf or self.faithful_humannerf

    @property
    def num_classes(self) -> int:
        """Segmentation classes of F_body's head; 0 for HumanNeRF, which has no segmentation."""
        if self.faithful_humannerf:
            return 0
        return 4 if self.four_classes else 5

    @property
    def code_dim(self) -> int:
        """Width of the identity code the fields see (HumanNeRF has none: one subject per model)."""
        return 0 if self.faithful_humannerf else self.identity_dim

    @property
    def head_class(self) -> int:
        return 3 if self.four_classes else 4

    @property
    def hands_class(self) -> int:
        return 2 if self.four_classes else 3

    @property
    def expression_dim(self) -> int:
        return 10 if self.no_jaw else 13

    @classmethod
    def paper_sizes(cls, **overrides: Any) -> "ModelConfig":
        """Paper / HumanNeRF sizes and schedules; ``overrides`` replace any field (e.g. ablation switches)."""
        paper = dict(
            field_depth=8, field_width=256, field_pe_bands=10,
            face_depth=8, face_width=256, hands_depth=8, hands_width=256,
            nr_depth=6, nr_width=128, nr_pe_bands=6, nr_kick_in=100_000, nr_full_band=150_000,
            hand_def_depth=6, hand_def_width=128, hand_def_pe_bands=6, hand_def_kick_in=0, hand_def_full_band=50_000,
            volume_latent=256, volume_size=32, volume_channels=64,
            pose_refine_depth=4, pose_refine_width=256, pose_refine_kick_in=20_000,
            samples_per_ray=128,
        )
        paper.update(overrides)
        return cls(**paper)

    def replace(self, **changes: Any) -> "ModelConfig":
        return dataclasses.replace(self, **changes)


__all__ = ["ModelConfig", "FIELD_BACKENDS", "EXPLICIT_FIELDS"]
