"""Camera rays and ray/box near/far on hand-made cases."""

import math

import torch

from talkinnerf.train.rays import camera_center, pixel_rays, project_points, ray_box_intersect


def test_ray_box_near_far_hand_made():
    box = torch.tensor([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]])
    o = torch.tensor([[0.0, 0.0, 5.0], [0.5, 0.5, 5.0], [3.0, 0.0, 5.0], [0.0, 0.0, 0.0], [-5.0, 0.0, 0.0],
                      [1.0, 0.0, 5.0]])
    d = torch.tensor([[0.0, 0.0, -1.0], [0.0, 0.0, -1.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0],
                      [0.0, 0.0, -1.0]])
    near, far, hit = ray_box_intersect(o, d, box)
    assert hit.tolist() == [True, True, False, True, True, False]   # last: grazes the face (empty interval)
    assert torch.allclose(near[:2], torch.tensor([4.0, 4.0])) and torch.allclose(far[:2], torch.tensor([6.0, 6.0]))
    assert near[3] == 0.0 and math.isclose(float(far[3]), 1.0)       # origin inside: starts at 0
    assert math.isclose(float(near[4]), 4.0) and math.isclose(float(far[4]), 6.0)
    assert near[2] == 0 and far[2] == 0


def test_diagonal_ray():
    box = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    d = torch.tensor([[1.0, 1.0, 1.0]]) / math.sqrt(3)
    near, far, hit = ray_box_intersect(torch.tensor([[-1.0, -1.0, -1.0]]), d, box)
    assert hit.item() and math.isclose(float(near), math.sqrt(3), rel_tol=1e-5)
    assert math.isclose(float(far), 2 * math.sqrt(3), rel_tol=1e-5)


def test_pixel_rays_reproject_to_their_pixels():
    K = torch.tensor([[50.0, 0, 16], [0, 50.0, 16], [0, 0, 1]])
    R = torch.diag(torch.tensor([1.0, -1.0, -1.0]))
    t = torch.tensor([0.1, 0.2, 3.0])
    rows, cols = torch.tensor([0, 5, 31]), torch.tensor([0, 17, 31])
    o, d = pixel_rays(K, R, t, rows, cols)
    assert torch.allclose(o[0], camera_center(R, t))
    assert torch.allclose(d.norm(dim=-1), torch.ones(3))
    uv = project_points(o + 2.5 * d, K, R, t)
    assert torch.allclose(uv, torch.stack([cols + 0.5, rows + 0.5], -1).float(), atol=1e-4)
    # frontal camera at +z looks down -z
    assert d[:, 2].lt(0).all()
