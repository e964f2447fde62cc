# Drive every trained avatar with every motion: drop-in motions (`motions_dir`) converted into our motion format,
# driving videos (`drivers_dir`) decoded and fitted in their own namespace (results/drivers/, never training
# subjects), renders with the motion's audio, and turntables. Target: `snakemake --cores 2 animate_all`.


rule motion_convert:
    input:
        source=lambda w: MOTION_FILES[w.motion],
        folder_files=motion_folder_files,
        audio=motion_source_audio,
    output:
        npz=f"{R}/motions/{{motion}}.npz",
        json=f"{R}/motions/{{motion}}.json",
    wildcard_constraints:
        motion=DROPIN_MOTION_RE,
    params:
        py=PY,
        code=MOTION_CODE,
        fps=MOTION_FPS,
        failure=MOTION_FAILURE_ARGS,
    log:
        f"{R}/logs/motions/{{motion}}.log",
    benchmark:
        f"{R}/benchmarks/motions/{{motion}}.tsv"
    threads: 1
    conda:
        CONDA_ENV
    shell:
        "{params.py} motion convert {input.source:q} {output.npz} --fps {params.fps} --subject {wildcards.motion} "
        "{params.failure} > {log} 2>&1"


rule motion_audio:
    input:
        lambda w: MOTION_AUDIO[w.motion],
    output:
        f"{R}/motions/{{motion}}.wav",
    wildcard_constraints:
        motion=AUDIO_MOTION_RE,
    params:
        py=PY,
        code=AUDIO_CODE,
    log:
        f"{R}/logs/motions/{{motion}}.audio.log",
    benchmark:
        f"{R}/benchmarks/motions/{{motion}}.audio.tsv"
    threads: 1
    conda:
        CONDA_ENV
    shell:
        "{params.py} video copy-audio --wav {input:q} --out {output} > {log} 2>&1"


use rule decode as driver_decode with:
    input:
        video=lambda w: DRIVER_VIDEOS[w.subject],
    output:
        directory(f"{R}/drivers/frames/{{subject}}"),
    params:
        failure=DRIVER_FAILURE_ARGS,
    log:
        f"{R}/logs/drivers/decode/{{subject}}.log",
    benchmark:
        f"{R}/benchmarks/drivers/decode/{{subject}}.tsv"


use rule keypoints as driver_keypoints with:
    input:
        frames=f"{R}/drivers/frames/{{subject}}",
        video=lambda w: DRIVER_VIDEOS[w.subject],
        openpose=driver_openpose_input,
    output:
        f"{R}/drivers/keypoints/{{subject}}.npz",
    params:
        failure=DRIVER_FAILURE_ARGS,
        openpose=lambda w: driver_openpose_dir(w.subject),
    log:
        f"{R}/logs/drivers/keypoints/{{subject}}.log",
    benchmark:
        f"{R}/benchmarks/drivers/keypoints/{{subject}}.tsv"


use rule fit as driver_fit with:
    input:
        frames=f"{R}/drivers/frames/{{subject}}",
        keypoints=f"{R}/drivers/keypoints/{{subject}}.npz",
        model=body_model_path(),
    output:
        f"{R}/drivers/smplx/{{subject}}.npz",
    params:
        failure=DRIVER_FAILURE_ARGS,
    log:
        f"{R}/logs/drivers/fit/{{subject}}.log",
    benchmark:
        f"{R}/benchmarks/drivers/fit/{{subject}}.tsv"


rule driver_motion:
    # the driver's fit read by the "ours" reader: its fps and audio.wav come from results/drivers/frames/<drv>/
    input:
        smplx=f"{R}/drivers/smplx/{{drv}}.npz",
        frames=f"{R}/drivers/frames/{{drv}}",
    output:
        npz=f"{R}/motions/driver_{{drv}}.npz",
        json=f"{R}/motions/driver_{{drv}}.json",
    wildcard_constraints:
        drv=DRIVER_RE,
    params:
        py=PY,
        code=MOTION_CODE,
        fps=MOTION_FPS,
        failure=MOTION_FAILURE_ARGS,
    log:
        f"{R}/logs/motions/driver_{{drv}}.log",
    benchmark:
        f"{R}/benchmarks/motions/driver_{{drv}}.tsv"
    threads: 1
    conda:
        CONDA_ENV
    shell:
        "{params.py} motion convert {input.smplx} {output.npz} --layout ours --fps {params.fps} "
        "--subject driver_{wildcards.drv} {params.failure} > {log} 2>&1"


