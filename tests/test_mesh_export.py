"""Mesh export (issue 19 item 6): marching cubes of the canonical density, vertex colours, PLY/OBJ files, posed
meshes by linear blend skinning with the learned weight volume, clear errors. A real TalkinNeRF (tiny) whose
F_body is replaced by an analytic stick figure of capsules around the synthetic skeleton's bones: its density
follows a known body, so the extracted surface can be compared with that body's box."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import torch
from torch import nn

from talkinnerf.cli import main
from talkinnerf.mesh import export as M
from talkinnerf.io import load_npz, save_npz
from talkinnerf.nerf import packed
from talkinnerf.nerf.config import ModelConfig
from talkinnerf.nerf.model import FrameConditioning, TalkinNeRF
from talkinnerf.nerf.skeleton import LEFT_SHOULDER, RIGHT_SHOULDER
from talkinnerf.nerf.synthetic import SMPLX_PARENTS, synthetic_joints
from talkinnerf.train.data import load_subject
from talkinnerf.train.trainer import load_model, save_model
from test_train_standin import make_subject

RADIUS = 0.05                                  # capsule radius (m)
BODY_RGB = (0.2, 0.6, 0.9)                     # F_body's colour everywhere
RESOLUTION = 64                                # grid samples along the canonical box's longest side (~3.4 cm)


def _bones() -> tuple[torch.Tensor, torch.Tensor]:
    """Segments (B,3) start / end of the figure: every bone of the tree except jaw and eyes."""
    joints = synthetic_joints()
    pairs = [(p, k) for k, p in enumerate(SMPLX_PARENTS) if p >= 0 and k not in (22, 23, 24)]
    return joints[[p for p, _ in pairs]], joints[[k for _, k in pairs]]


def figure_bbox() -> np.ndarray:
    """The capsule figure's exact box: its segment end points' box grown by the radius."""
    a, b = _bones()
    ends = torch.cat([a, b])
    return torch.stack([ends.min(0).values - RADIUS, ends.max(0).values + RADIUS]).numpy().astype(np.float32)


class CapsuleField(nn.Module):
    """F_body stand-in with the RadianceField contract: raw density 1000 (R - d) + 1 for d the distance to the
    nearest bone (density 40 softplus(1000 (R - d)): 27.7/m on the capsules' surface, 2/m 3 mm outside), a constant
    colour, logits choosing the head class near the head joint, the hand class beyond the wrists, body elsewhere."""

    def __init__(self, num_classes: int, head_class: int, hands_class: int) -> None:
        super().__init__()
        a, b = _bones()
        self.register_buffer("a", a, persistent=False)
        self.register_buffer("b", b, persistent=False)
        self.register_buffer("head", synthetic_joints()[15], persistent=False)
        self.wrist_x = float(synthetic_joints()[20, 0])
        self.num_classes, self.head_class, self.hands_class = num_classes, head_class, hands_class

    def forward(self, x: torch.Tensor, cond: torch.Tensor):
        ab = self.b - self.a
        t = (((x[:, None] - self.a) * ab).sum(-1) / (ab * ab).sum(-1).clamp_min(1e-12)).clamp(0, 1)
        d = (x[:, None] - (self.a + t[..., None] * ab)).norm(dim=-1).min(1).values
        raw = 1000.0 * (RADIUS - d) + 1.0
        rgb = torch.tensor(BODY_RGB, device=x.device).expand(len(x), 3)
        cls = torch.full((len(x),), 1, dtype=torch.long, device=x.device)
        cls[x[:, 0].abs() > self.wrist_x] = self.hands_class
        cls[(x - self.head).norm(dim=-1) < 0.12] = self.head_class
        logits = 10.0 * nn.functional.one_hot(cls, self.num_classes).float()
        return rgb, raw, logits


def tiny_config(**changes) -> ModelConfig:
    return ModelConfig(identity_dim=8, field_depth=2, field_width=16, face_depth=2, face_width=16, hands_depth=2,
                       hands_width=16, nr_depth=2, nr_width=16, hand_def_depth=2, hand_def_width=16,
                       volume_latent=8, volume_channels=8, pose_refine_depth=2, pose_refine_width=16,
                       face_residual=True, **changes)


def capsule_model(cfg: ModelConfig, num_identities: int) -> TalkinNeRF:
    """Model factory: a TalkinNeRF with F_body replaced by the capsule figure (F_face starts at zero with
    face_residual, so the head keeps the figure's density and colour; F_hands / D_hands are random)."""
    model = TalkinNeRF(cfg, num_identities)
    model.body = CapsuleField(cfg.num_classes, cfg.head_class, cfg.hands_class)
    return model


def _figure_subject(root, name: str = "fig") -> None:
    """The test_train_standin figure subject, its fitted canonical box set to the capsule figure's box, and a
    translation that changes from frame to frame."""
    make_subject(root, name, size=24, frames=4, figure=True)
    a = load_npz(root / "smplx" / f"{name}.npz")
    box = figure_bbox()
    a["canonical_bbox"] = box
    a["transl"] = (np.arange(len(a["poses_body"]))[:, None] * np.array([0.03, 0.01, -0.02])).astype(np.float32)
    a["bbox"] = (box[None] + a["transl"][:, None]).astype(np.float32)
    save_npz(root / "smplx" / f"{name}.npz", **a)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mesh")
    _figure_subject(tmp / "r")
    torch.manual_seed(0)
    cfg = tiny_config()
    save_model(tmp / "model.pt", capsule_model(cfg, 1), cfg, ["fig"], step=0)
    return tmp


def _cfg(**changes) -> M.MeshConfig:
    return M.MeshConfig(**{"resolution": RESOLUTION, "progress": False, "device": "cpu", **changes})


@pytest.fixture(scope="module")
def exported(setup):
    s = M.export_meshes(setup / "model.pt", "fig", setup / "r", setup / "out", _cfg(), model_factory=capsule_model)
    return s, M.read_ply(setup / "out" / "canonical.ply")


def test_canonical_mesh_box_matches_the_body(exported):
    """Done-when of the issue: the canonical mesh's box lies within 5 cm of the fitted body's canonical box."""
    s, mesh = exported
    box = figure_bbox()
    assert np.abs(mesh.bbox - box).max() < 0.05, (mesh.bbox, box)
    assert s["bbox_difference_m"]["largest"] < 0.05
    assert np.allclose(s["fitted_canonical_bbox"], box, atol=1e-4)
    # one closed surface around the figure, wound outwards
    assert s["components"] == 1 and M.signed_volume(mesh.vertices, mesh.faces) > 0
    edges = np.sort(np.concatenate([mesh.faces[:, [0, 1]], mesh.faces[:, [1, 2]], mesh.faces[:, [2, 0]]]), 1)
    assert set(np.unique(np.unique(edges, axis=0, return_counts=True)[1])) == {2}        # watertight
    # its volume is the figure's to within the voxel size's reach (limbs ~ cylinders of radius R)
    a, b = _bones()
    cylinders = float(math.pi * RADIUS ** 2 * (b - a).norm(dim=-1).sum())
    assert 0.5 * cylinders < M.signed_volume(mesh.vertices, mesh.faces) < 2.0 * cylinders


def test_vertex_colours_and_labels(exported):
    s, mesh = exported
    body = mesh.labels == 1
    assert body.sum() > 0.5 * len(mesh.labels)
    expected = np.round(np.array(BODY_RGB) * 255)
    assert np.abs(np.median(mesh.colours[body].astype(float), axis=0) - expected).max() <= 1
    # routed vertices: the head (F_face adds a zero residual: same colour), the hands (F_hands' colour)
    assert (mesh.labels == 4).sum() > 0 and (mesh.labels == 3).sum() > 0
    head = mesh.labels == 4
    assert np.abs(np.median(mesh.colours[head].astype(float), axis=0) - expected).max() <= 1
    assert set(np.unique(mesh.labels)) <= {1, 3, 4} and s["empty_space_vertices"] == 0
    assert s["vertex_classes"]["3"] == int((mesh.labels == 3).sum())


def test_ply_and_obj_files_read_back(setup, exported, tmp_path):
    s, mesh = exported
    assert len(mesh.vertices) == s["vertices"] and len(mesh.faces) == s["faces"]
    assert mesh.colours.dtype == np.uint8 and mesh.colours.min() >= 0 and mesh.colours.max() <= 255
    assert mesh.faces.min() >= 0 and mesh.faces.max() < len(mesh.vertices)
    small = M.Mesh(np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32),
                   np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]]),
                   np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]], np.uint8),
                   np.array([1, 3, 4, 255], np.uint8))
    M.write_mesh(tmp_path / "t.ply", small)
    back = M.read_ply(tmp_path / "t.ply")
    for key in ("vertices", "faces", "colours", "labels"):
        assert np.array_equal(getattr(back, key), getattr(small, key)), key
    assert M.signed_volume(small.vertices, small.faces) == pytest.approx(1 / 6)
    trimesh = pytest.importorskip("trimesh")                  # an independent reader, where installed
    t = trimesh.load(setup / "out" / "canonical.ply", process=False)
    assert t.vertices.shape == mesh.vertices.shape and t.faces.shape == mesh.faces.shape
    assert np.array_equal(np.asarray(t.visual.vertex_colors)[:, :3], mesh.colours)
    M.write_mesh(tmp_path / "t.obj", small)
    lines = (tmp_path / "t.obj").read_text().splitlines()
    v = [line.split()[1:] for line in lines if line.startswith("v ")]
    f = [line.split()[1:] for line in lines if line.startswith("f ")]
    assert len(v) == 4 and len(f) == 4 and f[0] == ["1", "3", "2"]
    assert [float(c) for c in v[1][3:]] == pytest.approx([0.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="format"):
        M.write_mesh(tmp_path / "t.stl", small)


def test_canonical_state_reads_the_renderer_pipeline_at_the_zero_pose(setup):
    """With the zero pose (no pose refiner yet, no D_nr) the renderer's own frame state maps every point to itself:
    the canonical evaluation gives the renderer's densities and colours, bit for bit up to float round-off."""
    model, cfg, names, step = load_model(setup / "model.pt", model_factory=capsule_model)
    data = load_subject(setup / "r", "fig", 0, cfg.background)
    cond, _ = M.canonical_conditioning(data, "first", "cpu")
    zero = FrameConditioning(**{**cond.__dict__, "poses_body": torch.zeros(22, 3)})
    pts = torch.rand(3000, 3) * torch.tensor([1.6, 2.0, 0.6]) - torch.tensor([0.8, 1.0, 0.3])
    with torch.no_grad():
        ref = packed.evaluate_points(model, packed.frame_state(model, zero, step, torch.float32, torch.device("cpu")),
                                     pts, 0.0)
        ours = M.evaluate_canonical(model, M.canonical_state(model, zero, step, "cpu"), pts)
    assert ours["active"].sum() == len(ref["active"]) and ours["active"][ref["active"]].all()
    torch.testing.assert_close(ours["density"][ref["active"]], ref["sigma"], atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(ours["hand_rgb"][ref["active"]], ref["hand_rgb"], atol=1e-5, rtol=1e-5)
    assert (ours["density"][~ours["active"]] == 0).all()


def _weights_and_cond(model, data, step):
    cond, _ = M.canonical_conditioning(data, "first", "cpu")
    state = M.canonical_state(model, cond, step, "cpu")
    verts = torch.from_numpy(M.read_ply(data.root.parent / "out" / "canonical.ply").vertices)
    return state, verts, M.skinning_weights(state, verts), cond


def test_zero_pose_returns_the_canonical_mesh_and_a_root_turn_turns_it(setup, exported):
    model, cfg, names, step = load_model(setup / "model.pt", model_factory=capsule_model)
    data = load_subject(setup / "r", "fig", 0, cfg.background)
    state, verts, w, cond = _weights_and_cond(model, data, step)
    assert torch.allclose(w.sum(1), torch.ones(len(w))) and (w >= 0).all()
    zero = FrameConditioning(**{**cond.__dict__, "poses_body": torch.zeros(22, 3)})
    torch.testing.assert_close(M.pose_vertices(model, zero, step, verts, w), verts, atol=1e-5, rtol=0)
    # a turned root turns every vertex rigidly about the root joint (the pelvis)
    poses = torch.zeros(22, 3)
    poses[0] = torch.tensor([0.0, math.pi / 2, 0.0])
    turned = M.pose_vertices(model, FrameConditioning(**{**cond.__dict__, "poses_body": poses}), step, verts, w)
    root = cond.canonical_joints[0]
    rot = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])       # +90 degrees about y
    torch.testing.assert_close(turned, (verts - root) @ rot.T + root, atol=1e-5, rtol=0)
    # a bent left elbow moves the left forearm with the elbow, leaves the legs where they were
    poses = torch.zeros(22, 3)
    poses[18] = torch.tensor([0.0, 0.0, 1.0])
    bent = M.pose_vertices(model, FrameConditioning(**{**cond.__dict__, "poses_body": poses}), step, verts, w)
    legs = verts[:, 1] < -0.3
    torch.testing.assert_close(bent[legs], verts[legs], atol=1e-5, rtol=0)
    elbow = cond.canonical_joints[18]
    forearm = (verts[:, 0] > elbow[0] + 0.1) & (verts[:, 0] < elbow[0] + 0.2)
    rz = torch.tensor([[math.cos(1.0), -math.sin(1.0), 0.0], [math.sin(1.0), math.cos(1.0), 0.0], [0.0, 0.0, 1.0]])
    torch.testing.assert_close(bent[forearm], (verts[forearm] - elbow) @ rz.T + elbow, atol=0.01, rtol=0)


