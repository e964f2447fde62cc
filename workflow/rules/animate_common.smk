# Names, paths and helpers of animate.smk (its rules stay there: `snakemake --lint` wants rules and functions in
# separate files). `snakemake --cores 2 animate_all`: every trained subject of every setting under every motion of
# `motions_dir` and every driving video of `drivers_dir`, plus a turntable of each (docs/motion.md).

from talkinnerf.motion_inputs import DRIVER_PREFIX, find_drivers, find_motions  # noqa: E402

MOTIONS_DIR = config.get("motions_dir") or "data/motions"
DRIVERS_DIR = config.get("drivers_dir") or "data/drivers"
DRIVER_VIDEOS, UNUSABLE_DRIVERS = find_drivers(DRIVERS_DIR)          # driver name -> video (own namespace)
MOTION_FILES, MOTION_AUDIO, UNUSABLE_MOTIONS = find_motions(MOTIONS_DIR, list(DRIVER_VIDEOS))
DRIVER_MOTIONS = [f"{DRIVER_PREFIX}{d}" for d in DRIVER_VIDEOS]
ALL_MOTIONS = list(MOTION_FILES) + DRIVER_MOTIONS
for _path, _why in {**UNUSABLE_MOTIONS, **UNUSABLE_DRIVERS}.items():
    print(f"talkinnerf: not using {_path!r}: {_why}", file=sys.stderr)
for _name, _path in {**MOTION_FILES, **DRIVER_VIDEOS}.items():
    if _name != Path(_path).stem:
        print(f"talkinnerf: {'driver' if _name in DRIVER_VIDEOS else 'motion'} {_name} <- {Path(_path).name!r}",
              file=sys.stderr)
# motions are converted at the animation's output rate (`animation.fps`; 0: 30 fps)
MOTION_FPS = float((config.get("animation") or {}).get("fps") or 0) or 30.0
# a bad motion or driving video is left out (failure markers, records under <results>/motions|drivers/failed/)
MOTION_FAILURE_ARGS = f"--on-failure {ON_FAILURE} --results {R}/motions"
DRIVER_FAILURE_ARGS = f"--on-failure {ON_FAILURE} --results {R}/drivers"


def _alternation(names):
    """A wildcard regex matching exactly these names (none: nothing)."""
    return "|".join(re.escape(n) for n in names) if names else "(?!)"


DROPIN_MOTION_RE = _alternation(MOTION_FILES)
AUDIO_MOTION_RE = _alternation(MOTION_AUDIO)
DRIVER_RE = _alternation(DRIVER_VIDEOS)

_ANIMATE_PARTS = ("evaluate/animate.py", "evaluate/media.py", "evaluate/render_eval.py", "nerf", "train/data.py",
                  "train/rays.py", "preprocess/smoothing.py", "motion/format.py", "motion/readers.py",
                  "motion/resample.py", "motion/rotations.py", "video/encode.py", "video/frames.py")
ANIMATE_CODE = source_digest(_ANIMATE_PARTS)
TURNTABLE_CODE = source_digest(_ANIMATE_PARTS + ("evaluate/turntable.py",))
MESH_CODE = source_digest(_ANIMATE_PARTS + ("mesh",))
MOTION_CODE = source_digest(("motion", "failures.py"))
AUDIO_CODE = source_digest(("cli/video.py", "evaluate/media.py"))   # `video copy-audio`


def driver_openpose_dir(name):
    return str(Path(DRIVERS_DIR) / Path(DRIVER_VIDEOS[name]).stem / "openpose")


def driver_openpose_input(wildcards):
    folder = driver_openpose_dir(wildcards.subject)
    return [folder] if Path(folder).is_dir() else []


def motion_source_audio(wildcards):
    """The .wav beside a drop-in motion (converting records and checks it)."""
    return [MOTION_AUDIO[wildcards.motion]] if wildcards.motion in MOTION_AUDIO else []


def motion_folder_files(wildcards):
    """The frame files of an EasyMocap folder (an edited frame file reruns the conversion; the folder's own time
    changes only when files come or go)."""
    source = Path(MOTION_FILES[wildcards.motion])
    return sorted(str(p) for p in source.glob("*.json")) if source.is_dir() else []


def motion_wav_input(wildcards):
    """A drop-in motion's audio copied into results/motions/ (the animation muxes it)."""
    return [f"{R}/motions/{wildcards.motion}.wav"] if wildcards.motion in MOTION_AUDIO else []


def animate_targets():
    """Every trained subject of every setting under every motion (drivers also side by side) + a turntable + its
    canonical mesh."""
    targets = []
    for setting in SETTINGS:
        for subject in TRAIN_SUBJECTS:
            for motion in ALL_MOTIONS:
                base = f"{R}/animate/{setting}/{subject}/{motion}"
                targets += [f"{base}.mp4", f"{base}.json"]
                if motion in DRIVER_MOTIONS:
                    targets.append(f"{base}_side_by_side.mp4")
            targets += [f"{R}/turntable/{setting}/{subject}.mp4", f"{R}/turntable/{setting}/{subject}.json"]
            targets += [f"{R}/mesh/{setting}/{subject}/canonical.ply", f"{R}/mesh/{setting}/{subject}/canonical.json"]
    return targets


def say_motions_left_out():
    """End of a run: name every motion or driving video that was left out, and why."""
    from talkinnerf.failures import describe, left_out_subjects

    for folder, names, kind in ((f"{R}/motions", ALL_MOTIONS, "motion"), (f"{R}/drivers", list(DRIVER_VIDEOS),
                                                                           "driving video")):
        for name, rec in left_out_subjects(folder, names).items():
            print(f"talkinnerf: {kind} {name} left out: {describe(rec)}", file=sys.stderr)
