"""``photocull people``: list the people found in the faces, name them, give them roles, fix mistakes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich import box
from rich.table import Table

from photocull.cli.options import (
    CatalogOption, ConfigOption, FolderOption, JsonOption, PathOrURL, err, library_argument, listing_base,
    listing_folder, open_catalog, out, shown_path,
)
from photocull.ingest.remote import is_url
from photocull.config import load_settings
from photocull.people import edits
from photocull.people.listing import faces_of, list_people
from photocull.people.update import recluster as run_recluster

people_app = typer.Typer(
    help="People found in the faces: list them, name them, give them roles, merge and split.\n\n"
    "Needs a scan with faces:  photocull scan PATH --analyzers +faces",
    invoke_without_command=True,
)
PersonArgument = Annotated[int, typer.Argument(help="A person's id, as `photocull people` lists it.", min=1)]
_FACES_HINT = " --analyzers +faces"


@people_app.callback()
def people(
    ctx: typer.Context,
    folder: FolderOption = Path("."),
    catalog: CatalogOption = None,
    crops: Annotated[Optional[Path], typer.Option(
        "--crops", help="Folder for each person's face crop (default: people/ beside the catalog).",
        file_okay=False)] = None,
    no_crops: Annotated[bool, typer.Option("--no-crops", help="Do not write face crops.")] = False,
    recluster: Annotated[bool, typer.Option(
        "--recluster", help="Cluster again every face you have not placed yourself (after changing "
        "people.threshold); ids, names, roles and your corrections are kept.")] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List people, most faces first, each with a representative face crop.

    Examples:

      photocull people -f ~/Pictures/wedding

      photocull people label 3 --name "Anna" --role main

      photocull people show 3        (faces of person 3, least typical first)

      photocull people merge 3 17    (17 was Anna too)

      photocull people split 3 party/IMG_0042.jpg   (that face is not Anna)
    """
    if ctx.invoked_subcommand is not None:
        return
    settings = load_settings(config)
    with open_catalog(folder, catalog, _FACES_HINT) as cat:
        if recluster:
            done = run_recluster(cat, settings)
            err.print(f"re-clustered {done.faces_placed} faces into {done.people} people")
        crop_dir = None if no_crops else crops or cat.path.parent / "people"
        rows = list_people(cat, settings, crop_dir)
        unplaced = len(cat.people.faces(unassigned_only=True))
    for row in rows:
        if "crop_error" in row:
            err.print(f"[yellow]no crop for person {row['id']}:[/] {row['crop_error']}")
    if as_json:
        print(json.dumps(rows))
        return
    if not rows:
        err.print(f"no people yet: run [bold]photocull scan {folder}{_FACES_HINT}[/] first")
        raise typer.Exit(1)
    table = Table(title=f"{len(rows)} people", box=box.SIMPLE_HEAD)
    base = listing_base([row["example"] for row in rows], listing_folder(folder))
    for column in ("id", "name", "role", "faces", "photos", "for example"):
        table.add_column(column, justify="right" if column in ("id", "faces", "photos") else "left",
                         overflow="fold")
    for row in rows:
        table.add_row(str(row["id"]), row["name"] or "-", row["role"], str(row["faces"]), str(row["photos"]),
                      shown_path(row["example"], base))
    out.print(table)
    if crop_dir is not None:
        err.print(f"face crops (person-ID-*.jpg): {crop_dir}")
    if unplaced:
        err.print(f"{unplaced} faces have no person yet: scan again to place them")
    err.print('name someone: [bold]photocull people label ID --name "NAME" --role main|important|other[/]')


