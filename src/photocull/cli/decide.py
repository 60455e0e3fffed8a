"""``photocull decide``, ``trash``, ``undo`` and the file exports (``export xmp|keepers|people|zip``).

Thin commands over :mod:`photocull.export` and ``catalog.decisions``; see docs/export.md.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from photocull.catalog.decisions import LABELS
from photocull.catalog.sidecars import Sidecars
from photocull.catalog.store import Catalog, printable
from photocull.cli.options import (
    CatalogOption, ConfigOption, FolderOption, JsonOption, Library, LibraryArgument, PathOrURL, err, library_argument,
    limit_to, open_catalog, out,
)
from photocull.config import load_settings
from photocull.ingest.originals import is_under
from photocull.ingest.remote import is_url

UndecidedOption = Annotated[bool, typer.Option(
    "--include-undecided", help="Also files with no keep/reject decision (rejects are never included).")]


def register(app: typer.Typer, export_app: typer.Typer) -> None:
    """Add these commands to the ``photocull`` application."""
    app.command()(decide)
    app.command()(trash)
    app.command()(undo)
    export_app.command("xmp")(export_xmp)
    export_app.command("keepers")(export_keepers_command)
    export_app.command("people")(export_people_command)
    export_app.command("zip")(export_zip)


def decide(
    paths: Annotated[Optional[list[PathOrURL]], library_argument(
        "Photo files or folders (every photo under them); URLs of scanned objects or prefixes.")] = None,
    keep: Annotated[bool, typer.Option("--keep", help="Mark as keepers.")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="Mark as rejects.")] = False,
    clear: Annotated[bool, typer.Option(
        "--clear", help="Forget your decisions on these files (the automatic ones apply again).")] = False,
    rating: Annotated[Optional[int], typer.Option("--rating", min=0, max=5, help="Stars, 0 to 5.")] = None,
    label: Annotated[Optional[str], typer.Option(
        "--label", help=f"Colour label: {', '.join(LABELS)}, or none to remove it.")] = None,
    from_xmp: Annotated[bool, typer.Option(
        "--from-xmp", help="Read back sidecars changed by another tool (darktable, digiKam, Lightroom) "
        "and ratings embedded in the photos, as your decisions.")] = False,
    catalog: CatalogOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set your decisions: keep / reject, stars, colour label. A re-run never overwrites them.

    With no decision option, shows the files' decisions.

    Examples:

      photocull decide IMG_0042.jpg --keep --rating 4 --label green

      photocull decide party/ --reject          (every photo in the folder)

      photocull decide IMG_0042.jpg --clear     (back to the automatic decision)

      photocull decide --from-xmp ~/Pictures/trip   (ratings set in darktable or digiKam)

      photocull decide s3://bucket/trip/IMG_0042.jpg --keep

    Write them to XMP sidecars with  photocull export xmp
    """
    paths = paths or [Path(".")]
    if keep and reject:
        err.print("choose one of --keep and --reject")
        raise typer.Exit(1)
    if label is not None and label.lower() not in (*LABELS, "none"):
        err.print(f"--label takes one of {', '.join(LABELS)}, none")
        raise typer.Exit(1)
    with open_catalog(paths[0], catalog) as cat:
        if from_xmp:
            from photocull.export.xmp import import_changes

            imported = []
            for path in paths:
                report = import_changes(cat, limit_to(cat, path, catalog))
                imported += report.imported
                for where, why in report.problems:
                    err.print(f"[yellow]sidecar not read[/] {_p(where)}: {why}")
            if as_json:
                print(json.dumps(imported))
            else:
                for row in imported:
                    what = ", ".join(f"{k} {v if v is not None else 'cleared'}" for k, v in row.items()
                                     if k not in ("path", "sidecar"))
                    source = printable(row["sidecar"]) if row["sidecar"] else "the photo itself"
                    out.print(f"{row['path']}: {what} (from {source})", markup=False)
                err.print(f"{len(imported)} decisions read back from XMP")
            return
        files, unknown = _files(cat, paths)
        for path in unknown:
            err.print(f"[yellow]not in the catalog:[/] {_p(path)} (scan its folder first)")
        if not files:
            err.print("no photo of the catalog given")
            raise typer.Exit(1)
        values: dict[str, object] = {}
        if keep or reject:
            values["flag"] = "keep" if keep else "reject"
        if rating is not None:
            values["rating"] = rating
        if label is not None:
            values["label"] = None if label.lower() == "none" else label.lower()
        rows = []
        for path in files:
            before = cat.decisions.get(path)
            if clear:
                cat.decisions.clear_user(path)
            if values:
                cat.decisions.set_user(path, origin="cli", **values)
            after = cat.decisions.get(path)
            rows.append({"path": printable(path), "before": _shown(before), "after": _shown(after),
                         "changed": _shown(before) != _shown(after)})
    if as_json:
        print(json.dumps(rows))
        return
    changed = 0
    for row in rows:
        if values or clear:
            if row["changed"]:
                changed += 1
                out.print(f"{row['path']}: {_words(row['after'])}  (was {_words(row['before'])})", markup=False)
        else:
            out.print(f"{row['path']}: {_words(row['after'])}", markup=False)
    if values or clear:
        err.print(f"{changed} of {len(rows)} files changed")


