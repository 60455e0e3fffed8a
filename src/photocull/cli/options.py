"""What the commands share: the common options, the consoles, and finding a catalog."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Optional, Union

import typer
from rich.console import Console

from photocull.catalog.store import Catalog, default_catalog_path, find_catalog
from photocull.ingest.originals import as_original, is_under
from photocull.ingest.remote import is_url

out = Console()
err = Console(stderr=True)

Library = Union[Path, str]
"""A library as the commands take it: a local folder or file (``Path``), or an object storage URL
(``str``: ``Path`` would fold its ``//``)."""


class PathOrURL:
    """The annotation of folder-or-URL parameters, whose values :func:`library` makes (a :data:`Library`):
    Typer refuses Union annotations, and its help shows this name."""


def library(value: str | Path) -> Library:
    """Typer's parser for a folder argument: a URL stays a str (without a trailing ``/``), anything else
    becomes a Path; the default arrives already a Path."""
    if isinstance(value, Path):
        return value
    return value.rstrip("/") if is_url(value) else Path(value)


def library_argument(help: str = "A scanned folder (or any path inside it), or a scanned URL "
                     "(s3://bucket/prefix, or a prefix or object under it).", **kwargs: Any) -> Any:
    """A positional folder-or-URL argument (annotate it :class:`PathOrURL`)."""
    return typer.Argument(parser=library, metavar="PATH|URL", help=help, **kwargs)


def library_option(help: str = "A scanned folder (or any path inside it) or URL (s3://bucket/prefix); "
                   "its catalog is used.") -> Any:
    """``--folder``/``-f``: the library a command works on, a folder or a URL."""
    return typer.Option("--folder", "-f", parser=library, metavar="PATH|URL", help=help)


LibraryArgument = Annotated[PathOrURL, library_argument()]
FolderOption = Annotated[PathOrURL, library_option()]
CatalogOption = Annotated[
    Optional[Path],
    typer.Option("--catalog", help="Catalog file. Default: <folder>/.photocull/catalog.db, "
                 "found by looking upwards from the path given; for a URL, the one its scan made "
                 "in the user's data folder.", dir_okay=False),
]
ConfigOption = Annotated[
    Optional[Path],
    typer.Option("--config", help="A photocull.toml file (default: $PHOTOCULL_CONFIG or ./photocull.toml).",
                 exists=True, dir_okay=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


def open_catalog(path: Library, explicit: Path | None, scan_hint: str = "") -> Catalog:
    """The catalog for ``path`` (or ``explicit``), or exit 1 saying which scan creates it."""
    catalog_path = explicit or (find_url_catalog(path) if is_url(path) else find_catalog(path))
    if catalog_path is None or not catalog_path.is_file():
        err.print(f"no catalog found for {path}: run [bold]photocull scan {path}{scan_hint}[/] first, "
                  "or pass --catalog")
        raise typer.Exit(1)
    return Catalog(catalog_path)


def find_url_catalog(url: str) -> Path | None:
    """The default catalog of ``url`` or of the nearest prefix above it (a scan of ``s3://b/trip`` serves
    ``s3://b/trip/day1`` too), as :func:`~photocull.catalog.store.find_catalog` looks upwards for a folder."""
    scheme, _, rest = url.rstrip("/").partition("://")
    parts = rest.split("/")
    for end in range(len(parts), 0, -1):
        candidate = default_catalog_path(f"{scheme}://{'/'.join(parts[:end])}")
        if candidate.is_file():
            return candidate
    return None


def listing_folder(path: Library) -> Library:
    """The folder a listing is relative to: ``path`` itself when a folder (or a URL), else its folder."""
    if is_url(path):
        return path
    return path.resolve() if path.is_dir() else path.resolve().parent


def limit_to(cat: Catalog, path: Library, explicit_catalog: Path | None) -> Library | None:
    """The folder or URL prefix a command is limited to: ``path`` when it is a folder or a URL, unless
    --catalog points elsewhere and the folder is outside that catalog's root (e.g. the default ``.``)."""
    if is_url(path):
        return path
    folder = path.resolve()
    if not folder.is_dir():
        return None
    if explicit_catalog is not None and (cat.root is None or not folder.is_relative_to(cat.root)):
        return None
    return folder


def listing_base(paths: list[str], folder: Library) -> Library:
    """What listed files are shown relative to: the folder or URL the user named, else their common parent."""
    if paths and all(is_under(as_original(p), folder) for p in paths):
        return folder
    if not paths:
        return folder
    parents = [p.rsplit("/", 1)[0] if is_url(p) else str(Path(p).parent) for p in paths]
    if all(is_url(p) for p in parents):
        common = os.path.commonprefix([p + "/" for p in parents])
        common = common[:common.rindex("/")]
        return common if is_url(common) and common.split("://", 1)[1] else folder
    if any(is_url(p) for p in parents):
        return folder  # URLs and local files mixed: each shown in full
    return Path(os.path.commonpath(parents))


def shown_path(path: str, base: Library) -> str:
    """A listed file relative to ``base`` when inside it (a URL key: the rest of the key)."""
    if is_url(path) or is_url(base):
        return path[len(str(base)) + 1:] if is_under(path, base) and path != base else path
    file = Path(path)
    return str(file.relative_to(base) if file.is_relative_to(base) else file)
