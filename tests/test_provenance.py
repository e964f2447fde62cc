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
    """Every rule that runs the package names the code digest it depends on: its own entry of RULE_CODE, or the
    entry of the stage whose code it runs (the experiments' single-subject training uses "train", their tables
    "report_quality"). Rules that run no package code (copies, aggregate targets) carry none."""
    rules_dir = REPO / "workflow" / "rules"
    common = (rules_dir / "common.smk").read_text()
    table = set(re.findall(r'^    "(\w+)": \(', common, flags=re.M))
    # digests of named module sets, defined once and shared by several rules (animate_common.smk)
    named = {n for smk in rules_dir.glob("*.smk")
             for n in re.findall(r"^(\w+_CODE) = source_digest\(", smk.read_text(), flags=re.M)}
    checked = 0
    for smk in rules_dir.glob("*.smk"):
        for block in re.split(r"^(?=rule \w+:|use rule )", smk.read_text(), flags=re.M)[1:]:
            name = re.match(r"(?:rule (\w+):|use rule \w+ as (\w+) with:)", block)
            name = name.group(1) or name.group(2)
            runs_package = "{params.py}" in block or "{params.launcher}" in block
            keys = re.findall(r'code=code_version\("(\w+)"\)', block)
            if not runs_package:
                continue
            checked += 1
            if "code=source_digest((" in block:      # a digest of the modules it runs, named in place
                continue
            shared = re.findall(r"code=(\w+_CODE),", block)
            if shared:
                assert set(shared) <= named, f"rule {name}: code version {shared} is not a source_digest"
                continue
            assert keys, f"rule {name} in {smk.name} runs talkinnerf but has no code version"
            assert set(keys) <= table, f"rule {name}: code version {keys} missing from RULE_CODE in common.smk"
            if name in table:
                assert keys == [name], f"rule {name} has its own RULE_CODE entry but uses {keys}"
    assert checked > 30
