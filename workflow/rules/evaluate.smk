# Held-out rendering and metrics per (model, subject); preprocessing accuracy against the demo's ground truth;
# cross-subject animation.


rule evaluate_render:
    input:
        model=f"{R}/models/{{setting}}/model.pt",
        data=lambda w: list(subject_data(w.subject).values()),
    output:
        metrics=f"{R}/eval/{{setting}}/{{subject}}/metrics.csv",
        compare=f"{R}/eval/{{setting}}/{{subject}}/compare.png",
        video=f"{R}/eval/{{setting}}/{{subject}}/render.mp4",
    params:
        py=PY,
        results=results_root,
        code=code_version("evaluate_render"),
        options=options("evaluate"),
        out=lambda w: f"{R}/eval/{w.setting}/{w.subject}",
    log:
        f"{R}/logs/evaluate/{{setting}}/{{subject}}.log",
    benchmark:
        f"{R}/benchmarks/evaluate/{{setting}}/{{subject}}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        CONDA_ENV
    shell:
        "{params.py} evaluate render --model {input.model} --subject {wildcards.subject} --data-root {params.results} "
        "--out {params.out} --options '{params.options}' > {log} 2>&1"


use rule evaluate_render as evaluate_novel with:
    input:
        model=f"{R}/models/novel/{{subject}}_{{secs}}s/model.pt",
        data=lambda w: list(subject_data(w.subject).values()),
    output:
        metrics=f"{R}/eval/novel_{{secs}}s/{{subject}}/metrics.csv",
        compare=f"{R}/eval/novel_{{secs}}s/{{subject}}/compare.png",
        video=f"{R}/eval/novel_{{secs}}s/{{subject}}/render.mp4",
    params:
        code=code_version("evaluate_novel"),
        options=options("evaluate"),
        out=lambda w: f"{R}/eval/novel_{w.secs}s/{w.subject}",
    log:
        f"{R}/logs/evaluate/novel_{{secs}}s/{{subject}}.log",
    benchmark:
        f"{R}/benchmarks/evaluate/novel_{{secs}}s/{{subject}}.tsv"


rule evaluate_matte_backends:
    input:
        gt=f"{RES}/demo/{{subject}}/gt",
        frames=f"{R}/frames/{{subject}}",
    output:
        f"{R}/eval/matte_backends/{{subject}}.csv",
    params:
        py=PY,
        code=code_version("evaluate_matte_backends"),
        options=json.dumps(DEMO_MATTE, sort_keys=True),  # the demo subjects' matte options (backend replaced)
        backends=" ".join(OTHER_MATTE_BACKENDS),
        rvm=matte_backend_identity({**DEMO_MATTE, "backend": "rvm"}),
    log:
        f"{R}/logs/evaluate_matte_backends/{{subject}}.log",
    benchmark:
        f"{R}/benchmarks/evaluate_matte_backends/{{subject}}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        CONDA_ENV
    shell:
        "{params.py} evaluate matte-backends --subject {wildcards.subject} --gt {input.gt} --frames {input.frames} "
        "--backends {params.backends} --options '{params.options}' --out {output} > {log} 2>&1"


rule evaluate_preprocess:
    input:
        gt=f"{RES}/demo/{{subject}}/gt",
        frames=f"{R}/frames/{{subject}}",
        matte=f"{R}/matte/{{subject}}",
        matte_backends=f"{R}/eval/matte_backends/{{subject}}.csv",
        keypoints=f"{R}/keypoints/{{subject}}.npz",
        smplx=f"{R}/smplx/{{subject}}.npz",
        parts=f"{R}/parts/{{subject}}",
    output:
        f"{R}/eval/preprocess/{{subject}}.csv",
    params:
        py=PY,
        code=code_version("evaluate_preprocess"),
    log:
        f"{R}/logs/evaluate_preprocess/{{subject}}.log",
    benchmark:
        f"{R}/benchmarks/evaluate_preprocess/{{subject}}.tsv"
    threads: 1
    conda:
        CONDA_ENV
    shell:
        "{params.py} evaluate preprocess --subject {wildcards.subject} --gt {input.gt} --frames {input.frames} "
        "--matte {input.matte} --matte-backends {input.matte_backends} --keypoints {input.keypoints} "
        "--smplx {input.smplx} --parts {input.parts} --out {output} > {log} 2>&1"


rule animate:
    input:
        model=f"{R}/models/{{setting}}/model.pt",
        data=lambda w: list(subject_data(w.subject).values()),
        motion=f"{R}/smplx/{{driver}}.npz",
    output:
        f"{R}/animate/{{setting}}/{{subject}}_as_{{driver}}.mp4",
    params:
        py=PY,
        results=results_root,
        code=code_version("animate"),
        options=options("animation"),
    log:
        f"{R}/logs/animate/{{setting}}/{{subject}}_as_{{driver}}.log",
    benchmark:
        f"{R}/benchmarks/animate/{{setting}}/{{subject}}_as_{{driver}}.tsv"
    threads: 1
    conda:
        CONDA_ENV
    shell:
        "{params.py} evaluate animate --model {input.model} --subject {wildcards.subject} --motion {input.motion} "
        "--data-root {params.results} --out {output} --options '{params.options}' > {log} 2>&1"
