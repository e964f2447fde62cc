"""Subject names from video file names: any file name works.

A subject's name becomes part of every output path (results/frames/<subject>/, ...) and of shell commands, so
it must be a safe slug: ASCII letters, digits, ``_``, ``-``, ``.``, not starting with ``.`` or ``-`` (no hidden
files, no options, no ``..``, no ``/``). A file whose stem is already safe keeps it as its name. Any other stem is
transliterated (é -> e), unsafe runs become ``_``, and a short digest of the *original file name* is appended, so
two names that fold to the same slug stay apart and the name is the same on every run (it depends on that
file's name only, never on which other files are in the folder).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

SAFE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9_.-]+")
MAX_LEN = 60


def is_safe(name: str) -> bool:
    return bool(SAFE.match(name)) and ".." not in name and len(name) <= MAX_LEN


def slug(file_name: str) -> str:
    """Stable, path-safe subject name of a video file name (its stem when that is already safe)."""
    stem = Path(file_name).stem
    if is_safe(stem):
        return stem
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    base = _UNSAFE_RUN.sub("_", ascii_stem).replace("..", "_").strip("._-")[:MAX_LEN - 7] or "video"
    digest = hashlib.sha1(file_name.encode("utf-8", "surrogateescape")).hexdigest()[:6]
    return f"{base}-{digest}"


def subject_names(files: list[str | Path], reserved: set[str] | frozenset[str] = frozenset()
                  ) -> tuple[dict[str, str], dict[str, str]]:
    """Map video files to subject names.

    Returns ``(subjects, unusable)``: subject name -> file path, and file path -> why it is not used (its name
    collides with a reserved name, e.g. a demo subject, or with another file's subject, e.g. ``a.mp4`` and
    ``a.mov``; the first in sorted order keeps the name).
    """
    subjects: dict[str, str] = {}
    unusable: dict[str, str] = {}
    for path in sorted(str(f) for f in files):
        name = slug(Path(path).name)
        if name in reserved:
            unusable[path] = (f"its subject name {name!r} is a demo subject's name: rename the file "
                              f"(e.g. {name}_video{Path(path).suffix})")
        elif name in subjects:
            unusable[path] = (f"its subject name {name!r} is taken by {Path(subjects[name]).name!r}: rename one of "
                              "the two files (one video per subject)")
        else:
            subjects[name] = path
    return subjects, unusable
