# The embedded default: the open body model built from Anny, and synthetic talking subjects with ground truth.


rule body_model:
    output:
        f"{RES}/body/SMPLX_OPEN_TALKINNERF.npz",
    params:
        py=PY,
        code=code_version("body_model"),
    log:
        f"{R}/logs/body_model.log",
    benchmark:
        f"{R}/benchmarks/body_model.tsv"
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        CONDA_ENV
    shell:
        "{params.py} body build-open-model {output} > {log} 2>&1"


rule demo_synthesize:
    output:
        video=f"{RES}/demo/{{subject}}.mp4",
        gt=directory(f"{RES}/demo/{{subject}}/gt"),
        openpose=directory(f"{RES}/demo/{{subject}}/openpose"),
    params:
        py=PY,
        code=code_version("demo_synthesize"),
        options=demo_subject_options,
    log:
        f"{R}/logs/demo_synthesize/{{subject}}.log",
    benchmark:
        f"{R}/benchmarks/demo_synthesize/{{subject}}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        CONDA_ENV
    shell:
        "{params.py} demo synthesize --subject {wildcards.subject} --out-video {output.video} "
        "--options '{params.options}' > {log} 2>&1"


rule demo_contact_sheet:
    input:
        videos=expand(f"{RES}/demo/{{subject}}.mp4", subject=DEMO_SUBJECTS + DEMO_NOVEL),
        gt=expand(f"{RES}/demo/{{subject}}/gt", subject=DEMO_SUBJECTS + DEMO_NOVEL),
    output:
        f"{R}/figures/demo_contact_sheet.png",
    params:
        py=PY,
        code=code_version("demo_contact_sheet"),
        subjects=" ".join(DEMO_SUBJECTS + DEMO_NOVEL),
        demo_dir=lambda w, input: str(Path(input.videos[0]).parent),  # resources/demo
    log:
        f"{R}/logs/demo_contact_sheet.log",
    benchmark:
        f"{R}/benchmarks/demo_contact_sheet.tsv"
    threads: 1
    conda:
        CONDA_ENV
    shell:
        "{params.py} demo contact-sheet --demo-dir {params.demo_dir} --subjects {params.subjects} --out {output} > {log} 2>&1"
