# The paper's experiments beside the multi-identity models of `settings` (docs/experiments.md):
#   single-identity TalkinNeRF per subject (Table 3, §3.3 cost), HumanNeRF per subject (Tables 3-4, Fig. 7b),
#   single-subject ablations (Tables 1-2, Fig. 3a), the novel identity from 1..N seconds (Fig. 7b),
#   cross-identity animations and their lip-sync agreement (Table 4), identity bleed, figures, report.
# `snakemake --cores 2 tables` builds all of it (and everything `all` builds). Tables 1-3 and §3.3 on every split
# of experiments.splits, every cell over experiments.seeds (experiments_common.smk: runs, views, paths).

report: "../report/workflow.rst"

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
        py=PY,
        code=code_version("split"),
        options=json.dumps({"mode": "after_seconds", "after_seconds": LONGEST_CLIP,
                            "n": int(_novel.get("test_every") or 1)}, sort_keys=True),
    log:
        f"{R}/logs/split/{{subject}}.log",
    benchmark:
        f"{R}/benchmarks/split/{{subject}}.tsv"
    threads: 1
    conda:
        CONDA_ENV
    shell:
        "{params.py} preprocess split --frames {input.frames} --out {output} --options '{params.options}' > {log} 2>&1"


rule train_clip:
    input:
        data=lambda w: list(subject_data(w.subject).values()),
    output:
        model=f"{R}/models/clip/{{subject}}_{{secs}}s/model.pt",
        meta=f"{R}/models/clip/{{subject}}_{{secs}}s/meta.json",
    params:
        launcher=EXP_LAUNCHER,
        results=results_root,
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
        gpu=EXP_GPUS,
    conda:
        CONDA_ENV
    shell:
        "{params.launcher} train fit-clip --subject {wildcards.subject} --seconds {wildcards.secs} --setting humannerf "
        "--data-root {params.results} --out {params.out} --options '{params.options}' > {log} 2>&1"


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
        launcher=EXP_LAUNCHER,
        results=results_root,
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
        gpu=EXP_GPUS,
    conda:
        CONDA_ENV
    shell:
        "{params.launcher} train fit --setting {wildcards.model} --subjects {wildcards.subject} --data-root {params.results} "
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


# ------------------------------------------------------------------------- other splits and seeds (runs)
# A split other than the main job's: its splits/<s>.json in a view that links the subject's data (its runs train
# and evaluate with --data-root <view>). Every run but (main split, train.seed) trains its own models here.
rule split_view:
    input:
        frames=f"{R}/frames/{{subject}}",
    output:
        f"{R}/views/{{split}}/splits/{{subject}}.json",
    wildcard_constraints:
        split="|".join(re.escape(n) for n in VIEW_SPLITS) or "(?!)",
    params:
        py=PY,
        results=results_root,
        code=code_version("split"),
        options=lambda w: json.dumps(SPLITS[w.split]["split"], sort_keys=True),
    log:
        f"{R}/logs/split/{{split}}/{{subject}}.log",
    benchmark:
        f"{R}/benchmarks/split/{{split}}/{{subject}}.tsv"
    threads: 1
    conda:
        CONDA_ENV
    shell:
        "{params.py} preprocess split --frames {input.frames} --out {output} --options '{params.options}' "
        "--view-of {params.results} --subject {wildcards.subject} > {log} 2>&1"


rule train_run:
    """The multi-identity model of one (split, seed): the main job's options and world size, that seed."""
    input:
        lambda w: run_training_inputs(w.split, TRAIN_SUBJECTS),
    output:
        model=f"{R}/models/runs/{{split}}/seed{{seed}}/{{setting}}/model.pt",
        meta=f"{R}/models/runs/{{split}}/seed{{seed}}/{{setting}}/meta.json",
    params:
        launcher=TRAIN_LAUNCHER,
        results=lambda w: data_root(w.split),
        code=code_version("train"),
        subjects=" ".join(TRAIN_SUBJECTS),
        options=lambda w: with_seed(setting_options(w.setting), w.seed),
        out=lambda w: f"{R}/models/runs/{w.split}/seed{w.seed}/{w.setting}",
    log:
        f"{R}/logs/train/runs/{{split}}/seed{{seed}}/{{setting}}.log",
    benchmark:
        f"{R}/benchmarks/train/runs/{{split}}/seed{{seed}}/{{setting}}.tsv"
    threads: TRAIN_THREADS
    resources:
        mem_mb=12000,
        gpu=TRAIN_GPUS,
    conda:
        CONDA_ENV
    shell:
        "{params.launcher} train fit --setting {wildcards.setting} --subjects {params.subjects} --data-root {params.results} "
        "--out {params.out} --options '{params.options}' > {log} 2>&1"


