"""Every caption of the HTML report (workflow/report/*.rst) is valid reStructuredText: Snakemake renders them with
docutils, and an error there (e.g. |word| read as an undefined substitution) prints into the report."""

import io
from pathlib import Path

import pytest

docutils_core = pytest.importorskip("docutils.core")

CAPTIONS = sorted((Path(__file__).resolve().parents[1] / "workflow" / "report").glob("*.rst"))


def rst_errors(text: str) -> str:
    """docutils' error messages (level >= 3) for ``text``; empty when it renders cleanly."""
    stream = io.StringIO()
    docutils_core.publish_doctree(text, settings_overrides={"report_level": 3, "halt_level": 5,
                                                            "warning_stream": stream})
    return stream.getvalue()


def test_the_check_sees_an_undefined_substitution():
    assert "Undefined substitution" in rst_errors("the |offset| column\n")
    assert rst_errors("the \\|offset\\| column\n") == ""


def test_there_are_captions():
    assert len(CAPTIONS) >= 5


@pytest.mark.parametrize("path", CAPTIONS, ids=lambda p: p.name)
def test_caption_renders_without_docutils_errors(path):
    assert rst_errors(path.read_text()) == "", path.name
