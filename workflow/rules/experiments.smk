# The paper's experiments beside the multi-identity models of `settings` (docs/experiments.md):
#   single-identity TalkinNeRF per subject (Table 3, §3.3 cost), HumanNeRF per subject (Tables 3-4, Fig. 7b),
#   single-subject ablations (Tables 1-2, Fig. 3a), the novel identity from 1..N seconds (Fig. 7b),
#   cross-identity animations and their lip-sync agreement (Table 4), identity bleed, figures, report.
# `snakemake --cores 2 tables` builds all of it (and everything `all` builds).

import copy

report: "../report/workflow.rst"

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


# ------------------------------------------------------------------------------------------ the novel identity
# Its split holds out only frames after the longest fine-tuning clip (no test frame was ever seen in fine-tuning).
ruleorder: split_novel > split


rule split_novel:
    input:
        frames=f"{R}/frames/{{subject}}",
    output:
        f"{R}/splits/{{subject}}.json",
    wildcard_constraints:
        subject="|".join(re.escape(s) for s in NOVEL_SUBJECTS) or "(?!)",   # (?!) never matches
    params:
        code=code_version("split"),
        options=json.dumps({"mode": "after_seconds", "after_seconds": LONGEST_CLIP,
                            "n": int(_novel.get("test_every") or 1)}, sort_keys=True),
    log:
        f"{R}/logs/split/{{subject}}.log",
    benchmark:
        f"{R}/benchmarks/split/{{subject}}.tsv"
    threads: 1
    shell:
        "{PY} preprocess split --frames {input.frames} --out {output} --options '{params.options}' > {log} 2>&1"


rule train_clip:
    input:
        data=lambda w: list(subject_data(w.subject).values()),
    output:
        model=f"{R}/models/clip/{{subject}}_{{secs}}s/model.pt",
        meta=f"{R}/models/clip/{{subject}}_{{secs}}s/meta.json",
    params:
        code=code_version("train"),
        options=CLIP_OPTIONS,
        out=lambda w: f"{R}/models/clip/{w.subject}_{w.secs}s",
    log:
        f"{R}/logs/train_clip/{{subject}}_{{secs}}s.log",
    benchmark:
        f"{R}/benchmarks/train_clip/{{subject}}_{{secs}}s.tsv"
    threads: TRAIN_THREADS
    resources:
        mem_mb=8000,
        gpu=min(TRAIN_GPUS, 1),
    shell:
        "{PY} train fit-clip --subject {wildcards.subject} --seconds {wildcards.secs} --setting humannerf "
        "--data-root {R} --out {params.out} --options '{params.options}' > {log} 2>&1"


use rule evaluate_render as evaluate_clip with:
    input:
        model=f"{R}/models/clip/{{subject}}_{{secs}}s/model.pt",
        data=lambda w: list(subject_data(w.subject).values()),
    output:
        metrics=f"{R}/eval/clip_{{secs}}s/{{subject}}/metrics.csv",
        compare=f"{R}/eval/clip_{{secs}}s/{{subject}}/compare.png",
        video=f"{R}/eval/clip_{{secs}}s/{{subject}}/render.mp4",
    params:
        code=code_version("evaluate_render"),
        options=options("evaluate"),
        out=lambda w: f"{R}/eval/clip_{w.secs}s/{w.subject}",
    log:
        f"{R}/logs/evaluate/clip_{{secs}}s/{{subject}}.log",
    benchmark:
        f"{R}/benchmarks/evaluate/clip_{{secs}}s/{{subject}}.tsv"


