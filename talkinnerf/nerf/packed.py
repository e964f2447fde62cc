"""Empty-space skipping shared by training (TalkinNeRF.forward) and the fast renderer (talkinnerf.nerf.render).

Three pieces, each exact or conservative with respect to the dense model:

* :class:`FrameState` - everything about one frame that does not depend on the rays (posed skeleton, canonical
  bbox, softmaxed weight volume, identity code, windows), computed once per frame instead of once per chunk.
* Joint boxes: for every skinned joint k, the canonical box holding every voxel of the weight volume whose weight
  exceeds MIN_WEIGHT_SUM / K, grown by one voxel. Trilinear interpolation never exceeds the largest of its 8
  corner voxels, so a point whose summed skinning weight passes MIN_WEIGHT_SUM (then some joint's weight passes
  MIN_WEIGHT_SUM / K) back-transforms into that joint's box. A ray meets joint k's box, mapped into posed space by
  the inverse of x_c = R_k x + t_k, in one depth interval (a slab test in the joint's canonical frame); samples
  outside every interval cannot be active and never reach the K-joint weight lookup or an MLP.
* :func:`evaluate_points` - the model's per-sample pipeline (D_r, D_nr, F_body, face/hand routing, density) on a
  flat batch of points; returns the values of the active points (summed skinning weight > MIN_WEIGHT_SUM and,
  with ``model.density_shell``, a canonical point inside the shell: talkinnerf/nerf/shell.py) only; with
  ``model.render_parts`` also each active point's skinning weight per body part (:func:`part_mass`, for the
  trainer's ``train.loss_part``).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch

from talkinnerf.body.parts import JOINT_PARTS, PART_NAMES
from talkinnerf.nerf import skeleton as sk
from talkinnerf.nerf.config import BODY_CLASS
from talkinnerf.nerf.shell import inside_shell
from talkinnerf.nerf.weights import gate_pairs, normalise_to_box, padded_bbox, posed_bone_gate, query_joint_weights

MIN_WEIGHT_SUM = 1e-3  # points whose summed skinning weight is below this are empty space: skipped entirely
AUTOCAST = ("off", "bf16")
PAIR_WEIGHT = 1e-7     # a joint's interpolated weight outside its box is below this: pairs (sample, joint) outside
                       # the box are left out of the skinning sums (far below their float32 resolution)
TILE_GAP = 2           # zero voxels between the joints' volumes in the tiled volume (grid_sample's zero padding)
BOX_MARGIN = 1e-4      # relative growth of each joint box on top of the voxel: float round-off of the slab test


def autocast_context(mode: str, device: torch.device):
    """bf16 autocast for ``mode == "bf16"`` on the device's type, else a no-op. Only the MLPs run under it: the
    rigid maps and weight lookups stay float32 (bf16 would move canonical points by millimetres)."""
    if mode not in AUTOCAST:
        raise ValueError(f"autocast must be one of {AUTOCAST}, got {mode!r}")
    if mode == "off":
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def bf16_native(device: torch.device) -> bool:
    """Whether the device computes bf16 matmuls natively (CUDA from Ampere on; CPUs with AVX512-BF16 or AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def effective_autocast(requested: str, device: torch.device, setting: str = "train.autocast",
                       work: str = "training") -> tuple[str, str | None]:
    """The autocast mode a run uses, and a warning when it differs from ``requested``: bf16 where the device has it
    natively, float32 elsewhere (emulated bf16 is slower than float32 and gains nothing). ``setting`` and
    ``work`` name the option and the job in the warning."""
    if requested == "bf16" and not bf16_native(device):
        return "off", (f"{setting}: bf16 requested, but {device} has no native bf16 "
                       f"(CUDA before Ampere, or a CPU without AVX512-BF16/AMX): {work} in float32")
    return requested, None


@dataclass
class FrameState:
    """Ray-independent quantities of one frame (see TalkinNeRF.forward for their meaning)."""

    cond: object            # FrameConditioning prepared on the device
    step: int
    skel: dict
    bbox: torch.Tensor      # (2,3) padded canonical bbox of the weight volume
    volume: torch.Tensor    # (K+1,S,S,S) softmaxed blend weights
    ident: torch.Tensor     # (identity_dim,) identity code
    boxes: torch.Tensor     # (K,2,3) canonical joint boxes (empty joint: lo > hi)
    tiled: torch.Tensor     # (1,1,D,D,D) the K joints' weight volumes side by side (tile_volume)
    gate_joints: torch.Tensor | None = None   # (55,3) posed joints of the fit (model.posed_gate > 0), no grad
    skinned: tuple[int, ...] = ()             # the K skinned joints' indices (for the posed gate)
    gate_slack: float = 0.0
    shell: torch.Tensor | None = None         # (S,S,S) density-shell slack over bbox (model.density_shell > 0)
    joint_parts: torch.Tensor | None = None   # (K,) long part label of each skinned joint (model.render_parts)


def frame_state(model, cond, step: int, dtype: torch.dtype, device: torch.device) -> FrameState:
    """Everything per frame; the tensors keep their autograd graph (training backpropagates through them)."""
    cond = cond.prepared(device, dtype)
    ident_index = int(cond.identity.reshape(()))
    if not 0 <= ident_index < model.num_identities:
        raise ValueError(f"identity {ident_index} out of range: the model has {model.num_identities} identities")
    skel = model.pose_skeleton(cond, step)
    bbox = padded_bbox(model.canonical_skeleton(cond)["bbox"], model.cfg.bbox_padding)
    volume = model.weight_volume_softmax(cond, bbox)
    ident = model.identity(cond.identity.reshape(()))
    k = volume.shape[0] - 1
    boxes = joint_boxes(volume.detach(), bbox.detach(), PAIR_WEIGHT * k)
    gate_joints = None
    gate = 0.0 if model.cfg.faithful_humannerf else float(model.cfg.posed_gate)   # HumanNeRF's D_r as published
    if gate > 0:
        with torch.no_grad():   # the fit's own posed skeleton, fingers included (the pose refiner's is not needed)
            gate_joints = sk.posed_full_skeleton(cond.poses_body, cond.jaw, cond.hands, cond.canonical_joints,
                                                 cond.parents)
    joint_parts = (torch.as_tensor(JOINT_PARTS[model.skinned], dtype=torch.long, device=device)
                   if getattr(model, "render_parts", False) else None)
    return FrameState(cond, step, skel, bbox, volume, ident, boxes, tile_volume(volume[:k]), gate_joints,
                      tuple(model.skinned), gate, model.shell_volume(cond, bbox.detach()),
                      joint_parts)


def part_mass(joint_parts: torch.Tensor, joint: torch.Tensor, row: torch.Tensor, w: torch.Tensor, rows: int
              ) -> torch.Tensor:
    """(rows, len(PART_NAMES)) share of each point's skinning weight held by each body part's joints (rows sum to 1
    where the point has weight; part 0, the background, stays 0). ``joint`` (M,) long indexes the skinned joints,
    ``row`` (M,) long the points, ``w`` (M,) the (joint, point) pairs' weights; differentiable in ``w``."""
    mass = w.new_zeros(rows, len(PART_NAMES)).index_put((row, joint_parts.index_select(0, joint)), w,
                                                        accumulate=True)
    return mass / mass.sum(1, keepdim=True).clamp_min(1e-8)


def posed_gate(state: FrameState, pts: torch.Tensor, joint: torch.Tensor, point: torch.Tensor, cand: torch.Tensor,
               w: torch.Tensor) -> torch.Tensor | None:
    """(M,) factor of the (joint, point) pairs' weights from model.posed_gate (weights.gate_pairs: the posed
    skeleton decides between disagreeing candidates); None without the gate."""
    if state.gate_joints is None:
        return None
    with torch.no_grad():
        return gate_pairs(joint, point, cand, w, pts.shape[0],
                          lambda idx: posed_bone_gate(pts.detach().index_select(0, idx), state.gate_joints,
                                                      state.cond.parents, list(state.skinned), state.gate_slack))


def non_rigid_inputs(model, state: FrameState) -> tuple[torch.Tensor, torch.Tensor] | None:
    """D_nr's condition (non-root body pose, plus the hand pose where hand joints are in canonical space) and its
    coarse-to-fine frequency window for the frame; None where D_nr is absent or has not kicked in yet."""
    cfg, cond, step = model.cfg, state.cond, state.step
    if model.non_rigid is None or step < cfg.nr_kick_in:
        return None
    nr_cond = cond.poses_body.reshape(-1)[3:]
    if cfg.hand_joints_in_canonical:
        nr_cond = torch.cat([nr_cond, cond.hands.reshape(-1)])
    return nr_cond, model._window(cfg.nr_pe_bands, step, cfg.nr_kick_in, cfg.nr_full_band, state.bbox.device)


def _tiles(k: int) -> int:
    n = 1
    while n ** 3 < k:
        n += 1
    return n


def tile_volume(volume: torch.Tensor) -> torch.Tensor:
    """(K,S,S,S) -> (1,1,D,D,D): joint k's volume in tile (k // n^2, k // n % n, k % n) of an n^3 arrangement, each
    tile padded by TILE_GAP zero voxels, so that one grid_sample call looks up (point, joint) pairs of any joints.
    A cube of tiles (not a column) keeps D small: grid_sample's float32 coordinates stay precise to ~1e-5 voxel."""
    k, size = volume.shape[0], volume.shape[1]
    n = _tiles(k)
    padded = torch.nn.functional.pad(volume, (TILE_GAP,) * 6)                     # (K,T,T,T), T = S + 2 gap
    t = size + 2 * TILE_GAP
    if n ** 3 > k:
        padded = torch.cat([padded, padded.new_zeros(n ** 3 - k, t, t, t)])
    # (nz,ny,nx,T,T,T) -> (nz,T,ny,T,nx,T) -> (D,D,D)
    grid = padded.reshape(n, n, n, t, t, t).permute(0, 3, 1, 4, 2, 5).reshape(n * t, n * t, n * t)
    return grid[None, None]


def lookup_pairs(state: FrameState, joint: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Weight of joint ``joint`` (N,) long at its canonical point ``x`` (N,3): query_joint_weights for (point, joint)
    pairs (same interpolation, zero outside the box)."""
    size = state.volume.shape[1]
    n = _tiles(state.volume.shape[0] - 1)
    t = size + 2 * TILE_GAP
    dim = n * t
    g = normalise_to_box(x, state.bbox)                                           # (N,3) x,y,z in [-1,1]
    tile = torch.stack([joint % n, joint // n % n, joint // (n * n)], dim=-1).to(g.dtype)   # x, y, z tile
    idx = tile * t + TILE_GAP + (g + 1) * (0.5 * (size - 1))                      # voxel index in the tiled volume
    grid = (idx * (2.0 / (dim - 1)) - 1.0).reshape(1, 1, 1, -1, 3)
    out = torch.nn.functional.grid_sample(state.tiled, grid, mode="bilinear", padding_mode="zeros",
                                          align_corners=True)
    return out.reshape(-1)


@torch.no_grad()
def joint_boxes(volume: torch.Tensor, bbox: torch.Tensor, threshold: float) -> torch.Tensor:
    """(K,2,3) canonical boxes outside which joint k's interpolated weight is <= threshold.

    volume (K+1,S,S,S) indexed [z,y,x] with voxel centres on linspace(bbox) (grid_sample's align_corners=True).
    """
    k = volume.shape[0] - 1
    size = volume.shape[1]
    above = volume[:k] > threshold                                       # (K,Z,Y,X)
    spacing = (bbox[1] - bbox[0]) / (size - 1)
    lo = torch.full((k, 3), float("inf"), device=volume.device, dtype=bbox.dtype)
    hi = torch.full((k, 3), float("-inf"), device=volume.device, dtype=bbox.dtype)
    idx = torch.arange(size, device=volume.device, dtype=bbox.dtype)
    # axis a of the box <-> volume dim (3 - a): x is the last dim
    for axis, reduce_dims in ((0, (1, 2)), (1, (1, 3)), (2, (2, 3))):
        hit = above.any(dim=reduce_dims[1]).any(dim=reduce_dims[0])   # (K,S) along this axis
        first = torch.where(hit, idx, torch.full_like(idx, float("inf"))).min(1).values
        last = torch.where(hit, idx, torch.full_like(idx, float("-inf"))).max(1).values
        lo[:, axis] = bbox[0, axis] + (first - 1) * spacing[axis]
        hi[:, axis] = bbox[0, axis] + (last + 1) * spacing[axis]
    margin = BOX_MARGIN * (bbox[1] - bbox[0])
    return torch.stack([lo - margin, hi + margin], dim=1)


@torch.no_grad()
def ray_joint_intervals(state: FrameState, rays_o: torch.Tensor, rays_d: torch.Tensor
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Depth interval (K,R) of each ray inside each joint box (t_in > t_out when it misses)."""
    rot, t = state.skel["inv_rot"].detach(), state.skel["inv_t"].detach()
    o = sk.apply_per_joint(rays_o, rot, t)                              # (K,R,3) ray origin in joint k's frame
    d = torch.einsum("kij,nj->kni", rot, rays_d)                       # (K,R,3)
    tiny = torch.finfo(d.dtype).tiny ** 0.5
    d = torch.where(d.abs() < tiny, torch.where(d < 0, -tiny, tiny), d)   # axis-parallel rays: huge, finite slabs
    lo, hi = state.boxes[:, None, 0], state.boxes[:, None, 1]           # (K,1,3)
    t0, t1 = (lo - o) / d, (hi - o) / d
    t_in = torch.minimum(t0, t1).amax(-1)
    t_out = torch.maximum(t0, t1).amin(-1)
    return t_in, t_out


@torch.no_grad()
def candidate_mask(t: torch.Tensor, t_in: torch.Tensor, t_out: torch.Tensor) -> torch.Tensor:
    """(R,S) samples inside at least one joint's interval; t (R,S), t_in/t_out (K,R)."""
    out = torch.zeros_like(t, dtype=torch.bool)
    for k in range(t_in.shape[0]):     # a loop over K keeps memory at (R,S) instead of (K,R,S)
        out |= (t >= t_in[k, :, None]) & (t <= t_out[k, :, None])
    return out


@torch.no_grad()
def joint_membership(t: torch.Tensor, ray: torch.Tensor, t_in: torch.Tensor, t_out: torch.Tensor) -> torch.Tensor:
    """(K,P) whether sample p (depth t (P,) on ray ``ray`` (P,) long) lies in joint k's interval (K,R)."""
    return (t[None] >= t_in[:, ray]) & (t[None] <= t_out[:, ray])


def skin_pairs(state: FrameState, pts: torch.Tensor, member: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """D_r over (point, joint) pairs: ``member`` (K,P) bool marks the joints whose box may hold point p's
    back-transformed position (joint_membership); the others weigh <= PAIR_WEIGHT and are left out.

    Returns active (A,) indices into pts (summed weight > MIN_WEIGHT_SUM), x_c (A,3) the normalised blend of the
    active points' candidates, w_sum (A,) their summed weight (with autograd when it is enabled) and, where
    ``state.joint_parts`` is set, their part_mass (A,5) (else None)."""
    rot, tr = state.skel["inv_rot"], state.skel["inv_t"]
    n = pts.shape[0]
    with torch.no_grad():
        pk, pi = torch.nonzero(member, as_tuple=True)
        # all K rigid maps of every point are cheap (9 MACs each); gathering the pairs' rows beats gathering
        # a rotation per pair
        cand = sk.apply_per_joint(pts, rot.detach(), tr.detach()).reshape(-1, 3).index_select(0, pk * n + pi)
        w = lookup_pairs(state, pk, cand)
        gate = posed_gate(state, pts, pk, pi, cand, w)
        if gate is not None:
            w = w * gate
        w_sum = torch.zeros(n, dtype=w.dtype, device=w.device).index_add_(0, pi, w)
        is_active = w_sum > MIN_WEIGHT_SUM
        active = torch.nonzero(is_active).squeeze(1)
        keep = torch.nonzero(is_active.index_select(0, pi)).squeeze(1)
        pk, pi = pk.index_select(0, keep), pi.index_select(0, keep)
        slot = torch.full((n,), -1, dtype=torch.long, device=pts.device)
        slot[active] = torch.arange(active.numel(), device=pts.device)
        ai = slot.index_select(0, pi)                                 # pair -> row of the active point
    a = active.numel()
    if torch.is_grad_enabled():
        cands = sk.apply_per_joint(pts.index_select(0, active), rot, tr)                # (K,A,3), autograd
        cand = cands.reshape(-1, 3).index_select(0, pk * a + ai)
        w = lookup_pairs(state, pk, cand)
        if gate is not None:
            w = w * gate.index_select(0, keep)
    else:
        cand, w = cand.index_select(0, keep), w.index_select(0, keep)
    w_sum = w.new_zeros(a).index_add(0, ai, w)
    x_c = cand.new_zeros(a, 3).index_add(0, ai, w[:, None] * cand) / w_sum.clamp_min(1e-4)[:, None]   # sk.blend
    parts = part_mass(state.joint_parts, pk, ai, w, a) if state.joint_parts is not None else None
    return active, x_c, w_sum, parts


def evaluate_points(model, state: FrameState, pts: torch.Tensor, noise: float, autocast: str = "off",
                    member: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """The per-sample pipeline on points (P,3) of one frame (posed-root frame).

    Returns ``active`` (A,) indices into ``pts`` of the points with summed skinning weight > MIN_WEIGHT_SUM and,
    for those: rgb (A,3), sigma (A,) (body/face field), hand_rgb (A,3), hand_sigma (A,), is_hand (A,) bool,
    logits (A,C), classes (A,) long, x_canonical (A,3); with ``state.joint_parts`` also part_mass (A,5).
    """
    cfg, step, cond, skel, bbox = model.cfg, state.step, state.cond, state.skel, state.bbox
    dev = pts.device
    if member is not None:
        active, x_c, w_sum, parts = skin_pairs(state, pts, member)
        fg = w_sum.clamp(max=1.0)  # HumanNeRF's foreground likelihood scales density
    else:
        # First find the active samples without autograd (most samples are empty space), then redo the lookup with
        # autograd for the active ones only: the 3D grid_sample backward is the costliest op of D_r.
        with torch.no_grad():
            cands_all = sk.apply_per_joint(pts, skel["inv_rot"].detach(), skel["inv_t"].detach())
            w_all = query_joint_weights(state.volume.detach(), cands_all, bbox.detach())
            gate = None
            if state.gate_joints is not None:
                k, p = w_all.shape
                joint = torch.arange(k, device=dev).repeat_interleave(p)
                point = torch.arange(p, device=dev).repeat(k)
                gate = posed_gate(state, pts, joint, point, cands_all.reshape(-1, 3), w_all.reshape(-1)).reshape(k, p)
                w_all = w_all * gate
            active = torch.nonzero(w_all.sum(0) > MIN_WEIGHT_SUM).squeeze(1)                 # (A,)
        if torch.is_grad_enabled():
            cands = sk.apply_per_joint(pts[active], skel["inv_rot"], skel["inv_t"])         # (K,A,3)
            w = query_joint_weights(state.volume, cands, bbox)                               # (K,A)
            if gate is not None:
                w = w * gate[:, active]
        else:     # rendering: the first lookup already holds the values
            cands, w = cands_all[:, active], w_all[:, active]
        x_c = sk.blend(cands, w)                                                             # (A,3)
        fg = w.sum(0).clamp(max=1.0)  # HumanNeRF's foreground likelihood scales density
        parts = None
        if state.joint_parts is not None:
            k, a = w.shape
            parts = part_mass(state.joint_parts, torch.arange(k, device=dev).repeat_interleave(a),
                              torch.arange(a, device=dev).repeat(k), w.reshape(-1), a)

    if state.shell is not None:   # outside the density shell: empty space, skipped like a low skinning weight
        keep = torch.nonzero(inside_shell(state.shell, x_c.detach(), bbox.detach())).squeeze(1)
        active, x_c, fg = active.index_select(0, keep), x_c.index_select(0, keep), fg.index_select(0, keep)
        parts = parts.index_select(0, keep) if parts is not None else None

    # --- D_nr: pose-conditioned offset, from the kick-in step, coarse-to-fine ------------------------------------
    nr_inputs = non_rigid_inputs(model, state)
    if nr_inputs is not None:
        with autocast_context(autocast, dev):
            offset = model.non_rigid(x_c, *nr_inputs)
        x_c = x_c + offset.float()
    inside = ((x_c >= bbox[0]) & (x_c <= bbox[1])).all(-1)
    fg = fg * inside

    # --- F_body, then route head / hand samples ----------------------------------------------------------------------
    ident = state.ident
    with autocast_context(autocast, dev):
        rgb, raw, logits = model.body(x_c, ident)
        # hard routing: CE on rendered logits trains the classes (the HumanNeRF baseline has none: all body)
        classes = (logits.detach().argmax(-1) if cfg.num_classes
                   else torch.full(x_c.shape[:1], BODY_CLASS, dtype=torch.long, device=x_c.device))
        hand_rgb, hand_raw = torch.zeros_like(rgb), torch.zeros_like(raw)
        is_hand = torch.zeros_like(classes, dtype=torch.bool)
        if not cfg.body_only:
            rgb, raw = model._route_face(x_c, classes, rgb, raw, cond, ident)
            if model.hands_active(step):
                is_hand = classes == cfg.hands_class
            hand_rgb, hand_raw = model._route_hands(x_c, is_hand, hand_rgb, hand_raw, cond, ident, step)
    rgb, raw, logits, hand_rgb, hand_raw = (v.float() for v in (rgb, raw, logits, hand_rgb, hand_raw))
    out = {"active": active, "rgb": rgb, "sigma": model._density(raw, noise) * fg, "hand_rgb": hand_rgb,
           "hand_sigma": model._density(hand_raw, noise) * fg, "is_hand": is_hand, "logits": logits,
           "classes": classes, "x_canonical": x_c}
    if parts is not None:
        out["part_mass"] = parts
    return out
