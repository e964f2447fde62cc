"""The explicit-feature field backend (model.field: planes): plane reads, the field contract, the model around it."""

import pytest
import torch

from talkinnerf.nerf.config import ModelConfig
from talkinnerf.nerf.fields_planes import MultiScalePlanes, PlaneRadianceField
from talkinnerf.nerf.model import TalkinNeRF
from talkinnerf.nerf.synthetic import frontal_rays, synthetic_conditioning

LATE = 10 ** 6
BOX = (-1.0, -2.0, -0.5, 1.0, 2.0, 0.5)
# the boxes resolve_plane_boxes gives the synthetic skeleton (talkinnerf.nerf.synthetic), checked below
SYNTHETIC_BOXES = {"plane_box": (-1.044, -1.214, -0.277, 1.044, 0.994, 0.287),
                   "face_plane_box": (-0.17, 0.36, -0.16, 0.17, 0.9, 0.29)}


def test_a_point_on_a_texel_reads_the_product_of_its_three_planes():
    planes = MultiScalePlanes(BOX, (5,), channels=2)
    with torch.no_grad():
        planes.planes[0].copy_(torch.arange(3 * 2 * 25, dtype=torch.float32).reshape(3, 2, 5, 5) / 100)
    # texel (i, j, k) of a 5-texel grid over the box: x = -1 + i/2, y = -2 + j, z = -0.5 + k/4
    i, j, k = 1, 3, 4
    x = torch.tensor([[-1.0 + i * 0.5, -2.0 + j * 1.0, -0.5 + k * 0.25]])
    p = planes.planes[0]
    # plane xy: column = x index, row = y index; xz: column x, row z; yz: column y, row z
    want = p[0, :, j, i] * p[1, :, k, i] * p[2, :, k, j]
    assert torch.allclose(planes(x)[0], want, atol=1e-6)


def test_reads_interpolate_and_clamp_to_the_box():
    planes = MultiScalePlanes(BOX, (3, 9), channels=4)
    inside = torch.tensor([[0.1, 0.2, 0.0]])
    outside = torch.tensor([[5.0, 0.2, 0.0]])       # beyond x1: reads the border texels, as x = x1 does
    at_border = torch.tensor([[1.0, 0.2, 0.0]])
    assert planes(inside).shape == (1, 8)
    assert torch.allclose(planes(outside), planes(at_border))
    assert torch.allclose(planes.normalise(torch.tensor([[-1.0, -2.0, -0.5], [1.0, 2.0, 0.5]])),
                          torch.tensor([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]]))


def test_total_variation_is_zero_on_constant_planes_and_positive_otherwise():
    planes = MultiScalePlanes(BOX, (4, 8), channels=2)
    assert planes.total_variation() > 0
    with torch.no_grad():
        for p in planes.planes:
            p.fill_(0.3)
    assert planes.total_variation() == 0


def test_field_contract_conditions_and_gradients():
    torch.manual_seed(0)
    field = PlaneRadianceField(cond_dim=13 + 8, box=BOX, resolutions=(8, 16), channels=4, depth=2, width=32,
                               num_logits=5, layer_cond_dim=8)
    x = torch.rand(100, 3) - 0.5
    cond = torch.randn(21)
    rgb, raw, logits = field(x, cond)
    assert rgb.shape == (100, 3) and raw.shape == (100,) and logits.shape == (100, 5)
    assert bool(((rgb >= 0) & (rgb <= 1)).all())
    other = cond.clone()
    other[-8:] += 1.0                                   # another identity code: another colour
    assert not torch.allclose(field(x, other)[0], rgb)
    (rgb.sum() + raw.sum() + logits.sum()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in field.planes.planes)


@pytest.mark.parametrize("box", [(0, 0, 0, 1, 1), (0, 0, 0, 1, -1, 1)])
def test_bad_boxes_are_refused(box):
    with pytest.raises(ValueError, match="box"):
        ModelConfig(field="planes", plane_box=box)


