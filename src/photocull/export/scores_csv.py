"""``photo_scores.csv``: one row per readable photo file, best first, every measurement."""

from __future__ import annotations

import csv
from pathlib import Path

from photocull.catalog.store import Catalog


def write_scores_csv(catalog: Catalog, output: Path) -> int:
    """Write the CSV; return the number of photo rows. Written beside, then renamed: never half a file."""
    rows = catalog.photos()
    partial = output.with_name(output.name + ".partial")
    with open(partial, "w", newline="", encoding="utf-8") as stream:
        if rows:
            writer = csv.DictWriter(stream, fieldnames=["rank", *rows[0].keys()])
            writer.writeheader()
            for rank, row in enumerate(rows, 1):
                writer.writerow({"rank": rank, **row})
    partial.replace(output)
    return len(rows)