def test_canonical_pose_convention_with_raised_arms(setup):
    """With canonical_arm_raise the canonical pose is not the zero pose: posing with the canonical pose returns the
    canonical points; the zero pose lowers the arms and leaves the legs."""
    cfg = tiny_config(canonical_arm_raise=0.5)
    torch.manual_seed(0)
    model = capsule_model(cfg, 1).eval()
    data = load_subject(setup / "r", "fig", 0, cfg.background)
    cond, _ = M.canonical_conditioning(data, "first", "cpu")
    state = M.canonical_state(model, cond, 0, "cpu")
    canon = model.canonical_skeleton(state.cond)
    pts = canon["joints"][:22] + 0.01                         # near the (raised) canonical joints
    w = M.skinning_weights(state, pts)
    raise_pose = torch.zeros(22, 3)
    raise_pose[LEFT_SHOULDER, 2], raise_pose[RIGHT_SHOULDER, 2] = 0.5, -0.5
    raised = M.pose_vertices(model, FrameConditioning(**{**cond.__dict__, "poses_body": raise_pose}), 0, pts, w)
    torch.testing.assert_close(raised, pts, atol=1e-5, rtol=0)
    lowered = M.pose_vertices(model, FrameConditioning(**{**cond.__dict__, "poses_body": torch.zeros(22, 3)}), 0,
                              pts, w)
    assert torch.allclose(lowered[[4, 5, 7, 8]], pts[[4, 5, 7, 8]], atol=1e-5)        # knees, ankles stay
    assert (lowered[[18, 20], 1] < pts[[18, 20], 1] - 0.05).all()                      # left elbow, wrist lower


