"""Every ablation switch changes the module graph or the output as its name says."""

import torch

from talkinnerf.nerf.config import ModelConfig
from talkinnerf.nerf.model import TalkinNeRF
from talkinnerf.nerf.synthetic import frontal_rays, synthetic_conditioning

LATE = 10 ** 6


# These tests rely on the random initialisation routing some samples of the synthetic scene to the head and
# hand classes; they were built on the 16^3 / 5 cm skinning volume, which draws that initialisation.
ROUTING_SCENE = {"volume_size": 16, "prior_sigma": 0.05}


def _model(**changes) -> TalkinNeRF:
    torch.manual_seed(0)
    return TalkinNeRF(ModelConfig(**{**ROUTING_SCENE, **changes}), num_identities=2).eval()


def _modules(model):
    return {name for name, m in model.named_children() if m is not None and any(True for _ in m.parameters())}


def _render(model, step=LATE, **cond_changes):
    cond = synthetic_conditioning()
    for k, v in cond_changes.items():
        setattr(cond, k, v)
    return model(*frontal_rays(384), cond, step=step)


def test_default_graph():
    assert _modules(_model()) == {"identity", "weight_volume", "pose_refiner", "non_rigid", "body", "face",
                                  "hands", "hand_deform"}


def test_humannerf_is_body_only_and_ignores_face_and_hand_inputs():
    model = _model(humannerf=True)
    assert _modules(model) == {"identity", "weight_volume", "pose_refiner", "non_rigid", "body"}
    ref = _render(model)
    other = _render(model, expression=torch.randn(10), hands=torch.randn(90), jaw=torch.randn(3))
    assert torch.equal(ref["rgb"], other["rgb"])
    full = _model()
    with torch.no_grad():   # route every sample to the face (random-init argmax may pick no head sample at all)
        full.body.mlp.head.bias[4 + full.cfg.head_class] += 100.0
    assert not torch.allclose(_render(full)["rgb"], _render(full, expression=torch.randn(10),
                                                              hands=torch.randn(90))["rgb"])


def test_no_jaw_ignores_jaw_and_shrinks_face_input():
    model = _model(no_jaw=True)
    full = _model()
    assert model.face.mlp.layers[0].in_features == full.face.mlp.layers[0].in_features - 3
    jaw = torch.tensor([0.5, -0.3, 0.2])
    assert torch.equal(_render(model)["rgb"], _render(model, jaw=jaw)["rgb"])
    assert not torch.allclose(_render(full)["rgb"], _render(full, jaw=jaw)["rgb"])   # the control can fail


def test_four_classes():
    model = _model(four_classes=True)
    out = _render(model)
    assert out["seg_logits"].shape[1] == 4 and model.cfg.head_class == 3 and model.cfg.hands_class == 2
    assert _render(_model())["seg_logits"].shape[1] == 5


def test_no_hand_deformation_drops_d_hands():
    model = _model(no_hand_deformation=True)
    assert "hand_deform" not in _modules(model) and "hands" in _modules(model)
    # with D_nr not yet active, the hand pose then has no way into the output
    early = model.cfg.nr_kick_in - 1
    assert torch.equal(_render(model, step=early)["rgb"], _render(model, step=early, hands=torch.randn(90))["rgb"])


def test_hand_joints_in_canonical_skins_hand_joints_and_conditions_d_nr():
    model = _model(hand_joints_in_canonical=True, no_hand_deformation=True)
    assert len(model.skinned) == 52
    assert model.weight_volume.out.out_channels == 53
    assert model.non_rigid.mlp.layers[0].in_features == _model().non_rigid.mlp.layers[0].in_features + 90
    early = model.cfg.nr_kick_in - 1   # even without D_nr and D_hands, the hand pose moves points through D_r
    a = _render(model, step=early)["x_canonical"]
    b = _render(model, step=early, hands=torch.randn(90))["x_canonical"]
    assert not torch.allclose(a, b)


def test_separate_hands_left_pose_changes_only_left_hand_samples():
    model = _model(separate_hands=True)
    mods = _modules(model)
    assert {"hands_left", "hands_right", "hand_deform_left", "hand_deform_right"} <= mods
    assert "hands" not in mods and "hand_deform" not in mods
    assert model.hand_deform_left.mlp.layers[0].in_features == _model().hand_deform.mlp.layers[0].in_features - 45
    cond = synthetic_conditioning()
    ref = _render(model)
    new_hands = cond.hands.clone()
    new_hands[:45] += 0.5
    other = _render(model, hands=new_hands)
    hand = ref["classes"] == model.cfg.hands_class
    left = ref["x_canonical"][..., 0] > cond.canonical_joints[0, 0]
    changed = (ref["sample_rgb"] != other["sample_rgb"]).any(-1)
    assert changed.any()
    assert torch.equal(changed & ~(hand & left), torch.zeros_like(changed))


def test_no_hand_background_changes_only_rays_with_hand_samples():
    ref = _render(_model())
    abl = _render(_model(no_hand_background=True))
    diff = (ref["rgb"] - abl["rgb"]).abs().amax(-1) > 1e-6
    assert diff.any()
    assert not (diff & ~ref["hand_rays"]).any()


def test_paper_sizes():
    cfg = ModelConfig.paper_sizes()
    assert (cfg.field_depth, cfg.field_width, cfg.field_pe_bands) == (8, 256, 10)
    assert (cfg.nr_depth, cfg.nr_width, cfg.nr_pe_bands) == (6, 128, 6)
    assert (cfg.samples_per_ray, cfg.volume_size, cfg.volume_latent) == (128, 32, 256)
    model = TalkinNeRF(ModelConfig.paper_sizes(humannerf=True), 1)
    assert model.body.mlp.layers[4].in_features == 256 + 63 + 32          # skip at layer 4, PE 10 + identity
    # D_nr (6 x 128, supp. B) also sees its input again at layer 4, not half-way (3)
    assert model.non_rigid.mlp.skip == 4
    assert model.non_rigid.mlp.layers[4].in_features == 128 + model.non_rigid.mlp.layers[0].in_features
    full = TalkinNeRF(ModelConfig.paper_sizes(), 1)
    assert full.hand_deform.mlp.skip == 4
    assert model.weight_volume().shape == (23, 32, 32, 32)


def test_identity_every_layer_feeds_the_code_to_each_hidden_layer():
    model = _model(identity_every_layer=True, identity_init_std=1.0)
    body = model.body.mlp
    assert body.layers[1].in_features == model.cfg.field_width + 32
    assert model.face.mlp.layers[1].in_features == model.cfg.face_width + 32
    # only the identity code changes between two subjects, and it reaches past the input layer: zeroing the
    # first layer's weights on the code still leaves the renders of the two identities different
    with torch.no_grad():
        body.layers[0].weight[:, -32:] = 0.0
    a = _render(model, identity=torch.tensor(0))
    b = _render(model, identity=torch.tensor(1))
    assert (a["rgb"] - b["rgb"]).abs().max() > 1e-4
    plain = _model()
    with torch.no_grad():
        for field in (plain.body, plain.face, plain.hands):
            field.mlp.layers[0].weight[:, -32:] = 0.0
            if field.mlp.skip is not None:
                field.mlp.layers[field.mlp.skip].weight[:, -32:] = 0.0
    a = _render(plain, identity=torch.tensor(0))
    b = _render(plain, identity=torch.tensor(1))
    assert torch.allclose(a["rgb"], b["rgb"])