# ------------------------------------------------------------------------------------ single-subject models
rule train_single:
    input:
        lambda w: training_inputs([w.subject]),
    output:
        model=f"{R}/models/single/{{model}}/{{subject}}/model.pt",
        meta=f"{R}/models/single/{{model}}/{{subject}}/meta.json",
    params:
        code=code_version("train"),
        options=lambda w: SINGLE_MODELS[w.model][0],
        out=lambda w: f"{R}/models/single/{w.model}/{w.subject}",
    log:
        f"{R}/logs/train/single/{{model}}/{{subject}}.log",
    benchmark:
        f"{R}/benchmarks/train/single/{{model}}/{{subject}}.tsv"
    threads: TRAIN_THREADS
    resources:
        mem_mb=8000,
        gpu=min(TRAIN_GPUS, 1),
    shell:
        "{PY} train fit --setting {wildcards.model} --subjects {wildcards.subject} --data-root {R} "
        "--out {params.out} --options '{params.options}' > {log} 2>&1"


use rule evaluate_render as evaluate_single with:
    input:
        model=f"{R}/models/single/{{model}}/{{subject}}/model.pt",
        data=lambda w: list(subject_data(w.subject).values()),
    output:
        metrics=f"{R}/eval/single/{{model}}/{{subject}}/metrics.csv",
        compare=f"{R}/eval/single/{{model}}/{{subject}}/compare.png",
        video=f"{R}/eval/single/{{model}}/{{subject}}/render.mp4",
    params:
        code=code_version("evaluate_render"),
        options=options("evaluate"),
        out=lambda w: f"{R}/eval/single/{w.model}/{w.subject}",
    log:
        f"{R}/logs/evaluate/single/{{model}}/{{subject}}.log",
    benchmark:
        f"{R}/benchmarks/evaluate/single/{{model}}/{{subject}}.tsv"


use rule animate as animate_single with:
    input:
        model=f"{R}/models/single/{{model}}/{{subject}}/model.pt",
        data=lambda w: list(subject_data(w.subject).values()),
        motion=f"{R}/smplx/{{driver}}.npz",
    output:
        f"{R}/animate/single/{{model}}/{{subject}}_as_{{driver}}.mp4",
    log:
        f"{R}/logs/animate/single/{{model}}/{{subject}}_as_{{driver}}.log",
    benchmark:
        f"{R}/benchmarks/animate/single/{{model}}/{{subject}}_as_{{driver}}.tsv"


rule lipsync:
    input:
        render=lambda w: animation_path(w.method, w.subject, w.driver),
        subject=f"{R}/smplx/{{subject}}.npz",
        driver_frames=f"{R}/frames/{{driver}}",
        driver=f"{R}/smplx/{{driver}}.npz",
    output:
        f"{R}/eval/lipsync/{{method}}/{{subject}}_as_{{driver}}.csv",
    params:
        code=source_digest(("evaluate/lipsync.py", "video")),
        options=json.dumps(EXP.get("lipsync") or {}, sort_keys=True),
        label=lambda w: LIPSYNC_METHODS[w.method],
    log:
        f"{R}/logs/lipsync/{{method}}/{{subject}}_as_{{driver}}.log",
    benchmark:
        f"{R}/benchmarks/lipsync/{{method}}/{{subject}}_as_{{driver}}.tsv"
    threads: 1
    shell:
        "{PY} evaluate lipsync --render {input.render} --subject-smplx {input.subject} "
        "--driver-frames {input.driver_frames} --driver-smplx {input.driver} --label '{params.label}' "
        "--options '{params.options}' --out {output} > {log} 2>&1"


# ------------------------------------------------------------------------------------------------- tables
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


rule table1:
    input:
        [p for _, paths in TABLE1_ROWS for p in paths],
    output:
        csv=report(f"{T}/table1_hands.csv", caption=f"{CAPTIONS}/table1.rst", category="Tables"),
        md=f"{T}/table1_hands.md",
        tex=f"{T}/table1_hands.tex",
    params:
        code=code_version("report_quality"),
        entries=" ".join(_entry(l, p) for l, p in TABLE1_ROWS),
    log:
        f"{R}/logs/report/table1.log",
    shell:
        "{PY} report paper-table --kind table1 {params.entries} --out {T}/table1_hands "
        "--caption 'Table 1: hand ablations on {ABLATION_SUBJECT}, held-out frames, hand-region metrics' > {log} 2>&1"


