"""Where the trainer casts rays: the hands/arms schedule of supp. B and patch placement.

Everything random here draws from an explicit ``torch.Generator`` so a resumed run (which restores the
generator state from its checkpoint) samples exactly the patches an uninterrupted run would.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

PAPER_ITERATIONS = 400_000
# (phase end in paper iterations, share of in-subject samples centred on hands, share on arms)
PAPER_PART_SCHEDULE: tuple[tuple[int, float, float], ...] = (
    (20_000, 0.2, 0.0),
    (40_000, 0.2, 0.6),
    (60_000, 0.4, 0.4),
    (80_000, 0.8, 0.2),
)
PAPER_PART_FINAL: tuple[float, float] = (0.2, 0.0)

# patch categories reported by sample_patches (for logging / tests)
CAT_ANYWHERE, CAT_SUBJECT, CAT_ARMS, CAT_HANDS, CAT_FACE = 0, 1, 2, 3, 4


def part_shares(step: int, iterations: int, paper_iterations: int = PAPER_ITERATIONS) -> tuple[float, float]:
    """(hands share, arms share) of the in-subject samples at ``step``.

    The paper's phase boundaries (20k, 40k, 60k, 80k of 400k iterations) are scaled by
    ``iterations / paper_iterations`` so a short run keeps the same schedule shape.
    """
    scale = iterations / paper_iterations
    for end, hands, arms in PAPER_PART_SCHEDULE:
        if step < end * scale:
            return hands, arms
    return PAPER_PART_FINAL


@dataclass
class FrameMasks:
    """Per-frame pixel sets patches are centred on (flat pixel indices, long)."""

    size: int                 # image side (square frames)
    subject: torch.Tensor     # (Ns,) pixels inside the subject's projected box
    arms: torch.Tensor        # (Na,) pixels labelled arms
    hands: torch.Tensor       # (Nh,) pixels labelled hands
    head: torch.Tensor | None = None   # (Nf,) pixels labelled head (the face share's pool)


def _pick(pixels: torch.Tensor, generator: torch.Generator) -> int:
    return int(pixels[torch.randint(len(pixels), (1,), generator=generator)].item())


def sample_patches(masks: FrameMasks, n_patches: int, patch: int, inside_share: float, hands_share: float,
                   arms_share: float, generator: torch.Generator, face_share: float = 0.0
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Choose ``n_patches`` square patches of side ``patch``.

    Each patch centre independently lies inside the subject with probability ``inside_share``; an inside
    centre is a hand pixel with probability ``hands_share``, an arm pixel with ``arms_share``, else any
    subject pixel (empty sets fall back to the subject, then to anywhere). Patches are shifted to fit.
    ``face_share`` (not in supp. B, whose schedule covers hands and arms only; 0 keeps the paper's draws) takes
    that share of the remaining in-subject centres from head pixels: a face is a few percent of the subject's
    box, so without it F_face sees a face patch in a few percent of the iterations.
    Returns top-left corners (n, 2) long as (row, col) and categories (n,) long (CAT_*).
    """
    size = masks.size
    if patch > size:
        raise ValueError(f"patch size {patch} exceeds the frame size {size}")
    corners = torch.empty(n_patches, 2, dtype=torch.long)
    cats = torch.empty(n_patches, dtype=torch.long)
    draws = torch.rand(n_patches, 2, generator=generator)
    for k in range(n_patches):
        inside, part = float(draws[k, 0]), float(draws[k, 1])
        cat = CAT_ANYWHERE
        if inside < inside_share:
            cat = CAT_HANDS if part < hands_share else CAT_ARMS if part < hands_share + arms_share else CAT_SUBJECT
            rest = 1.0 - hands_share - arms_share
            if cat == CAT_SUBJECT and face_share > 0 and rest > 0 and \
                    (part - hands_share - arms_share) < face_share * rest:
                cat = CAT_FACE
        pool = {CAT_HANDS: masks.hands, CAT_ARMS: masks.arms, CAT_SUBJECT: masks.subject,
                CAT_FACE: masks.head if masks.head is not None else masks.subject[:0]}.get(cat)
        if pool is not None and len(pool) == 0:
            cat, pool = CAT_SUBJECT, masks.subject
        if pool is not None and len(pool) == 0:
            cat, pool = CAT_ANYWHERE, None
        if pool is None:
            centre = int(torch.randint(size * size, (1,), generator=generator).item())
        else:
            centre = _pick(pool, generator)
        r, c = divmod(centre, size)
        top = min(max(r - patch // 2, 0), size - patch)
        left = min(max(c - patch // 2, 0), size - patch)
        corners[k] = torch.tensor([top, left])
        cats[k] = cat
    return corners, cats


def patch_pixels(corners: torch.Tensor, patch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Row/col indices of every pixel of every patch. corners (n,2) -> rows, cols (n*patch*patch,)."""
    offs = torch.arange(patch)
    rows = corners[:, 0, None, None] + offs[None, :, None]      # (n,P,1)
    cols = corners[:, 1, None, None] + offs[None, None, :]      # (n,1,P)
    rows, cols = torch.broadcast_tensors(rows, cols)
    return rows.reshape(-1), cols.reshape(-1)
