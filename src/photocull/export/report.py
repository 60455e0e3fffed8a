"""``photocull report``: one self-contained HTML page about a culled library.

It shows what a person needs to trust the cull before acting on it: how the
scores are spread (and where the keeps and rejects fall), the best photos,
every group with its pick and the reason for each rank, the people, and the
space that deleting the rejects would free. It reads the catalog only
(groups and decisions from the last ``photocull cull``); previews come from
the shared preview cache, so a second report decodes nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from photocull.catalog.store import Catalog
from photocull.config import Settings
from photocull.errors import UnreadableFile
from photocull.export.report_html import data_uri, render
from photocull.files import write_atomic
from photocull.ingest.originals import as_original, original_name
from photocull.people.listing import list_people
from photocull.previews import preview
from photocull.ranking.cull import score_catalog, top_photos

PREVIEW_PX = 160
HISTOGRAM_BINS = 20


@dataclass(frozen=True, slots=True)
class ReportSummary:
    path: Path
    photos: int
    groups_shown: int
    groups: int
    previews: int  # previews shown (made now or taken from the cache)
    missing_previews: int  # photos that could not be read for a preview
    bytes: int


def write_report(catalog: Catalog, settings: Settings, output: Path, *, max_groups: int = 200,
                 top: int = 24, previews: bool = True) -> ReportSummary:
    """Gather, render and write the report atomically."""
    report, counts = gather(catalog, settings, max_groups=max_groups, top=top, previews=previews)
    page = render(report).encode("utf-8")
    write_atomic(output, page)
    return ReportSummary(output, report["photo_count"], len(report["groups"]), report["group_count"],
                         counts["shown"], counts["missing"], len(page))


def gather(catalog: Catalog, settings: Settings, *, max_groups: int = 200, top: int = 24,
           previews: bool = True) -> tuple[dict[str, Any], dict[str, int]]:
    """Everything the page shows, as plain values (see :func:`photocull.export.report_html.render`)."""
    scored = score_catalog(catalog, settings)
    photos = scored.by_path
    decisions = {d.path: d for d in catalog.decisions.all()}
    groups = catalog.groups.all()
    cache = catalog.path.parent / "previews"
    counts = {"shown": 0, "missing": 0}

    def shot(path: str, **extra: Any) -> dict[str, Any]:
        photo = photos.get(path, {})
        decision = decisions.get(path)
        image = None
        if previews and photo:
            try:
                image = data_uri(preview(as_original(path), photo["content_hash"], PREVIEW_PX, cache,
                                         settings.ingest))
                counts["shown"] += 1
            except (UnreadableFile, OSError):
                counts["missing"] += 1
        score = scored.scores.get(path)
        return {"path": path, "name": original_name(path), "preview": image,
                "score": None if score is None else score.score,
                "flag": decision.flag if decision else None, **extra}

    flags = [decisions[p].flag if p in decisions else None for p in photos]
    sizes = {p: row["size"] for p, row in photos.items()}
    reject_bytes = sum(sizes[p] for p, f in zip(photos, flags) if f == "reject")
    total_bytes = sum(sizes.values())
    by_kind: dict[str, int] = {}
    for group in groups:
        by_kind[group.kind] = by_kind.get(group.kind, 0) + 1
    kinds = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(by_kind.items())) or "none"
    keep, reject = flags.count("keep"), flags.count("reject")

    best = [row["path"] for row in top_photos(catalog, settings, n=None, scored=scored)  # one per group: its pick
            if not (row["path"] in decisions and decisions[row["path"]].flag == "reject")]
    top_rows = [shot(path) for path in best[:top]]  # previews only for the photos shown

    shown_groups = [{
        "id": g.id, "kind": g.kind, "keep_all": g.keep_all, "reason": g.reason,
        "members": [shot(m.path, rank=m.rank, reason=m.reason, pick=(m.path == g.pick or g.keep_all))
                    for m in g.members],
    } for g in groups[:max_groups]]

    people = []
    if catalog.people.listing():
        for person in list_people(catalog, settings, catalog.path.parent / "people"):
            crop = Path(person["crop"]).read_bytes() if person.get("crop") else None
            people.append({"id": person["id"], "name": person.get("name"), "role": person.get("role") or "other",
                           "photos": person.get("photos", 0), "crop": data_uri(crop, "image/jpeg")})

    report = {
        "title": f"photocull report: {catalog.root or catalog.path.parent}",
        "subtitle": f"{len(photos)} photos, weights {scored.weights.describe()}",
        "photo_count": len(photos),
        "cards": [
            ("photos", f"{len(photos):,}"),
            ("groups", f"{len(groups):,}"),
            ("to keep", f"{keep:,}"),
            ("to reject", f"{reject:,}"),
            ("space saved by culling", _size(reject_bytes)),
            ("of the library", f"{100 * reject_bytes / total_bytes:.0f} %" if total_bytes else "0 %"),
        ],
        "histogram": {"bins": _bins([scored.scores[p].score for p in photos], flags)},
        "score_note": "Composite score (0-1) of every photo, stacked by decision. Groups: " + kinds + ".",
        "top": top_rows,
        "group_count": len(groups),
        "groups": shown_groups,
        "groups_note": (f"The {max_groups} largest of {len(groups)} groups are shown." if len(groups) > max_groups
                        else "" if groups else "No groups: run photocull cull (a scan runs it) to find them."),
        "people": people,
        "footer": f"Written by photocull on {time.strftime('%Y-%m-%d %H:%M')} from {catalog.path}.",
    }
    return report, counts


def _bins(scores: list[float], flags: list[str | None]) -> list[dict[str, int]]:
    bins: list[dict[str, int]] = [{} for _ in range(HISTOGRAM_BINS)]
    for score, flag in zip(scores, flags):
        index = min(HISTOGRAM_BINS - 1, max(0, int(score * HISTOGRAM_BINS)))
        name = flag or "undecided"
        bins[index][name] = bins[index].get(name, 0) + 1
    return bins


def _size(count: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:,.0f} {unit}" if unit == "bytes" else f"{count:,.1f} {unit}"
        count /= 1000
    return f"{count:,.1f} TB"
