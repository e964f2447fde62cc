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
    """Map subject name -> video path for every video in the drop-in folder."""
    folder = Path(config["videos_dir"])
    videos = {}
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix.lower().lstrip(".") in VIDEO_EXTENSIONS:
                if path.stem in videos:
                    raise ValueError(f"two videos for subject {path.stem!r} in {folder}: {videos[path.stem]} and {path}")
                videos[path.stem] = str(path)
    return videos


USER_VIDEOS = _user_videos()
DEMO = config["demo"]
DEMO_SUBJECTS = [s["name"] for s in DEMO["subjects"]] if DEMO["enabled"] else []
DEMO_NOVEL = [s["name"] for s in DEMO["novel"]] if DEMO["enabled"] else []
NOVEL_SUBJECTS = DEMO_NOVEL + [s for s in config.get("novel_subjects", []) if s in USER_VIDEOS]
TRAIN_SUBJECTS = DEMO_SUBJECTS + [s for s in USER_VIDEOS if s not in NOVEL_SUBJECTS]
ALL_SUBJECTS = TRAIN_SUBJECTS + NOVEL_SUBJECTS
_clash = set(USER_VIDEOS) & set(DEMO_SUBJECTS + DEMO_NOVEL)
if _clash:
    raise ValueError(f"user video(s) {sorted(_clash)} in {config['videos_dir']} clash with demo subject names")
if not TRAIN_SUBJECTS:
    raise ValueError(f"no training subjects: put videos in {config['videos_dir']} or enable the demo in config.yaml")

SETTINGS = list(config["settings"])  # trained multi-identity models: name -> model option overrides
if any(s.startswith("novel") for s in SETTINGS):
    raise ValueError(f"setting names may not start with 'novel' (reserved for fine-tuned identities): {SETTINGS}")
FINETUNE_SECONDS = list(config["finetune_seconds"])


wildcard_constraints:
    subject="[A-Za-z0-9_.-]+",
    setting="|".join(re.escape(s) for s in SETTINGS),
    secs="[0-9]+",


def is_demo(subject):
    return subject in DEMO_SUBJECTS or subject in DEMO_NOVEL


def video_path(subject):
    return f"{RES}/demo/{subject}.mp4" if is_demo(subject) else USER_VIDEOS[subject]


def openpose_dir(subject):
    if is_demo(subject):
        return f"{RES}/demo/{subject}/openpose"
    return str(Path(config["videos_dir"]) / subject / "openpose")


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
    if len(TRAIN_SUBJECTS) > 1 and config["animate"]:
        targets += [f"{R}/animate/{SETTINGS[0]}/{TRAIN_SUBJECTS[0]}_as_{TRAIN_SUBJECTS[1]}.mp4"]
    return targets


# The package modules each rule runs. Their digest (talkinnerf.provenance) is one of the rule's params, so a
# changed algorithm reruns the rule and everything downstream, as a changed option does; comments do not count.
RULE_CODE = {
    "body_model": ("body",),
    "demo_synthesize": ("demo", "raster", "body", "camera.py", "video"),
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
