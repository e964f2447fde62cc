# Tables (pandas -> CSV + Markdown) and figures from every evaluation output.


rule report_quality:
    input:
        expand(f"{R}/eval/{{setting}}/{{subject}}/metrics.csv", setting=SETTINGS, subject=TRAIN_SUBJECTS),
    output:
        csv=report(f"{R}/tables/quality.csv", caption="../report/quality.rst", category="Tables"),
        md=f"{R}/tables/quality.md",
        figure=report(f"{R}/figures/quality.png", caption="../report/quality.rst", category="Figures"),
    params:
        py=PY,
        results=results_root,
        settings=SETTINGS,
        train_subjects=TRAIN_SUBJECTS,
        code=code_version("report_quality"),
    log:
        f"{R}/logs/report/quality.log",
    benchmark:
        f"{R}/benchmarks/report/quality.tsv"
    threads: 1
    conda:
        CONDA_ENV
    shell:
        "{params.py} report quality --eval-root {params.results}/eval --settings {params.settings} --subjects {params.train_subjects} "
        "--out-csv {output.csv} --out-md {output.md} --out-figure {output.figure} > {log} 2>&1"


rule report_novel:
    input:
        expand(f"{R}/eval/novel_{{secs}}s/{{subject}}/metrics.csv", secs=FINETUNE_SECONDS, subject=NOVEL_SUBJECTS),
    output:
        csv=report(f"{R}/tables/novel.csv", caption="../report/novel.rst", category="Tables"),
        md=f"{R}/tables/novel.md",
    params:
        py=PY,
        results=results_root,
        novel_subjects=NOVEL_SUBJECTS,
        code=code_version("report_novel"),
    log:
        f"{R}/logs/report/novel.log",
    benchmark:
        f"{R}/benchmarks/report/novel.tsv"
    threads: 1
    conda:
        CONDA_ENV
    shell:
        "{params.py} report quality --eval-root {params.results}/eval --settings "
        + " ".join(f"novel_{s}s" for s in FINETUNE_SECONDS)
        + " --subjects {params.novel_subjects} --out-csv {output.csv} --out-md {output.md} > {log} 2>&1"


rule report_preprocess:
    input:
        expand(f"{R}/eval/preprocess/{{subject}}.csv", subject=DEMO_SUBJECTS + DEMO_NOVEL),
    output:
        csv=report(f"{R}/tables/preprocess.csv", caption="../report/preprocess.rst", category="Tables"),
        md=f"{R}/tables/preprocess.md",
    params:
        py=PY,
        code=code_version("report_preprocess"),
    log:
        f"{R}/logs/report/preprocess.log",
    benchmark:
        f"{R}/benchmarks/report/preprocess.tsv"
    threads: 1
    conda:
        CONDA_ENV
    shell:
        "{params.py} report concat --inputs {input} --out-csv {output.csv} --out-md {output.md} > {log} 2>&1"


rule subject_sheet:
    input:
        frames=f"{R}/frames/{{subject}}",
        matte=f"{R}/matte/{{subject}}",
        keypoints=f"{R}/keypoints/{{subject}}.npz",
        smplx=f"{R}/smplx/{{subject}}.npz",
        parts=f"{R}/parts/{{subject}}",
        split=f"{R}/splits/{{subject}}.json",
        model=body_model_path(),
    output:
        report(f"{R}/figures/subjects/{{subject}}.png", caption="../report/subject_sheet.rst",
               category="Preprocessing"),
    params:
        py=PY,
        code=code_version("subject_sheet"),
        keypoints_backend=(config.get("keypoints") or {}).get("backend", "default"),
    log:
        f"{R}/logs/report/subject_sheet/{{subject}}.log",
    benchmark:
        f"{R}/benchmarks/report/subject_sheet/{{subject}}.tsv"
    threads: 1
    resources:
        mem_mb=3000,
    conda:
        CONDA_ENV
    shell:
        "{params.py} report subject-sheet --subject {wildcards.subject} --frames {input.frames} --matte {input.matte} "
        "--keypoints {input.keypoints} --smplx {input.smplx} --parts {input.parts} --split {input.split} "
        "--model {input.model} "
        "--keypoints-backend {params.keypoints_backend} --out {output} > {log} 2>&1"
