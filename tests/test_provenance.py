"""Rules rerun when the package code they run changes: the digest ignores comments, not code."""

import re

import pytest

from talkinnerf.provenance import source_digest
from workflow_utils import REPO


def _package(tmp_path, body: str):
    (tmp_path / "pkg").mkdir(exist_ok=True)
    (tmp_path / "pkg" / "a.py").write_text(body)
    (tmp_path / "b.py").write_text("X = 1\n")
    return tmp_path


def test_digest_ignores_comments_and_layout_but_not_code(tmp_path):
    root = _package(tmp_path, "def f(x):\n    return x + 1\n")
    base = source_digest(["pkg", "b.py"], root)
    _package(tmp_path, "# why\ndef f( x ):\n\n    return x+1  # comment\n")
    assert source_digest(["pkg", "b.py"], root) == base
    _package(tmp_path, "def f(x):\n    return x + 2\n")
    assert source_digest(["pkg", "b.py"], root) != base
    assert source_digest(["pkg"], root) != source_digest(["pkg", "b.py"], root)
    with pytest.raises(FileNotFoundError, match="nope"):
        source_digest(["nope.py"], root)


def test_every_rule_carries_its_code_version():
    rules_dir = REPO / "workflow" / "rules"
    common = (rules_dir / "common.smk").read_text()
    table = set(re.findall(r'^    "(\w+)": \(', common, flags=re.M))
    for smk in rules_dir.glob("*.smk"):
        text = smk.read_text()
        declared = re.findall(r"^(?:rule (\w+):|use rule \w+ as (\w+) with:)", text, flags=re.M)
        for name in (a or b for a, b in declared):
            if name == "all":
                continue
            assert f'code=code_version("{name}")' in text, f"rule {name} in {smk.name} has no code version"
            assert name in table, f"rule {name} is missing from RULE_CODE in common.smk"
