"""``photocull search``: find photos by a description, or rank them by a custom prompt pair.

Registered on the main app by :mod:`photocull.cli.app` (which imports this
module, so nothing here imports it back).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich import box
from rich.table import Table

from photocull.cli.options import (
    CatalogOption, ConfigOption, JsonOption, PathOrURL, err, library, library_argument, listing_base,
    listing_folder, open_catalog, out, shown_path,
)
from photocull.config import load_settings
from photocull.search import score_prompts, search_text


def search(
    text: Annotated[Optional[str], typer.Argument(
        help="What to look for, in words, e.g. 'a dog on a beach'. Leave out with --good/--bad.")] = None,
    path: Annotated[Optional[PathOrURL], library_argument(
        "A scanned folder (or any path inside it) or URL (s3://bucket/prefix). Default: the current folder.")]
    = None,
    n: Annotated[int, typer.Option("-n", "--count", min=1, help="How many photos to list.")] = 20,
    good: Annotated[Optional[str], typer.Option(
        "--good", help="Rank by a prompt pair instead of searching: the description of a good photo.")] = None,
    bad: Annotated[Optional[str], typer.Option("--bad", help="... and of a bad one (needs --good).")] = None,
    catalog: CatalogOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Find photos by what they show (CLIP text search), or rank them by a custom prompt pair.

    Needs a scan with the optional CLIP analyser first (photocull scan PATH --analyzers +clip).
    Search lists cosine similarities (about 0.3 is a good match for CLIP); --good/--bad lists
    0-10 scores: how much more CLIP finds the photo matches --good than --bad. Nothing is
    decoded again, so trying other words is instant.

    Examples:

      photocull search "a dog on the beach" ~/Pictures/2024-trip

      photocull search "sunset" -n 5 --json

      photocull search --good "a sharp, well-lit portrait" --bad "a blurry, dark photo" ~/Pictures/2024-trip
    """
    if (good is None) != (bad is None):
        err.print("--good and --bad go together")
        raise typer.Exit(1)
    if good is not None and path is None:
        text, path = None, library(text) if text is not None else None  # no TEXT: the one argument is the folder
    if (good is None) == (text is None):
        err.print("give either TEXT or --good/--bad")
        raise typer.Exit(1)
    path = path or Path(".")
    settings = load_settings(config)
    with open_catalog(path, catalog, " --analyzers +clip") as cat:
        if good is not None and bad is not None:
            found, label = score_prompts(cat, good, bad, settings, limit=n), "score"
        else:
            found, label = search_text(cat, text or "", settings, limit=n), "similarity"
    if as_json:
        print(json.dumps([{"path": p, label: round(v, 4)} for p, v in found]))
        return
    if not found:
        err.print(f"no CLIP vectors in this catalog yet: run [bold]photocull scan {path} --analyzers +clip[/] "
                  "first")
        raise typer.Exit(1)
    base = listing_base([p for p, _ in found], listing_folder(path))
    title = f"{good!r} over {bad!r}" if good is not None else repr(text)
    table = Table(title=f"{len(found)} photos for {title} in {base}", box=box.SIMPLE_HEAD)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column(label, justify="right", no_wrap=True)
    table.add_column("file", overflow="fold")
    for rank, (shown, value) in enumerate(found, 1):
        table.add_row(str(rank), f"{value:.1f}" if label == "score" else f"{value:.3f}", shown_path(shown, base))
    out.print(table)
