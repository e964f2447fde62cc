# Subjects, paths and option helpers shared by every rule file.

import re
import sys

VIDEO_EXTENSIONS = ("mp4", "mov", "mkv", "avi", "webm")
R = config["results_dir"]
RES = config["resources_dir"]
# Every rule calls the talkinnerf CLI with the interpreter running Snakemake, so `.venv/bin/snakemake` works
# without activating the venv.
PY = f"{sys.executable} -m talkinnerf"
# Multi-GPU training (clusters): the train rule runs under torchrun with one process per GPU.
TRAIN_GPUS = int(config.get("train_gpus", 0))
# On a CPU one thread per training job is faster than two contending ones (docs/model.md); config sets it.
TRAIN_THREADS = int((config.get("train") or {}).get("threads") or workflow.cores)
TRAIN_LAUNCHER = (
    f"{sys.executable} -m torch.distributed.run --standalone --nproc_per_node {TRAIN_GPUS} -m talkinnerf"
    if TRAIN_GPUS > 1
    else PY
)


def _user_videos():
    """Map subject name -> video path for every video in the drop-in folder. Any file name works: names that are
    not path-safe become a stable slug (talkinnerf.names); a file whose name cannot be used (it collides with a
    demo subject or another file) is reported once, by name, here, and everything else runs."""
    folder = Path(config["videos_dir"])
    files = []
    if folder.is_dir():
        files = [p for p in sorted(folder.iterdir())
                 if p.is_file() and p.suffix.lower().lstrip(".") in VIDEO_EXTENSIONS and not p.name.startswith("._")]
    reserved = {s["name"] for s in DEMO["subjects"] + DEMO["novel"]} if DEMO["enabled"] else set()
    videos, unusable = subject_names(files, reserved)
    for path, why in unusable.items():
        print(f"talkinnerf: not using {path!r}: {why}", file=sys.stderr)
    for name, path in videos.items():
        if name != Path(path).stem:
            print(f"talkinnerf: subject {name} <- {Path(path).name!r}", file=sys.stderr)
    return videos, unusable


from talkinnerf.names import subject_names  # noqa: E402

DEMO = config["demo"]
USER_VIDEOS, UNUSABLE_VIDEOS = _user_videos()
# the original file stem of each drop-in subject (novel_subjects and openpose/ folders are named by it)
VIDEO_STEMS = {name: Path(path).stem for name, path in USER_VIDEOS.items()}
DEMO_SUBJECTS = [s["name"] for s in DEMO["subjects"]] if DEMO["enabled"] else []
DEMO_NOVEL = [s["name"] for s in DEMO["novel"]] if DEMO["enabled"] else []
_novel_names = set(config.get("novel_subjects", []))
NOVEL_SUBJECTS = DEMO_NOVEL + [s for s in USER_VIDEOS if s in _novel_names or VIDEO_STEMS[s] in _novel_names]
TRAIN_SUBJECTS = DEMO_SUBJECTS + [s for s in USER_VIDEOS if s not in NOVEL_SUBJECTS]
ALL_SUBJECTS = TRAIN_SUBJECTS + NOVEL_SUBJECTS
if not TRAIN_SUBJECTS:
    raise ValueError(f"no training subjects: put videos in {config['videos_dir']} or enable the demo in config.yaml")
# skip: a subject whose preprocessing fails is left out (failure markers, talkinnerf.failures) and the rest
# trains; fail: its job fails, and with --keep-going every all-subject job waits for it
ON_FAILURE = config.get("on_subject_failure", "skip")
FAILURE_ARGS = f"--on-failure {ON_FAILURE} --results {R}"

SETTINGS = list(config["settings"])  # trained multi-identity models: name -> model option overrides
if any(s.startswith("novel") for s in SETTINGS):
    raise ValueError(f"setting names may not start with 'novel' (reserved for fine-tuned identities): {SETTINGS}")
FINETUNE_SECONDS = list(config["finetune_seconds"])


