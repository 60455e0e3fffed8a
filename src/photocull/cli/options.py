"""What the commands share: the common options, the consoles, and finding a catalog."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from photocull.catalog.store import Catalog, find_catalog

out = Console()
err = Console(stderr=True)

CatalogOption = Annotated[
    Optional[Path],
    typer.Option("--catalog", help="Catalog file. Default: <folder>/.photocull/catalog.db, "
                 "found by looking upwards from the path given.", dir_okay=False),
]
ConfigOption = Annotated[
    Optional[Path],
    typer.Option("--config", help="A photocull.toml file (default: $PHOTOCULL_CONFIG or ./photocull.toml).",
                 exists=True, dir_okay=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


def open_catalog(path: Path, explicit: Path | None, scan_hint: str = "") -> Catalog:
    """The catalog for ``path`` (or ``explicit``), or exit 1 saying which scan creates it."""
    catalog_path = explicit or find_catalog(path)
    if catalog_path is None or not catalog_path.is_file():
        err.print(f"no catalog found for {path}: run [bold]photocull scan {path}{scan_hint}[/] first, "
                  "or pass --catalog")
        raise typer.Exit(1)
    return Catalog(catalog_path)


def listing_base(paths: list[str], folder: Path) -> Path:
    """The folder listed files are shown relative to: the one the user named, else their common folder."""
    if paths and all(Path(p).is_relative_to(folder) for p in paths):
        return folder
    return Path(os.path.commonpath([str(Path(p).parent) for p in paths])) if paths else folder


def shown_path(path: str, base: Path) -> Path:
    """A listed file relative to ``base`` when inside it."""
    file = Path(path)
    return file.relative_to(base) if file.is_relative_to(base) else file