def _files(cat: Catalog, paths: list[Library]) -> tuple[list[Library], list[Library]]:
    """The catalog's readable files among ``paths`` (a folder or URL prefix: every one under it), and the
    paths that named none."""
    readable = {key: cat.resolve(key) for key in Sidecars(cat).readable_keys()}
    files, unknown, seen = [], [], set()
    for given in paths:
        path = given if is_url(given) else given.resolve()
        if is_url(path) or path.is_dir():  # a URL names one object or a prefix: is_under takes both
            found = [p for p in readable.values() if is_under(p, path)]
        else:
            found = [path] if cat.key(path) in readable else []
        if not found:
            unknown.append(given)
        for p in found:
            if p not in seen:
                seen.add(p)
                files.append(p)
    return sorted(files, key=lambda p: (is_url(p), str(p).split("/"))), unknown


def _p(text: str | Path) -> str:
    """A path (or URL) from a report, printable whatever bytes its name holds, never read as Rich markup."""
    return escape(printable(text))


def _shown(decision) -> dict:
    if decision is None:
        return {"flag": None, "rating": None, "label": None, "by": None}
    by = "user" if decision.by_user else "auto" if (decision.flag, decision.rating, decision.label) != (
        None, None, None) else None
    return {"flag": decision.flag, "rating": decision.rating, "label": decision.label, "by": by}


def _words(values: dict) -> str:
    parts = [values["flag"] or "undecided"]
    if values["rating"] is not None:
        parts.append(f"{values['rating']}★")
    if values["label"]:
        parts.append(values["label"])
    if values["by"]:
        parts.append(f"by {values['by']}")
    return " ".join(parts)