wildcard_constraints:
    subject="[A-Za-z0-9_.-]+",
    setting="|".join(re.escape(s) for s in SETTINGS),
    secs="[0-9]+",


# The conda environment of every rule (`--software-deployment-method conda`, e.g. on a cluster); relative to the
# rule files in workflow/rules/. Without that flag the rules run in the environment running Snakemake.
CONDA_ENV = "../../envs/talkinnerf.yaml"


def demo_entry(subject):
    """The demo section's entry of a demo subject (training or novel): its name and render overrides."""
    return next(s for s in DEMO["subjects"] + DEMO["novel"] if s["name"] == subject)


def demo_subject_options(wildcards):
    entry = demo_entry(wildcards.subject)
    return options("demo_render", **{k: v for k, v in entry.items() if k != "name"})


def is_demo(subject):
    return subject in DEMO_SUBJECTS or subject in DEMO_NOVEL


def video_path(subject):
    return f"{RES}/demo/{subject}.mp4" if is_demo(subject) else USER_VIDEOS[subject]


def openpose_dir(subject):
    if is_demo(subject):
        return f"{RES}/demo/{subject}/openpose"
    return str(Path(config["videos_dir"]) / VIDEO_STEMS[subject] / "openpose")


def openpose_input(wildcards):
    """Declare the OpenPose folder as input when it exists (so edits rerun the stage); a missing folder is
    reported by the keypoints job of that subject alone, not by the whole DAG."""
    folder = openpose_dir(wildcards.subject)
    return [folder] if is_demo(wildcards.subject) or Path(folder).is_dir() else []


def options(section, **extra):
    """A config section as the JSON string every CLI stage takes with --options."""
    merged = dict(config.get(section) or {})
    merged.update(extra)
    return json.dumps(merged, sort_keys=True)


from talkinnerf.evaluate.preprocess_accuracy import MATTE_BACKENDS  # noqa: E402
from talkinnerf.preprocess.matte import backend_identity as matte_backend_identity  # noqa: E402
from talkinnerf.evaluate.syncnet import weights_identity as syncnet_weights_identity  # noqa: E402


def decode_section(subject):
    """A subject's decode options: the `decode` section; a demo subject is decoded at its own render resolution
    (upsampling the synthetic video would cost renders without adding detail), unless `demo.decode` says more."""
    section = dict(config.get("decode") or {})
    if is_demo(subject):
        from talkinnerf.demo.options import SynthesizeOptions

        render = {**(config.get("demo_render") or {}), **demo_entry(subject)}
        section["size"] = int(render.get("resolution", SynthesizeOptions.resolution))
        section.update(DEMO.get("decode") or {})
    return section


def matte_section(subject):
    """A subject's matte options: the `matte` section, with `demo.matte` over it for the demo's subjects (their
    static synthetic backdrops suit `background`; drop-in videos get `auto`: rvm with its weights, else mediapipe)."""
    section = dict(config.get("matte") or {})
    if is_demo(subject):
        section.update(DEMO.get("matte") or {})
    return section


DEMO_MATTE = {**(config.get("matte") or {}), **(DEMO.get("matte") or {})}
# the matte backends compared on the demo besides the one the matte rule runs (that one is scored once, there)
OTHER_MATTE_BACKENDS = [b for b in MATTE_BACKENDS if b != matte_backend_identity(DEMO_MATTE).split(":")[0]]


def body_model_path():
    path = config["body_model"]["path"]
    return path if path else f"{RES}/body/SMPLX_OPEN_TALKINNERF.npz"


def setting_options(setting):
    """The train section with this setting's model overrides applied, as --options JSON."""
    return json.dumps(setting_train_section(config, setting), sort_keys=True)


def subject_data(subject):
    return {
        "frames": f"{R}/frames/{subject}",
        "matte": f"{R}/matte/{subject}",
        "parts": f"{R}/parts/{subject}",
        "smplx": f"{R}/smplx/{subject}.npz",
        "split": f"{R}/splits/{subject}.json",
    }