use rule evaluate_render as evaluate_run with:
    input:
        model=f"{R}/models/runs/{{split}}/seed{{seed}}/{{setting}}/model.pt",
        data=lambda w: run_data(w.split, w.subject),
    output:
        metrics=f"{R}/eval/runs/{{split}}/seed{{seed}}/{{setting}}/{{subject}}/metrics.csv",
        compare=f"{R}/eval/runs/{{split}}/seed{{seed}}/{{setting}}/{{subject}}/compare.png",
        video=f"{R}/eval/runs/{{split}}/seed{{seed}}/{{setting}}/{{subject}}/render.mp4",
    params:
        results=lambda w: data_root(w.split),
        code=code_version("evaluate_render"),
        options=options("evaluate"),
        out=lambda w: f"{R}/eval/runs/{w.split}/seed{w.seed}/{w.setting}/{w.subject}",
    log:
        f"{R}/logs/evaluate/runs/{{split}}/seed{{seed}}/{{setting}}/{{subject}}.log",
    benchmark:
        f"{R}/benchmarks/evaluate/runs/{{split}}/seed{{seed}}/{{setting}}/{{subject}}.tsv"


use rule train_single as train_single_run with:
    input:
        lambda w: run_training_inputs(w.split, [w.subject]),
    output:
        model=f"{R}/models/runs/{{split}}/seed{{seed}}/single/{{model}}/{{subject}}/model.pt",
        meta=f"{R}/models/runs/{{split}}/seed{{seed}}/single/{{model}}/{{subject}}/meta.json",
    params:
        results=lambda w: data_root(w.split),
        code=code_version("train"),
        options=lambda w: with_seed(SINGLE_MODELS[w.model][0], w.seed),
        out=lambda w: f"{R}/models/runs/{w.split}/seed{w.seed}/single/{w.model}/{w.subject}",
    log:
        f"{R}/logs/train/runs/{{split}}/seed{{seed}}/single/{{model}}/{{subject}}.log",
    benchmark:
        f"{R}/benchmarks/train/runs/{{split}}/seed{{seed}}/single/{{model}}/{{subject}}.tsv"


use rule evaluate_render as evaluate_single_run with:
    input:
        model=f"{R}/models/runs/{{split}}/seed{{seed}}/single/{{model}}/{{subject}}/model.pt",
        data=lambda w: run_data(w.split, w.subject),
    output:
        metrics=f"{R}/eval/runs/{{split}}/seed{{seed}}/single/{{model}}/{{subject}}/metrics.csv",
        compare=f"{R}/eval/runs/{{split}}/seed{{seed}}/single/{{model}}/{{subject}}/compare.png",
        video=f"{R}/eval/runs/{{split}}/seed{{seed}}/single/{{model}}/{{subject}}/render.mp4",
    params:
        results=lambda w: data_root(w.split),
        code=code_version("evaluate_render"),
        options=options("evaluate"),
        out=lambda w: f"{R}/eval/runs/{w.split}/seed{w.seed}/single/{w.model}/{w.subject}",
    log:
        f"{R}/logs/evaluate/runs/{{split}}/seed{{seed}}/single/{{model}}/{{subject}}.log",
    benchmark:
        f"{R}/benchmarks/evaluate/runs/{{split}}/seed{{seed}}/single/{{model}}/{{subject}}.tsv"


# Fig. 7b's other seeds: fine-tuned from the main split's multi-identity model of that seed, and from scratch
use rule finetune as finetune_run with:
    input:
        base=lambda w: f"{multi_model(MAIN_SPLIT, w.seed)}/model.pt",
        data=lambda w: list(subject_data(w.subject).values()),
    output:
        model=f"{R}/models/runs/novel/seed{{seed}}/{{subject}}_{{secs}}s/model.pt",
        meta=f"{R}/models/runs/novel/seed{{seed}}/{{subject}}_{{secs}}s/meta.json",
    params:
        code=code_version("finetune"),
        options=lambda w: with_seed(options("finetune"), w.seed),
        out=lambda w: f"{R}/models/runs/novel/seed{w.seed}/{w.subject}_{w.secs}s",
    log:
        f"{R}/logs/finetune/runs/seed{{seed}}/{{subject}}_{{secs}}s.log",
    benchmark:
        f"{R}/benchmarks/finetune/runs/seed{{seed}}/{{subject}}_{{secs}}s.tsv"


