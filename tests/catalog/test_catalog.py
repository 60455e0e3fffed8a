"""The catalog file: versioned schema, records and columns in step, portable paths."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import fields
from pathlib import Path

import pytest

from photocull.catalog.schema import CHILD_TABLES, PHOTO_TABLES, SCHEMA_VERSION, record_columns
from photocull.catalog.store import Catalog, default_catalog_path, find_catalog
from photocull.errors import CatalogError


def test_new_catalog_is_wal_and_at_the_current_schema(tmp_path):
    with Catalog(tmp_path / ".photocull" / "catalog.db") as catalog:
        assert catalog.root == tmp_path.resolve()
    with sqlite3.connect(tmp_path / ".photocull" / "catalog.db") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    Catalog(tmp_path / ".photocull" / "catalog.db").close()  # reopening migrates nothing


def test_every_record_field_has_a_column(tmp_path):
    with Catalog(tmp_path / "c.db"):
        pass
    with sqlite3.connect(tmp_path / "c.db") as db:
        for table, records in PHOTO_TABLES.items():
            columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            wanted = {"content_hash", "stamp"} | {c for r in records for c in record_columns(table, r)}
            assert wanted == columns, f"{table}: record fields and columns differ: {wanted ^ columns}"
        for _, child_table, row_type in CHILD_TABLES.values():
            columns = {row[1] for row in db.execute(f"PRAGMA table_info({child_table})")}
            wanted = {"content_hash"} | {f.name for f in fields(row_type)}
            assert wanted == columns, f"{child_table}: row fields and columns differ: {wanted ^ columns}"


def test_catalog_from_a_newer_photocull_is_refused(tmp_path):
    with sqlite3.connect(tmp_path / "c.db") as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(CatalogError, match="newer"):
        Catalog(tmp_path / "c.db")


def test_paths_inside_the_root_are_stored_relative(tmp_path):
    with Catalog(tmp_path / ".photocull" / "catalog.db") as catalog:
        assert catalog.key(tmp_path.resolve() / "a" / "b.jpg") == "a/b.jpg"
        assert catalog.resolve("a/b.jpg") == tmp_path.resolve() / "a" / "b.jpg"
        assert catalog.key(Path("/elsewhere/c.jpg")) == "/elsewhere/c.jpg"


def test_catalog_is_found_from_any_path_below_its_folder(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    path = default_catalog_path(tmp_path)
    assert path == tmp_path.resolve() / ".photocull" / "catalog.db"
    Catalog(path).close()
    assert find_catalog(tmp_path / "a" / "b") == path
    assert find_catalog(tmp_path / "a" / "b" / "photo.jpg") == path


def test_read_only_folder_gets_a_catalog_in_the_user_data_folder(tmp_path, monkeypatch, corpus):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    scenes = corpus / "scenes"
    if os.access(scenes, os.W_OK):
        pytest.skip("the corpus is writable here, so no fallback is needed")
    path = default_catalog_path(scenes)
    assert path.is_relative_to(tmp_path / "data" / "photocull" / "catalogs")
    Catalog(path).close()
    assert find_catalog(scenes / "baboon.jpg") == path


def test_analysis_progress_says_what_current_analyses_says_and_pages_of_states(tmp_path):
    """The scan's compact forms: complete contents plus the others, and file states asked by key."""
    with Catalog(tmp_path / ".photocull" / "catalog.db") as catalog:
        db = catalog._db
        for content, stamp in [("a", "i1"), ("b", "i1"), ("c", "i1"), ("d", "old")]:
            db.execute("INSERT INTO photos (content_hash, stamp, format, width, height, megapixels, decode_mode) "
                       "VALUES (?, ?, 'jpeg', 1, 1, 0, 'full')", (content, stamp))
        for table, content, stamp in [("technical", "a", "t1"), ("fingerprints", "a", "f1"),
                                      ("technical", "b", "t1"), ("fingerprints", "b", "old"),
                                      ("technical", "d", "t1")]:
            required = [r[1] for r in db.execute(f"PRAGMA table_info({table})")
                        if r[3] and r[4] is None and r[1] not in ("content_hash", "stamp")]
            db.execute(f"INSERT INTO {table} (content_hash, stamp{''.join(', ' + c for c in required)}) "
                       f"VALUES (?, ?{', 0' * len(required)})", (content, stamp))
        wanted = {"technical": "t1", "fingerprints": "f1"}
        current = catalog.current_analyses("i1", wanted)
        complete, partial = catalog.analysis_progress("i1", wanted)
        assert complete == {h for h, names in current.items() if len(names) == len(wanted)} == {"a"}
        assert partial == {h: names for h, names in current.items() if h not in complete}
        assert partial == {"b": frozenset({"technical"}), "c": frozenset()}

        for i, status in enumerate(["ok", "unreadable", "missing"] * 400):
            db.execute("INSERT INTO files (path, size, mtime_ns, status, first_seen, last_scanned) "
                       "VALUES (?, ?, 1, ?, 0, 0)", (f"f{i:04d}.jpg", i, status))
        keys = [f"f{i:04d}.jpg" for i in range(0, 1300, 2)]  # more than one query's worth, some unknown
        states = catalog.file_states_of(keys)
        assert states == {k: s for k, s in catalog.file_states().items() if k in set(keys)}
        assert len(states) == 600
        assert catalog.live_file_count() == 800 == len(list(catalog.live_file_keys()))
