"""A subject whose preprocessing fails drops out; the other subjects go on (config `on_subject_failure: skip`).

Snakemake never runs a job whose input failed, so a failed stage would stop every all-subject job (training,
evaluation, tables) for every subject. Instead, in skip mode, a per-subject stage that fails:

1. writes a *failure record* ``<results>/failed/<subject>/<stage>.json`` (subject, original file, stage, reason,
   fix), one file per stage so two stages failing side by side never race on one file;
2. writes each declared output as a small *failure marker* (a folder holding ``FAILED.json``; a file holding the
   JSON ``{"talkinnerf_failed": record}``; a PNG/MP4 showing the reason; a CSV with a ``left_out`` column), so
   the job succeeds and Snakemake carries on.

Every later job that reads a marker writes markers for its own outputs at once (see :func:`propagate`), training
drops marked subjects (and lists them in its meta.json), and :func:`left_out_subjects` tells tables and reports
which subjects were left out and why. Replacing the video makes decode newer than its outputs, so the subject's
whole chain reruns and, once it succeeds, the stale records are removed and training reruns with it.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import traceback
from pathlib import Path
from typing import Any

from talkinnerf.io import atomic_dir, atomic_path, write_json

STAGES = ("decode", "matte", "keypoints", "fit", "segment", "split")   # preprocessing order
MARKER = "FAILED.json"                   # inside a failed stage's output folder
FILE_KEY = "talkinnerf_failed"           # a failed stage's output file holds {"talkinnerf_failed": record}
FAILED_DIR = "failed"                    # <results>/failed/<subject>/<stage>.json
MODES = ("skip", "fail")
# `motion convert` of a drop-in motion (workflow/rules/animate.smk): its record goes to
# <results>/motions/failed/<name>/motion.json, markers to the converted .npz and its .json; the others render
MOTION_STAGE = "motion"

# What a user does about a stage's failure when the error itself does not say (SubjectInputError does).
DEFAULT_FIX = {
    "decode": "re-export the video as an H.264 mp4 of a person talking (ffmpeg -i IN -c:v libx264 OUT.mp4), "
              "or remove it from the videos folder",
    "matte": "use a video with one person in front of a plain or static background, or set matte.backend",
    "keypoints": "use a video where the person's upper body and face are visible in most frames, or provide "
                 "OpenPose JSON in <videos>/<name>/openpose/",
    "fit": "check the keypoints (results/figures/subjects/<subject>.png); use a video where the upper body is "
           "visible, or loosen the fit section's options",
    "segment": "check the matte and the fit of this subject (results/figures/subjects/<subject>.png)",
    "split": "use a longer video (the split needs at least 2 frames, one to train and one to test) or change "
             "the split section",
    MOTION_STAGE: "convert it by hand to see what it holds (talkinnerf motion info FILE; docs/motion.md lists the "
                  "layouts read), then replace or remove the file",
}


UNEXPECTED = "an unexpected error (traceback in this log; if the input looks fine, report it as a bug):"


class SubjectInputError(ValueError):
    """A user-facing input error that carries what to do about it."""

    def __init__(self, reason: str, fix: str):
        super().__init__(f"{reason}. Fix: {fix}")
        self.reason, self.fix = reason, fix


# ---------------------------------------------------------------------------------------------- records


def record(subject: str, stage: str, err: BaseException | str, file: str | None = None) -> dict[str, Any]:
    """A failure record: who failed where, why, and what to do."""
    if isinstance(err, SubjectInputError):
        reason, fix = err.reason, err.fix
    else:
        reason = str(err) if isinstance(err, str) else (str(err) or type(err).__name__)
        fix = DEFAULT_FIX.get(stage, "see the log of this stage")
        if isinstance(err, BaseException) and not isinstance(err, (ValueError, FileNotFoundError)):
            reason = f"{type(err).__name__}: {reason}"   # an unexpected error: keep its kind
            fix = f"{UNEXPECTED} {fix}"
    return {"subject": subject, "file": file, "stage": stage, "reason": reason.strip(), "fix": fix}


def record_path(results_dir: str | os.PathLike, subject: str, stage: str) -> Path:
    return Path(results_dir) / FAILED_DIR / subject / f"{stage}.json"


def write_record(results_dir: str | os.PathLike, rec: dict[str, Any]) -> Path:
    path = record_path(results_dir, rec["subject"], rec["stage"])
    write_json(path, rec)
    return path


def clear_records(results_dir: str | os.PathLike, subject: str, stage: str) -> None:
    """A stage succeeded: its record and those of later stages are stale (they ran on its old output)."""
    folder = Path(results_dir) / FAILED_DIR / subject
    if not folder.is_dir():
        return
    later = STAGES[STAGES.index(stage):] if stage in STAGES else (stage,)
    for name in later:
        (folder / f"{name}.json").unlink(missing_ok=True)
    if not any(folder.iterdir()):
        folder.rmdir()


def _stage_rank(rec: dict[str, Any]) -> int:
    return STAGES.index(rec["stage"]) if rec.get("stage") in STAGES else len(STAGES)


def left_out_subjects(results_dir: str | os.PathLike, subjects: list[str] | None = None) -> dict[str, dict]:
    """Subject -> its failure record (the earliest stage that failed), for every subject left out of training.

    ``subjects`` restricts the answer to those names (records of videos since removed from the folder stay on
    disk until the subject's folder under ``failed/`` is deleted). Sorted by subject name.
    """
    root = Path(results_dir) / FAILED_DIR
    out: dict[str, dict] = {}
    if not root.is_dir():
        return out
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if subjects is not None and folder.name not in subjects:
            continue
        recs = []
        for path in sorted(folder.glob("*.json")):
            try:
                recs.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue   # a record being replaced right now; the next read sees it
        if recs:
            out[folder.name] = min(recs, key=_stage_rank)
    return out


def describe(rec: dict[str, Any]) -> str:
    """One line: subject (file) failed at stage: reason. Fix: ... ("motion m" for a motion's conversion)"""
    kind = "motion" if rec.get("stage") == MOTION_STAGE else "subject"
    who = f"{kind} {rec['subject']}" + (f" (file {rec['file']!r})" if rec.get("file") else "")
    return f"{who} left out at {rec['stage']}: {rec['reason']}. Fix: {rec['fix']}"


# ---------------------------------------------------------------------------------------------- markers


def marker_of(path: str | os.PathLike) -> dict[str, Any] | None:
    """The failure record a marker at ``path`` holds, or None when ``path`` is a real output (or absent)."""
    path = Path(path)
    try:
        if path.is_dir():
            m = path / MARKER
            return json.loads(m.read_text()) if m.is_file() else None
        if path.is_file() and path.stat().st_size < 65536:
            with open(path, "rb") as fh:
                head = fh.read(len(FILE_KEY) + 8)
            if FILE_KEY.encode() in head:
                return json.loads(path.read_text())[FILE_KEY]
    except (OSError, ValueError, KeyError):
        return None
    return None


def _placeholder_image(rec: dict[str, Any], size: int = 256):
    import numpy as np

    import cv2

    image = np.full((size, size, 3), 64, np.uint8)
    lines = [f"LEFT OUT: {rec['subject']}", f"stage: {rec['stage']}"]
    if rec.get("file"):
        lines.append(f"file: {rec['file']}")
    lines += textwrap.wrap(rec["reason"], 40)[:8]
    for i, line in enumerate(lines):
        # cv2's Hershey fonts are ASCII only: other characters show as '?'
        text = line.encode("ascii", "replace").decode()
        cv2.putText(image, text, (6, 20 + 16 * i), cv2.FONT_HERSHEY_PLAIN, 0.8, (255, 255, 255), 1, cv2.LINE_AA)
    return image


def write_marker(path: str | os.PathLike, rec: dict[str, Any], kind: str = "file") -> None:
    """Write a failure marker at a job's declared output ``path`` (atomically). ``kind``: "dir" or "file"."""
    path = Path(path)
    if kind == "dir":
        with atomic_dir(path) as tmp:
            write_json(tmp / MARKER, rec)
        return
    suffix = path.suffix.lower()
    with atomic_path(path) as tmp:
        if suffix == ".png":
            import cv2

            cv2.imwrite(str(tmp), _placeholder_image(rec))
        elif suffix == ".mp4":
            import numpy as np

            from talkinnerf.video.encode import write_video

            write_video(tmp, np.repeat(_placeholder_image(rec)[None], 2, axis=0), 1.0)
        elif path.name == "metrics.csv":
            # one row per evaluated frame: a left-out subject has none (tables count 0 frames, show n/a)
            tmp.write_text("frame,left_out\n")
        elif suffix == ".csv":
            import pandas as pd

            pd.DataFrame([{"subject": rec["subject"], "file": rec.get("file"), "stage": rec["stage"],
                           "left_out": rec["reason"], "fix": rec["fix"]}]).to_csv(tmp, index=False)
        else:
            tmp.write_text(json.dumps({FILE_KEY: rec}, indent=2, sort_keys=True) + "\n")


def subject_source(results_dir: str | os.PathLike, subject: str) -> str | None:
    """The original video file name of a subject (frames/<subject>/meta.json `source`), when decoded."""
    meta = Path(results_dir) / "frames" / subject / "meta.json"
    try:
        return Path(json.loads(meta.read_text())["source"]).name
    except (OSError, ValueError, KeyError):
        return None


def subject_data_marker(data_root: str | os.PathLike, subject: str) -> dict[str, Any] | None:
    """The failure record of the first marked input among a subject's training data, or None."""
    root = Path(data_root)
    for rel in (f"frames/{subject}", f"matte/{subject}", f"keypoints/{subject}.npz", f"smplx/{subject}.npz",
                f"parts/{subject}", f"splits/{subject}.json"):
        rec = marker_of(root / rel)
        if rec is not None:
            return rec
    return None


def split_subjects(data_root: str | os.PathLike, subjects: list[str]) -> tuple[list[str], dict[str, dict]]:
    """(subjects whose preprocessing succeeded, {left-out subject: record}) in the given order."""
    kept, left = [], {}
    for s in subjects:
        rec = subject_data_marker(data_root, s)
        if rec is None:
            kept.append(s)
        else:
            left[s] = rec
    return kept, left


# ---------------------------------------------------------------------------------------------- CLI guard

# (group, command) -> (input args, subject-data args?, outputs as (arg, relative file or "", kind)).
# A command whose inputs hold a marker writes markers for its outputs at once instead of running: it can only
# have been written in skip mode, and the subject is left out of everything downstream.
GUARDED: dict[tuple[str, str], tuple[tuple[str, ...], bool, tuple[tuple[str, str, str], ...]]] = {
    ("preprocess", "matte"): (("frames",), False, (("out", "", "dir"),)),
    ("preprocess", "keypoints"): (("frames",), False, (("out", "", "file"),)),
    ("preprocess", "fit"): (("frames", "keypoints"), False, (("out", "", "file"),)),
    ("preprocess", "segment"): (("frames", "matte", "smplx"), False, (("out", "", "dir"),)),
    ("preprocess", "split"): (("frames",), False, (("out", "", "file"),)),
    ("report", "subject-sheet"): (("frames", "matte", "keypoints", "smplx", "parts", "split"), False,
                                  (("out", "", "file"),)),
    ("evaluate", "preprocess"): (("frames", "matte", "keypoints", "smplx", "parts", "matte_backends"), False,
                                 (("out", "", "file"),)),
    ("evaluate", "matte-backends"): (("frames",), False, (("out", "", "file"),)),
    ("evaluate", "render"): (("model",), True, (("out", "metrics.csv", "file"), ("out", "compare.png", "file"),
                                                ("out", "render.mp4", "file"))),
    ("evaluate", "animate"): (("model", "motion", "driver_frames"), True,
                              (("out", "", "file"), ("json", "", "file"), ("side_by_side", "", "file"))),
    ("evaluate", "turntable"): (("model", "motion"), True, (("out", "", "file"), ("json", "", "file"))),
    ("train", "finetune"): (("base",), True, (("out", "model.pt", "file"), ("out", "meta.json", "file"))),
    ("train", "fit-clip"): ((), True, (("out", "model.pt", "file"), ("out", "meta.json", "file"))),
    ("evaluate", "lipsync"): (("subject_smplx", "driver_frames", "driver_smplx"), False, (("out", "", "file"),)),
}


def _outputs(args, spec) -> list[tuple[Path, str]]:
    outs = []
    for attr, rel, kind in spec:
        value = getattr(args, attr, None)
        if value:
            outs.append((Path(value) / rel if rel else Path(value), kind))
    return outs


def propagate(args) -> dict[str, Any] | None:
    """If this command's inputs carry a failure marker, write markers for its outputs; returns the record."""
    spec = GUARDED.get((getattr(args, "group", None), getattr(args, "command", None)))
    if spec is None:
        return None
    inputs, subject_data, outputs = spec
    rec = None
    for attr in inputs:
        value = getattr(args, attr, None)
        if value and (rec := marker_of(value)) is not None:
            break
    if rec is None and subject_data and getattr(args, "subject", None):
        rec = subject_data_marker(getattr(args, "data_root", "results"), args.subject)
    if rec is None:
        return None
    for path, kind in _outputs(args, outputs):
        write_marker(path, rec, kind)
    return rec


def add_arguments(parser, stage: str) -> None:
    """The arguments every per-subject preprocessing command takes for skip mode."""
    parser.add_argument("--subject", default=None, help="subject name (named in errors and failure records)")
    parser.add_argument("--on-failure", choices=MODES, default="fail",
                        help="skip: record the failure, write failure markers as outputs and exit 0 so the other "
                             "subjects go on; fail: exit non-zero (default)")
    parser.add_argument("--results", default=None,
                        help="results folder that holds failed/<subject>/<stage>.json (skip mode)")
    parser.set_defaults(stage=stage)


def _subject_and_file(args) -> tuple[str | None, str | None]:
    subject = getattr(args, "subject", None)
    if getattr(args, "stage", None) == MOTION_STAGE:   # a motion: named by --subject, its file is the source
        source = getattr(args, "source", None)
        return subject, (Path(source).name if source else None)
    video = getattr(args, "video", None)
    file = Path(video).name if video and getattr(args, "stage", None) == "decode" else None
    if file is None and getattr(args, "frames", None):
        meta = Path(args.frames) / "meta.json"
        try:
            file = Path(json.loads(meta.read_text())["source"]).name
        except (OSError, ValueError, KeyError):
            file = None
    return subject, file


def _stage_outputs(args) -> list[tuple[Path, str]]:
    stage = getattr(args, "stage", None)
    if stage == "decode":
        return [(Path(args.out), "dir")]
    if stage == MOTION_STAGE:   # the converted motion and its sidecar
        return [(Path(args.out), "file"), (Path(args.out).with_suffix(".json"), "file")]
    spec = GUARDED.get(("preprocess", stage))
    return _outputs(args, spec[2]) if spec else []


def handle_failure(args, err: BaseException) -> bool:
    """Skip mode: record the failure, write markers for the outputs, print the one-line summary; True if handled."""
    stage = getattr(args, "stage", None)
    if stage is None or getattr(args, "on_failure", "fail") != "skip" or not getattr(args, "results", None):
        return False
    subject, file = _subject_and_file(args)
    rec = record(subject or "?", stage, err, file)
    if not isinstance(err, (ValueError, FileNotFoundError)):
        traceback.print_exception(err, file=sys.stderr)
    for path, kind in _stage_outputs(args):
        write_marker(path, rec, kind)
    path = write_record(args.results, rec)
    print(f"LEFT OUT {describe(rec)} (on_subject_failure: skip; the other subjects go on; record: {path})",
          file=sys.stderr, flush=True)
    return True


def stage_succeeded(args) -> None:
    """A per-subject stage ran: drop stale failure records of it and of later stages."""
    stage, subject, results = getattr(args, "stage", None), getattr(args, "subject", None), \
        getattr(args, "results", None)
    if stage and subject and results:
        clear_records(results, subject, stage)


def failure_line(args, err: BaseException) -> str:
    """The last log line of a failed command: what failed, for which subject and file, and what to do."""
    subject, file = _subject_and_file(args)
    stage = getattr(args, "stage", None) or f"{args.group} {args.command}"
    who = ""
    if subject:
        who = f" of {'motion' if stage == MOTION_STAGE else 'subject'} {subject}"
    if file:
        who += f" (file {file!r})"
    rec = record(subject or "?", stage, err, file)
    reason, fix = rec["reason"], rec["fix"]
    return f"FAILED talkinnerf {args.group} {args.command}{who}: {reason}. Fix: {fix}"


# ---------------------------------------------------------------------------------------------- table

LEFT_OUT_COLUMNS = ["subject", "file", "stage", "reason", "fix"]


def left_out_table(results_dir: str | os.PathLike, subjects: list[str] | None = None,
                   unusable: dict[str, str] | None = None):
    """pandas table of every input left out: one row per failed subject (earliest failing stage) and one per
    drop-in file that got no subject at all (stage "name")."""
    import pandas as pd

    rows = [{k: rec.get(k) for k in LEFT_OUT_COLUMNS} for rec in left_out_subjects(results_dir, subjects).values()]
    for file, why in sorted((unusable or {}).items()):
        rows.append({"subject": "", "file": file, "stage": "name", "reason": why.split(": ", 1)[0],
                     "fix": why.split(": ", 1)[-1]})
    return pd.DataFrame(rows, columns=LEFT_OUT_COLUMNS)


def write_left_out_table(table, csv_path: str | os.PathLike, md_path: str | os.PathLike) -> None:
    with atomic_path(csv_path) as tmp:
        table.to_csv(tmp, index=False)
    if table.empty:
        text = "No input was left out: every subject's preprocessing succeeded.\n"
    else:
        cell = lambda v: "" if v is None or v != v else str(v).replace("|", "\\|").replace("\n", " ")  # noqa: E731
        lines = ["| " + " | ".join(LEFT_OUT_COLUMNS) + " |", "|" + "---|" * len(LEFT_OUT_COLUMNS)]
        lines += ["| " + " | ".join(cell(row[c]) for c in LEFT_OUT_COLUMNS) + " |" for _, row in table.iterrows()]
        text = (f"{len(table)} input(s) left out; every other subject was trained, evaluated and tabulated.\n\n"
                + "\n".join(lines) + "\n")
    with atomic_path(md_path) as tmp:
        tmp.write_text(text)