use rule evaluate_render as evaluate_novel_run with:
    input:
        model=f"{R}/models/runs/novel/seed{{seed}}/{{subject}}_{{secs}}s/model.pt",
        data=lambda w: list(subject_data(w.subject).values()),
    output:
        metrics=f"{R}/eval/runs/novel/seed{{seed}}/novel_{{secs}}s/{{subject}}/metrics.csv",
        compare=f"{R}/eval/runs/novel/seed{{seed}}/novel_{{secs}}s/{{subject}}/compare.png",
        video=f"{R}/eval/runs/novel/seed{{seed}}/novel_{{secs}}s/{{subject}}/render.mp4",
    params:
        code=code_version("evaluate_novel"),
        options=options("evaluate"),
        out=lambda w: f"{R}/eval/runs/novel/seed{w.seed}/novel_{w.secs}s/{w.subject}",
    log:
        f"{R}/logs/evaluate/runs/novel/seed{{seed}}/novel_{{secs}}s/{{subject}}.log",
    benchmark:
        f"{R}/benchmarks/evaluate/runs/novel/seed{{seed}}/novel_{{secs}}s/{{subject}}.tsv"


use rule train_clip as train_clip_run with:
    output:
        model=f"{R}/models/runs/novel/seed{{seed}}/clip/{{subject}}_{{secs}}s/model.pt",
        meta=f"{R}/models/runs/novel/seed{{seed}}/clip/{{subject}}_{{secs}}s/meta.json",
    params:
        code=code_version("train"),
        options=lambda w: with_seed(CLIP_OPTIONS, w.seed),
        out=lambda w: f"{R}/models/runs/novel/seed{w.seed}/clip/{w.subject}_{w.secs}s",
    log:
        f"{R}/logs/train_clip/runs/seed{{seed}}/{{subject}}_{{secs}}s.log",
    benchmark:
        f"{R}/benchmarks/train_clip/runs/seed{{seed}}/{{subject}}_{{secs}}s.tsv"


use rule evaluate_render as evaluate_clip_run with:
    input:
        model=f"{R}/models/runs/novel/seed{{seed}}/clip/{{subject}}_{{secs}}s/model.pt",
        data=lambda w: list(subject_data(w.subject).values()),
    output:
        metrics=f"{R}/eval/runs/novel/seed{{seed}}/clip_{{secs}}s/{{subject}}/metrics.csv",
        compare=f"{R}/eval/runs/novel/seed{{seed}}/clip_{{secs}}s/{{subject}}/compare.png",
        video=f"{R}/eval/runs/novel/seed{{seed}}/clip_{{secs}}s/{{subject}}/render.mp4",
    params:
        code=code_version("evaluate_render"),
        options=options("evaluate"),
        out=lambda w: f"{R}/eval/runs/novel/seed{w.seed}/clip_{w.secs}s/{w.subject}",
    log:
        f"{R}/logs/evaluate/runs/novel/seed{{seed}}/clip_{{secs}}s/{{subject}}.log",
    benchmark:
        f"{R}/benchmarks/evaluate/runs/novel/seed{{seed}}/clip_{{secs}}s/{{subject}}.tsv"


rule lipsync:
    input:
        render=lambda w: animation_path(w.method, w.subject, w.driver),
        driver_frames=f"{R}/frames/{{driver}}",   # its audio.wav (the audio) and frames (the reference)
    output:
        f"{R}/eval/lipsync/{{method}}/{{subject}}_as_{{driver}}.csv",
    params:
        py=PY,
        code=source_digest(("evaluate/lipsync.py", "evaluate/syncnet.py", "evaluate/media.py", "video")),
        options=json.dumps(EXP.get("lipsync") or {}, sort_keys=True),
        syncnet=syncnet_weights_identity((EXP.get("lipsync") or {}).get("syncnet")),   # adding the weights reruns
        label=lambda w: LIPSYNC_METHODS[w.method],
    log:
        f"{R}/logs/lipsync/{{method}}/{{subject}}_as_{{driver}}.log",
    benchmark:
        f"{R}/benchmarks/lipsync/{{method}}/{{subject}}_as_{{driver}}.tsv"
    threads: 1
    conda:
        CONDA_ENV
    shell:
        "{params.py} evaluate lipsync --render {input.render} --driver-frames {input.driver_frames} "
        "--label '{params.label}' --options '{params.options}' --out {output} > {log} 2>&1"


