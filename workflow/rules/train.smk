# One multi-identity model per setting over all training subjects; novel identities are fine-tuned from the
# first setting (the full TalkinNeRF) on a few seconds of their video.


rule train:
    input:
        training_inputs(TRAIN_SUBJECTS),
    output:
        model=f"{R}/models/{{setting}}/model.pt",
        meta=f"{R}/models/{{setting}}/meta.json",
    params:
        launcher=TRAIN_LAUNCHER,
        results=results_root,
        code=code_version("train"),
        subjects=" ".join(TRAIN_SUBJECTS),
        options=lambda w: setting_options(w.setting),
        out=lambda w: f"{R}/models/{w.setting}",
    log:
        f"{R}/logs/train/{{setting}}.log",
    benchmark:
        f"{R}/benchmarks/train/{{setting}}.tsv"
    threads: TRAIN_THREADS
    resources:
        mem_mb=12000,
        gpu=TRAIN_GPUS,
    conda:
        CONDA_ENV
    shell:
        "{params.launcher} train fit --setting {wildcards.setting} --subjects {params.subjects} --data-root {params.results} "
        "--out {params.out} --options '{params.options}' > {log} 2>&1"


rule finetune:
    input:
        base=f"{R}/models/{SETTINGS[0]}/model.pt",
        data=lambda w: list(subject_data(w.subject).values()),
    output:
        model=f"{R}/models/novel/{{subject}}_{{secs}}s/model.pt",
        meta=f"{R}/models/novel/{{subject}}_{{secs}}s/meta.json",
    params:
        py=PY,
        results=results_root,
        code=code_version("finetune"),
        options=options("finetune"),
        out=lambda w: f"{R}/models/novel/{w.subject}_{w.secs}s",
    log:
        f"{R}/logs/finetune/{{subject}}_{{secs}}s.log",
    benchmark:
        f"{R}/benchmarks/finetune/{{subject}}_{{secs}}s.tsv"
    threads: TRAIN_THREADS
    resources:
        mem_mb=8000,
        gpu=min(TRAIN_GPUS, 1),
    conda:
        CONDA_ENV
    shell:
        "{params.py} train finetune --base {input.base} --subject {wildcards.subject} --seconds {wildcards.secs} "
        "--data-root {params.results} --out {params.out} --options '{params.options}' > {log} 2>&1"