rule table2:
    input:
        [p for _, paths in TABLE2_ROWS for p in paths],
    output:
        csv=report(f"{T}/table2_face.csv", caption=f"{CAPTIONS}/table2.rst", category="Tables"),
        md=f"{T}/table2_face.md",
        tex=f"{T}/table2_face.tex",
    params:
        code=code_version("report_quality"),
        entries=" ".join(_entry(l, p) for l, p in TABLE2_ROWS),
    log:
        f"{R}/logs/report/table2.log",
    shell:
        "{PY} report paper-table --kind table2 {params.entries} --out {T}/table2_face "
        "--caption 'Table 2: jaw ablation on {ABLATION_SUBJECT}, held-out frames, face-region metrics' > {log} 2>&1"


rule table3:
    input:
        [p for _, paths in TABLE3_ROWS for p in paths],
    output:
        csv=report(f"{T}/table3_novel_poses.csv", caption=f"{CAPTIONS}/table3.rst", category="Tables"),
        md=f"{T}/table3_novel_poses.md",
        tex=f"{T}/table3_novel_poses.tex",
    params:
        code=code_version("report_quality"),
        entries=" ".join(_entry(l, p) for l, p in TABLE3_ROWS),
    log:
        f"{R}/logs/report/table3.log",
    shell:
        "{PY} report paper-table --kind table3 {params.entries} --out {T}/table3_novel_poses "
        "--caption 'Table 3: novel poses of the same identity (held-out frames of every training subject)' "
        "> {log} 2>&1"


rule table4:
    input:
        [p for _, paths in TABLE4_ROWS for p in paths],
    output:
        csv=report(f"{T}/table4_lipsync.csv", caption=f"{CAPTIONS}/table4.rst", category="Tables"),
        md=f"{T}/table4_lipsync.md",
        tex=f"{T}/table4_lipsync.tex",
    params:
        code=code_version("report_quality"),
        entries=" ".join(_entry(l, p) for l, p in TABLE4_ROWS),
    log:
        f"{R}/logs/report/table4.log",
    shell:
        "{PY} report lipsync-table {params.entries} --out {T}/table4_lipsync "
        "--caption 'Table 4 stand-in: mouth-opening agreement (MediaPipe FaceMesh) of each identity driven by "
        "another, not LSE-D/C' > {log} 2>&1"


rule training_cost:
    input:
        multi=f"{R}/models/{MULTI}/meta.json",
        single=expand(f"{R}/models/single/single_id/{{subject}}/meta.json", subject=TRAIN_SUBJECTS),
    output:
        csv=report(f"{T}/training_cost.csv", caption=f"{CAPTIONS}/training_cost.rst", category="Tables"),
        md=f"{T}/training_cost.md",
        tex=f"{T}/training_cost.tex",
    params:
        code=code_version("report_quality"),
    log:
        f"{R}/logs/report/training_cost.log",
    shell:
        "{PY} report cost-table --multi {input.multi} --single {input.single} --out {T}/training_cost "
        "--caption '§3.3: training cost of one multi-identity model against one single-identity model per subject' "
        "> {log} 2>&1"


rule fig7b:
    input:
        [p for _, paths in FIG7B_ROWS for p in paths],
    output:
        csv=report(f"{T}/fig7b_novel_identity.csv", caption=f"{CAPTIONS}/fig7b_table.rst", category="Tables"),
        md=f"{T}/fig7b_novel_identity.md",
        tex=f"{T}/fig7b_novel_identity.tex",
        figure=report(f"{F}/fig7b_novel_identity.png", caption=f"{CAPTIONS}/fig7b.rst", category="Figures"),
    params:
        code=code_version("report_quality"),
        entries=" ".join(_entry(l, p) for l, p in FIG7B_ROWS),
    log:
        f"{R}/logs/report/fig7b.log",
    shell:
        "{PY} report novel-series {params.entries} --out {T}/fig7b_novel_identity --figure {output.figure} "
        "--caption 'Fig. 7b: the novel identity from N seconds of video, held-out frames after the longest clip' "
        "> {log} 2>&1"


