"""``photocull cull``, ``photocull groups`` and ``photocull learn``: the library's functions, presented."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich import box
from rich.table import Table

from photocull.cli.options import (
    CatalogOption, ConfigOption, JsonOption, LibraryArgument, err, listing_base, listing_folder, open_catalog, out,
    shown_path,
)
from photocull.config import load_settings
from photocull.ranking.composite import WeightError, resolve_weights
from photocull.ranking.cull import CullReport, cull as run_cull
from photocull.ranking.learn import NotEnoughDecisions, learn as run_learn

WeightOption = Annotated[Optional[str], typer.Option(
    "--weight", "--weights",
    help="Composite score weights, e.g. technical=0.5,aesthetic=0.2,faces=0.3 (any subset; "
    "the rest from [ranking] or the learned weights).")]


def checked_weights(text: str | None) -> str | None:
    """``--weight`` as given, or exit 1 with what is wrong with it."""
    if text:
        from photocull.ranking.composite import parse_weights

        try:
            parse_weights(text)
        except WeightError as exc:
            err.print(f"[red]{exc}[/]")
            raise typer.Exit(1) from None
    return text


def cull(
    path: LibraryArgument = Path("."),
    weight: WeightOption = None,
    catalog: CatalogOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Group the photos, pick the best of each group (with reasons) and decide keep or reject.

    Automatic decisions only: what you decided yourself (photocull decide) is never changed.
    Then see the groups with  photocull groups .

    Examples:

      photocull cull ~/Pictures/trip

      photocull cull . --weight aesthetic=0.6,technical=0.2
    """
    settings = load_settings(config)
    with open_catalog(path, catalog) as cat:
        report = run_cull(cat, settings, weights=checked_weights(weight))
    if as_json:
        print(json.dumps(cull_dict(report)))
        return
    print_cull(report)


def cull_dict(report: CullReport) -> dict:
    from dataclasses import asdict

    return asdict(report)


def print_cull(report: CullReport) -> None:
    kinds = ", ".join(f"{n} {k.replace('_', '-')}" for k, n in sorted(report.by_kind.items(), key=lambda kv: -kv[1]))
    out.print(f"[bold]{report.photos}[/] photos, [bold]{report.groups}[/] group{'' if report.groups == 1 else 's'}"
              + (f" ({kinds})" if kinds else "") + f" holding {report.grouped_photos} photos")
    out.print(f"[green]{report.keep} to keep[/], [red]{report.reject} to reject[/] "
              f"({_size(report.reject_bytes)} in rejects; {report.singles_rejected} of them in no group, "
              "rejected by a hard rule)")
    stars = "  ".join(f"{'★' * s}{'·' * (5 - s)} {n}" for s, n in report.ratings.items())
    out.print(f"ratings: {stars}")
    weights = ", ".join(f"{k} {v:.2f}" for k, v in report.weights.items())
    out.print(f"weights: {weights} ({report.weights_source})")
    if report.user_decisions:
        out.print(f"{report.user_decisions} of your own decisions kept as they are"
                  + (f" ({report.user_overrides} differ from the automatic one)" if report.user_overrides else ""))
    err.print("see the groups and why each pick: [bold]photocull groups[/]")


def _size(size: int) -> str:
    return f"{size / 1e9:.2f} GB" if size >= 1e9 else f"{size / 1e6:.1f} MB"


def groups(
    path: LibraryArgument = Path("."),
    kind: Annotated[Optional[str], typer.Option(
        "--kind", help="Only groups of this kind: duplicates, near_duplicates, moment, bracket, panorama.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many groups to show.")] = 20,
    catalog: CatalogOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the groups the last cull found: each group's pick and why, and every member ranked.

    Examples:

      photocull groups ~/Pictures/trip

      photocull groups . --kind moment -n 5

      photocull groups s3://bucket/photos/2024
    """
    kinds = ("duplicates", "near_duplicates", "moment", "bracket", "panorama")
    if kind is not None and kind.replace("-", "_") not in kinds:
        err.print(f"--kind takes one of {', '.join(kinds)}")
        raise typer.Exit(1)
    with open_catalog(path, catalog) as cat:
        wanted = kind.replace("-", "_") if kind else None
        found = cat.groups.all(kind=wanted, limit=limit)
        total = cat.groups.count(kind=wanted)
    if as_json:
        from dataclasses import asdict

        print(json.dumps([asdict(g) for g in found]))
        return
    if not found:
        err.print("no groups stored: run [bold]photocull cull[/] first" if not total else f"no {kind} groups")
        raise typer.Exit(1)
    base = listing_base([m.path for g in found for m in g.members], listing_folder(path))
    for group in found:
        table = Table(box=box.SIMPLE_HEAD, title_justify="left", title=(
            f"[bold]#{group.id}[/] {group.kind.replace('_', '-')}, {len(group.members)} photos: "
            + ("[cyan]keep all[/]" if group.keep_all else "[green]pick[/]") + f" — {group.reason}"))
        table.add_column("rank", justify="right", no_wrap=True)
        table.add_column("file", overflow="fold", ratio=1, min_width=12)
        table.add_column("how", no_wrap=True)
        table.add_column("score", justify="right", no_wrap=True)
        table.add_column("why", overflow="fold", ratio=2)
        for m in group.members:
            mark = "[green]✓[/]" if group.keep_all or m.rank == 1 else "[red]✗[/]"
            table.add_row(f"{mark} {m.rank}", shown_path(m.path, base), m.relation.replace("_", "-"),
                          "-" if m.score is None else f"{m.score:.2f}", m.reason)
        out.print(table)
    if total > len(found):
        err.print(f"{len(found)} of {total} groups shown (--limit, --kind)")


def learn(
    path: LibraryArgument = Path("."),
    catalog: CatalogOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fit the composite score's weights to your own keep/reject decisions and star ratings.

    Reports how often the learned weights agree with you on decisions held out of
    the fit, beside the default weights. The weights are stored in the catalog and
    used from then on (while [ranking] use_learned is on); run photocull cull again
    to apply them.

    Example:  photocull learn ~/Pictures/trip
    """
    settings = load_settings(config)
    with open_catalog(path, catalog) as cat:
        try:
            report = run_learn(cat, settings)
        except NotEnoughDecisions as exc:
            if as_json:
                print(json.dumps({"error": str(exc)}))
            else:
                err.print(f"[yellow]not enough decisions:[/] {exc}")
            raise typer.Exit(1) from None
        used = resolve_weights(settings.ranking, cat)
    if as_json:
        print(json.dumps(report.as_dict()))
        return
    learned = ", ".join(f"{k} {v:.2f}" for k, v in report.weights.items())
    default = ", ".join(f"{k} {v:.2f}" for k, v in report.default_weights.items())
    out.print(f"learned weights: [bold]{learned}[/] from {report.decisions} decisions ({report.pairs} pairs, "
              f"{report.pairs_in_groups} within groups)")
    out.print(f"agreement on held-out pairs ({report.folds}-fold): learned [bold]{report.agreement:.1%}[/], "
              f"default weights ({default}) {report.default_agreement:.1%}")
    if used.source != "learned":
        err.print("[yellow]note:[/] [ranking] use_learned is off: the learned weights are stored but not used")
    else:
        err.print("stored; run [bold]photocull cull[/] to apply them")
