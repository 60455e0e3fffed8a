"""``photocull report``: the culled library as one self-contained HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from photocull.cli.options import CatalogOption, ConfigOption, LibraryArgument, err, open_catalog
from photocull.config import load_settings
from photocull.export.report import write_report


def report(
    path: LibraryArgument = Path("."),
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write.")] = Path("photocull-report.html"),
    max_groups: Annotated[int, typer.Option("--max-groups", min=0, help="Most groups shown, largest first.")] = 200,
    top: Annotated[int, typer.Option("--top", min=0, help="How many of the best photos to show.")] = 24,
    no_previews: Annotated[bool, typer.Option("--no-previews", help="No thumbnails (a small page, made at once).")] = False,
    catalog: CatalogOption = None,
    config: ConfigOption = None,
) -> None:
    """Write an HTML report: score distribution, best photos, groups with picks and reasons, people, space saved.

    One file with everything inside (previews as data URIs): open it in any browser, mail it, keep it.
    Uses the groups and decisions of the last cull (`photocull scan` runs one; `photocull cull` re-runs it).

    Example:  photocull report ~/Pictures/2024-trip -o trip.html
    """
    settings = load_settings(config)
    with open_catalog(path, catalog) as cat:
        summary = write_report(cat, settings, output, max_groups=max_groups, top=top, previews=not no_previews)
    err.print(f"wrote {output} ({summary.bytes / 1e6:.1f} MB): {summary.photos} photos, "
              f"{summary.groups_shown} of {summary.groups} groups, {summary.previews} previews"
              + (f", {summary.missing_previews} photos unreadable for a preview" if summary.missing_previews else ""))
