"""Every relative Markdown link in the project's documents points at a file or folder that exists."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))
TOP_LEVEL = [ROOT / name for name in ("README.md", "CHANGELOG.md", "benchmarks/README.md")]
DOCUMENTS = [path for path in TOP_LEVEL if path.exists()] + DOCS

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.DOTALL)
# [text](target "title") and ![alt](target); the text may hold one level of nested brackets
INLINE = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]"  # [text] or ![alt]
    r"\(\s*(<[^>]*>|[^()\s]*(?:\([^()\s]*\)[^()\s]*)*)"  # (target, which may hold balanced parentheses
    r"(?:\s+[\"'(][^)]*)?\)"  # and a title)
)
# [label]: target "title"
REFERENCE = re.compile(r"^[ ]{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)", re.MULTILINE)
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)  # http:, https:, mailto:, ...


def links(text: str) -> list[str]:
    """The link targets of a Markdown text, outside code blocks and code spans."""
    text = CODE_SPAN.sub("", FENCE.sub("", text))
    targets = [m.group(1) for m in INLINE.finditer(text)] + [m.group(1) for m in REFERENCE.finditer(text)]
    return [target[1:-1] if target.startswith("<") else target for target in targets]


def relative_links(text: str) -> list[str]:
    """The links to files or folders: no external scheme, no pure ``#anchor``; anchors stripped."""
    found = []
    for target in links(text):
        if not target or target.startswith("#") or EXTERNAL.match(target):
            continue
        path = unquote(target.split("#", 1)[0].split("?", 1)[0])
        if path:
            found.append(path)
    return found


def broken_links(document: Path) -> list[str]:
    """The relative links of ``document`` that resolve to nothing on disk."""
    return [
        target
        for target in relative_links(document.read_text(encoding="utf-8"))
        if not (document.parent / target).exists()
    ]


def test_the_checker_finds_links_and_catches_broken_ones(tmp_path):
    (tmp_path / "there.md").write_text("x")
    (tmp_path / "folder").mkdir()
    page = tmp_path / "page.md"
    page.write_text(
        "See [a](there.md), [b](there.md#part), [c](folder/), [d](missing.md#x), ![e](gone.png),\n"
        "[f](https://example.org/x), [g](mailto:a@b.c), [h](#anchor), `[i](in-code.md)`.\n"
        "```\n[j](in-a-fence.md)\n```\n"
        "[k]: <also missing.md>\n"
    )
    assert relative_links(page.read_text()) == [
        "there.md",
        "there.md",
        "folder/",
        "missing.md",
        "gone.png",
        "also missing.md",
    ]
    assert broken_links(page) == ["missing.md", "gone.png", "also missing.md"]


def test_there_are_docs_pages():
    assert DOCS, "docs/*.md: no pages found"


@pytest.mark.parametrize("page", DOCS, ids=[page.name for page in DOCS])
def test_every_docs_page_links_somewhere(page):
    assert relative_links(page.read_text(encoding="utf-8")), f"{page.name} has no relative link"


@pytest.mark.parametrize("document", DOCUMENTS, ids=[str(d.relative_to(ROOT)) for d in DOCUMENTS])
def test_relative_links_resolve(document):
    broken = broken_links(document)
    assert not broken, f"{document.relative_to(ROOT)} links to missing paths: {broken}"


def test_every_figure_of_the_readme_results_comes_from_a_linked_results_file():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Results", 1)[1].split("\n## ", 1)[0]
    linked = re.findall(r"\]\((benchmarks/results/[^)#]+)\)", section)
    assert linked, "the Results section links no results file"
    evidence = ""
    for link in linked:
        path = ROOT / link
        evidence += "".join(f.read_text() for f in ([path] if path.is_file() else sorted(path.glob("*.md"))))
    figures = set(re.findall(r"(?<![\w.])\d+\.\d+(?!\w)", section))
    assert len(figures) > 30
    assert sorted(figure for figure in figures if figure not in evidence) == []