def trash(
    path: Annotated[PathOrURL, library_argument(
        "A scanned folder (or a folder inside it): its rejects. Objects in a bucket are never moved.")] = Path("."),
    to: Annotated[Optional[Path], typer.Option(
        "--to", help="Trash folder (default: .photocull/trash beside the catalog).", file_okay=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", "-n", help="Only list what would move.")] = False,
    catalog: CatalogOption = None,
    as_json: JsonOption = False,
) -> None:
    """Move the rejects (and their sidecars) to a trash folder. Nothing is deleted; `photocull undo` restores.

    Each move is written to an undo log, flushed to disk, before the file moves.

    Examples:

      photocull trash ~/Pictures/trip --dry-run

      photocull trash ~/Pictures/trip

      photocull undo ~/Pictures/trip
    """
    from photocull.export.trash import trash_rejects

    with open_catalog(path, catalog) as cat:
        report = trash_rejects(cat, limit_to(cat, path, catalog), to, dry_run)
    if as_json:
        print(json.dumps(asdict(report)))
        return
    for source, dest in report.moves if dry_run else []:
        out.print(f"{printable(source)} -> {printable(dest)}", markup=False)
    for where, why in report.problems:
        err.print(f"[red]not moved[/] {_p(where)}: {why}")
    verb = "would move" if dry_run else "moved"
    err.print(f"{verb} {report.photos} rejects and {report.sidecars} sidecars ({report.bytes / 2**20:.1f} MiB)"
              + (f" to {_p(report.folder)}; undo with: photocull undo" if report.photos and not dry_run else ""))


def undo(
    path: LibraryArgument = Path("."),
    everything: Annotated[bool, typer.Option("--all", help="Undo every operation not yet undone.")] = False,
    catalog: CatalogOption = None,
    as_json: JsonOption = False,
) -> None:
    """Put back the files the last `photocull trash` (or `export keepers --mode move`) moved.

    A file that has reappeared where one was is never overwritten: it is
    reported, and `photocull undo` can be run again once it is moved away.
    """
    from photocull.export.trash import undo as run_undo

    with open_catalog(path, catalog) as cat:
        report = run_undo(cat, everything)
    if as_json:
        print(json.dumps(asdict(report)))
        return
    if not report.operations:
        err.print("nothing to undo")
        raise typer.Exit(1)
    for where, why in report.problems:
        err.print(f"[red]not restored[/] {_p(where)}: {why}")
    err.print(f"restored {len(report.restored)} files ({', '.join(report.operations)})"
              + (f"; {report.already} were already back" if report.already else ""))
    if report.problems:
        raise typer.Exit(1)


def export_xmp(
    path: Annotated[PathOrURL, library_argument(
        "A scanned folder (or a folder inside it), or a scanned URL (needs --dest).")] = Path("."),
    style: Annotated[str, typer.Option(
        "--style", help="both: IMG_1.CR2.xmp and IMG_1.xmp; full: IMG_1.CR2.xmp (darktable, digiKam); "
        "adobe: IMG_1.xmp (Lightroom, Bridge).")] = "both",
    dest: Annotated[Optional[Path], typer.Option(
        "--dest", file_okay=False, help="Write the sidecars into this folder instead of beside the photos, "
        "each where `photocull export keepers DEST` puts its photo (BUCKET/KEY for a URL). Required for photos "
        "in object storage: photocull never writes into a bucket.")] = None,
    catalog: CatalogOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write XMP sidecars with each photo's decision: xmp:Rating (-1 reject), xmp:Label, digiKam's pick label.

    Sidecars that exist are updated in place: only these properties change
    (darktable's history and everything else stays). Sidecars changed by
    another tool are read back first, as your decisions. Photos are never modified.

    With --dest, the sidecars go into a separate folder tree (written, not read back).

    Examples:

      photocull export xmp ~/Pictures/trip --style full

      photocull export keepers ~/trip -f s3://bucket/trip  then  photocull export xmp s3://bucket/trip --dest ~/trip
    """
    from photocull.export.xmp import REMOTE_REASON, STYLES, write_sidecars

    if style not in STYLES:
        err.print(f"--style takes one of {', '.join(STYLES)}")
        raise typer.Exit(1)
    if is_url(path) and dest is None:
        err.print(f"{_p(path)} is in object storage and {REMOTE_REASON}: pass [bold]--dest FOLDER[/] to write the "
                  "sidecars into a local folder tree (the one [bold]photocull export keepers FOLDER -f URL[/] fills)")
        raise typer.Exit(1)
    with open_catalog(path, catalog) as cat:
        report = write_sidecars(cat, style, limit_to(cat, path, catalog), dest)
    if as_json:
        print(json.dumps(asdict(report)))
        return
    if report.in_object_storage:
        err.print(f"[yellow]{len(report.in_object_storage)} photos in object storage left out[/]: {REMOTE_REASON}; "
                  "pass --dest FOLDER to write their sidecars there")
    for where, why in report.problems:
        err.print(f"[yellow]sidecar not written[/] {_p(where)}: {why}")
    if report.skipped_adobe and style != "full":
        err.print(f"{len(report.skipped_adobe)} photos share NAME.xmp with another photo of the same name: "
                  "only NAME.EXT.xmp written for them")
    if report.imported:
        err.print(f"read back {len(report.imported)} decisions from sidecars changed by another tool")
    err.print(f"wrote {len(report.written)} sidecars, {report.unchanged} already up to date")


def export_keepers_command(
    dest: Annotated[Path, typer.Argument(help="Folder to put the keepers in (created).", file_okay=False)],
    folder: FolderOption = Path("."),
    mode: Annotated[str, typer.Option("--mode", help="copy, link (hard links) or move (undo restores); "
                                      "photos in object storage are copied, never moved.")] = "copy",
    include_undecided: UndecidedOption = False,
    catalog: CatalogOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Copy, hard-link or move the keepers into DEST, keeping their folders; sidecars go along.

    A different file already in DEST is never overwritten (the new one gets NAME (1).EXT).
    Keepers in object storage are streamed from the bucket into DEST/BUCKET/KEY.

    Examples:

      photocull export keepers ~/Selected -f ~/Pictures/trip

      photocull export keepers ~/Selected --mode link --include-undecided

      photocull export keepers ~/Selected -f s3://bucket/trip   (copied from the bucket)
    """
    from photocull.export.keepers import MODES, export_keepers

    if mode not in MODES:
        err.print(f"--mode takes one of {', '.join(MODES)}")
        raise typer.Exit(1)
    with open_catalog(folder, catalog) as cat:
        report = export_keepers(cat, dest, mode, include_undecided, limit_to(cat, folder, catalog),
                                load_settings(config).ingest.storage_options)
    if as_json:
        print(json.dumps(asdict(report)))
        return
    for where, why in report.problems:
        err.print(f"[red]not exported[/] {_p(where)}: {why}")
    done = {"copy": "copied", "link": "linked", "move": "moved"}[mode]
    err.print(f"{done} {report.photos} photos and {report.sidecars} sidecars ({report.bytes / 2**20:.1f} MiB) "
              f"to {_p(dest)}" + (f"; {report.already_there} already there" if report.already_there else "")
              + (f"; {len(report.renamed)} renamed to avoid overwriting" if report.renamed else "")
              + (f"; {report.linked_as_copy} copied (no hard links there)" if report.linked_as_copy else "")
              + ("; undo with: photocull undo" if mode == "move" and report.photos else ""))


def export_people_command(
    dest: Annotated[Path, typer.Argument(help="Folder for the person_NNN folders and summary.csv.", file_okay=False)],
    folder: FolderOption = Path("."),
    mode: Annotated[str, typer.Option("--mode", help="copy or link (hard links).")] = "copy",
    every_photo: Annotated[bool, typer.Option("--all", help="Every photo of each person, not only keepers.")]
    = False,
    include_undecided: UndecidedOption = False,
    catalog: CatalogOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """One folder per person (person_001/…) with their keepers, metadata.json and a face crop; summary.csv.

    Needs a scan with the faces analyser.

    Example:  photocull export people ~/wedding-people -f ~/Pictures/wedding --all
    """
    from photocull.export.people_folders import MODES, export_people

    if mode not in MODES:
        err.print(f"--mode takes one of {', '.join(MODES)}")
        raise typer.Exit(1)
    with open_catalog(folder, catalog, " --analyzers +faces") as cat:
        report = export_people(cat, dest, load_settings(config), mode, every_photo, include_undecided)
    if as_json:
        print(json.dumps(asdict(report)))
        return
    for where, why in report.problems:
        err.print(f"[yellow]problem[/] {_p(where)}: {why}")
    err.print(f"{report.people} people, {report.files} files ({report.bytes / 2**20:.1f} MiB) in {_p(dest)}; "
              f"summary: {_p(report.summary)}")


def export_zip(
    output: Annotated[Path, typer.Argument(help="The ZIP file to write.", dir_okay=False)],
    folder: FolderOption = Path("."),
    include_undecided: UndecidedOption = False,
    catalog: CatalogOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """A ZIP of the keepers (stored, with their folders and sidecars) and photo_scores.csv.

    Examples:

      photocull export zip trip-keepers.zip -f ~/Pictures/trip

      photocull export zip trip-keepers.zip -f s3://bucket/trip   (streamed from the bucket)
    """
    from photocull.export.archive import write_zip

    with open_catalog(folder, catalog) as cat:
        settings = load_settings(config)
        report = write_zip(cat, output, settings.rules, include_undecided, limit_to(cat, folder, catalog),
                           settings.ingest.storage_options)
    if as_json:
        print(json.dumps(asdict(report)))
        return
    for where, why in report.problems:
        err.print(f"[red]not added[/] {_p(where)}: {why}")
    err.print(f"wrote {report.photos} photos and {report.sidecars} sidecars "
              f"({report.bytes / 2**20:.1f} MiB) to {_p(output)}")
