"""Shared fixtures: the real corpus, skipped with a clear message when absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import CORPUS


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not (CORPUS / "README.md").is_file():
        pytest.skip(f"test corpus not found at {CORPUS} (it lives in ../shared/corpus beside the repo)")
    return CORPUS
