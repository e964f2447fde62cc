"""Compare two results folders of the same config (e.g. one run through SLURM, one with --cores 2): which files
only one has, which are byte-identical, and for the others the largest numeric difference by file type.

python scripts/compare_results.py A/results B/results [--tolerance 1e-4] [--ignore logs benchmarks tb]

Timings differ between any two runs, so they are not compared: keys that hold seconds, dates, hosts or paths in
json files (IGNORED_KEYS), columns of the same names in csv files, the folders named by --ignore (Snakemake's
logs and benchmark files, TensorBoard event files), and the frames of mp4 files (their container holds encoder
timestamps; the decoded frames are compared). Exit status 0 when every shared file agrees within --tolerance and
no file is missing on either side, 1 otherwise.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from pathlib import Path

IGNORED_KEYS = ("seconds", "time", "date", "host", "elapsed", "wall", "it_per_s", "started", "finished", "path",
                "root", "dir", "out", "base", "cwd", "python", "pid", "duration", "fps_render", "per_frame")


def _ignored(key: str) -> bool:
    key = key.lower()
    return any(part in key for part in IGNORED_KEYS)


def _json_diff(a, b, where: str = "") -> float:
    """Largest |a - b| over the numbers of two json values; inf where their structure or text differs."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = {k for k in set(a) | set(b) if not _ignored(k)}
        if any(k not in a or k not in b for k in keys):
            return math.inf
        return max((_json_diff(a[k], b[k], f"{where}.{k}") for k in keys), default=0.0)
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return math.inf
        return max((_json_diff(x, y, where) for x, y in zip(a, b)), default=0.0)
    if isinstance(a, bool) or isinstance(b, bool):
        return 0.0 if a == b else math.inf
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if math.isnan(a) and math.isnan(b):
            return 0.0
        return abs(float(a) - float(b))
    return 0.0 if a == b else math.inf


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _csv_diff(a: str, b: str) -> float:
    rows_a, rows_b = list(csv.reader(io.StringIO(a))), list(csv.reader(io.StringIO(b)))
    if len(rows_a) != len(rows_b) or not rows_a:
        return math.inf
    header = rows_a[0]
    worst = 0.0
    for ra, rb in zip(rows_a, rows_b):
        if len(ra) != len(rb):
            return math.inf
        for col, (x, y) in enumerate(zip(ra, rb)):
            if col < len(header) and _ignored(header[col]):
                continue
            nx, ny = _number(x), _number(y)
            if nx is not None and ny is not None:
                worst = max(worst, 0.0 if (math.isnan(nx) and math.isnan(ny)) else abs(nx - ny))
            elif x != y:
                worst = max(worst, _text_number_diff(x, y))
    return worst


_NUMBER = r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"


def _text_number_diff(a: str, b: str) -> float:
    """Two texts that differ only in the numbers they print (tables, captions): the largest difference."""
    import re

    if re.sub(_NUMBER, "#", a) != re.sub(_NUMBER, "#", b):
        return math.inf
    na, nb = [float(x) for x in re.findall(_NUMBER, a)], [float(x) for x in re.findall(_NUMBER, b)]
    return max((abs(x - y) for x, y in zip(na, nb)), default=0.0)


def _table_text_diff(a: str, b: str) -> float:
    """Markdown (``|``) or LaTeX (``&``) tables line by line: in a table row the cells under a timing column
    (its header, the block's first row, named in IGNORED_KEYS) are left out; elsewhere the numbers compared."""
    lines_a, lines_b = a.splitlines(), b.splitlines()
    if len(lines_a) != len(lines_b):
        return math.inf
    worst, header = 0.0, None
    for la, lb in zip(lines_a, lines_b):
        sep = "|" if la.count("|") >= 2 else "&" if la.count("&") >= 2 else None
        if sep is None:
            if not la.startswith("\\") or la.startswith("\\begin"):   # LaTeX rules (\midrule) keep the header
                header = None
            worst = max(worst, 0.0 if la == lb else _text_number_diff(la, lb))
            continue
        cells_a, cells_b = la.split(sep), lb.split(sep)
        if len(cells_a) != len(cells_b):
            return math.inf
        if header is None or len(header) != len(cells_a):
            header = [c.strip() for c in cells_a]
        for name, x, y in zip(header, cells_a, cells_b):
            if x != y and not _ignored(name):
                worst = max(worst, _text_number_diff(x, y))
    return worst


