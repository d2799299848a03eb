"""Relative links of the deployment and architecture docs point at files and headings that exist."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", REPO / "docs" / "deploy.md", REPO / "docs" / "architecture.md"]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(markdown: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    found = set()
    for line in markdown.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_relative_links_resolve(doc: Path) -> None:
    for target in LINK.findall(doc.read_text()):
        if re.match(r"^[a-z]+:", target):
            continue  # an absolute URL
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        assert file.exists(), f"{doc.name}: {target} does not exist"
        if anchor:
            assert anchor in anchors(file), f"{doc.name}: no heading #{anchor} in {file.name}"


def test_the_architecture_diagram_is_an_svg() -> None:
    root = ElementTree.parse(REPO / "docs" / "architecture.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "architecture.svg" in (REPO / "docs" / "architecture.md").read_text()
