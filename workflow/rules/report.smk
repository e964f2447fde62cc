# Tables (pandas -> CSV + Markdown) and figures from every evaluation output.


rule report_quality:
    input:
        expand(f"{R}/eval/{{setting}}/{{subject}}/metrics.csv", setting=SETTINGS, subject=TRAIN_SUBJECTS),
    output:
        csv=f"{R}/tables/quality.csv",
        md=f"{R}/tables/quality.md",
        figure=f"{R}/figures/quality.png",
    params:
        code=code_version("report_quality"),
    log:
        f"{R}/logs/report/quality.log",
    benchmark:
        f"{R}/benchmarks/report/quality.tsv"
    threads: 1
    shell:
        "{PY} report quality --eval-root {R}/eval --settings {SETTINGS} --subjects {TRAIN_SUBJECTS} "
        "--out-csv {output.csv} --out-md {output.md} --out-figure {output.figure} > {log} 2>&1"


rule report_novel:
    input:
        expand(f"{R}/eval/novel_{{secs}}s/{{subject}}/metrics.csv", secs=FINETUNE_SECONDS, subject=NOVEL_SUBJECTS),
    output:
        csv=f"{R}/tables/novel.csv",
        md=f"{R}/tables/novel.md",
    params:
        code=code_version("report_novel"),
    log:
        f"{R}/logs/report/novel.log",
    benchmark:
        f"{R}/benchmarks/report/novel.tsv"
    threads: 1
    shell:
        "{PY} report quality --eval-root {R}/eval --settings "
        + " ".join(f"novel_{s}s" for s in FINETUNE_SECONDS)
        + " --subjects {NOVEL_SUBJECTS} --out-csv {output.csv} --out-md {output.md} > {log} 2>&1"


rule report_preprocess:
    input:
        expand(f"{R}/eval/preprocess/{{subject}}.csv", subject=DEMO_SUBJECTS + DEMO_NOVEL),
    output:
        csv=f"{R}/tables/preprocess.csv",
        md=f"{R}/tables/preprocess.md",
    params:
        code=code_version("report_preprocess"),
    log:
        f"{R}/logs/report/preprocess.log",
    benchmark:
        f"{R}/benchmarks/report/preprocess.tsv"
    threads: 1
    shell:
        "{PY} report concat --inputs {input} --out-csv {output.csv} --out-md {output.md} > {log} 2>&1"