def _array_diff(a, b) -> float:
    import numpy as np

    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return math.inf
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        return float(np.nanmax(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0
    if a.dtype.kind in "iub":
        return float(np.abs(a.astype(np.int64) - b.astype(np.int64)).max()) if a.size else 0.0
    return 0.0 if np.array_equal(a, b) else math.inf


def _tensors_diff(a, b) -> float:
    """Largest difference over the tensors/arrays/numbers of two nested torch checkpoints."""
    import numpy as np

    if isinstance(a, dict) and isinstance(b, dict):
        keys = {k for k in set(a) | set(b) if not (isinstance(k, str) and _ignored(k))}
        if any(k not in a or k not in b for k in keys):
            return math.inf
        return max((_tensors_diff(a[k], b[k]) for k in keys), default=0.0)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return math.inf
        return max((_tensors_diff(x, y) for x, y in zip(a, b)), default=0.0)
    if hasattr(a, "detach") and hasattr(b, "detach"):
        return _array_diff(a.detach().float().cpu().numpy() if a.is_floating_point() else a.cpu().numpy(),
                           b.detach().float().cpu().numpy() if b.is_floating_point() else b.cpu().numpy())
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return _array_diff(a, b)
    return _json_diff(a, b)


def file_difference(a: Path, b: Path) -> float:
    """0 for byte-identical files; else the largest numeric difference their type allows reading; inf where
    they differ in anything but numbers."""
    raw_a, raw_b = a.read_bytes(), b.read_bytes()
    if raw_a == raw_b:
        return 0.0
    suffix = a.suffix.lower()
    if suffix == ".json":
        return _json_diff(json.loads(raw_a), json.loads(raw_b))
    if suffix == ".csv":
        return _csv_diff(raw_a.decode(), raw_b.decode())
    if suffix in (".md", ".tex"):
        return _table_text_diff(raw_a.decode(errors="replace"), raw_b.decode(errors="replace"))
    if suffix in (".txt", ".log"):
        return _text_number_diff(raw_a.decode(errors="replace"), raw_b.decode(errors="replace"))
    if suffix == ".npz":
        import numpy as np

        with np.load(a, allow_pickle=False) as za, np.load(b, allow_pickle=False) as zb:
            if set(za.files) != set(zb.files):
                return math.inf
            return max((_array_diff(za[k], zb[k]) for k in za.files), default=0.0)
    if suffix in (".png", ".jpg"):
        import numpy as np
        from PIL import Image

        return _array_diff(np.asarray(Image.open(a)), np.asarray(Image.open(b))) / 255.0
    if suffix == ".pt":
        import torch

        return _tensors_diff(torch.load(a, map_location="cpu", weights_only=True),
                             torch.load(b, map_location="cpu", weights_only=True))
    if suffix == ".mp4":
        import numpy as np

        from talkinnerf.video.encode import read_video

        fa, fb = read_video(a)[0], read_video(b)[0]
        if len(fa) != len(fb):
            return math.inf
        return max((_array_diff(x, y) / 255.0 for x, y in zip(fa, fb)), default=0.0)
    return math.inf


def compare(root_a: Path, root_b: Path, ignore: tuple[str, ...]) -> dict:
    def files(root: Path) -> set[str]:
        return {p.relative_to(root).as_posix() for p in root.rglob("*")
                if p.is_file() and not set(p.relative_to(root).parts) & set(ignore)}

    fa, fb = files(root_a), files(root_b)
    shared = sorted(fa & fb)
    same_bytes = {rel for rel in shared if (root_a / rel).read_bytes() == (root_b / rel).read_bytes()}
    diffs = {rel: 0.0 if rel in same_bytes else file_difference(root_a / rel, root_b / rel) for rel in shared}
    return {"only_a": sorted(fa - fb), "only_b": sorted(fb - fa), "diffs": diffs, "same_bytes": sorted(same_bytes)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--tolerance", type=float, default=1e-4, help="largest numeric difference that counts as equal")
    ap.add_argument("--ignore", nargs="*", default=["logs", "benchmarks", "tb"], help="folder names left out")
    args = ap.parse_args(argv)
    result = compare(args.a, args.b, tuple(args.ignore))
    diffs = result["diffs"]
    identical = len(result["same_bytes"])
    close = {k: d for k, d in diffs.items() if d <= args.tolerance and k not in result["same_bytes"]}
    apart = {k: d for k, d in diffs.items() if d > args.tolerance}
    print(f"{len(diffs)} files in both: {identical} byte for byte, {len(close)} equal within {args.tolerance:g} "
          f"apart from timings (largest other difference {max(close.values(), default=0.0):.3g}), {len(apart)} apart")
    for rel, d in sorted(apart.items()):
        print(f"  apart: {rel}: {'differs in more than numbers' if math.isinf(d) else f'{d:.4g}'}")
    for side, rels in (("only in A", result["only_a"]), ("only in B", result["only_b"])):
        for rel in rels:
            print(f"  {side}: {rel}")
    return 0 if not apart and not result["only_a"] and not result["only_b"] else 1


if __name__ == "__main__":
    sys.exit(main())
