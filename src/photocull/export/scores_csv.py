"""``photo_scores.csv``: one row per readable photo file, best first, every measurement."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from photocull.catalog.store import Catalog


def write_scores_csv(catalog: Catalog, output: Path) -> int:
    """Write the CSV; return the number of photo rows."""
    return write_rows([{"rank": rank, **row} for rank, row in enumerate(catalog.photos(), 1)], output)


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