def test_boxes_resolve_from_the_subjects_and_are_kept_once_set():
    import numpy as np

    from talkinnerf.nerf.field_factory import FACE_BOX_AROUND_HEAD, resolve_plane_boxes

    cfg = ModelConfig(field="planes", bbox_padding=0.1)
    boxes = [np.array([[-0.5, -0.8, -0.1], [0.5, 1.0, 0.3]]), np.array([[-0.6, -0.9, -0.1], [0.6, 0.9, 0.4]])]
    heads = [np.array([0.0, 0.8, 0.05]), np.array([0.0, 0.9, 0.05])]
    got = resolve_plane_boxes(cfg, boxes, heads)
    # union of the padded boxes: x from -0.6 - 0.1 * 1.2 to 0.6 + 0.12; y from -0.9 - 0.18 to 1.0 + 0.18
    assert got.plane_box == pytest.approx((-0.72, -1.08, -0.15, 0.72, 1.18, 0.45))
    lo, hi = FACE_BOX_AROUND_HEAD
    assert got.face_plane_box == pytest.approx((lo[0], 0.8 + lo[1], 0.05 + lo[2], hi[0], 0.9 + hi[1], 0.05 + hi[2]))
    assert resolve_plane_boxes(got, boxes[:1], heads[:1]) == got          # a stored model's boxes stay
    assert resolve_plane_boxes(ModelConfig(), boxes, heads) == ModelConfig()   # the MLPs need none
    with pytest.raises(ValueError, match="unresolved"):
        TalkinNeRF(cfg, 1)
    c = synthetic_conditioning()
    synthetic = resolve_plane_boxes(cfg, [c.canonical_bbox.numpy()], [c.canonical_joints[15].numpy()])
    assert synthetic.plane_box == pytest.approx(SYNTHETIC_BOXES["plane_box"])
    assert synthetic.face_plane_box == pytest.approx(SYNTHETIC_BOXES["face_plane_box"])


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="field"):
        ModelConfig(field="octree")


def _model(**changes) -> TalkinNeRF:
    torch.manual_seed(0)
    cfg = ModelConfig(field="planes", volume_size=16, prior_sigma=0.05, plane_resolutions=(8, 16),
                      face_plane_resolutions=(8, 16), **SYNTHETIC_BOXES, **changes)
    return TalkinNeRF(cfg, num_identities=2)