def all_targets():
    targets = [f"{R}/tables/quality.csv", f"{R}/tables/quality.md"]
    if DEMO_SUBJECTS or DEMO_NOVEL:
        targets += [f"{R}/tables/preprocess.csv", f"{R}/figures/demo_contact_sheet.png"]
    if NOVEL_SUBJECTS:
        targets += [f"{R}/tables/novel.csv"]
    targets += [f"{R}/figures/subjects/{s}.png" for s in ALL_SUBJECTS]  # one preprocessing sheet per subject
    targets += [f"{R}/tables/left_out.csv", f"{R}/tables/left_out.md"]  # subjects left out, file, reason, fix
    if len(TRAIN_SUBJECTS) > 1 and config["animate"]:
        targets += [f"{R}/animate/{SETTINGS[0]}/{TRAIN_SUBJECTS[0]}_as_{TRAIN_SUBJECTS[1]}.mp4"]
    return targets


# The package modules each rule runs. Their digest (talkinnerf.provenance) is one of the rule's params, so a
# changed algorithm reruns the rule and everything downstream, as a changed option does; comments do not count.
RULE_CODE = {
    "body_model": ("body",),
    "demo_synthesize": ("demo", "raster", "body", "camera.py", "video", "evaluate/media.py"),
    "demo_contact_sheet": ("demo",),
    "decode": ("video",),
    "matte": ("preprocess/matte", "preprocess/rvm.py", "video"),
    "keypoints": ("preprocess/keypoints", "video/decode.py"),
    "fit": ("preprocess/fit.py", "preprocess/priors.py", "preprocess/smoothing.py", "body", "camera.py"),
    "segment": ("preprocess/segment.py", "raster", "body"),
    "split": ("preprocess/split.py",),
    "evaluate_preprocess": ("evaluate/preprocess_accuracy.py",),
    "evaluate_matte_backends": ("evaluate/preprocess_accuracy.py", "preprocess/matte", "preprocess/rvm.py"),
    "train": ("nerf", "train"),
    "finetune": ("nerf", "train"),
    "evaluate_render": ("evaluate", "nerf", "train/data.py", "train/rays.py"),
    "evaluate_novel": ("evaluate", "nerf", "train/data.py", "train/rays.py"),
    "animate": ("evaluate", "nerf", "train/data.py", "train/rays.py"),
    "report_quality": ("report",),
    "report_novel": ("report",),
    "report_preprocess": ("report",),
    "subject_sheet": ("report/subject_sheet.py", "demo/contact_sheet.py", "raster", "body", "video/frames.py"),
}
from talkinnerf.provenance import source_digest  # noqa: E402

_CODE_DIGESTS = {rule: source_digest(parts) for rule, parts in RULE_CODE.items()}


def code_version(rule):
    return _CODE_DIGESTS[rule]


def _say_left_out():
    """End of a run: name every subject that was left out, its file, why, and what to do (also in
    tables/left_out.md), and every file in the drop-in folder that could not be used at all."""
    from talkinnerf.failures import describe, left_out_subjects

    for path, why in UNUSABLE_VIDEOS.items():
        print(f"talkinnerf: not used: {path!r}: {why}", file=sys.stderr)
    left = left_out_subjects(R, ALL_SUBJECTS)
    if left:
        print(f"talkinnerf: {len(left)} subject(s) left out of training, evaluation and tables "
              f"(on_subject_failure: {ON_FAILURE}):", file=sys.stderr)
        for rec in left.values():
            print(f"  {describe(rec)}", file=sys.stderr)
    say_motions_left_out()   # workflow/rules/animate_common.smk: motions and driving videos left out


onsuccess:
    _say_left_out()


onerror:
    _say_left_out()


def training_inputs(subjects):
    return [path for s in subjects for path in subject_data(s).values()]


def results_root(wildcards):
    """The results folder, for rules whose commands read several subjects' data under it (--data-root). A
    function, not the string, for `snakemake --lint`: the cluster profile assumes a shared filesystem, where
    this is the same path on every node."""
    return R
