"""Volume rendering and the hand compositing semantics on hand-made densities."""

import math

import torch

from talkinnerf.nerf.composite import composite, composite_with_hands, sample_intervals, stratified_samples

RED, GREEN, BLUE, GREY = (torch.tensor(c, dtype=torch.float32) for c in
                          ([1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0.5]))
HALF = math.log(2.0)       # density giving alpha = 1/2 over a unit interval
OPAQUE = 50.0


def _ray(sigmas, colours, hand, hand_sigmas=None, hand_colours=None):
    s = len(sigmas)
    body_sigma = torch.tensor([sigmas], dtype=torch.float32)
    body_rgb = torch.stack(colours)[None]
    hand_sigma = torch.tensor([hand_sigmas or [0.0] * s], dtype=torch.float32)
    hand_rgb = torch.stack(hand_colours or [torch.zeros(3)] * s)[None]
    is_hand = torch.tensor([hand])
    logits = torch.zeros(1, s, 2)
    t = torch.arange(s, dtype=torch.float32)[None]
    return body_rgb, body_sigma, hand_rgb, hand_sigma, is_hand, logits, t, torch.ones(1, s)


def test_plain_composite_matches_hand_computation():
    rgb = torch.stack([RED, BLUE])[None]
    out = composite(rgb, torch.tensor([[HALF, HALF]]), torch.zeros(1, 2, 2), torch.tensor([[1.0, 2.0]]),
                    torch.ones(1, 2), GREY, torch.tensor([5.0, 0.0]), torch.zeros(()), torch.zeros(()))
    assert torch.allclose(out["rgb"][0], 0.5 * RED + 0.25 * BLUE + 0.25 * GREY, atol=1e-6)
    assert torch.allclose(out["acc"], torch.tensor([0.75]), atol=1e-6)
    assert torch.allclose(out["depth"], torch.tensor([0.5 * 1 + 0.25 * 2]), atol=1e-6)
    assert torch.allclose(out["seg_logits"][0], torch.tensor([0.25 * 5.0, 0.0]), atol=1e-6)


def test_hand_over_body_colour_as_last_sample():
    # empty, hand (alpha 1/2, red), opaque blue body behind the hand, empty
    args = _ray([0.0, 7.0, OPAQUE, 0.0], [GREY, GREEN, BLUE, GREY], [False, True, False, False],
                [0.0, HALF, 0.0, 0.0], [GREY, RED, GREY, GREY])
    out = composite_with_hands(*args, background=torch.zeros(3), background_logits=torch.tensor([9.0, 0.0]))
    # the body pass is F_body's own render of the pixel, its value at the hand sample included (green, 7.0)
    green = 1.0 - math.exp(-7.0)
    c_b = green * GREEN + (1.0 - green) * BLUE
    assert torch.allclose(out["rgb_body"][0], c_b, atol=1e-6)
    assert torch.allclose(out["rgb"][0], 0.5 * RED + 0.5 * c_b, atol=1e-6)
    assert torch.allclose(out["acc"], torch.tensor([1.0]), atol=1e-6)
    assert bool(out["hand_rays"][0])
    # without the body render behind the hand, the ray sees the body samples behind it (blue): the ablation
    # differs although no body sample lies in front of the hand
    one = composite_with_hands(*args, background=torch.zeros(3), background_logits=torch.tensor([9.0, 0.0]),
                               hand_background=False)
    assert torch.allclose(one["rgb"][0], 0.5 * RED + 0.5 * BLUE, atol=1e-6)


def test_hand_behind_semi_transparent_body_is_occluded_by_it():
    # green body (alpha 1/2) in front of a red hand (alpha 1/2) in front of an opaque blue body
    args = _ray([HALF, 0.0, OPAQUE], [GREEN, GREY, BLUE], [False, True, False], [0.0, HALF, 0.0],
                [GREY, RED, GREY])
    out = composite_with_hands(*args, background=torch.zeros(3), background_logits=torch.zeros(2))
    body = 0.5 * GREEN + 0.5 * BLUE
    assert torch.allclose(out["rgb_body"][0], body, atol=1e-6)
    assert torch.allclose(out["rgb"][0], 0.5 * GREEN + 0.25 * RED + 0.25 * body, atol=1e-6)


def test_hand_over_background_when_body_is_empty():
    args = _ray([0.0, 0.0, 0.0], [GREY] * 3, [False, True, False], [0.0, HALF, 0.0], [GREY, RED, GREY])
    out = composite_with_hands(*args, background=GREY, background_logits=torch.tensor([4.0, 0.0]))
    assert torch.allclose(out["rgb"][0], 0.5 * RED + 0.5 * GREY, atol=1e-6)
    assert torch.allclose(out["acc"], torch.tensor([0.5]), atol=1e-6)
    assert torch.allclose(out["seg_logits"][0], torch.tensor([2.0, 0.0]), atol=1e-6)


def test_ray_without_hand_samples_is_the_body_pass():
    args = _ray([HALF, OPAQUE], [RED, BLUE], [False, False])
    out = composite_with_hands(*args, background=GREY, background_logits=torch.zeros(2))
    assert torch.allclose(out["rgb"][0], 0.5 * RED + 0.5 * BLUE, atol=1e-6)
    assert not bool(out["hand_rays"][0])


def test_no_hand_background_is_a_single_pass():
    # hand (alpha 1/2) in front of an opaque body: the single pass gives red/2 + blue/2 too, but with the hand
    # behind an empty stretch and an empty body the single pass falls back to the background colour
    args = _ray([0.0, OPAQUE], [GREY, BLUE], [True, False], [HALF, 0.0], [RED, GREY])
    one = composite_with_hands(*args, background=GREY, background_logits=torch.zeros(2), hand_background=False)
    two = composite_with_hands(*args, background=GREY, background_logits=torch.zeros(2))
    assert torch.allclose(one["rgb"][0], 0.5 * RED + 0.5 * BLUE, atol=1e-6)
    assert torch.allclose(two["rgb"][0], one["rgb"][0], atol=1e-6)
    # body samples interleaved with hand samples: the single pass mixes them in along the ray; the two-pass
    # compositing drops body samples behind the first hand sample and puts the body render last
    args = _ray([0.0, HALF, 0.0, 0.0], [GREY, GREEN, GREY, GREY], [True, False, True, False],
                [HALF, 0.0, HALF, 0.0], [RED, GREY, RED, GREY])
    one = composite_with_hands(*args, background=GREY, background_logits=torch.zeros(2), hand_background=False)
    two = composite_with_hands(*args, background=GREY, background_logits=torch.zeros(2))
    assert torch.allclose(one["rgb"][0], 0.625 * RED + 0.25 * GREEN + 0.125 * GREY, atol=1e-6)
    body = 0.5 * GREEN + 0.5 * GREY
    assert torch.allclose(two["rgb"][0], 0.75 * RED + 0.25 * body, atol=1e-6)


def test_stratified_samples_stay_in_bins():
    near, far = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 2.5])
    t = stratified_samples(near, far, 8, perturb=True)
    width = (far - near)[:, None] / 8
    lower = near[:, None] + width * torch.arange(8)
    assert ((t >= lower) & (t <= lower + width)).all()
    mid = stratified_samples(near, far, 8, perturb=False)
    assert torch.allclose(mid, lower + width / 2)
    deltas = sample_intervals(mid, near, far, torch.tensor([2.0, 1.0]))
    assert torch.allclose(deltas, (width * torch.tensor([[2.0], [1.0]])).expand(2, 8))
