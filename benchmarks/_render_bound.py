"""How fast could an exact renderer of these fields be on this machine? (render_fps.py --bound)

Any renderer that keeps the image must run the fields on every sample whose compositing weight is not negligible;
an oracle that knew those samples in advance (a perfect occupancy grid, perfect early termination) and spent
nothing but the D_nr + F_body matmuls on them would reach

    ceiling rays/s = (D_nr + F_body samples/s on a large batch) / (samples per ray with weight > threshold).

If that ceiling is below a goal, no skipping scheme reaches the goal with these fields on this device; only fewer
or cheaper field evaluations per sample (smaller networks, a hash-grid encoding) or a faster device can.
"""

from __future__ import annotations

import time

import torch

THRESHOLDS = (1e-4, 1e-3, 1e-2)


@torch.no_grad()
def sample_counts(model, cond, step: int, rays, chunk: int, autocast: str = "off") -> dict[str, float]:
    """Per hit ray: samples the fast path looks up (its candidates in the joint boxes; only the active ones reach
    the MLPs), and samples whose compositing weight in the full render (no early termination) is above each of
    THRESHOLDS."""
    from talkinnerf.nerf import packed
    from talkinnerf.nerf.render import RenderOptions, render_rays_fast

    o, d, near, far, hit = rays
    idx = torch.nonzero(hit.reshape(-1)).squeeze(1)
    state = packed.frame_state(model, cond, step, o.dtype, o.device)
    evaluated, above = 0, dict.fromkeys(THRESHOLDS, 0)
    for start in range(0, idx.numel(), chunk):
        sel = idx[start:start + chunk]
        args = (model, state, o[sel], d[sel], near[sel], far[sel])
        evaluated += int(render_rays_fast(*args, RenderOptions(autocast=autocast))["evaluated"].sum())
        weights = render_rays_fast(*args, RenderOptions(early_stop=0.0, autocast=autocast))["weights"]
        for th in THRESHOLDS:
            above[th] += int((weights > th).sum())
    n = max(idx.numel(), 1)
    return {"evaluated_per_ray": evaluated / n, **{f"weight>{th:g}_per_ray": c / n for th, c in above.items()}}


def _rate(fn, samples: int, repeats: int, device: torch.device) -> float:
    fn()                                                          # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return samples * repeats / (time.perf_counter() - t0)


@torch.no_grad()
def field_rates(model, cond, step: int, device: torch.device, autocast: str = "off", batch: int = 32768,
                repeats: int = 3) -> dict[str, float]:
    """Samples/s on ``batch`` points inside the canonical body: ``mlp`` = D_nr (when active) + F_body alone,
    ``pipeline`` = packed.evaluate_points (skinning lookup, D_nr, F_body, face/hand routing) on points that are
    all active (posed points inside the skinned body)."""
    from talkinnerf.nerf import packed

    state = packed.frame_state(model, cond, step, torch.float32, device)
    gen = torch.Generator().manual_seed(0)
    lo, hi = state.bbox[0].cpu(), state.bbox[1].cpu()
    x_c = (lo + (hi - lo) * torch.rand(batch, 3, generator=gen)).to(device)
    nr = packed.non_rigid_inputs(model, state)

    def mlp():
        with packed.autocast_context(autocast, device):
            x = x_c if nr is None else x_c + model.non_rigid(x_c, *nr).float()
            model.body(x, state.ident)

    # posed points with weight: draw in the canonical box grown 1.2x about the root (the synthetic and test poses
    # stay near it), keep the active ones, top up to the batch size
    posed = []
    for _ in range(100):
        if sum(p.shape[0] for p in posed) >= batch:
            break
        pts = (lo + (hi - lo) * torch.rand(4 * batch, 3, generator=gen)).to(device) * 1.2
        posed.append(pts[packed.evaluate_points(model, state, pts, 0.0, autocast)["active"]])
    pts = torch.cat(posed)[:batch]
    if pts.shape[0] < batch:
        raise RuntimeError(f"only {pts.shape[0]} of {batch} random points fell inside the skinned body")
    pipeline = lambda: packed.evaluate_points(model, state, pts, 0.0, autocast)   # noqa: E731
    return {"mlp_samples_per_s": _rate(mlp, batch, repeats, device),
            "pipeline_samples_per_s": _rate(pipeline, batch, repeats, device)}