# ------------------------------------------------------------------------------------------------- tables
rule table1:
    input:
        _cell_inputs(TABLE1_CELLS),
    output:
        csv=report(f"{T}/table1_hands.csv", caption=f"{CAPTIONS}/table1.rst", category="Tables"),
        md=f"{T}/table1_hands.md",
        tex=f"{T}/table1_hands.tex",
    params:
        py=PY,
        tables=tables_dir,
        ablation_subject=ABLATION_SUBJECT,
        code=code_version("report_quality"),
        entries=_cell_args(TABLE1_CELLS),
        notes=f"{SPLIT_NOTES}; {SEED_NOTE}",
    log:
        f"{R}/logs/report/table1.log",
    conda:
        CONDA_ENV
    shell:
        "{params.py} report paper-table --kind table1 {params.entries} --out {params.tables}/table1_hands "
        "--caption 'Table 1: hand ablations on {params.ablation_subject}, held-out frames, hand-region metrics "
        "(splits: {params.notes})' > {log} 2>&1"


rule table2:
    input:
        _cell_inputs(TABLE2_CELLS),
    output:
        csv=report(f"{T}/table2_face.csv", caption=f"{CAPTIONS}/table2.rst", category="Tables"),
        md=f"{T}/table2_face.md",
        tex=f"{T}/table2_face.tex",
    params:
        py=PY,
        tables=tables_dir,
        ablation_subject=ABLATION_SUBJECT,
        code=code_version("report_quality"),
        entries=_cell_args(TABLE2_CELLS),
        notes=f"{SPLIT_NOTES}; {SEED_NOTE}",
    log:
        f"{R}/logs/report/table2.log",
    conda:
        CONDA_ENV
    shell:
        "{params.py} report paper-table --kind table2 {params.entries} --out {params.tables}/table2_face "
        "--caption 'Table 2: jaw ablation on {params.ablation_subject}, held-out frames, face-region metrics "
        "(splits: {params.notes})' > {log} 2>&1"


rule table3:
    input:
        _cell_inputs(TABLE3_CELLS),
    output:
        csv=report(f"{T}/table3_novel_poses.csv", caption=f"{CAPTIONS}/table3.rst", category="Tables"),
        md=f"{T}/table3_novel_poses.md",
        tex=f"{T}/table3_novel_poses.tex",
    params:
        py=PY,
        tables=tables_dir,
        code=code_version("report_quality"),
        entries=_cell_args(TABLE3_CELLS),
        notes=f"{SPLIT_NOTES}; {SEED_NOTE}",
    log:
        f"{R}/logs/report/table3.log",
    conda:
        CONDA_ENV
    shell:
        "{params.py} report paper-table --kind table3 {params.entries} --out {params.tables}/table3_novel_poses "
        "--caption 'Table 3: novel poses of the same identity (held-out frames of every training subject; "
        "splits: {params.notes})' > {log} 2>&1"


rule table4:
    input:
        [p for _, paths in TABLE4_ROWS for p in paths],
    output:
        csv=report(f"{T}/table4_lipsync.csv", caption=f"{CAPTIONS}/table4.rst", category="Tables"),
        md=f"{T}/table4_lipsync.md",
        tex=f"{T}/table4_lipsync.tex",
    params:
        py=PY,
        tables=tables_dir,
        code=code_version("report_quality"),
        entries=" ".join(_entry(l, p) for l, p in TABLE4_ROWS),
        max_offset=_LipsyncConfig(**(EXP.get("lipsync") or {})).max_offset,
    log:
        f"{R}/logs/report/table4.log",
    conda:
        CONDA_ENV
    shell:
        "{params.py} report lipsync-table {params.entries} --out {params.tables}/table4_lipsync "
        "--caption 'Table 4: lip sync of each identity driven by another against the driver audio. LSE-D/C: "
        "SyncNet with syncnet_v2.model in the weights cache (n/a without it). AV offset and confidence: the rendered mouth "
        "opening (MediaPipe FaceMesh inner-lip gap / face height) against the audio RMS per frame, correlated at "
        "offsets of +-{params.max_offset} frames; AV offset = the best one, AV confidence = its correlation minus "
        "the median over offsets' > {log} 2>&1"


