"""The animation drop-in folders: which entries of ``data/motions/`` are motions (and their audio), which videos of
``data/drivers/`` are driving videos, and the names they get (the workflow's, workflow/rules/animate_common.smk).

Names follow the subjects' rule (talkinnerf.names): a safe stem is the name, any other becomes a stable slug. A
driving video ``x.mp4`` becomes the motion ``driver_x``, so a motion file named ``driver_x.*`` beside it cannot be
used (named once, like a clashing video). Nothing here reads a motion: a bad one fails in its own conversion job.
"""

from __future__ import annotations

from pathlib import Path

from talkinnerf.names import slug, subject_names

VIDEO_EXTENSIONS = ("mp4", "mov", "mkv", "avi", "webm")
AUDIO_SUFFIX = ".wav"
# text beside the motions (notes, readmes) is not a motion
NOT_MOTIONS = (".wav", ".md", ".txt")
DRIVER_PREFIX = "driver_"


def _hidden(path: Path) -> bool:
    return path.name.startswith(".") or path.name.startswith("._")


def _name_key(path: Path) -> str:
    """The file name a motion's name is made from: a folder's whole name (``walk.v2/`` is ``walk.v2``)."""
    return f"{path.name}.dir" if path.is_dir() else path.name


def motion_audio(path: str | Path) -> Path | None:
    """``<name>.wav`` beside a motion file or folder (``<name>.wav`` also for ``<name>_stageii.npz``), if any."""
    path = Path(path)
    stem = path.name if path.is_dir() else path.stem
    candidates = [path.parent / f"{stem}{AUDIO_SUFFIX}"]
    if stem.endswith("_stageii"):
        candidates.append(path.parent / f"{stem[:-len('_stageii')]}{AUDIO_SUFFIX}")
    return next((c for c in candidates if c.is_file()), None)


def find_motions(folder: str | Path, drivers: list[str] | tuple[str, ...] = ()
                 ) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """The motions of a drop-in folder.

    Every file or folder is a motion except hidden ones, ``.wav`` (audio), ``.md`` / ``.txt`` notes and a ``.json``
    beside an ``.npz`` of the same stem (a motion's sidecar). Returns ``(motions, audio, unusable)``: name -> path,
    name -> the ``.wav`` beside it, path -> why it is not used (its name is another file's, or a driving video's
    motion ``driver_<name>``)."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}, {}, {}
    entries = []
    for path in sorted(folder.iterdir()):
        if _hidden(path) or (path.is_file() and path.suffix.lower() in NOT_MOTIONS):
            continue
        if path.is_file() and path.suffix.lower() == ".json" and path.with_suffix(".npz").is_file():
            continue
        entries.append(path)
    keys = {_name_key(p): p for p in entries}
    reserved = {f"{DRIVER_PREFIX}{d}" for d in drivers}
    named, unusable_keys = subject_names(list(keys), reserved)
    motions = {name: str(keys[key]) for name, key in named.items()}
    unusable = {}
    for key, why in unusable_keys.items():
        path = keys[key]
        if slug(key) in reserved:
            why = (f"its motion name {slug(key)!r} is the motion of the driving video {slug(key)[len(DRIVER_PREFIX):]!r}"
                   f" (drivers folder): rename the file")
        unusable[str(path)] = why.replace("subject name", "motion name").replace("one video per subject",
                                                                                 "one file per motion")
    audio = {name: str(wav) for name, path in motions.items() if (wav := motion_audio(path)) is not None}
    return motions, audio, unusable


def find_drivers(folder: str | Path) -> tuple[dict[str, str], dict[str, str]]:
    """The driving videos of a drop-in folder: ``(name -> video path, video path -> why it is not used)``."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}, {}
    files = [p for p in sorted(folder.iterdir())
             if p.is_file() and not _hidden(p) and p.suffix.lower().lstrip(".") in VIDEO_EXTENSIONS]
    drivers, unusable = subject_names(files)
    return drivers, {path: why.replace("one video per subject", "one video per driver")
                     for path, why in unusable.items()}
