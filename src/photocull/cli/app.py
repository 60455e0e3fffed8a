"""The ``photocull`` command line: thin commands over the library's functions.

No logic lives here: each command parses its flags, calls one function of the
library and presents the result (Rich for people, ``--json`` for scripts).
Exit codes: 0 success (unreadable photos are reported, not failures), 1 bad
usage or nothing to show, 2 a fatal error (catalog, disk, configuration),
130 interrupted.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from photocull.catalog.store import Catalog, default_catalog_path, find_catalog
from photocull.cli.explain import explain_photo
from photocull.cli.progress import ScanProgress
from photocull.config import ConfigError, Settings, load_settings
from photocull.errors import FatalError
from photocull.export.scores_csv import write_scores_csv
from photocull.pipeline.scan import ScanReport, scan as run_scan

app = typer.Typer(
    help="Cull photos: scan a folder or ZIP, measure every photo, and show the best.\n\n"
    "Start with:  photocull scan ~/Pictures/trip  then  photocull top ~/Pictures/trip",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
export_app = typer.Typer(help="Write what the catalog knows to files.", no_args_is_help=True)
app.add_typer(export_app, name="export")

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


def main() -> None:
    try:
        app()
    except FatalError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        sys.exit(2)
    except ConfigError as exc:
        err.print(f"[bold red]configuration error:[/] {exc}")
        sys.exit(2)


@app.command()
def scan(
    paths: Annotated[list[Path], typer.Argument(help="Folders (scanned recursively), photo files or ZIP archives.")],
    catalog: CatalogOption = None,
    workers: Annotated[Optional[int], typer.Option("--workers", "-w", min=1,
                       help="Worker processes (default: one per CPU core).")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Scan photos into the catalog: decode, measure, fingerprint. Unchanged files are skipped.

    Examples:

      photocull scan ~/Pictures/2024-trip

      photocull scan card.zip extra/ --workers 4 --catalog trip.db

      photocull scan . --json | jq .unreadable
    """
    settings = load_settings(config, scan={"workers": workers})
    catalog_path = catalog or default_catalog_path(paths[0])
    with Catalog(catalog_path) as cat, ScanProgress(err, enabled=not quiet and not as_json) as progress:
        try:
            report = run_scan(paths, cat, settings, on_result=progress.on_result, on_plan=progress.on_plan)
        except KeyboardInterrupt:
            progress.stop()
            err.print("[yellow]interrupted:[/] everything finished so far is saved; run the same command to continue.")
            sys.exit(130)
    for path, reason in report.problems:
        err.print(f"[red]skipped input[/] {path}: {reason}")
    if as_json:
        print(json.dumps(_report_dict(report)))
    else:
        _print_report(report)


@app.command()
def top(
    path: Annotated[Path, typer.Argument(help="A scanned folder (or any path inside it).")] = Path("."),
    n: Annotated[int, typer.Option("-n", "--count", min=1, help="How many photos to list.")] = 50,
    catalog: CatalogOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the best photos, best first, by technical score.

    Example:  photocull top ~/Pictures/2024-trip -n 20
    """
    with _open_catalog(path, catalog) as cat:
        rows = cat.photos(limit=n)
    folder = path.resolve() if path.is_dir() else path.resolve().parent
    if as_json:
        print(json.dumps(rows, default=str))
        return
    if not rows:
        err.print("no readable photos in this catalog yet: run [bold]photocull scan[/] first")
        raise typer.Exit(1)
    table = Table(title=f"Best {len(rows)} photos", show_lines=False)
    for column in ("#", "score", "sharpness", "exposure", "flags", "taken"):
        table.add_column(column, justify="right" if column in ("#", "score", "sharpness") else "left",
                         no_wrap=True)
    table.add_column("file", overflow="fold")
    for rank, row in enumerate(rows, 1):
        flags = ", ".join(f for f in ("blurry", "badly_exposed") if row.get(f)) or "-"
        taken = (row.get("capture_time") or "-")[:16].replace("T", " ")
        shown = Path(row["path"])
        shown = shown.relative_to(folder) if shown.is_relative_to(folder) else shown
        table.add_row(str(rank), f"{row['technical_score']:.0f}", f"{row['sharpness']:.2f}",
                      f"{row['exposure_ev']:+.1f} EV", flags, taken, str(shown))
    out.print(table)


@app.command()
def show(
    file: Annotated[Path, typer.Argument(help="A photo that has been scanned.", exists=True, dir_okay=False)],
    catalog: CatalogOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every measurement of one photo, each explained.

    Example:  photocull show ~/Pictures/2024-trip/IMG_0042.JPG
    """
    with _open_catalog(file, catalog) as cat:
        row = cat.photo(file.resolve())
    if row is None:
        err.print(f"{file}: not in the catalog: run [bold]photocull scan[/] on its folder first")
        raise typer.Exit(1)
    if as_json:
        print(json.dumps(row, default=str))
    else:
        out.print(explain_photo(row))


@export_app.command("csv")
def export_csv(
    path: Annotated[Path, typer.Argument(help="A scanned folder (or any path inside it).")] = Path("."),
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")] = Path("photo_scores.csv"),
    catalog: CatalogOption = None,
) -> None:
    """Write photo_scores.csv: one row per photo, best first, every measurement.

    Example:  photocull export csv ~/Pictures/2024-trip -o trip_scores.csv
    """
    with _open_catalog(path, catalog) as cat:
        count = write_scores_csv(cat, output)
    err.print(f"wrote {count} photos to {output}")


@app.command("config")
def show_config(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Show every setting, its current value and what it means.

    Set them in photocull.toml ([scan] workers = 4), or as PHOTOCULL_SCAN__WORKERS=4.
    """
    settings = load_settings(config)
    if as_json:
        print(settings.model_dump_json(indent=2))
        return
    table = Table(title="photocull settings", show_lines=True)
    for column in ("setting", "value", "meaning"):
        table.add_column(column)
    for section_name in Settings.model_fields:
        section = getattr(settings, section_name)
        for name, info in type(section).model_fields.items():
            table.add_row(f"{section_name}.{name}", repr(getattr(section, name)), info.description or "")
    out.print(table)


def _open_catalog(path: Path, explicit: Path | None) -> Catalog:
    catalog_path = explicit or find_catalog(path)
    if catalog_path is None or not catalog_path.is_file():
        err.print(f"no catalog found for {path}: run [bold]photocull scan {path}[/] first, or pass --catalog")
        raise typer.Exit(1)
    return Catalog(catalog_path)


def _report_dict(report: ScanReport) -> dict:
    from dataclasses import asdict

    values = asdict(report)
    values["catalog"] = str(report.catalog)
    return values


def _print_report(report: ScanReport) -> None:
    rate = report.processed / report.seconds if report.seconds else 0.0
    parts = [
        f"[bold]{report.files}[/] photo files",
        f"{report.processed} scanned ({rate:.1f}/s)",
        f"{report.skipped} unchanged",
        f"{report.analysed} analysed",
    ]
    if report.known_content:
        parts.append(f"{report.known_content} with content already measured")
    parts.append(f"[{'red' if report.unreadable else 'green'}]{report.unreadable} unreadable[/]")
    if report.missing:
        parts.append(f"{report.missing} no longer found")
    err.print(", ".join(parts) + f" in {report.seconds:.1f} s")
    if report.ignored:
        ignored = ", ".join(f"{count} {ext}" for ext, count in sorted(report.ignored.items(), key=lambda kv: -kv[1]))
        err.print(f"ignored non-photo files: {ignored}")
    err.print(f"catalog: {report.catalog}")
