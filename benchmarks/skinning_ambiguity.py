"""How well D_r (inverse LBS: every joint's candidate, blended by the weight volume read at each candidate) maps
the fitted body's own surface back to the canonical pose, per frame and body part, on a subject's fits.

python benchmarks/skinning_ambiguity.py --data results --subjects book brother [--model M.pt] [--every 3]
    [--gates 0.03 0.05] [--out benchmarks/results/skinning_ambiguity.csv]

For every --every-th frame the fitted SMPL-X body (hands, jaw and expression at rest, so that body LBS alone
relates the two) is posed with the fit's body pose and compared with the same vertices in the canonical pose:
D_r should map each posed vertex onto its canonical position. A vertex is *ambiguous* where two or more
joints' candidates carry a weight > 0.5 while lying > 5 cm apart (weights.disputed_points): the blend then lands
between them (a forearm in front of the chest maps both to the canonical forearm and to the space in front of the
canonical chest). Without --model the weight volume is the Gaussian bone prior alone (an untrained decoder's output
is set to zero); with --model (trained on these subjects) it is that model's learned volume. --gates adds D_r with
`model.posed_gate` (each joint's candidate only where its posed bones are within that slack of the nearest posed
bone). Prints the error per part and the worst frames.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

REPO = Path(__file__).resolve().parents[1]


def body_vertices(body, fit: dict, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(F,V,3) posed vertices in the posed root frame (transl 0, body pose only) and (V,3) canonical vertices."""
    n = len(frames)
    zeros = lambda k: torch.zeros(n, k)  # noqa: E731
    betas = torch.as_tensor(fit["betas"], dtype=torch.float32).reshape(1, -1).expand(n, -1)
    with torch.no_grad():
        posed = body(betas=betas, global_orient=torch.as_tensor(fit["global_orient"][frames], dtype=torch.float32),
                     body_pose=torch.as_tensor(fit["body_pose"][frames], dtype=torch.float32).reshape(n, -1),
                     jaw_pose=zeros(3), left_hand_pose=zeros(45), right_hand_pose=zeros(45), expression=zeros(10),
                     leye_pose=zeros(3), reye_pose=zeros(3), transl=zeros(3)).vertices.numpy()
        rest = body(betas=betas, global_orient=zeros(3), body_pose=zeros(63), jaw_pose=zeros(3),
                    left_hand_pose=zeros(45), right_hand_pose=zeros(45), expression=zeros(10), leye_pose=zeros(3),
                    reye_pose=zeros(3), transl=zeros(3))
    return posed, rest.vertices[0].numpy()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="a results root with results/smplx/<subject>.npz")
    ap.add_argument("--subjects", nargs="+", required=True)
    ap.add_argument("--model", default=None, help="a trained model.pt over these subjects (default: prior only)")
    ap.add_argument("--every", type=int, default=3)
    ap.add_argument("--gates", nargs="*", type=float, default=[],
                    help="also measure D_r with model.posed_gate at these slacks (metres)")
    ap.add_argument("--body-model", default=str(REPO / "resources" / "body" / "SMPLX_OPEN_TALKINNERF.npz"))
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "skinning_ambiguity.csv"))
    args = ap.parse_args(argv)
    import yaml

    from talkinnerf.body.model import load_body_model
    from talkinnerf.body.parts import PART_NAMES, vertex_part_labels
    from talkinnerf.nerf import packed
    from talkinnerf.nerf import skeleton as sk
    from talkinnerf.nerf.model import FrameConditioning, TalkinNeRF
    from talkinnerf.nerf.weights import disputed_points, gate_pairs, posed_bone_gate, query_joint_weights
    from talkinnerf.options import from_dict
    from talkinnerf.train.trainer import TrainConfig, load_model

    torch.set_grad_enabled(False)
    if args.model:
        model, _, names, _ = load_model(args.model)
        identity = {name: names.index(name) for name in args.subjects}
    else:
        section = yaml.safe_load((REPO / "config.yaml").read_text())["train"]
        cfg = from_dict(TrainConfig, section, "train").model.replace(field="mlp")   # fields are not used here
        model = TalkinNeRF(cfg, 1).eval()
        model.weight_volume.forward = lambda: torch.zeros(1)     # the bone prior alone (broadcast in the softmax)
        identity = dict.fromkeys(args.subjects, 0)
    rows = []
    for subject in args.subjects:
        fit = dict(np.load(Path(args.data) / "smplx" / f"{subject}.npz"))
        frames = np.arange(0, len(fit["poses_body"]), args.every)
        body = load_body_model(args.body_model, batch_size=len(frames))
        labels = vertex_part_labels(body)
        posed, rest = body_vertices(body, fit, frames)
        rest_t = torch.as_tensor(rest)
        for i, frame in enumerate(frames):
            cond = FrameConditioning.from_smplx(fit, int(frame), identity[subject])
            state = packed.frame_state(model, cond, 0, torch.float32, torch.device("cpu"))
            pts = torch.as_tensor(posed[i])
            cands = sk.apply_per_joint(pts, state.skel["inv_rot"], state.skel["inv_t"])     # (K,V,3)
            w0 = query_joint_weights(state.volume, cands, state.bbox)                        # (K,V)
            # the posed skeleton the vertices were posed with (hands and jaw at rest), fingers included
            posed_joints = sk.posed_full_skeleton(cond.poses_body, torch.zeros(3), torch.zeros(90),
                                                  cond.canonical_joints, cond.parents)
            k, v = w0.shape
            joint, point = torch.arange(k).repeat_interleave(v), torch.arange(v).repeat(k)
            for slack in [0.0, *args.gates]:
                if slack == 0:
                    w = w0
                else:   # as the model applies it (packed.evaluate_points): only where the candidates disagree
                    gate_of = lambda idx: posed_bone_gate(pts[idx], posed_joints, cond.parents,  # noqa: E731
                                                          model.skinned, slack)
                    w = w0 * gate_pairs(joint, point, cands.reshape(-1, 3), w0.reshape(-1), v, gate_of).reshape(k, v)
                x_c = sk.blend(cands, w)
                err = (x_c - rest_t).norm(dim=-1).numpy()
                far = disputed_points(joint, point, cands.reshape(-1, 3), w.reshape(-1), v).numpy()
                for part in range(1, len(PART_NAMES)):
                    sel = labels == part
                    rows.append({"subject": subject, "gate_m": slack, "frame": int(frame), "part": PART_NAMES[part],
                                 "median_err_cm": round(float(np.median(err[sel])) * 100, 2),
                                 "share_over_3cm": round(float((err[sel] > 0.03).mean()), 4),
                                 "share_ambiguous": round(float(far[sel].mean()), 4)})
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    source = f"model {args.model}" if args.model else "the bone prior alone"
    print(f"D_r of the fitted surface, weight volume from {source}; every {args.every}th frame\n")
    print("| subject | posed gate (m) | part | median error (cm) | vertices > 3 cm off | ambiguous vertices | "
          "worst frame (share > 3 cm) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for subject, slack, part in ((s, g, p) for s in args.subjects for g in [0.0, *args.gates] for p in PART_NAMES[1:]):
        sel = [r for r in rows if r["subject"] == subject and r["gate_m"] == slack and r["part"] == part]
        worst = max(sel, key=lambda r: (r["share_over_3cm"], -r["frame"]))      # ties: the earliest frame
        print(f"| {subject} | {slack:g} | {part} | {np.median([r['median_err_cm'] for r in sel]):.2f} | "
                  f"{np.mean([r['share_over_3cm'] for r in sel]):.1%} | {np.mean([r['share_ambiguous'] for r in sel]):.1%}"
                  f" | {worst['frame']} ({worst['share_over_3cm']:.0%}) |")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
