"""The hash-grid field backend (model.field: hashgrid): level layout, rows, trilinear reads, the custom gather's
gradients, the field contract, and the model around it (every ablation switch, the texel lr group, hands_from_body)."""

import pytest
import torch
from torch.nn import functional as F

from talkinnerf.nerf.config import ModelConfig
from talkinnerf.nerf.fields_hashgrid import HASH_PRIMES, HashGrid, HashGridRadianceField, _BlendCorners, \
    level_resolutions
from talkinnerf.nerf.model import TalkinNeRF
from talkinnerf.nerf.synthetic import frontal_rays, synthetic_conditioning

LATE = 10 ** 6
BOX = (-1.0, -2.0, -0.5, 1.0, 2.0, 0.5)
SYNTHETIC_BOXES = {"plane_box": (-1.044, -1.214, -0.277, 1.044, 0.994, 0.287),
                   "face_plane_box": (-0.17, 0.36, -0.16, 0.17, 0.9, 0.29)}


def test_levels_grow_geometrically_from_base_to_finest():
    assert level_resolutions(5, 16, 256) == (16, 32, 64, 128, 256)
    assert level_resolutions(1, 8, 512) == (8,)
    res = level_resolutions(16, 16, 512)
    assert res[0] == 16 and res[-1] == 512 and all(a <= b for a, b in zip(res, res[1:]))


def test_a_linear_function_in_a_dense_level_is_read_back_exactly_anywhere():
    grid = HashGrid(BOX, levels=1, features=1, log2_table=12, base_resolution=6, max_resolution=6)
    assert grid.dense_levels == 1                  # 7^3 corners fit in 4096 entries: one-to-one
    side = 7
    i, j, k = torch.meshgrid(torch.arange(side), torch.arange(side), torch.arange(side), indexing="ij")
    with torch.no_grad():
        grid.table.zero_()
        grid.table[(i + side * (j + side * k)).reshape(-1), 0] = (0.3 * i - 0.2 * j + 0.5 * k).reshape(-1).float()
    x = torch.rand(200, 3) * torch.tensor([2.0, 4.0, 1.0]) + torch.tensor(BOX[:3])
    u = (x - torch.tensor(BOX[:3])) / torch.tensor([2.0, 4.0, 1.0]) * 6
    # trilinear interpolation reproduces a linear function of the lattice coordinates
    assert torch.allclose(grid(x)[:, 0], 0.3 * u[:, 0] - 0.2 * u[:, 1] + 0.5 * u[:, 2], atol=1e-5)
    # outside the box: the border, as the planes
    assert torch.allclose(grid(torch.tensor([[5.0, 5.0, 5.0]])), grid(torch.tensor([BOX[3:]])))


def test_dense_rows_are_one_to_one_and_hashed_rows_follow_the_spatial_hash_within_their_level():
    grid = HashGrid(BOX, levels=3, features=2, log2_table=10, base_resolution=4, max_resolution=64)
    assert grid.resolutions == (4, 16, 64) and grid.dense_levels == 1      # 5^3 <= 1024 < 17^3
    cells = torch.stack(torch.meshgrid(*[torch.arange(4)] * 3, indexing="ij"), -1).reshape(-1, 1, 3)
    rows = grid.corner_rows(cells.expand(-1, 3, -1).clone())                 # (64, 3, 8)
    level0 = rows[:, 0].reshape(-1).unique()
    assert level0.numel() == 5 ** 3 and int(level0.min()) == 0 and int(level0.max()) == 5 ** 3 - 1
    # corner (i, j, k) at 4i + 2j + k; a hashed row is the XOR of coordinate times prime, modulo the table
    g = torch.Generator().manual_seed(0)
    cells = torch.randint(0, 63, (50, 3, 3), generator=g)
    rows = grid.corner_rows(cells).long()
    for corner in range(8):
        c = cells + torch.tensor([corner >> 2, (corner >> 1) & 1, corner & 1])
        want = ((c[..., 0] * HASH_PRIMES[0]) ^ (c[..., 1] * HASH_PRIMES[1]) ^ (c[..., 2] * HASH_PRIMES[2])) % 1024
        assert torch.equal(rows[:, 1:, corner], want[:, 1:] + torch.tensor([1024, 2048]))


def test_the_blend_gradients_match_autograds_own_gather():
    g = torch.Generator().manual_seed(1)
    table = torch.randn(40, 3, dtype=torch.float64, generator=g, requires_grad=True)
    rows = torch.randint(0, 40, (25, 8), generator=g)          # duplicates on purpose: they must accumulate
    weights = torch.rand(25, 8, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t, w: _BlendCorners.apply(t, rows.int(), w), (table, weights))
    want = F.embedding_bag(rows, table, per_sample_weights=weights, mode="sum")
    got = _BlendCorners.apply(table, rows.int(), weights)
    assert torch.allclose(got, want)


