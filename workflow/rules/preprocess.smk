# Per-subject preprocessing: decode -> matte -> keypoints -> SMPL-X fit -> part labels; train/test split.


rule decode:
    input:
        video=lambda w: video_path(w.subject),
    output:
        directory(f"{R}/frames/{{subject}}"),
    params:
        py=PY,
        code=code_version("decode"),
        failure=FAILURE_ARGS,
        options=lambda w: json.dumps(decode_section(w.subject), sort_keys=True),
    log:
        f"{R}/logs/decode/{{subject}}.log",
    benchmark:
        f"{R}/benchmarks/decode/{{subject}}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        CONDA_ENV
    shell:
        "{params.py} video decode --video {input.video:q} --out {output} --options '{params.options}' "
        "--subject {wildcards.subject} {params.failure} > {log} 2>&1"


rule matte:
    input:
        frames=f"{R}/frames/{{subject}}",
    output:
        directory(f"{R}/matte/{{subject}}"),
    params:
        py=PY,
        code=code_version("matte"),
        failure=FAILURE_ARGS,
        options=lambda w: json.dumps(matte_section(w.subject), sort_keys=True),
        backend=lambda w: matte_backend_identity(matte_section(w.subject)),  # rvm/auto: the weights file too
    log:
        f"{R}/logs/matte/{{subject}}.log",
    benchmark:
        f"{R}/benchmarks/matte/{{subject}}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        CONDA_ENV
    shell:
        "{params.py} preprocess matte --frames {input.frames} --out {output} --options '{params.options}' "
        "--subject {wildcards.subject} {params.failure} > {log} 2>&1"


rule keypoints:
    input:
        frames=f"{R}/frames/{{subject}}",
        video=lambda w: video_path(w.subject),
        openpose=openpose_input,
    output:
        f"{R}/keypoints/{{subject}}.npz",
    params:
        py=PY,
        code=code_version("keypoints"),
        failure=FAILURE_ARGS,
        openpose=lambda w: openpose_dir(w.subject),
        options=options("keypoints"),
    log:
        f"{R}/logs/keypoints/{{subject}}.log",
    benchmark:
        f"{R}/benchmarks/keypoints/{{subject}}.tsv"
    threads: 1
    conda:
        CONDA_ENV
    shell:
        "{params.py} preprocess keypoints --frames {input.frames} --video {input.video:q} --openpose {params.openpose:q} "
        "--out {output} --options '{params.options}' --subject {wildcards.subject} {params.failure} > {log} 2>&1"


rule fit:
    input:
        frames=f"{R}/frames/{{subject}}",
        keypoints=f"{R}/keypoints/{{subject}}.npz",
        model=body_model_path(),
    output:
        f"{R}/smplx/{{subject}}.npz",
    params:
        py=PY,
        code=code_version("fit"),
        failure=FAILURE_ARGS,
        options=options("fit"),
    log:
        f"{R}/logs/fit/{{subject}}.log",
    benchmark:
        f"{R}/benchmarks/fit/{{subject}}.tsv"
    threads: 1
    resources:
        mem_mb=6000,
    conda:
        CONDA_ENV
    shell:
        "{params.py} preprocess fit --frames {input.frames} --keypoints {input.keypoints} --model {input.model} "
        "--out {output} --options '{params.options}' --subject {wildcards.subject} {params.failure} > {log} 2>&1"


rule segment:
    input:
        frames=f"{R}/frames/{{subject}}",
        matte=f"{R}/matte/{{subject}}",
        smplx=f"{R}/smplx/{{subject}}.npz",
        model=body_model_path(),
    output:
        directory(f"{R}/parts/{{subject}}"),
    params:
        py=PY,
        code=code_version("segment"),
        failure=FAILURE_ARGS,
        options=options("segment"),
    log:
        f"{R}/logs/segment/{{subject}}.log",
    benchmark:
        f"{R}/benchmarks/segment/{{subject}}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        CONDA_ENV
    shell:
        "{params.py} preprocess segment --frames {input.frames} --matte {input.matte} --smplx {input.smplx} "
        "--model {input.model} --out {output} --options '{params.options}' --subject {wildcards.subject} {params.failure} "
        "> {log} 2>&1"


rule split:
    input:
        frames=f"{R}/frames/{{subject}}",
    output:
        f"{R}/splits/{{subject}}.json",
    params:
        py=PY,
        code=code_version("split"),
        failure=FAILURE_ARGS,
        options=options("split"),
    log:
        f"{R}/logs/split/{{subject}}.log",
    benchmark:
        f"{R}/benchmarks/split/{{subject}}.tsv"
    threads: 1
    conda:
        CONDA_ENV
    shell:
        "{params.py} preprocess split --frames {input.frames} --out {output} --options '{params.options}' "
        "--subject {wildcards.subject} {params.failure} > {log} 2>&1"


rule left_out:
    # Which subjects were left out (on_subject_failure: skip), their original file, stage, reason and fix; an
    # empty table says none was. Runs after every subject's preprocessing.
    input:
        [path for s in ALL_SUBJECTS for path in subject_data(s).values()],
        keypoints=expand(f"{R}/keypoints/{{subject}}.npz", subject=ALL_SUBJECTS),
    output:
        csv=f"{R}/tables/left_out.csv",
        md=f"{R}/tables/left_out.md",
    params:
        py=PY,
        code=source_digest(("failures.py", "names.py")),
        results=lambda w, output: str(Path(output.csv).parent.parent),  # R/tables/left_out.csv -> R
        subjects=" ".join(ALL_SUBJECTS),
        unusable=json.dumps({Path(p).name: why for p, why in UNUSABLE_VIDEOS.items()}, sort_keys=True),
    log:
        f"{R}/logs/report/left_out.log",
    threads: 1
    conda:
        CONDA_ENV
    shell:
        "{params.py} preprocess left-out --results {params.results} --subjects {params.subjects} --unusable {params.unusable:q} "
        "--out-csv {output.csv} --out-md {output.md} > {log} 2>&1"
