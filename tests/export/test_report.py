"""``photocull report``: one self-contained page with the scores, the groups and their reasons, people, space saved."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.helpers import run_cli


class _Page(HTMLParser):
    """What a browser would fetch from the page, and its visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.fetched: list[str] = []
        self.images: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href"):
            if values.get(name):
                self.fetched.append(values[name])
        if tag == "img" and values.get("src"):
            self.images.append(values["src"])
        if tag in ("script", "link", "iframe"):
            self.fetched.append(f"<{tag}>")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def library(corpus: Path, models_ready: Path, tmp_path_factory) -> Path:
    """Scenes (with four pairs of one moment) and Obama's photos and variants, scanned (which culls)."""
    root = tmp_path_factory.mktemp("report") / "library"
    shutil.copytree(corpus / "scenes", root / "scenes")
    shutil.copytree(corpus / "faces" / "variants", root / "variants")
    shutil.copytree(corpus / "faces" / "people" / "obama", root / "obama")
    run_cli("scan", root, "--quiet", "--analyzers", "technical,fingerprints,aesthetic,embedding,faces")
    return root


def test_report_is_one_self_contained_page(library: Path, tmp_path: Path) -> None:
    output = tmp_path / "report.html"
    result = run_cli("report", library, "-o", output)
    assert "wrote" in result.stderr
    html = output.read_text(encoding="utf-8")
    page = _Page()
    page.feed(html)
    text = " ".join(page.text)

    # Nothing is fetched from anywhere: every image is inside the page.
    assert page.images and all(src.startswith("data:image/") for src in page.images), page.fetched[:5]
    assert all(src.startswith("data:") for src in page.fetched)
    assert "<svg" in html and html.count("<rect") >= 2  # the score distribution

    # The groups with their picks and reasons, as the catalog has them.
    stored = json.loads(run_cli("groups", library, "--json").stdout)
    assert stored, "the scan's cull found no groups"
    for group in stored:
        assert group["reason"] in text
    assert re.search(r"Groups \(\d+\)", text)

    # People, and the space culling would save (the rejects' bytes).
    assert "People" in text and html.count("class='person'") >= 1
    assert "data:image/jpeg" in html  # each person's face crop
    assert "space saved by culling" in text


def test_report_without_previews_is_small_and_needs_no_photos(library: Path, tmp_path: Path) -> None:
    output = tmp_path / "plain.html"
    run_cli("report", library, "-o", output, "--no-previews", "--max-groups", "1")
    html = output.read_text(encoding="utf-8")
    assert "data:image/webp" not in html
    assert html.count("class='group'") == 1
    assert "largest of" in html
