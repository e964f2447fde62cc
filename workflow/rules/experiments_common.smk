# Settings, paths and helpers of experiments.smk (its rules stay there: `snakemake --lint` wants rules and
# functions in separate files). Read from config.yaml's `experiments` section; docs/experiments.md.

import copy
import os


from talkinnerf.options import from_dict as _from_dict
from talkinnerf.train.trainer import TrainConfig as _TrainConfig

EXP = config.get("experiments") or {}
_TRAIN = config.get("train") or {}
_ITERATIONS = int(_TRAIN.get("iterations") or _TrainConfig().iterations)
# step schedules of the model (absolute steps) that an experiment with a smaller budget shrinks in proportion
SCHEDULE_KEYS = ("nr_kick_in", "nr_full_band", "pose_refine_kick_in", "hand_def_kick_in", "hand_def_full_band",
                 "hands_kick_in")


def _train_section(model_overrides, iterations, scale_schedule=False):
    """The `train` section with model overrides and an iteration budget, as validated JSON."""
    train = copy.deepcopy(dict(_TRAIN))
    model = {**(train.get("model") or {}), **(model_overrides or {})}
    iterations = int(iterations or _ITERATIONS)
    if scale_schedule and iterations != _ITERATIONS:
        full = _from_dict(TrainConfig_, {"model": model}, where="experiments").model
        for key in SCHEDULE_KEYS:
            model[key] = int(round(getattr(full, key) * iterations / _ITERATIONS))
    train.update(model=model, iterations=iterations)
    _from_dict(TrainConfig_, train, where="config experiments")
    return json.dumps(train, sort_keys=True)


TrainConfig_ = _TrainConfig
from talkinnerf.evaluate.lipsync import LipsyncConfig as _LipsyncConfig  # noqa: E402

_from_dict(_LipsyncConfig, EXP.get("lipsync") or {}, where="config experiments.lipsync")
MULTI = SETTINGS[0]                       # the multi-identity TalkinNeRF
_single = EXP.get("single_id") or {}
_baseline = EXP.get("baseline") or {}
_ablations = EXP.get("ablations") or {}
_novel = EXP.get("novel") or {}
ABLATION_SUBJECT = _ablations.get("subject") or TRAIN_SUBJECTS[0]
if ABLATION_SUBJECT not in TRAIN_SUBJECTS:
    raise ValueError(f"experiments.ablations.subject {ABLATION_SUBJECT!r} is not a training subject {TRAIN_SUBJECTS}")
ABLATION_VARIANTS = dict(_ablations.get("variants") or {"complete": {}})
if "complete" not in ABLATION_VARIANTS:
    raise ValueError("experiments.ablations.variants needs 'complete' (the full model at the ablation budget)")
HAND_ABLATIONS = [v for v in ("no_hand_deformation", "no_hand_background", "separate_hands",
                              "hand_joints_in_canonical") if v in ABLATION_VARIANTS]

# single-subject models: name -> (train options JSON, subjects it is trained for)
SINGLE_MODELS = {
    "single_id": (_train_section(config["settings"][MULTI], _single.get("iterations")), TRAIN_SUBJECTS),
    "humannerf": (_train_section(_baseline.get("model") or {"baseline": "humannerf"}, _baseline.get("iterations")),
                  TRAIN_SUBJECTS),
}
for _name, _overrides in ABLATION_VARIANTS.items():
    SINGLE_MODELS[f"ablation_{_name}"] = (
        _train_section({**(config["settings"][MULTI] or {}), **(_overrides or {})}, _ablations.get("iterations"),
                       bool(_ablations.get("scale_schedule", True))),
        [ABLATION_SUBJECT])
# HumanNeRF trained from scratch on a novel identity's first N seconds (Fig. 7b's reference curve)
CLIP_OPTIONS = _train_section(_baseline.get("model") or {"baseline": "humannerf"},
                              _novel.get("baseline_iterations"), scale_schedule=True)
NOVEL_SECONDS = sorted(set(int(s) for s in (_novel.get("seconds") or []) + FINETUNE_SECONDS))
LONGEST_CLIP = max(NOVEL_SECONDS) if NOVEL_SECONDS else 0
# cross-identity pairs: each training subject driven by the next one's poses, face and expressions
PAIRS = [(s, TRAIN_SUBJECTS[(i + 1) % len(TRAIN_SUBJECTS)]) for i, s in enumerate(TRAIN_SUBJECTS)] \
    if len(TRAIN_SUBJECTS) > 1 else []
LIPSYNC_METHODS = {"humannerf": "HumanNeRF", "single_id": "Ours (Single-Id)", "multi_id": "Ours (Multi-Id)"}


wildcard_constraints:
    model="|".join(re.escape(m) for m in SINGLE_MODELS),
    method="|".join(LIPSYNC_METHODS),
    driver="[A-Za-z0-9_.-]+",