rule training_cost:
    input:
        COST_INPUTS,
    output:
        csv=report(f"{T}/training_cost.csv", caption=f"{CAPTIONS}/training_cost.rst", category="Tables"),
        md=f"{T}/training_cost.md",
        tex=f"{T}/training_cost.tex",
    params:
        py=PY,
        tables=tables_dir,
        code=code_version("report_quality"),
        runs=json.dumps(COST_RUNS),
        notes=f"{SPLIT_NOTES}; {SEED_NOTE}",
    log:
        f"{R}/logs/report/training_cost.log",
    conda:
        CONDA_ENV
    shell:
        "{params.py} report cost-table --runs '{params.runs}' --out {params.tables}/training_cost "
        "--caption '§3.3: training cost of one multi-identity model against one single-identity model per subject, "
        "with the held-out quality each reached (splits: {params.notes})' > {log} 2>&1"


rule fig7b:
    input:
        _cell_inputs(FIG7B_CELLS),
    output:
        csv=report(f"{T}/fig7b_novel_identity.csv", caption=f"{CAPTIONS}/fig7b_table.rst", category="Tables"),
        md=f"{T}/fig7b_novel_identity.md",
        tex=f"{T}/fig7b_novel_identity.tex",
        figure=report(f"{F}/fig7b_novel_identity.png", caption=f"{CAPTIONS}/fig7b.rst", category="Figures"),
    params:
        py=PY,
        tables=tables_dir,
        code=code_version("report_quality"),
        entries=_cell_args(FIG7B_CELLS),
        notes=SEED_NOTE,
    log:
        f"{R}/logs/report/fig7b.log",
    conda:
        CONDA_ENV
    shell:
        "{params.py} report novel-series {params.entries} --out {params.tables}/fig7b_novel_identity --figure {output.figure} "
        "--caption 'Fig. 7b: the novel identity from N seconds of video, held-out frames after the longest clip; "
        "{params.notes}' "
        "> {log} 2>&1"


rule identity_bleed:
    input:
        [f"{multi_eval_run(MAIN_SPLIT, k, s)}/metrics.csv" for s in TRAIN_SUBJECTS for k in BLEED_SEEDS]
        + [f"{single_eval_run('single_id', s, MAIN_SPLIT, k)}/metrics.csv"
           for s in TRAIN_SUBJECTS for k in BLEED_SEEDS],
        parts=[f"{R}/parts/{s}" for s in TRAIN_SUBJECTS],
    output:
        csv=report(f"{T}/identity_bleed.csv", caption=f"{CAPTIONS}/identity_bleed.rst", category="Tables"),
        md=f"{T}/identity_bleed.md",
        tex=f"{T}/identity_bleed.tex",
    params:
        py=PY,
        results=results_root,
        tables=tables_dir,
        code=code_version("report_quality"),
        seeds=", ".join(map(str, BLEED_SEEDS)),
        pairs=" ".join(f"--pair {s}={multi_eval_run(MAIN_SPLIT, k, s)},{single_eval_run('single_id', s, MAIN_SPLIT, k)}"
                       for s in TRAIN_SUBJECTS for k in BLEED_SEEDS),
    log:
        f"{R}/logs/report/identity_bleed.log",
    conda:
        CONDA_ENV
    shell:
        "{params.py} report bleed {params.pairs} --data-root {params.results} --out {params.tables}/identity_bleed "
        "--caption 'Identity bleed: per-part PSNR of held-out renders, multi-identity vs single-identity (main split, "
        "frames of seeds {params.seeds} pooled)' > {log} 2>&1"


rule orderings:
    input:
        **_orderings_inputs(),
    output:
        csv=report(f"{T}/orderings.csv", caption=f"{CAPTIONS}/orderings.rst", category="Tables"),
        md=f"{T}/orderings.md",
    params:
        py=PY,
        tables=tables_dir,
        code=code_version("report_quality"),
        args=" ".join(f"--{k} {v}" for k, v in _orderings_inputs().items()),
    log:
        f"{R}/logs/report/orderings.log",
    conda:
        CONDA_ENV
    shell:
        "{params.py} report orderings {params.args} --out {params.tables}/orderings > {log} 2>&1"


# ------------------------------------------------------------------------------------------------ figures
rule figure_novel_pose:
    input:
        lambda w: [f"{fig_column(row, w.subject)}/metrics.csv" for row in FIG_T3_ROWS],
    output:
        report(f"{F}/novel_pose/{{subject}}.png", caption=f"{CAPTIONS}/novel_pose.rst", category="Figures",
               subcategory="Novel poses (Fig. 4)"),
    params:
        py=PY,
        code=code_version("report_quality"),
        columns=lambda w: " ".join(f"--column '{TABLE3_LABELS[row]}={fig_column(row, w.subject)}'"
                                   for row in FIG_T3_ROWS),
        results=lambda w: data_root(FIG_T3_SPLIT),
    log:
        f"{R}/logs/report/figures/novel_pose_{{subject}}.log",
    conda:
        CONDA_ENV
    shell:
        "{params.py} report eval-grid --subject {wildcards.subject} {params.columns} --data-root {params.results} --rows 2 "
        "--out {output} > {log} 2>&1"