def test_model_with_planes_renders_trains_and_groups_the_texels():
    model = _model(plane_tv=1e-4).train()
    out = model(*frontal_rays(256), synthetic_conditioning(), step=LATE)
    assert out["rgb"].shape == (256, 3) and out["seg_logits"].shape == (256, 5)
    prior = model.regularisation()
    assert prior is not None and prior > 0
    (out["rgb"].square().sum() + prior).backward()
    assert model.body.planes.planes[0].grad.abs().sum() > 0
    groups = {g["name"]: g for g in model.param_groups(1e-3)}
    assert groups["planes"]["lr"] == pytest.approx(model.cfg.plane_lr_scale * 1e-3)
    ids = [id(p) for g in groups.values() for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    planes = {id(p) for f in (model.body, model.face, model.hands) for p in f.planes.parameters()}
    assert {id(p) for p in groups["planes"]["params"]} == planes


def test_the_paper_mlps_have_no_prior_and_no_planes_group():
    torch.manual_seed(0)
    model = TalkinNeRF(ModelConfig(volume_size=16, plane_tv=1e-4), num_identities=1)
    assert model.regularisation() is None
    assert _model().regularisation() is None                 # planes without a TV weight: nothing to add
    assert "planes" not in {g["name"] for g in model.param_groups(1e-3)}


def test_face_planes_cover_the_head_box_and_body_planes_the_body_box():
    model = _model()
    assert torch.allclose(model.face.planes.lo, torch.tensor(model.cfg.face_plane_box[:3]))
    assert torch.allclose(model.body.planes.lo, torch.tensor(model.cfg.plane_box[:3]))
    assert model.face.mlp.in_dim == model.face.planes.out_dim + 3 + 13 + model.cfg.identity_dim


def test_hands_start_as_a_copy_of_the_body_field_on_planes():
    kick = 5
    model = _model(hands_from_body=True, hands_kick_in=kick)
    x = torch.rand(64, 3) - 0.5
    ident = model.identity(torch.tensor(1))
    assert not torch.allclose(model.hands(x, ident)[0], model.body(x, ident)[0])
    model.prepare_step(kick)
    assert torch.allclose(model.hands(x, ident)[0], model.body(x, ident)[0])
    assert torch.allclose(model.hands(x, ident)[1], model.body(x, ident)[1])


@pytest.mark.parametrize("switch", ["no_hand_deformation", "no_hand_background", "separate_hands",
                                    "hand_joints_in_canonical", "no_jaw", "four_classes", "humannerf"])
def test_every_ablation_switch_builds_and_renders_on_planes(switch):
    model = _model(**{switch: True}).eval()
    full = _model().eval()
    rays, cond = frontal_rays(128), synthetic_conditioning()
    out = model(*rays, cond, step=LATE)
    assert torch.isfinite(out["rgb"]).all()
    classes = 4 if switch == "four_classes" else 5
    assert out["seg_logits"].shape == (128, classes)
    if switch == "no_jaw":
        assert model.face.mlp.in_dim == full.face.mlp.in_dim - 3
    if switch == "humannerf":
        assert model.face is None and model.hands is None
    if switch == "separate_hands":
        assert model.hands is None and model.hands_left is not None and model.hands_right is not None


@pytest.mark.parametrize("field", ["mlp", "planes", "hashgrid"])
def test_residual_face_starts_as_the_body_field_and_then_departs(field):
    torch.manual_seed(0)
    cfg = ModelConfig(field=field, volume_size=16, prior_sigma=0.05, plane_resolutions=(8, 16),
                      face_plane_resolutions=(8, 16), **SYNTHETIC_BOXES)
    replace, residual = TalkinNeRF(cfg, 2).eval(), TalkinNeRF(cfg.replace(face_residual=True), 2).eval()
    with torch.no_grad():                     # every sample the head's: the face route sees them all
        replace.body.mlp.head.bias[4 + cfg.head_class] += 100.0
    residual.load_state_dict({k: v for k, v in replace.state_dict().items() if not k.startswith("face.")},
                             strict=False)
    rays, cond = frontal_rays(512), synthetic_conditioning()
    body_only = TalkinNeRF(cfg.replace(humannerf=True), 2).eval()
    body_only.load_state_dict({k: v for k, v in replace.state_dict().items() if k in body_only.state_dict()})
    out, base = residual(*rays, cond, step=LATE), body_only(*rays, cond, step=LATE)
    head = out["classes"] == cfg.head_class
    assert head.any()
    # at the start the head samples carry F_body's values (to the logit round trip)
    assert torch.allclose(out["sample_rgb"][head], base["sample_rgb"][head], atol=1e-4)
    assert torch.allclose(out["sample_sigma"][head], base["sample_sigma"][head], rtol=1e-4, atol=1e-4)
    with torch.no_grad():
        residual.face.mlp.head.bias.add_(0.5)
    moved = residual(*rays, cond, step=LATE)
    assert not torch.allclose(moved["sample_rgb"][head], base["sample_rgb"][head], atol=1e-3)
    assert not torch.allclose(moved["sample_sigma"][head], base["sample_sigma"][head], rtol=1e-3, atol=1e-3)
    assert torch.equal(moved["sample_rgb"][~head], out["sample_rgb"][~head])
    # colour only (face_residual_density off): the same shift moves the colour, never the body's density
    residual.cfg.face_residual_density = False
    colour_only = residual(*rays, cond, step=LATE)
    assert torch.equal(colour_only["sample_rgb"], moved["sample_rgb"])
    assert torch.allclose(colour_only["sample_sigma"][head], base["sample_sigma"][head], rtol=1e-4, atol=1e-4)


def test_the_humannerf_baseline_keeps_its_mlp_whatever_the_field_backend():
    from talkinnerf.nerf.fields import RadianceField

    torch.manual_seed(0)
    model = TalkinNeRF(ModelConfig(field="planes", baseline="humannerf", volume_size=16), 1)
    assert isinstance(model.body, RadianceField)
    assert model.regularisation() is None