rule identity_bleed:
    input:
        [f"{multi_eval(MULTI, s)}/metrics.csv" for s in TRAIN_SUBJECTS]
        + [f"{single_eval('single_id', s)}/metrics.csv" for s in TRAIN_SUBJECTS],
        parts=[f"{R}/parts/{s}" for s in TRAIN_SUBJECTS],
    output:
        csv=report(f"{T}/identity_bleed.csv", caption=f"{CAPTIONS}/identity_bleed.rst", category="Tables"),
        md=f"{T}/identity_bleed.md",
        tex=f"{T}/identity_bleed.tex",
    params:
        code=code_version("report_quality"),
        pairs=" ".join(f"--pair {s}={multi_eval(MULTI, s)},{single_eval('single_id', s)}" for s in TRAIN_SUBJECTS),
    log:
        f"{R}/logs/report/identity_bleed.log",
    shell:
        "{PY} report bleed {params.pairs} --data-root {R} --out {T}/identity_bleed "
        "--caption 'Identity bleed: per-part PSNR of held-out renders, multi-identity vs single-identity' > {log} 2>&1"


def _orderings_inputs():
    inputs = {"table1": f"{T}/table1_hands.csv", "table2": f"{T}/table2_face.csv",
              "table3": f"{T}/table3_novel_poses.csv", "cost": f"{T}/training_cost.csv"}
    if NOVEL_SUBJECTS and NOVEL_SECONDS:
        inputs["fig7b"] = f"{T}/fig7b_novel_identity.csv"
    return inputs


rule orderings:
    input:
        **_orderings_inputs(),
    output:
        csv=report(f"{T}/orderings.csv", caption=f"{CAPTIONS}/orderings.rst", category="Tables"),
        md=f"{T}/orderings.md",
    params:
        code=code_version("report_quality"),
        args=" ".join(f"--{k} {v}" for k, v in _orderings_inputs().items()),
    log:
        f"{R}/logs/report/orderings.log",
    shell:
        "{PY} report orderings {params.args} --out {T}/orderings > {log} 2>&1"


# ------------------------------------------------------------------------------------------------ figures
rule figure_novel_pose:
    input:
        [f"{d}/metrics.csv" for d in (single_eval("humannerf", "{subject}"), single_eval("single_id", "{subject}"),
                                      multi_eval(MULTI, "{subject}"))],
    output:
        report(f"{F}/novel_pose/{{subject}}.png", caption=f"{CAPTIONS}/novel_pose.rst", category="Figures",
               subcategory="Novel poses (Fig. 4)"),
    params:
        code=code_version("report_quality"),
        columns=lambda w: (f"--column 'HumanNeRF={single_eval('humannerf', w.subject)}' "
                           f"--column 'Ours (Single-Id)={single_eval('single_id', w.subject)}' "
                           f"--column 'Ours (Multi-Id)={multi_eval(MULTI, w.subject)}'"),
    log:
        f"{R}/logs/report/figures/novel_pose_{{subject}}.log",
    shell:
        "{PY} report eval-grid --subject {wildcards.subject} {params.columns} --data-root {R} --rows 2 "
        "--out {output} > {log} 2>&1"