rule figure_cross_identity:
    input:
        [animation_path(m, "{subject}", "{driver}") for m in LIPSYNC_METHODS],
        frames=f"{R}/frames/{{driver}}",
    output:
        report(f"{F}/cross_identity/{{subject}}_as_{{driver}}.png", caption=f"{CAPTIONS}/cross_identity.rst",
               category="Figures", subcategory="Poses of another identity (Fig. 5)"),
    params:
        py=PY,
        code=code_version("report_quality"),
        columns=lambda w: " ".join(f"--column '{label}={animation_path(m, w.subject, w.driver)}'"
                                   for m, label in LIPSYNC_METHODS.items()),
    log:
        f"{R}/logs/report/figures/cross_{{subject}}_as_{{driver}}.log",
    conda:
        CONDA_ENV
    shell:
        "{params.py} report animation-grid --driver {wildcards.driver} --driver-frames {input.frames} {params.columns} "
        "--out {output} > {log} 2>&1"


rule figure_classes:
    input:
        [f"{ablation_eval(v)}/metrics.csv" for v in ("complete", "four_classes") if v in ABLATION_VARIANTS],
    output:
        report(f"{F}/fig3a_classes.png", caption=f"{CAPTIONS}/fig3a.rst", category="Figures"),
    params:
        py=PY,
        ablation_subject=ABLATION_SUBJECT,
        results=lambda w: data_root(FIG_ABL_SPLIT),
        code=code_version("report_quality"),
        columns=(f"--column '5 classes (ours)={ablation_eval('complete')}' "
                 f"--column '4 classes (w/o arms)={ablation_eval('four_classes')}'"),
    log:
        f"{R}/logs/report/figures/fig3a.log",
    conda:
        CONDA_ENV
    shell:
        "{params.py} report eval-grid --subject {params.ablation_subject} {params.columns} --data-root {params.results} --rows 3 "
        "--no-closeups --out {output} > {log} 2>&1"


rule figure_hands:
    input:
        [f"{ablation_eval(v)}/metrics.csv" for v in HAND_ABLATIONS + ["complete"]],
    output:
        report(f"{F}/fig3b_hands.png", caption=f"{CAPTIONS}/fig3b.rst", category="Figures"),
    params:
        py=PY,
        ablation_subject=ABLATION_SUBJECT,
        results=lambda w: data_root(FIG_ABL_SPLIT),
        code=code_version("report_quality"),
        columns=" ".join(f"--column '{TABLE1_LABELS[v]}={ablation_eval(v)}'" for v in HAND_ABLATIONS + ["complete"]),
    log:
        f"{R}/logs/report/figures/fig3b.log",
    conda:
        CONDA_ENV
    shell:
        "{params.py} report eval-grid --subject {params.ablation_subject} {params.columns} --data-root {params.results} --rows 2 "
        "--out {output} > {log} 2>&1"


rule figure_bleed:
    input:
        [f"{d}/metrics.csv" for d in (single_eval("single_id", "{subject}"), multi_eval(MULTI, "{subject}"))],
    output:
        report(f"{F}/identity_bleed/{{subject}}.png", caption=f"{CAPTIONS}/identity_bleed_figure.rst",
               category="Figures", subcategory="Identity bleed"),
    params:
        py=PY,
        results=results_root,
        code=code_version("report_quality"),
        columns=lambda w: (f"--column 'single-identity={single_eval('single_id', w.subject)}' "
                           f"--column 'multi-identity={multi_eval(MULTI, w.subject)}'"),
    log:
        f"{R}/logs/report/figures/bleed_{{subject}}.log",
    conda:
        CONDA_ENV
    shell:
        "{params.py} report eval-grid --subject {wildcards.subject} {params.columns} --data-root {params.results} --rows 2 "
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
    conda:
        CONDA_ENV
    shell:
        "cp {input} {output} 2> {log}"


rule tables:
    """Every experiment of the paper (docs/experiments.md) plus everything `all` builds."""
    input:
        all_targets(),
        experiment_targets(),