def test_the_field_keeps_the_contract_and_conditions_on_the_identity():
    torch.manual_seed(0)
    field = HashGridRadianceField(cond_dim=13 + 8, box=BOX, levels=4, features=2, log2_table=10,
                                  base_resolution=4, max_resolution=32, depth=2, width=32, num_logits=5)
    x = (torch.rand(100, 3) - 0.5).requires_grad_(True)
    cond = torch.randn(21)
    rgb, raw, logits = field(x, cond)
    assert rgb.shape == (100, 3) and raw.shape == (100,) and logits.shape == (100, 5)
    assert float(rgb.detach().min()) >= 0 and float(rgb.detach().max()) <= 1
    other = cond.clone()
    other[-8:] += 1.0
    assert not torch.allclose(field(x, other)[0], rgb)
    (rgb.sum() + raw.sum() + logits.sum()).backward()
    assert field.grid.table.grad.abs().sum() > 0
    assert x.grad.abs().sum() > 0                  # the point moves with the features: D_nr trains through it


def _model(**changes) -> TalkinNeRF:
    torch.manual_seed(0)
    cfg = ModelConfig(field="hashgrid", volume_size=16, prior_sigma=0.05, hash_levels=4, hash_log2_table=12,
                      hash_base_resolution=4, hash_max_resolution=64, **SYNTHETIC_BOXES, **changes)
    return TalkinNeRF(cfg, num_identities=2)


def test_model_on_the_hash_grid_renders_trains_and_groups_the_tables():
    model = _model().train()
    out = model(*frontal_rays(256), synthetic_conditioning(), step=LATE)
    assert out["rgb"].shape == (256, 3) and out["seg_logits"].shape == (256, 5)
    out["rgb"].square().sum().backward()
    assert model.body.grid.table.grad.abs().sum() > 0
    groups = {g["name"]: g for g in model.param_groups(1e-3)}
    assert groups["hash_grid"]["lr"] == pytest.approx(model.cfg.hash_lr_scale * 1e-3)
    assert "planes" not in groups
    ids = [id(p) for g in groups.values() for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    assert {id(p) for p in groups["hash_grid"]["params"]} == {id(f.grid.table)
                                                               for f in (model.body, model.face, model.hands)}
    assert torch.allclose(model.face.grid.lo, torch.tensor(model.cfg.face_plane_box[:3]))
    assert model.regularisation() is None


def test_hands_start_as_a_copy_of_the_body_field_on_the_hash_grid():
    model = _model(hands_from_body=True, hands_kick_in=5)
    x = torch.rand(64, 3) - 0.5
    ident = model.identity(torch.tensor(1))
    assert not torch.allclose(model.hands(x, ident)[0], model.body(x, ident)[0])
    model.prepare_step(5)
    assert torch.allclose(model.hands(x, ident)[0], model.body(x, ident)[0])


@pytest.mark.parametrize("switch", ["no_hand_deformation", "no_hand_background", "separate_hands",
                                    "hand_joints_in_canonical", "no_jaw", "four_classes", "humannerf"])
def test_every_ablation_switch_builds_and_renders_on_the_hash_grid(switch):
    model = _model(**{switch: True}).eval()
    out = model(*frontal_rays(128), synthetic_conditioning(), step=LATE)
    assert torch.isfinite(out["rgb"]).all()
    assert out["seg_logits"].shape == (128, 4 if switch == "four_classes" else 5)
    if switch == "humannerf":
        assert model.face is None and model.hands is None


@pytest.mark.parametrize("bad", [{"hash_levels": 0}, {"hash_log2_table": 30}, {"hash_max_resolution": 8}])
def test_bad_hash_options_are_refused(bad):
    with pytest.raises(ValueError, match="hash"):
        ModelConfig(field="hashgrid", hash_base_resolution=16, **bad)


def test_the_field_trains_under_bf16_autocast():
    # the paper config trains under bf16 autocast: the gather's backward gets a bf16 gradient for a float32 table
    torch.manual_seed(0)
    field = HashGridRadianceField(cond_dim=21, box=BOX, levels=4, features=2, log2_table=10, base_resolution=4,
                                  max_resolution=32, depth=2, width=32, num_logits=5)
    x = (torch.rand(50, 3) - 0.5).requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        rgb, raw, _ = field(x, torch.randn(21))
    (rgb.float().sum() + raw.float().sum()).backward()
    assert field.grid.table.grad.dtype == torch.float32 and field.grid.table.grad.abs().sum() > 0
    assert x.grad.abs().sum() > 0
