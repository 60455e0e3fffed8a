"""The catalog's schema, as an ordered list of migrations.

``PRAGMA user_version`` holds the number of migrations applied. Opening a
catalog applies the missing ones, each in its own transaction, so an old
catalog is upgraded in place and a half-applied migration never persists.
A migration, once released, is never edited: a change is a new migration.
A catalog written by a newer photocull is refused rather than damaged.
"""

from __future__ import annotations

import sqlite3
from dataclasses import fields

from photocull.analysis.aesthetic import Aesthetic
from photocull.analysis.clip import ClipFeatures
from photocull.analysis.embedding import Embedding
from photocull.analysis.faces.analyser import Face, FaceScan
from photocull.analysis.fingerprints import Fingerprints
from photocull.analysis.technical import TechnicalQuality
from photocull.errors import CatalogError
from photocull.ingest.metadata import PhotoMetadata
from photocull.records import ImageInfo

# Which record types each per-content table holds, column for column.
PHOTO_TABLES: dict[str, tuple[type, ...]] = {
    "photos": (ImageInfo, PhotoMetadata),
    "technical": (TechnicalQuality,),
    "fingerprints": (Fingerprints,),
    "aesthetic": (Aesthetic,),
    "embedding": (Embedding,),
    "clip": (ClipFeatures,),
    "faces": (FaceScan,),
}

# Records that carry a list of rows of their own: table -> (the record field, the rows' table, row type).
# The rows are keyed by content_hash and their first field, and replaced whole on every write.
CHILD_TABLES: dict[str, tuple[str, str, type]] = {
    "faces": ("faces", "detected_faces", Face),
}


def record_columns(table: str, record: type) -> list[str]:
    """The columns a record's fields fill: all but a field holding child rows."""
    child_field = CHILD_TABLES.get(table, (None,))[0]
    return [f.name for f in fields(record) if f.name != child_field]


def table_columns(with_vectors: bool = True) -> dict[str, list[str]]:
    """Each per-content table's record columns (besides content_hash and stamp), in record order.

    Vector columns (``bytes`` fields) are left out when ``with_vectors`` is false:
    listings never need kilobytes of floats per photo.
    """
    vectors = {f.name for records in PHOTO_TABLES.values() for r in records for f in fields(r)
               if f.type in ("bytes", bytes)}
    return {
        table: [c for record in records for c in record_columns(table, record) if with_vectors or c not in vectors]
        for table, records in PHOTO_TABLES.items()
    }