OCCUPANCY_DENSITY = (0.1, 1.0)      # 1/m: an occupancy-grid voxel is empty where F_body's density is below this
TERMINATION = (1e-4, 1e-3, 1e-2)    # transmittance thresholds of early ray termination


@torch.no_grad()
def skip_levers(model, cond, step: int, rays, chunk: int, grid: int = 64) -> dict[str, float]:
    """What the two skipping levers beyond the fast path would remove on this frame, per hit ray.

    * An Instant-NGP occupancy grid in canonical space for the frame's identity: F_body's density at the centres
      of a ``grid``^3 grid over the canonical box, a voxel occupied where it exceeds a threshold of
      OCCUPANCY_DENSITY or where F_body labels it head or hands (their own fields decide there), dilated by one
      voxel. Reported: the occupied fraction of the box, and the active samples (those reaching the MLPs) whose
      canonical point (after D_nr) falls in an empty voxel - what the grid would skip.
    * Early termination: the share of rays whose transmittance falls below each of TERMINATION, and the active
      samples per ray up to that point (all of them on rays that never get there).
    """
    from talkinnerf.nerf import packed
    from talkinnerf.nerf.weights import voxel_centres

    cfg = model.cfg
    o, d, near, far, hit = rays
    idx = torch.nonzero(hit.reshape(-1)).squeeze(1)
    state = packed.frame_state(model, cond, step, o.dtype, o.device)
    lo, hi = state.bbox[0], state.bbox[1]
    centres = voxel_centres(state.bbox, grid).reshape(-1, 3)                  # indexed [z, y, x] like the lookups
    density, routed = [], []
    for part in centres.split(65536):
        _, raw, logits = model.body(part, state.ident)
        density.append(model._density(raw.float(), 0.0))
        if cfg.num_classes:
            cls = logits.argmax(-1)
            routed.append((cls == cfg.head_class) | (cls == cfg.hands_class))
        else:
            routed.append(torch.zeros(raw.shape[0], dtype=torch.bool, device=raw.device))
    density = torch.cat(density).reshape(grid, grid, grid)
    routed = torch.cat(routed).reshape(grid, grid, grid)
    occupied = {}
    for th in OCCUPANCY_DENSITY:
        occ = ((density > th) | routed).float()[None, None]
        occupied[th] = torch.nn.functional.max_pool3d(occ, 3, 1, 1)[0, 0] > 0

    totals = {"active": 0.0, **{f"grid_skips@{th:g}": 0.0 for th in OCCUPANCY_DENSITY}}
    for eps in TERMINATION:
        totals[f"rays_T<{eps:g}"] = 0.0
        totals[f"active_before_T<{eps:g}"] = 0.0
    for start in range(0, idx.numel(), chunk):
        sel = idx[start:start + chunk]
        out = model(o[sel], d[sel], near[sel], far[sel], cond, step)
        active = out["classes"] >= 0                                            # (R,S)
        totals["active"] += float(active.sum())
        g = ((out["x_canonical"] - lo) / (hi - lo) * (grid - 1)).round().long().clamp(0, grid - 1)
        for th, occ in occupied.items():
            totals[f"grid_skips@{th:g}"] += float((active & ~occ[g[..., 2], g[..., 1], g[..., 0]]).sum())
        trans = 1.0 - torch.cumsum(out["weights"], dim=1)                      # after each sample
        pos = torch.arange(trans.shape[1], device=o.device)[None]
        for eps in TERMINATION:
            below = trans < eps
            reached = below.any(1)
            stop = torch.where(reached, below.float().argmax(1), trans.shape[1])     # first sample below eps
            totals[f"rays_T<{eps:g}"] += float(reached.sum())
            totals[f"active_before_T<{eps:g}"] += float((active & (pos <= stop[:, None])).sum())
    n = max(idx.numel(), 1)
    return {**{k: v / n for k, v in totals.items()},
            **{f"occupied_fraction@{th:g}": float(occ.float().mean()) for th, occ in occupied.items()}}
