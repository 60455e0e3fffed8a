"""Two catalogs compared value by value: what the engines (local pool, Ray on one node, Ray on two) must agree on."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

BAD = ("truncated_jpeg.jpg", "empty.jpg", "broken.png", "decompression_bomb.gif")  # from corpus/bad
TABLES = ("files", "photos", "technical", "fingerprints", "aesthetic", "embedding")
NOT_VALUES = {"first_seen", "last_scanned"}  # when, not what


def scenes_with_bad_files(corpus: Path, folder: Path) -> Path:
    """``folder``: a copy of corpus/scenes plus the :data:`BAD` files, the photos both engines scan."""
    shutil.copytree(corpus / "scenes", folder)
    for name in BAD:
        shutil.copy(corpus / "bad" / name, folder / name)
    return folder


def catalog_values(path: Path, tables: tuple[str, ...] = TABLES) -> dict:
    """Every stored value of every file and photo, keyed by table and primary key."""
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    values = {}
    for table in tables:
        key = "path" if table == "files" else "content_hash"
        values[table] = {row[key]: {k: row[k] for k in row.keys() if k not in NOT_VALUES}
                         for row in db.execute(f"SELECT * FROM {table}")}
    db.close()
    return values


def assert_same_values(actual: dict, expected: dict, tables: tuple[str, ...] = TABLES) -> None:
    """The same rows, and the same values within float tolerance (float16 vectors, keyword scores)."""
    for table in tables:
        assert actual[table].keys() == expected[table].keys(), table
        for key, row in expected[table].items():
            for column, want in row.items():
                got = actual[table][key][column]
                where = f"{table}[{key}].{column}"
                if isinstance(want, float):
                    assert got == pytest.approx(want, abs=1e-3), where
                elif isinstance(want, bytes):  # float16 vectors
                    assert np.abs(np.frombuffer(got, np.float16) - np.frombuffer(want, np.float16)).max() < 2e-3, where
                elif column == "keywords":
                    assert [k for k, _ in json.loads(got)] == [k for k, _ in json.loads(want)], where
                    assert [p for _, p in json.loads(got)] == pytest.approx([p for _, p in json.loads(want)], abs=1e-3)
                else:
                    assert got == want, where