MIGRATIONS: list[str] = [
    # 1: files, photos (one row per distinct content) and the first analysers.
    """
    CREATE TABLE files (
        path TEXT PRIMARY KEY,          -- relative to the catalog root when inside it
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        content_hash TEXT,              -- SHA-256 of the bytes; NULL when they could not be read
        status TEXT NOT NULL CHECK (status IN ('ok', 'unreadable', 'missing')),
        reason TEXT,                    -- why a file is unreadable or missing
        first_seen REAL NOT NULL,
        last_scanned REAL NOT NULL
    );
    CREATE INDEX files_by_content ON files (content_hash);
    CREATE INDEX files_by_status ON files (status);

    CREATE TABLE photos (
        content_hash TEXT PRIMARY KEY,
        stamp TEXT NOT NULL,            -- decoder version and settings that made this row
        format TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        megapixels REAL NOT NULL,
        decode_mode TEXT NOT NULL,
        capture_time TEXT,              -- ISO 8601 local time with sub-seconds
        capture_offset TEXT,
        capture_timestamp REAL,
        make TEXT,
        model TEXT,
        lens TEXT,
        serial_number TEXT,
        software TEXT,
        exposure_time REAL,
        f_number REAL,
        iso INTEGER,
        exposure_bias REAL,
        focal_length REAL,
        focal_length_35mm REAL,
        flash_fired INTEGER,
        gps_latitude REAL,
        gps_longitude REAL,
        gps_altitude REAL,
        orientation INTEGER,
        image_unique_id TEXT,
        burst_id TEXT,
        burst_primary INTEGER,
        sequence_number INTEGER,
        content_identifier TEXT,
        rating INTEGER
    ) WITHOUT ROWID;
    CREATE INDEX photos_by_burst ON photos (burst_id) WHERE burst_id IS NOT NULL;
    CREATE INDEX photos_by_time ON photos (capture_timestamp);

    CREATE TABLE technical (
        content_hash TEXT PRIMARY KEY REFERENCES photos (content_hash) ON DELETE CASCADE,
        stamp TEXT NOT NULL,
        sharpness REAL NOT NULL,
        blur_width_px REAL,
        blur_kind TEXT,
        motion_angle_deg REAL,
        blur_anisotropy REAL NOT NULL,
        textured_fraction REAL NOT NULL,
        noise_sigma REAL NOT NULL,
        mean_luminance REAL NOT NULL,
        exposure_ev REAL NOT NULL,
        highlight_clipping REAL NOT NULL,
        shadow_clipping REAL NOT NULL,
        contrast REAL NOT NULL,
        colourfulness REAL NOT NULL,
        blurry INTEGER NOT NULL,
        badly_exposed INTEGER NOT NULL,
        technical_score REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX technical_by_score ON technical (technical_score);

    CREATE TABLE fingerprints (
        content_hash TEXT PRIMARY KEY REFERENCES photos (content_hash) ON DELETE CASCADE,
        stamp TEXT NOT NULL,
        phash INTEGER NOT NULL,
        dhash INTEGER NOT NULL
    ) WITHOUT ROWID;
    """,
    # 2: the neural analysers. Vectors are float16 blobs, L2-normalised.
    """
    CREATE TABLE aesthetic (
        content_hash TEXT PRIMARY KEY REFERENCES photos (content_hash) ON DELETE CASCADE,
        stamp TEXT NOT NULL,
        nima_mean REAL NOT NULL,        -- NIMA mean score, 1-10
        nima_std REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX aesthetic_by_score ON aesthetic (nima_mean);

    CREATE TABLE embedding (
        content_hash TEXT PRIMARY KEY REFERENCES photos (content_hash) ON DELETE CASCADE,
        stamp TEXT NOT NULL,
        vector BLOB NOT NULL,           -- EfficientNet-Lite0, 1280 x float16
        keywords TEXT NOT NULL          -- JSON [[ImageNet label, probability], ...], top 5
    ) WITHOUT ROWID;

    CREATE TABLE clip (
        content_hash TEXT PRIMARY KEY REFERENCES photos (content_hash) ON DELETE CASCADE,
        stamp TEXT NOT NULL,
        clip_aesthetic REAL NOT NULL,   -- zero-shot good/bad prompt score, 0-10
        clip_vector BLOB NOT NULL       -- CLIP image embedding, float16
    ) WITHOUT ROWID;
    """,
    # 3: faces. One row per photo (how many faces) and one per face found.
    """
    CREATE TABLE faces (
        content_hash TEXT PRIMARY KEY REFERENCES photos (content_hash) ON DELETE CASCADE,
        stamp TEXT NOT NULL,
        face_count INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE detected_faces (
        content_hash TEXT NOT NULL REFERENCES photos (content_hash) ON DELETE CASCADE,
        face_index INTEGER NOT NULL,    -- 0 = the detector's most confident face
        x0 REAL NOT NULL,               -- box, as fractions of the upright photo's width and height
        y0 REAL NOT NULL,
        x1 REAL NOT NULL,
        y1 REAL NOT NULL,
        score REAL NOT NULL,
        presence REAL NOT NULL,
        eye_right REAL NOT NULL,        -- eye openness: about +0.8 open, -1.6 closed
        eye_left REAL NOT NULL,
        eyes TEXT NOT NULL CHECK (eyes IN ('open', 'closed', 'uncertain')),
        smile REAL NOT NULL,
        smiling INTEGER NOT NULL,
        yaw REAL NOT NULL,
        pitch REAL NOT NULL,
        facing INTEGER NOT NULL,
        sharpness REAL,
        brightness REAL NOT NULL,
        descriptor BLOB NOT NULL,       -- 128-d identity descriptor, float16
        PRIMARY KEY (content_hash, face_index)
    ) WITHOUT ROWID;
    CREATE INDEX detected_faces_by_eyes ON detected_faces (eyes);
    """,
    # 4: people. Who each face is lives apart from detected_faces, whose rows a
    # re-scan replaces: the catalog carries each face's person over to the
    # face found at the same place (see Catalog._carry_people).
    """
    CREATE TABLE people (
        id INTEGER PRIMARY KEY AUTOINCREMENT,  -- stable, never reused: shown to the user
        name TEXT,
        role TEXT NOT NULL DEFAULT 'other' CHECK (role IN ('main', 'important', 'other')),
        space TEXT NOT NULL,            -- descriptor model the centroid belongs to
        centroid BLOB NOT NULL,         -- mean descriptor of the person's faces, float32
        face_count INTEGER NOT NULL,    -- faces the centroid was made from
        spread REAL NOT NULL            -- RMS distance of those faces to the centroid
    );

    CREATE TABLE face_people (
        content_hash TEXT NOT NULL,
        face_index INTEGER NOT NULL,
        person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
        confirmed INTEGER NOT NULL DEFAULT 0,  -- 1: put there by the user (label, merge, split)
        PRIMARY KEY (content_hash, face_index),
        FOREIGN KEY (content_hash, face_index) REFERENCES detected_faces (content_hash, face_index)
            ON DELETE CASCADE
    ) WITHOUT ROWID;
    CREATE INDEX face_people_by_person ON face_people (person_id);
    """,
    # 5: groups of one moment with their ranked members, decisions per file, and
    # small named values (learned weights). Groups are recomputed whole by
    # `photocull cull`; decisions keep what the program and the user each said.
    """
    CREATE TABLE groups (
        id INTEGER PRIMARY KEY,         -- renumbered on every cull: 1 = the largest group
        kind TEXT NOT NULL CHECK (kind IN ('duplicates', 'near_duplicates', 'moment', 'bracket', 'panorama')),
        keep_all INTEGER NOT NULL,      -- 1: brackets and panoramas, whose every frame is needed
        pick TEXT,                      -- the file kept (files.path); NULL when keep_all
        reason TEXT NOT NULL            -- why the pick (or why every frame) is kept, in words
    );

    CREATE TABLE group_members (
        path TEXT PRIMARY KEY REFERENCES files (path) ON DELETE CASCADE,
        group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
        rank INTEGER NOT NULL,          -- 1 = the pick
        relation TEXT NOT NULL,         -- how it joined the group: exact, copy, raw_jpeg, near_duplicate, ...
        score REAL,                     -- composite score used to rank it
        reason TEXT NOT NULL            -- why it ranks where it does, in words
    ) WITHOUT ROWID;
    CREATE INDEX group_members_by_group ON group_members (group_id, rank);

    CREATE TABLE decisions (
        path TEXT PRIMARY KEY REFERENCES files (path) ON DELETE CASCADE,
        auto_flag TEXT CHECK (auto_flag IN ('keep', 'reject')),   -- what the program decided
        auto_rating INTEGER CHECK (auto_rating BETWEEN 0 AND 5),
        auto_label TEXT,
        auto_updated REAL,
        user_flag TEXT CHECK (user_flag IN ('keep', 'reject')),   -- what the user decided: always wins
        user_rating INTEGER CHECK (user_rating BETWEEN 0 AND 5),
        user_label TEXT,
        user_origin TEXT,               -- where the user said it: cli, web, xmp
        user_updated REAL
    ) WITHOUT ROWID;

    CREATE TABLE state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL             -- JSON
    ) WITHOUT ROWID;
    """,
    # 6: what photocull last wrote to or read from each XMP sidecar (and the rating
    # embedded in each photo), so its own sidecars are never read back as the
    # user's decisions while one changed by another tool is (catalog/sidecars.py).
    """
    CREATE TABLE sidecars (
        path TEXT NOT NULL,             -- the sidecar (kind 'embedded': the photo itself), as files.path
        kind TEXT NOT NULL CHECK (kind IN ('sidecar', 'embedded')),
        photo TEXT NOT NULL,            -- the photo it belongs to (files.path)
        size INTEGER,                   -- as last written or read
        mtime_ns INTEGER,
        rating INTEGER,                 -- xmp:Rating: -1 rejected, 0..5
        label TEXT,                     -- red, yellow, green, blue, purple
        pick INTEGER,                   -- digiKam:PickLabel: 0 none, 1 rejected, 2 pending, 3 accepted
        source TEXT NOT NULL CHECK (source IN ('written', 'read')),
        updated REAL NOT NULL,
        PRIMARY KEY (path, kind)
    ) WITHOUT ROWID;
    CREATE INDEX sidecars_by_photo ON sidecars (photo);
    """,
    # 7: how each verified pair of photos matched by local features (grouping/verify.py), by content,
    # so a cull after an incremental scan verifies only new pairs.
    """
    CREATE TABLE verified_pairs (
        a TEXT NOT NULL,                -- content hashes: photo a's frame maps onto photo b's
        b TEXT NOT NULL,
        stamp TEXT NOT NULL,            -- the matcher's version and settings
        match TEXT NOT NULL,            -- JSON: inliers, matches, transform, scale, rotation, shift, coverage, mirrored
        PRIMARY KEY (a, b)
    ) WITHOUT ROWID;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: sqlite3.Connection) -> None:
    """Apply the migrations this catalog lacks."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise CatalogError(
            f"this catalog has schema version {version}, newer than this photocull "
            f"understands ({SCHEMA_VERSION}): upgrade photocull"
        )
    for number in range(version, SCHEMA_VERSION):
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[number]):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number + 1}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


def _statements(script: str) -> list[str]:
    """Split a script into statements the way SQLite parses it (';' in comments is fine)."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