@pytest.mark.parametrize("changes", [{"humannerf": True}, {"baseline": "humannerf", "relu_density_init": 1.0},
                                     {"hand_joints_in_canonical": True}, {"separate_hands": True},
                                     {"four_classes": True, "no_hand_background": True},
                                     {"field": "planes", "plane_resolutions": (8, 16), "face_plane_resolutions": (8,),
                                      "plane_box": (-1.0, -1.2, -0.5, 1.0, 1.0, 0.5),
                                      "face_plane_box": (-0.2, 0.4, -0.2, 0.2, 0.8, 0.2)}])
def test_every_model_variant_exports_and_poses(setup, changes):
    """The untrained model's density (~12/m wherever the skinning weights reach) meshes and poses for each
    ablation switch and field backend (the body-only ones have no F_face / F_hands, K = 52 skins the hands)."""
    cfg = tiny_config(**changes)
    torch.manual_seed(0)
    model = TalkinNeRF(cfg, 1).eval()
    data = load_subject(setup / "r", "fig", 0, cfg.background)
    cond, _ = M.canonical_conditioning(data, "neutral", "cpu")
    state = M.canonical_state(model, cond, 0, "cpu")
    mesh, info = M.canonical_mesh(model, state, _cfg(resolution=24))
    assert info["vertices"] > 100 and np.isfinite(mesh.vertices).all()
    verts = torch.from_numpy(mesh.vertices)
    w = M.skinning_weights(state, verts)
    assert w.shape == (len(verts), len(model.skinned))
    zero = FrameConditioning(**{**cond.__dict__, "poses_body": torch.zeros(22, 3)})
    torch.testing.assert_close(M.pose_vertices(model, zero, 0, verts, w), verts, atol=1e-5, rtol=0)