rule figure_cross_identity:
    input:
        [animation_path(m, "{subject}", "{driver}") for m in LIPSYNC_METHODS],
        frames=f"{R}/frames/{{driver}}",
    output:
        report(f"{F}/cross_identity/{{subject}}_as_{{driver}}.png", caption=f"{CAPTIONS}/cross_identity.rst",
               category="Figures", subcategory="Poses of another identity (Fig. 5)"),
    params:
        code=code_version("report_quality"),
        columns=lambda w: " ".join(f"--column '{label}={animation_path(m, w.subject, w.driver)}'"
                                   for m, label in LIPSYNC_METHODS.items()),
    log:
        f"{R}/logs/report/figures/cross_{{subject}}_as_{{driver}}.log",
    shell:
        "{PY} report animation-grid --driver {wildcards.driver} --driver-frames {input.frames} {params.columns} "
        "--out {output} > {log} 2>&1"


rule figure_classes:
    input:
        [f"{single_eval(f'ablation_{v}', ABLATION_SUBJECT)}/metrics.csv" for v in ("complete", "four_classes")
         if v in ABLATION_VARIANTS],
    output:
        report(f"{F}/fig3a_classes.png", caption=f"{CAPTIONS}/fig3a.rst", category="Figures"),
    params:
        code=code_version("report_quality"),
        columns=(f"--column '5 classes (ours)={single_eval('ablation_complete', ABLATION_SUBJECT)}' "
                 f"--column '4 classes (w/o arms)={single_eval('ablation_four_classes', ABLATION_SUBJECT)}'"),
    log:
        f"{R}/logs/report/figures/fig3a.log",
    shell:
        "{PY} report eval-grid --subject {ABLATION_SUBJECT} {params.columns} --data-root {R} --rows 3 "
        "--no-closeups --out {output} > {log} 2>&1"


rule figure_hands:
    input:
        [f"{single_eval(f'ablation_{v}', ABLATION_SUBJECT)}/metrics.csv" for v in HAND_ABLATIONS + ["complete"]],
    output:
        report(f"{F}/fig3b_hands.png", caption=f"{CAPTIONS}/fig3b.rst", category="Figures"),
    params:
        code=code_version("report_quality"),
        columns=" ".join(f"--column '{TABLE1_LABELS[v]}={single_eval(f'ablation_{v}', ABLATION_SUBJECT)}'"
                         for v in HAND_ABLATIONS + ["complete"]),
    log:
        f"{R}/logs/report/figures/fig3b.log",
    shell:
        "{PY} report eval-grid --subject {ABLATION_SUBJECT} {params.columns} --data-root {R} --rows 2 "
        "--out {output} > {log} 2>&1"


rule figure_bleed:
    input:
        [f"{d}/metrics.csv" for d in (single_eval("single_id", "{subject}"), multi_eval(MULTI, "{subject}"))],
    output:
        report(f"{F}/identity_bleed/{{subject}}.png", caption=f"{CAPTIONS}/identity_bleed_figure.rst",
               category="Figures", subcategory="Identity bleed"),
    params:
        code=code_version("report_quality"),
        columns=lambda w: (f"--column 'single-identity={single_eval('single_id', w.subject)}' "
                           f"--column 'multi-identity={multi_eval(MULTI, w.subject)}'"),
    log:
        f"{R}/logs/report/figures/bleed_{{subject}}.log",
    shell:
        "{PY} report eval-grid --subject {wildcards.subject} {params.columns} --data-root {R} --rows 2 "
        "--no-closeups --out {output} > {log} 2>&1"


rule animation_report:
    """The cross-identity animations themselves, for the report (a copy keeps `report()` on one rule)."""
    input:
        animation_path("multi_id", "{subject}", "{driver}"),
    output:
        report(f"{F}/animations/{{subject}}_as_{{driver}}.mp4", caption=f"{CAPTIONS}/animation.rst",
               category="Animations"),
    log:
        f"{R}/logs/report/animations/{{subject}}_as_{{driver}}.log",
    shell:
        "cp {input} {output} 2> {log}"


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


rule tables:
    """Every experiment of the paper (docs/experiments.md) plus everything `all` builds."""
    input:
        all_targets(),
        experiment_targets(),
