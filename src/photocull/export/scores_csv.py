"""``photo_scores.csv``: one row per readable photo file, best first, every measurement, the face rules' verdict
and the decision (flag, rating, label; decided_by: user, auto, or empty when undecided)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from photocull.catalog.store import Catalog
from photocull.config import RuleSettings
from photocull.ingest.originals import as_original
from photocull.ranking.face_rules import with_verdicts


def write_scores_csv(catalog: Catalog, output: Path, rules: RuleSettings) -> int:
    """Write the CSV; return the number of photo rows."""
    photos = with_verdicts(catalog.photos(), catalog.faces(), rules)
    decided = catalog.decisions.effective_by_key()
    rows = []
    for rank, row in enumerate(photos, 1):
        flag, rating, label, by_user = decided.get(catalog.key(as_original(row["path"])), (None, None, None, False))
        by = "user" if by_user else "auto" if (flag, rating, label) != (None, None, None) else ""
        embedded = row.pop("rating", None)  # the photo's own rating, as the scan read it
        rows.append({"rank": rank, **row, "embedded_rating": embedded, "flag": flag, "rating": rating,
                     "label": label, "decided_by": by})
    return write_rows(rows, output)


def write_rows(rows: list[dict[str, Any]], output: Path) -> int:
    """Rows as CSV, header from the first; written beside, then renamed: never half a file."""
    partial = output.with_name(output.name + ".partial")
    with open(partial, "w", newline="", encoding="utf-8") as stream:
        if rows:
            writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    partial.replace(output)
    return len(rows)