rule animate_motion:
    input:
        model=f"{R}/models/{{setting}}/model.pt",
        data=lambda w: list(subject_data(w.subject).values()),
        motion=f"{R}/motions/{{motion}}.npz",
        audio=motion_wav_input,
    output:
        video=f"{R}/animate/{{setting}}/{{subject}}/{{motion}}.mp4",
        json=f"{R}/animate/{{setting}}/{{subject}}/{{motion}}.json",
    wildcard_constraints:
        motion=DROPIN_MOTION_RE,
    params:
        py=PY,
        results=results_root,
        code=ANIMATE_CODE,
        options=options("animation"),
    log:
        f"{R}/logs/animate/{{setting}}/{{subject}}/{{motion}}.log",
    benchmark:
        f"{R}/benchmarks/animate/{{setting}}/{{subject}}/{{motion}}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        CONDA_ENV
    shell:
        "{params.py} evaluate animate --model {input.model} --subject {wildcards.subject} --motion {input.motion} "
        "--data-root {params.results} --out {output.video} --json {output.json} --audio auto "
        "--options '{params.options}' > {log} 2>&1"


rule animate_driver:
    input:
        model=f"{R}/models/{{setting}}/model.pt",
        data=lambda w: list(subject_data(w.subject).values()),
        motion=f"{R}/motions/driver_{{drv}}.npz",
        frames=f"{R}/drivers/frames/{{drv}}",
    output:
        video=f"{R}/animate/{{setting}}/{{subject}}/driver_{{drv}}.mp4",
        json=f"{R}/animate/{{setting}}/{{subject}}/driver_{{drv}}.json",
        side=f"{R}/animate/{{setting}}/{{subject}}/driver_{{drv}}_side_by_side.mp4",
    wildcard_constraints:
        drv=DRIVER_RE,
    params:
        py=PY,
        results=results_root,
        code=ANIMATE_CODE,
        options=options("animation"),
    log:
        f"{R}/logs/animate/{{setting}}/{{subject}}/driver_{{drv}}.log",
    benchmark:
        f"{R}/benchmarks/animate/{{setting}}/{{subject}}/driver_{{drv}}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        CONDA_ENV
    shell:
        "{params.py} evaluate animate --model {input.model} --subject {wildcards.subject} --motion {input.motion} "
        "--data-root {params.results} --out {output.video} --json {output.json} --audio auto "
        "--side-by-side {output.side} --driver-frames {input.frames} --options '{params.options}' > {log} 2>&1"


rule turntable:
    input:
        model=f"{R}/models/{{setting}}/model.pt",
        data=lambda w: list(subject_data(w.subject).values()),
    output:
        video=f"{R}/turntable/{{setting}}/{{subject}}.mp4",
        json=f"{R}/turntable/{{setting}}/{{subject}}.json",
    params:
        py=PY,
        results=results_root,
        code=TURNTABLE_CODE,
        options=options("turntable"),
    log:
        f"{R}/logs/turntable/{{setting}}/{{subject}}.log",
    benchmark:
        f"{R}/benchmarks/turntable/{{setting}}/{{subject}}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        CONDA_ENV
    shell:
        "{params.py} evaluate turntable --model {input.model} --subject {wildcards.subject} "
        "--data-root {params.results} --out {output.video} --json {output.json} --options '{params.options}' "
        "> {log} 2>&1"


rule mesh:
    # the canonical mesh (marching cubes of the canonical density, vertex colours; docs/motion.md, Mesh export)
    input:
        model=f"{R}/models/{{setting}}/model.pt",
        data=lambda w: list(subject_data(w.subject).values()),
    output:
        mesh=f"{R}/mesh/{{setting}}/{{subject}}/canonical.ply",
        json=f"{R}/mesh/{{setting}}/{{subject}}/canonical.json",
    params:
        py=PY,
        results=results_root,
        code=MESH_CODE,
        options=options("mesh"),
        out=lambda w, output: str(Path(output.mesh).parent),
    log:
        f"{R}/logs/mesh/{{setting}}/{{subject}}.log",
    benchmark:
        f"{R}/benchmarks/mesh/{{setting}}/{{subject}}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        CONDA_ENV
    shell:
        "{params.py} evaluate mesh --model {input.model} --subject {wildcards.subject} --data-root {params.results} "
        "--out {params.out} --format ply --options '{params.options}' > {log} 2>&1"


rule animate_all:
    """Every trained subject of every setting under every motion (motions_dir) and driving video (drivers_dir),
    with the motion's audio (drivers also side by side), a turntable and the canonical mesh of each
    (docs/motion.md)."""
    input:
        animate_targets(),