@people_app.command()
def label(
    person: PersonArgument,
    name: Annotated[Optional[str], typer.Option("--name", help="The person's name (\"\" removes it).")] = None,
    role: Annotated[Optional[str], typer.Option(
        "--role", help="main (the photos are about them), important, or other.")] = None,
    folder: FolderOption = Path("."),
    catalog: CatalogOption = None,
) -> None:
    """Name a person and/or give them a role. Their faces become confirmed: re-clustering keeps them.

    Example:  photocull people label 3 --name "Anna" --role main
    """
    with open_catalog(folder, catalog, _FACES_HINT) as cat:
        result = _fix(lambda: edits.label(cat, person, name, role))
    err.print(f"person {person}: {result['name'] or '(no name)'}, {result['role']}")


@people_app.command()
def merge(
    person: PersonArgument,
    others: Annotated[list[int], typer.Argument(help="People who are the same person; they are removed.")],
    folder: FolderOption = Path("."),
    catalog: CatalogOption = None,
) -> None:
    """Merge people who are one person: the others' faces move to the first.

    Example:  photocull people merge 3 17 21
    """
    with open_catalog(folder, catalog, _FACES_HINT) as cat:
        result = _fix(lambda: edits.merge(cat, person, others))
    err.print(f"moved {result.faces_moved} faces to person {result.person}")
    if result.shared_photos:
        err.print(f"[yellow]note:[/] {result.shared_photos} photos showed both; person {result.person} "
                  "now appears twice in them (split out the wrong face if that is a mistake)")


@people_app.command()
def split(
    person: PersonArgument,
    photo: Annotated[PathOrURL, library_argument("The photo with the wrong face: a file, or its URL.")],
    face: Annotated[Optional[int], typer.Option(
        "--face", min=0, help="Which face of the photo (as `photocull show` numbers them), "
        "if the person has more than one there.")] = None,
    to: Annotated[Optional[int], typer.Option(
        "--to", min=1, help="The person the face belongs to (default: a new person).")] = None,
    catalog: CatalogOption = None,
) -> None:
    """Split a wrongly placed face out of a person, to a new person or to --to.

    Example:  photocull people split 3 party/IMG_0042.jpg --to 8
    """
    if not is_url(photo) and not photo.is_file():
        err.print(f"{photo}: no such file")
        raise typer.Exit(1)
    with open_catalog(photo, catalog, _FACES_HINT) as cat:
        row = cat.photo(photo if is_url(photo) else photo.resolve())
        if row is None or row["content_hash"] is None:
            err.print(f"{photo}: not in the catalog: scan its folder first")
            raise typer.Exit(1)
        index, target = _fix(lambda: edits.split(cat, person, row["content_hash"], face, to))
    err.print(f"face {index} of {photo} moved from person {person} to person {target}")


@people_app.command()
def show(
    person: PersonArgument,
    folder: FolderOption = Path("."),
    catalog: CatalogOption = None,
    as_json: JsonOption = False,
) -> None:
    """One person's faces, least typical first: a wrong face is usually at the top.

    Example:  photocull people show 3
    """
    with open_catalog(folder, catalog, _FACES_HINT) as cat:
        who = _fix(lambda: edits.existing(cat, person))
        rows = faces_of(cat, person)
    if as_json:
        print(json.dumps(rows, default=str))
        return
    base = listing_base([row["path"] for row in rows], listing_folder(folder))
    table = Table(title=f"Person {person}: {who['name'] or '(no name)'}, {who['role']}, {len(rows)} faces "
                  "(distance: from the person's mean face; 0.5 is the clustering threshold)", box=box.SIMPLE_HEAD)
    for column in ("photo", "face", "distance", "eyes", "sharp", "placed"):
        table.add_column(column, justify="left" if column in ("photo", "eyes", "placed") else "right",
                         overflow="fold")
    for row in rows:
        table.add_row(shown_path(row["path"], base), str(row["face_index"]), f"{row['distance']:.2f}", row["eyes"],
                      "-" if row["sharpness"] is None else f"{row['sharpness']:.2f}",
                      "by you" if row["confirmed"] else "auto")
    out.print(table)


def _fix(action):
    try:
        return action()
    except edits.PeopleError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