def single_eval(model, subject):
    return f"{R}/eval/single/{model}/{subject}"


def multi_eval(setting, subject):
    return f"{R}/eval/{setting}/{subject}"


def animation_path(method, subject, driver):
    if method == "multi_id":
        return f"{R}/animate/{MULTI}/{subject}_as_{driver}.mp4"
    return f"{R}/animate/single/{method}/{subject}_as_{driver}.mp4"


T = f"{R}/tables"
F = f"{R}/figures"
CAPTIONS = "../report"
TABLE1_LABELS = {"no_hand_deformation": "W/o hand deformation field", "no_hand_background": "W/o background for hands",
                 "separate_hands": "Separate left and right hands",
                 "hand_joints_in_canonical": "Hand joints in canonical space", "complete": "Complete Approach"}


def _entry(label, paths):
    return f"--entry '{label}=" + ",".join(paths) + "'"


def _metrics(folder):
    return f"{folder}/metrics.csv"


TABLE1_ROWS = [(TABLE1_LABELS[v], [_metrics(single_eval(f"ablation_{v}", ABLATION_SUBJECT))])
               for v in HAND_ABLATIONS + ["complete"]]
TABLE2_ROWS = [(label, [_metrics(single_eval(f"ablation_{v}", ABLATION_SUBJECT))])
               for v, label in (("no_jaw", "W/o jaw for the face"), ("complete", "Complete Approach"))
               if v in ABLATION_VARIANTS]
TABLE3_ROWS = [("HumanNeRF", [_metrics(single_eval("humannerf", s)) for s in TRAIN_SUBJECTS]),
               ("Ours (Single-Id)", [_metrics(single_eval("single_id", s)) for s in TRAIN_SUBJECTS]),
               ("Ours (Multi-Id)", [_metrics(multi_eval(MULTI, s)) for s in TRAIN_SUBJECTS])] + \
              [(f"{s} (multi-id ablation)", [_metrics(multi_eval(s, t)) for t in TRAIN_SUBJECTS]) for s in SETTINGS[1:]]
TABLE4_ROWS = [(label, [f"{R}/eval/lipsync/{m}/{s}_as_{d}.csv" for s, d in PAIRS])
               for m, label in LIPSYNC_METHODS.items()] if PAIRS else []
FIG7B_ROWS = ([(f"TalkinNeRF fine-tuned@{secs}", [_metrics(f"{R}/eval/novel_{secs}s/{s}") for s in NOVEL_SUBJECTS])
               for secs in NOVEL_SECONDS]
              + [(f"HumanNeRF from scratch@{secs}", [_metrics(f"{R}/eval/clip_{secs}s/{s}") for s in NOVEL_SUBJECTS])
                 for secs in NOVEL_SECONDS]) if NOVEL_SUBJECTS else []


def _orderings_inputs():
    inputs = {"table1": f"{T}/table1_hands.csv", "table2": f"{T}/table2_face.csv",
              "table3": f"{T}/table3_novel_poses.csv", "cost": f"{T}/training_cost.csv"}
    if NOVEL_SUBJECTS and NOVEL_SECONDS:
        inputs["fig7b"] = f"{T}/fig7b_novel_identity.csv"
    return inputs


def experiment_targets():
    targets = [f"{T}/{name}.{ext}" for name in ("table1_hands", "table2_face", "table3_novel_poses",
                                                 "training_cost", "identity_bleed")
               for ext in ("csv", "md", "tex")]
    targets += [f"{T}/orderings.csv", f"{T}/orderings.md"]
    targets += [f"{F}/novel_pose/{s}.png" for s in TRAIN_SUBJECTS]
    targets += [f"{F}/identity_bleed/{s}.png" for s in TRAIN_SUBJECTS]
    if "four_classes" in ABLATION_VARIANTS:
        targets.append(f"{F}/fig3a_classes.png")
    if HAND_ABLATIONS:
        targets.append(f"{F}/fig3b_hands.png")
    if PAIRS:
        targets += [f"{T}/table4_lipsync.{ext}" for ext in ("csv", "md", "tex")]
        targets += [f"{F}/cross_identity/{s}_as_{d}.png" for s, d in PAIRS]
        targets += [f"{F}/animations/{s}_as_{d}.mp4" for s, d in PAIRS]
    if NOVEL_SUBJECTS and NOVEL_SECONDS:
        targets += [f"{T}/fig7b_novel_identity.{ext}" for ext in ("csv", "md", "tex")]
        targets.append(f"{F}/fig7b_novel_identity.png")
    return targets


def tables_dir(wildcards, output):
    """The folder of a table rule's first output (every table lands beside its CSV)."""
    return os.path.dirname(output[0])