def test_cli_mesh_with_motion_frames_and_obj(setup, monkeypatch):
    import talkinnerf.train.trainer as trainer
    from talkinnerf.motion.convert import ConvertOptions, convert_motion

    monkeypatch.setattr(trainer, "default_model_factory", capsule_model)
    motion = setup / "walk.npz"
    convert_motion(setup / "r" / "smplx" / "fig.npz", motion, ConvertOptions(fps=0))
    out = setup / "cli"
    rc = main(["evaluate", "mesh", "--model", str(setup / "model.pt"), "--subject", "fig", "--data-root",
               str(setup / "r"), "--out", str(out), "--motion", str(motion), "--frames", "1:3", "--format", "obj",
               "--resolution", "48", "--options", json.dumps({"progress": False, "device": "cpu"})])
    assert rc == 0
    info = json.loads((out / "canonical.json").read_text())
    assert info["grid"]["resolution"] == 48 and info["format"] == "obj" and (out / "canonical.obj").is_file()
    assert "D_nr not applied" in info["geometry"] and "first training frame" in info["conditioning"]
    frames = json.loads((out / "walk" / "frames.json").read_text())
    assert frames["frames"] == [1, 2] and frames["files"] == ["000001.obj", "000002.obj"]
    canon = np.array([line.split()[1:4] for line in (out / "canonical.obj").read_text().splitlines()
                      if line.startswith("v ")], float)
    posed = np.array([line.split()[1:4] for line in (out / "walk" / "000001.obj").read_text().splitlines()
                      if line.startswith("v ")], float)
    # the subject's own fit has the zero pose: posed = canonical + the frame's world translation
    transl = load_npz(setup / "r" / "smplx" / "fig.npz")["transl"][1]
    assert posed.shape == canon.shape and np.allclose(posed, canon + transl, atol=2e-5)


