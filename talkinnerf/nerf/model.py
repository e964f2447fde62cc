"""TalkinNeRF (paper §3.1-3.2, supplementary B): conditioning, D_r, D_nr, F_body, F_face, D_hands, F_hands,
class routing and hand compositing, for one frame's batch of world-space rays (relative to the posed root frame).

Shapes: R rays, S = cfg.samples_per_ray samples per ray, P = R*S points, K skinned joints (22, or 52 with
``hand_joints_in_canonical``), C classes (5, or 4 with ``four_classes``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from talkinnerf.nerf import packed
from talkinnerf.nerf import skeleton as sk
from talkinnerf.nerf.composite import alpha_weights, composite_with_hands, sample_intervals, stratified_samples
from talkinnerf.nerf.config import ModelConfig
from talkinnerf.nerf.encoding import hann_window
from talkinnerf.nerf.field_factory import copy_field, radiance_field
from talkinnerf.nerf.fields import OffsetField, PoseRefiner
from talkinnerf.nerf.fields_hashgrid import HashGrid
from talkinnerf.nerf.fields_planes import MultiScalePlanes
from talkinnerf.nerf.shell import shell_slack_volume
from talkinnerf.nerf.weights import WeightVolumeDecoder, bone_log_prior, voxel_centres

CANONICAL_JOINT_MARGIN = 0.1  # metres the canonical bbox reaches beyond moved joints (fingertips, limb radius)
MIN_WEIGHT_SUM = packed.MIN_WEIGHT_SUM  # summed skinning weight below this: empty space, skipped entirely


CACHE_ENTRIES = 64   # per-subject caches (bone prior, density shell): a handful of subjects, bounded anyway


def _cached(cache: dict, key: tuple, build):
    """cache[key], built by ``build()`` on a miss; the oldest entry leaves once the cache holds CACHE_ENTRIES."""
    value = cache.get(key)
    if value is None:
        value = build()
        if len(cache) >= CACHE_ENTRIES:
            cache.pop(next(iter(cache)))
        cache[key] = value
    return value


@dataclass
class FrameConditioning:
    """Everything the model needs about one frame of one subject.

    identity: long scalar; poses_body (22,3) axis-angle [global_orient; 21 body joints]; jaw (3,); expression (10,);
    hands (90,) = [left 15x3; right 15x3]; canonical_joints (55,3) and parents (55,) long from results/smplx/s.npz;
    canonical_bbox (2,3) min/max of the zero-pose mesh; canonical_vertices (V,3) the zero-pose mesh's vertices or
    None (only model.density_shell needs them; fits written before they were stored lack them).
    """

    identity: torch.Tensor
    poses_body: torch.Tensor
    jaw: torch.Tensor
    expression: torch.Tensor
    hands: torch.Tensor
    canonical_joints: torch.Tensor
    parents: torch.Tensor
    canonical_bbox: torch.Tensor
    canonical_vertices: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> "FrameConditioning":
        return FrameConditioning(**{f.name: None if getattr(self, f.name) is None else getattr(self, f.name).to(device)
                                    for f in fields(self)})

    @classmethod
    def from_smplx(cls, params: Mapping[str, np.ndarray], frame: int, identity: int) -> "FrameConditioning":
        """Frame ``frame`` of a results/smplx/<s>.npz dict (see docs/contracts.md)."""
        count = len(params["poses_body"])
        if not 0 <= frame < count:
            raise ValueError(f"frame {frame} out of range: the SMPL-X fit has {count} frames")
        f32 = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
        return cls(identity=torch.tensor(identity, dtype=torch.long), poses_body=f32(params["poses_body"][frame]),
                   jaw=f32(params["jaw_pose"][frame]), expression=f32(params["expression"][frame]),
                   hands=f32(params["hands"][frame]), canonical_joints=f32(params["canonical_joints"]),
                   parents=torch.as_tensor(np.asarray(params["parents"]), dtype=torch.long),
                   canonical_bbox=f32(params["canonical_bbox"]),
                   canonical_vertices=(f32(params["canonical_vertices"]) if "canonical_vertices" in params
                                       else None))

    def prepared(self, device: torch.device, dtype: torch.dtype) -> "FrameConditioning":
        """Validated copy on ``device`` with float fields in ``dtype`` (accepts a python int identity)."""
        self.validate()
        values = {}
        for f in fields(self):
            if getattr(self, f.name) is None:
                values[f.name] = None
                continue
            v = torch.as_tensor(getattr(self, f.name), device=device)
            values[f.name] = v.to(dtype) if v.is_floating_point() else v.long()
        return FrameConditioning(**values)

    def validate(self) -> None:
        expected = {"poses_body": (22, 3), "jaw": (3,), "expression": (10,), "hands": (90,),
                    "canonical_joints": (55, 3), "parents": (55,), "canonical_bbox": (2, 3)}
        for name, shape in expected.items():
            got = tuple(torch.as_tensor(getattr(self, name)).shape)
            if got != shape:
                raise ValueError(f"FrameConditioning.{name} has shape {got}, expected {shape}")
        if self.canonical_vertices is not None:
            got = tuple(torch.as_tensor(self.canonical_vertices).shape)
            if len(got) != 2 or got[1] != 3 or got[0] == 0:
                raise ValueError(f"FrameConditioning.canonical_vertices has shape {got}, expected (V,3)")


class TalkinNeRF(nn.Module):
    """The full model; ``cfg.humannerf`` reduces it to the body-only ablation (F_body alone), and
    ``cfg.baseline == "humannerf"`` to the HumanNeRF baseline (F_body alone, ReLU density, no segmentation head,
    no identity code, single-identity)."""

    def __init__(self, cfg: ModelConfig, num_identities: int) -> None:
        super().__init__()
        if num_identities < 1:
            raise ValueError(f"num_identities must be >= 1, got {num_identities}")
        if cfg.faithful_humannerf and num_identities != 1:
            raise ValueError(f"the HumanNeRF baseline is single-identity (no identity code): train one model per "
                             f"subject, got {num_identities} identities")
        self.cfg = cfg
        self.num_identities = num_identities
        self.skinned = list(range(sk.NUM_BODY_JOINTS)) + (list(sk.HAND_JOINTS) if cfg.hand_joints_in_canonical
                                                          else [])
        idim = cfg.code_dim
        self.identity = nn.Embedding(num_identities, idim)
        nn.init.normal_(self.identity.weight, std=cfg.identity_init_std)
        self.weight_volume = WeightVolumeDecoder(len(self.skinned), cfg.volume_latent, cfg.volume_size,
                                                 cfg.volume_channels)
        self.pose_refiner = (PoseRefiner(sk.NUM_BODY_JOINTS - 1, cfg.pose_refine_depth, cfg.pose_refine_width)
                             if cfg.pose_refine else None)
        nr_cond = 63 + (90 if cfg.hand_joints_in_canonical else 0)
        self.non_rigid = (OffsetField(nr_cond, cfg.nr_depth, cfg.nr_width, cfg.nr_pe_bands)
                          if cfg.non_rigid else None)
        per_layer = idim if cfg.identity_every_layer else 0   # the code is the last idim entries of each condition
        self.body = radiance_field(cfg, "body", idim, cfg.num_classes, per_layer)
        if cfg.faithful_humannerf and cfg.relu_density_init:
            with torch.no_grad():                              # raw density = output 3 of F_body's head
                self.body.mlp.head.bias[3] = cfg.relu_density_init
        self.face = self.hands = self.hands_left = self.hands_right = None
        self.hand_deform = self.hand_deform_left = self.hand_deform_right = None
        if not cfg.body_only:
            self.face = radiance_field(cfg, "face", cfg.expression_dim + idim, 0, per_layer)
            if cfg.face_residual:        # a zero head adds nothing: the face starts as F_body draws it
                nn.init.zeros_(self.face.mlp.head.weight)
                nn.init.zeros_(self.face.mlp.head.bias)
            hand_args = (cfg.hand_def_depth, cfg.hand_def_width, cfg.hand_def_pe_bands)
            if cfg.separate_hands:
                self.hands_left = radiance_field(cfg, "hands", idim, 0, per_layer)
                self.hands_right = radiance_field(cfg, "hands", idim, 0, per_layer)
                if not cfg.no_hand_deformation:
                    self.hand_deform_left = OffsetField(45, *hand_args)
                    self.hand_deform_right = OffsetField(45, *hand_args)
            else:
                self.hands = radiance_field(cfg, "hands", idim, 0, per_layer)
                if not cfg.no_hand_deformation:
                    self.hand_deform = OffsetField(90, *hand_args)
        self._prior_cache: dict[tuple, torch.Tensor] = {}
        self._shell_cache: dict[tuple, torch.Tensor] = {}
        self._hands_copied = False        # prepare_step(hands_kick_in) made F_hands F_body's copy (hands_from_body)
        self.render_parts = False         # forward also returns part_mass (the trainer sets it for train.loss_part)
        bg_logits = torch.zeros(cfg.num_classes)
        if cfg.num_classes:
            bg_logits[0] = cfg.background_logit
        self.register_buffer("background_logits", bg_logits, persistent=False)
        self.register_buffer("background_rgb", torch.tensor(cfg.background, dtype=torch.float32), persistent=False)

    # ---------------------------------------------------------------------------------------------------------------
    def param_groups(self, base_lr: float) -> list[dict[str, Any]]:
        """Adam groups, each with a "name": fields (F_body, F_face, F_hands, D_hands) and identity at ``base_lr``;
        weight_volume, pose_refine, non_rigid at ``cfg.lr_scale_slow * base_lr`` (HumanNeRF's 5e-5 vs 5e-4)."""
        slow = self.cfg.lr_scale_slow * base_lr
        modules = {"weight_volume": (self.weight_volume, slow), "pose_refine": (self.pose_refiner, slow),
                   "non_rigid": (self.non_rigid, slow), "identity": (self.identity, base_lr)}
        groups, seen = [], set()
        for name, (module, lr) in modules.items():
            if module is not None:
                params = list(module.parameters())
                seen.update(id(p) for p in params)
                groups.append({"name": name, "params": params, "lr": lr})
        # explicit features (plane texels, hash-table entries) each see few samples per step: their own, larger lr
        for name, kind, scale in (("planes", MultiScalePlanes, self.cfg.plane_lr_scale),
                                  ("hash_grid", HashGrid, self.cfg.hash_lr_scale)):
            params = [p for m in self.modules() if isinstance(m, kind) for p in m.parameters() if id(p) not in seen]
            if params:
                seen.update(id(p) for p in params)
                groups.append({"name": name, "params": params, "lr": scale * base_lr})
        rest = [p for p in self.parameters() if id(p) not in seen]
        groups.insert(0, {"name": "fields", "params": rest, "lr": base_lr})
        return groups

    @torch.no_grad()
    def prepare_step(self, step: int) -> None:
        """Called by the trainer before every training step (model steps). At ``hands_kick_in`` with
        ``hands_from_body``, F_hands starts as a copy of F_body (its colour/density rows): hand samples, rendered by
        F_body until then, keep their look across the switch, and F_hands refines them instead of learning the
        hands from noise with the few samples a hand gets."""
        cfg = self.cfg
        if cfg.body_only or not cfg.hands_from_body or step != cfg.hands_kick_in:
            return
        for field in (self.hands, self.hands_left, self.hands_right):
            if field is not None:
                copy_field(self.body, field)
        self._hands_copied = True

    def regularisation(self) -> torch.Tensor | None:
        """The fields' priors the trainer adds to the loss (the planes' total variation times cfg.plane_tv); None
        when no field has one (the paper's MLPs)."""
        if self.cfg.plane_tv <= 0:      # checked first: the TV of 6.3M texels is not free (every iteration)
            return None
        terms = [f.regularisation() for f in (self.body, self.face, self.hands, self.hands_left, self.hands_right)
                 if f is not None and hasattr(f, "regularisation")]
        if not terms:
            return None
        return self.cfg.plane_tv * sum(terms)

    def hands_active(self, step: int) -> bool:
        cfg = self.cfg
        if cfg.body_only or step < cfg.hands_kick_in:
            return False
        # With the warm start, F_hands holds F_body's copy only once prepare_step(hands_kick_in) ran. A model
        # rendered at exactly that step without it (trained hands_kick_in iterations, or scored between two) has
        # an untrained F_hands: its hands stay F_body's, as they were trained.
        return not (cfg.hands_from_body and step == cfg.hands_kick_in and not self._hands_copied)

    # ---------------------------------------------------------------------------------------------------------------
    def pose_skeleton(self, cond: FrameConditioning, step: int) -> dict[str, torch.Tensor]:
        """Posed skeleton of the frame: global rotations / posed joints of all joints FK reaches, and the per-joint
        observation -> canonical maps (R (K,3,3), t (K,3)) of the skinned joints."""
        cfg = self.cfg
        poses = cond.poses_body.reshape(22, 3)
        if self.pose_refiner is not None and step >= cfg.pose_refine_kick_in:
            # HumanNeRF: R_refined = R @ R_delta for the non-root joints
            delta = self.pose_refiner(poses[1:])
            refined_rest = sk.rodrigues(poses[1:]) @ sk.rodrigues(delta)
            rots = torch.cat([sk.rodrigues(poses[:1]), refined_rest])
        else:
            rots = sk.rodrigues(poses)
        num = 55 if cfg.hand_joints_in_canonical else sk.NUM_BODY_JOINTS
        sk.check_parents(cond.parents, num)
        if num > sk.NUM_BODY_JOINTS:
            extra = sk.full_local_rotations(poses, cond.jaw, cond.hands)[sk.NUM_BODY_JOINTS:]
            rots = torch.cat([rots, extra])
        glob, posed = sk.forward_kinematics(rots, cond.canonical_joints[:num], cond.parents[:num])
        idx = torch.tensor(self.skinned, device=glob.device)
        canon = self.canonical_skeleton(cond)
        can_rot = None if canon["rotations"] is None else canon["rotations"][idx]
        rot, t = sk.inverse_transforms(glob[idx], canon["joints"][idx], posed[idx], can_rot)
        return {"global_rotations": glob, "posed_joints": posed, "inv_rot": rot, "inv_t": t}

    @torch.no_grad()
    def canonical_skeleton(self, cond: FrameConditioning) -> dict[str, torch.Tensor | None]:
        """The canonical pose of this subject: joints (55,3), global rotations (55,3,3) (None for the zero pose)
        and the unpadded canonical bbox (2,3).

        With ``cfg.canonical_arm_raise`` the arms are raised at the shoulders (towards HumanNeRF's T-like
        canonical pose) so that arms and torso lie in different voxels of the weight volume; the bbox is the
        zero-pose mesh bbox grown to cover the moved joints plus ``CANONICAL_JOINT_MARGIN``.
        """
        if self.cfg.canonical_arm_raise == 0.0:
            return {"joints": cond.canonical_joints, "rotations": None, "bbox": cond.canonical_bbox}
        joints = cond.canonical_joints
        local = sk.canonical_pose_rotations(len(joints), self.cfg.canonical_arm_raise, joints.dtype, joints.device)
        glob, moved = sk.forward_kinematics(local, joints, cond.parents)
        arms = moved[(moved - joints).norm(dim=-1) > 1e-6]          # the joints the canonical pose moved
        if len(arms) == 0:
            arms = moved
        bbox = torch.stack([torch.minimum(cond.canonical_bbox[0], arms.min(0).values - CANONICAL_JOINT_MARGIN),
                            torch.maximum(cond.canonical_bbox[1], arms.max(0).values + CANONICAL_JOINT_MARGIN)])
        return {"joints": moved, "rotations": glob, "bbox": bbox}

    def weight_volume_softmax(self, cond: FrameConditioning, bbox: torch.Tensor) -> torch.Tensor:
        """Blend-weight volume (K+1,S,S,S) over ``bbox``: softmax(decoded + log bone prior of this subject)."""
        return torch.softmax(self.weight_volume() + self._bone_prior(cond, bbox), dim=0)

    @torch.no_grad()
    def _bone_prior(self, cond: FrameConditioning, bbox: torch.Tensor) -> torch.Tensor:
        # The prior depends only on the subject's skeleton: cache it per subject (a handful of entries).
        joints = self.canonical_skeleton(cond)["joints"]
        key = (joints.detach().cpu().numpy().tobytes(), bbox.detach().cpu().numpy().tobytes(),
               tuple(cond.parents.tolist()),
               str(bbox.device))
        return _cached(self._prior_cache, key, lambda: bone_log_prior(
            voxel_centres(bbox, self.cfg.volume_size), joints, cond.parents, self.skinned, self.cfg.prior_sigma))

    @torch.no_grad()
    def shell_volume(self, cond: FrameConditioning, bbox: torch.Tensor) -> torch.Tensor | None:
        """The subject's density-shell slack volume over ``bbox`` (talkinnerf/nerf/shell.py), cached per subject;
        None when ``cfg.density_shell`` is off."""
        shell = self.cfg.density_shell
        if shell <= 0:
            return None
        if cond.canonical_vertices is None:
            raise ValueError("model.density_shell needs the subject's zero-pose mesh (results/smplx/<subject>.npz "
                             "key canonical_vertices), which this fit lacks: rerun its fit stage (delete the npz)")
        verts = cond.canonical_vertices
        key = (verts.detach().cpu().numpy().tobytes(), bbox.detach().cpu().numpy().tobytes(), str(bbox.device),
               shell, self.cfg.shell_resolution)
        return _cached(self._shell_cache, key, lambda: shell_slack_volume(
            verts.to(bbox.dtype), bbox.detach(), self.cfg.shell_resolution, shell))

    def _window(self, bands: int, step: int, kick_in: int, full: int, device: torch.device) -> torch.Tensor:
        return hann_window(bands, step, kick_in, full).to(device)

    def forward(self, rays_o: torch.Tensor, rays_d: torch.Tensor, near: torch.Tensor, far: torch.Tensor,
                cond: FrameConditioning, step: int) -> dict[str, torch.Tensor]:
        """Render R rays (posed-root frame) of one frame.

        Returns rgb (R,3) over cfg.background, acc (R,), depth (R,), seg_logits (R,C), and for debugging
        rgb_body (R,3) (body-only pass), hand_rays (R,) bool, classes (R,S) long (-1 = empty space),
        weights (R,S) (compositing weights of the returned pass), t (R,S), x_canonical (R,S,3) (before D_hands),
        sample_rgb (R,S,3) / sample_sigma (R,S): per-sample colour/density after routing (face replaces body; hand
        samples show the hand field's values). With ``self.render_parts``: part_mass (R,5), the body pass's
        compositing weights times each sample's skinning-weight share per body part (packed.part_mass) summed
        along the ray: how much of the ray's opacity comes from which part's joints.
        """
        cfg = self.cfg
        if rays_o.shape != rays_d.shape or rays_o.dim() != 2 or rays_o.shape[1] != 3:
            raise ValueError(f"rays_o/rays_d must both be (R,3); got {tuple(rays_o.shape)} / {tuple(rays_d.shape)}")
        n_rays, n_samp, dev = rays_o.shape[0], cfg.samples_per_ray, rays_o.device
        state = packed.frame_state(self, cond, step, rays_o.dtype, dev)
        t = stratified_samples(near, far, n_samp, perturb=self.training)                     # (R,S)
        deltas = sample_intervals(t, near, far, rays_d.norm(dim=-1))
        pts = (rays_o[:, None] + t[..., None] * rays_d[:, None]).reshape(-1, 3)             # (P,3)
        # Samples outside every joint's box (packed.joint_boxes) cannot pass the skinning-weight test: leave
        # them out of the K-joint weight lookup (conservative, see talkinnerf/nerf/packed.py).
        # Switch: model.joint_box_culling = False looks every sample up (the reference the tests compare with).
        # model.sparse_skinning = False looks every candidate up in all K joints' volumes (instead of the joints
        # whose box it lies in).
        member = None
        if getattr(self, "joint_box_culling", True):
            t_in, t_out = packed.ray_joint_intervals(state, rays_o, rays_d)
            ray = torch.arange(n_rays, device=dev).repeat_interleave(n_samp)
            member = packed.joint_membership(t.reshape(-1), ray, t_in, t_out)                 # (K,P)
            cand = torch.nonzero(member.any(0)).squeeze(1)
            member = member[:, cand] if getattr(self, "sparse_skinning", True) else None
        else:
            cand = torch.arange(pts.shape[0], device=dev)
        # Switch: model.mlp_autocast = "bf16" runs the MLPs under bf16 autocast (the trainer's train.autocast).
        res = packed.evaluate_points(self, state, pts[cand], cfg.density_noise if self.training else 0.0,
                                     getattr(self, "mlp_autocast", "off"), member)
        active = cand[res["active"]]                                                          # (A,) into P

        # --- scatter the active samples back onto the rays and composite -------------------------------------------
        def full(values: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
            out = values.new_full((n_rays * n_samp, *values.shape[1:]), fill)
            return out.index_put((active,), values).reshape(n_rays, n_samp, *values.shape[1:])

        rgb_s, sig_s, hand_rgb_s, hand_sig_s = full(res["rgb"]), full(res["sigma"]), full(res["hand_rgb"]), full(
            res["hand_sigma"])
        is_hand = full(res["is_hand"], False)
        out = composite_with_hands(rgb_s, sig_s, hand_rgb_s, hand_sig_s, is_hand, full(res["logits"]), t, deltas,
                                   self.background_rgb, self.background_logits,
                                   hand_background=not cfg.no_hand_background)
        out["sample_rgb"] = torch.where(is_hand[..., None], hand_rgb_s, rgb_s)
        out["sample_sigma"] = torch.where(is_hand, hand_sig_s, sig_s)
        out["classes"] = full(res["classes"], -1)
        out["t"] = t
        out["x_canonical"] = full(res["x_canonical"])
        if "part_mass" in res:      # the body pass's weights: F_body's density draws every pixel there
            out["part_mass"] = (alpha_weights(sig_s, deltas)[0][..., None] * full(res["part_mass"])).sum(1)
        return out

    def _density(self, raw: torch.Tensor, noise: float) -> torch.Tensor:
        """Density (1/m) = density_scale * softplus(raw + density_bias). Softplus, not ReLU: no dead samples at
        initialisation. The scale puts an opaque surface (sigma ~ 100/m over a ~2 cm sample spacing) at raw ~ 2
        instead of raw ~ 100, which the MLP head would need thousands of Adam steps to reach (foggy renders).
        The HumanNeRF baseline keeps its ReLU, times density_scale (1 in configs/paper.yaml, as HumanNeRF)."""
        if noise > 0:
            raw = raw + noise * torch.randn_like(raw)
        if self.cfg.faithful_humannerf:
            return self.cfg.density_scale * torch.relu(raw)
        return self.cfg.density_scale * torch.nn.functional.softplus(raw + self.cfg.density_bias)

    def _route_face(self, x_c, classes, rgb, raw, cond, ident):
        """Head-classified samples: F_face(x_c, e, i) replaces colour and density (the paper), or with
        ``cfg.face_residual`` adds to F_body's colour logit and raw density (F_face's rgb 0.5 / raw 0 = no change)."""
        head = torch.nonzero(classes == self.cfg.head_class).squeeze(1)
        if head.numel() == 0:
            return rgb, raw
        e = cond.expression.reshape(-1) if self.cfg.no_jaw else torch.cat([cond.expression.reshape(-1),
                                                                            cond.jaw.reshape(-1)])
        f_rgb, f_raw, _ = self.face(x_c[head], torch.cat([e, ident]))
        if self.cfg.face_residual:
            eps = 1e-4
            f_rgb = torch.sigmoid(torch.logit(rgb[head], eps) + torch.logit(f_rgb, eps))
            f_raw = raw[head] + f_raw if self.cfg.face_residual_density else raw[head]
        return rgb.index_put((head,), f_rgb.to(rgb.dtype)), raw.index_put((head,), f_raw.to(raw.dtype))

    def _route_hands(self, x_c, is_hand, rgb, raw, cond, ident, step):
        """Hand-classified samples: x_c + D_hands(x_c, p_hands) -> F_hands(., i). With ``separate_hands`` a sample
        is left when its canonical x exceeds the pelvis's (SMPL-X's left side is +x), each side with its own
        D_hands (its 45-D pose) and F_hands."""
        cfg = self.cfg
        hands = cond.hands.reshape(-1)
        win = self._window(cfg.hand_def_pe_bands, step, cfg.hand_def_kick_in, cfg.hand_def_full_band, x_c.device)
        if cfg.separate_hands:
            left = x_c[:, 0] > cond.canonical_joints[0, 0]
            routes = [(is_hand & left, self.hand_deform_left, self.hands_left, hands[:45]),
                      (is_hand & ~left, self.hand_deform_right, self.hands_right, hands[45:])]
        else:
            routes = [(is_hand, self.hand_deform, self.hands, hands)]
        for mask, deform, field, pose in routes:
            idx = torch.nonzero(mask).squeeze(1)
            if idx.numel() == 0:
                continue
            x = x_c[idx]
            if deform is not None:
                x = x + deform(x, pose, win)
            h_rgb, h_raw, _ = field(x, ident)
            rgb, raw = rgb.index_put((idx,), h_rgb), raw.index_put((idx,), h_raw)
        return rgb, raw
