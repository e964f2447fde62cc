"""Which version of the package code produced an output: a digest of the modules a workflow rule runs.

The workflow puts each rule's digest into its params, so Snakemake reruns a rule whose algorithm changed, as it
does for changed options. The digest covers the modules' syntax trees: comments and formatting do not count.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent


def source_digest(parts: tuple[str, ...] | list[str], root: Path = PACKAGE_ROOT) -> str:
    """12-hex digest of the Python modules named by ``parts`` (files or folders, relative to ``root``).

    Raises FileNotFoundError naming a part that does not exist (a stale table in the workflow)."""
    files: list[Path] = []
    for part in parts:
        path = root / part
        if path.is_dir():
            files += sorted(path.rglob("*.py"))
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"source_digest: {path} does not exist")
    digest = hashlib.sha1()
    for path in sorted(set(files)):
        source = path.read_bytes()
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(_syntax_dump(source, str(path)))
    return digest.hexdigest()[:12]


_SYNTAX_DUMPS: dict[bytes, bytes] = {}


def _syntax_dump(source: bytes, filename: str) -> bytes:
    """One module's syntax tree as text, computed once per content per process: the workflow asks for ~27 digests
    over shared folders (body/ alone is in five), which made parsing the Snakefile ~4 s slower in every Snakemake
    process (each SLURM job starts two). The text itself is kept so that digests keep their values."""
    key = hashlib.sha1(source).digest()
    if key not in _SYNTAX_DUMPS:
        tree = ast.parse(source, filename=filename)
        _SYNTAX_DUMPS[key] = ast.dump(tree, annotate_fields=False, include_attributes=False).encode()
    return _SYNTAX_DUMPS[key]