def test_bad_inputs_fail_clearly(setup, capsys):
    with pytest.raises(ValueError, match="not an identity.*fig"):
        M.export_meshes(setup / "model.pt", "nobody", setup / "r", setup / "bad", _cfg(),
                        model_factory=capsule_model)
    with pytest.raises(ValueError, match=r"threshold 1e\+06/m.*lower --threshold"):
        M.export_meshes(setup / "model.pt", "fig", setup / "r", setup / "bad", _cfg(threshold=1e6),
                        model_factory=capsule_model)
    assert not (setup / "bad" / "canonical.ply").exists()
    with pytest.raises(ValueError, match="threshold"):
        M.extract_surface(np.zeros((4, 4, 4), np.float32), np.zeros(3), 0.1, 2.0)
    with pytest.raises(ValueError, match="out of range"):
        M.parse_frames("7", 4)
    with pytest.raises(ValueError, match="no frame selected"):
        M.parse_frames("3:3", 4)
    assert M.parse_frames("1:3", 4) == [1, 2] and M.parse_frames(":", 4) == [0, 1, 2, 3]
    assert M.parse_frames("2:", 4) == [2, 3] and M.parse_frames("-1", 4) == [3]
    with pytest.raises(ValueError, match="A:B"):
        M.parse_frames("a-b", 4)
    for options, word in (({"resolution": 4}, "resolution"), ({"threshold": 0}, "threshold"),
                          ({"format": "stl"}, "format"), ({"expression": "smile"}, "expression"),
                          ({"colour": "x"}, "colour"), ({"smoothing_m": -1}, "smoothing_m")):
        with pytest.raises(ValueError, match=word):
            M.MeshConfig(**options)
    rc = main(["evaluate", "mesh", "--model", str(setup / "model.pt"), "--subject", "fig", "--data-root",
               str(setup / "r"), "--out", str(setup / "bad"), "--threshold", "-1"])
    assert rc == 2 and "threshold must be a density > 0" in capsys.readouterr().err


def test_left_out_subject_passes_the_marker_on(setup, tmp_path):
    from talkinnerf.failures import marker_of, record, write_marker

    root = tmp_path / "r"
    make_subject(root, "fig", size=24, frames=3, figure=True)
    write_marker(root / "smplx" / "fig.npz", record("fig", "fit", ValueError("diverged"), "fig.mp4"))
    out = tmp_path / "m"
    assert main(["evaluate", "mesh", "--model", str(setup / "model.pt"), "--subject", "fig", "--data-root",
                 str(root), "--out", str(out)]) == 0
    assert marker_of(out / "canonical.ply")["reason"] == "diverged"
    assert marker_of(out / "canonical.json")["reason"] == "diverged"


def test_animate_all_plans_a_canonical_mesh_of_every_subject_of_every_setting(tmp_path):
    """`snakemake animate_all` (dry run) writes results/mesh/<setting>/<subject>/canonical.ply for every trained
    subject of every setting."""
    import yaml

    from workflow_utils import REPO, snakemake

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    text = snakemake(tmp_path, "-n", "-p", "--cores", "1", "animate_all", timeout=300).stdout
    blocks = text.split("\nrule mesh:")[1:]
    assert len(blocks) == len(config["settings"]) * len(config["demo"]["subjects"])
    assert ("evaluate mesh --model results/models/talkinnerf/model.pt --subject ava --data-root results "
            "--out results/mesh/talkinnerf/ava --format ply") in text
    for block in blocks:
        output = block.split("\n    output: ")[1].split("\n")[0]
        assert re.fullmatch(r"results/mesh/[\w.-]+/[\w.-]+/canonical\.ply, results/mesh/[\w.-]+/[\w.-]+/"
                            r"canonical\.json", output), output
