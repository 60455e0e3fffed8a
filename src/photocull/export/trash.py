"""Moving files away, safely: rejects to a trash folder, keepers to a new tree; and undoing it.

Nothing is ever deleted. Every move is first appended to an undo log (JSON
lines, ``<catalog folder>/trash/undo.jsonl``) and the log is flushed to disk
(fsync) before the file moves, so a crash half-way leaves a log that still
undoes every move made. ``photocull undo`` moves the files of the last
operation back (``--all``: every operation not yet undone, newest first) and
refuses to overwrite a file that has reappeared where one was. The catalog
follows: a moved file is marked ``missing`` with the reason "moved to trash
…" (or "moved to …"), and ``ok`` again when it is restored.

Log records: ``{"op": ID, "kind": "trash"|"move", "started": T, "folder": F}``
opens an operation, ``{"op": ID, "from": A, "to": B, "key": K}`` is one move
(K: the catalog key of a photo, null for a sidecar), ``{"op": ID, "done": T}``
closes it and ``{"op": ID, "undone": T}`` marks it undone.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from photocull.catalog.sidecars import Sidecars
from photocull.catalog.store import Catalog, printable
from photocull.export.common import Listing, adobe_owners, existing_sidecars, relative_name, select_files
from photocull.ingest.remote import is_url

LOG_NAME = "undo.jsonl"


def trash_folder(catalog: Catalog) -> Path:
    """``<catalog root>/.photocull/trash`` (the catalog's own folder)."""
    return catalog.path.parent / "trash"


class UndoLog:
    """The append-only log of one catalog's moves."""

    def __init__(self, catalog: Catalog):
        self.path = trash_folder(catalog) / LOG_NAME

    def begin(self, kind: str, folder: Path) -> str:
        op = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}-{time.time_ns() % 10**6:06d}"
        self._append({"op": op, "kind": kind, "started": time.time(), "folder": _text(folder)})
        return op

    def moved(self, op: str, source: Path, dest: Path, key: str | None) -> None:
        self._append({"op": op, "from": _text(source), "to": _text(dest), "key": key})

    def end(self, op: str, word: str = "done") -> None:
        self._append({"op": op, word: time.time()})

    def operations(self) -> list[dict]:
        """Every operation, oldest first: {op, kind, folder, moves: [...], done, undone}."""
        ops: dict[str, dict] = {}
        try:
            lines = self.path.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
        except FileNotFoundError:
            return []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash: the moves before it are intact
            op = ops.setdefault(record["op"], {"op": record["op"], "kind": "trash", "folder": None,
                                                "moves": [], "done": None, "undone": None})
            if "from" in record:
                op["moves"].append(record)
            for name in ("kind", "folder", "done", "undone"):
                if name in record:
                    op[name] = record[name]
        return list(ops.values())

    def _append(self, record: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8", errors="surrogateescape") as stream:
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
            stream.flush()
            os.fsync(stream.fileno())


def _text(path: Path) -> str:
    return os.fsdecode(path)


def move_file(source: Path, dest: Path) -> None:
    """Rename; across file systems copy (flushed), rename into place, then remove the source."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists() or dest.is_symlink():
        raise FileExistsError(errno.EEXIST, "a file is already there", str(dest))
    try:
        os.rename(source, dest)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    partial = dest.with_name(f".{dest.name}.photocull-partial")
    shutil.copy2(source, partial)
    with open(partial, "rb") as stream:
        os.fsync(stream.fileno())
    os.rename(partial, dest)
    source.unlink()


@dataclass
class MoveReport:
    op: str | None = None
    folder: str | None = None
    photos: int = 0
    sidecars: int = 0
    bytes: int = 0
    moves: list[tuple[str, str]] = field(default_factory=list)  # (from, to)
    problems: list[tuple[str, str]] = field(default_factory=list)
    dry_run: bool = False


def trash_rejects(catalog: Catalog, under: Path | str | None = None, to: Path | None = None,
                  dry_run: bool = False) -> MoveReport:
    """Move every effective reject (under ``under``) with its sidecars to
    ``<trash>/<timestamp>/<relative path>`` (or under ``to``), logging each move first.

    Rejects in object storage (URL keys) stay where they are, each reported as a problem: photocull
    never deletes from a bucket (delete them with the storage's own tools, or a lifecycle rule)."""
    rejects = select_files(catalog, flag="reject", under=under)
    remote = [item for item in rejects if is_url(item.path)]
    rejects = [item for item in rejects if not is_url(item.path)]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = (to.resolve() if to is not None else trash_folder(catalog)) / stamp
    n = 1
    while folder.exists():
        n += 1
        folder = folder.with_name(f"{stamp}-{n}")
    plan = [(item.key, item.path, folder / relative_name(catalog, item.key)) for item in rejects]
    report = move_files(catalog, plan, "trash", folder, dry_run)
    report.problems += [(item.key, "in object storage: photocull never moves or deletes objects")
                        for item in remote]
    return report


def move_files(catalog: Catalog, plan: list[tuple[str, Path, Path]], kind: str, folder: Path,
               dry_run: bool = False) -> MoveReport:
    """Move each (key, photo, destination) with its sidecars, logging every move before it is made."""
    report = MoveReport(folder=str(folder), dry_run=dry_run)
    owners = adobe_owners([catalog.resolve(k) for k in Sidecars(catalog).readable_keys()])
    listing = Listing()
    log = UndoLog(catalog)
    statuses = []
    reason = f"moved to trash {printable(folder)}" if kind == "trash" else f"moved to {printable(folder)}"
    try:
        for key, photo, dest in plan:
            sidecars = existing_sidecars(photo, photo in owners, listing)
            moves = [(photo, dest, key)] + [(s, dest.with_name(dest.name + s.name[len(photo.name):])
                                             if s.name.lower().startswith(photo.name.lower() + ".")
                                             else dest.with_name(dest.stem + s.name[len(photo.stem):]), None)
                                            for s in sidecars]
            if dry_run:
                report.photos += 1
                report.sidecars += len(sidecars)
                report.bytes += sum(_size(s) for s, _, _ in moves)
                report.moves += [(str(s), str(d)) for s, d, _ in moves]
                continue
            if report.op is None:
                report.op = log.begin(kind, folder)
            for source, target, photo_key in moves:
                try:
                    size = _size(source)
                    log.moved(report.op, source, target, photo_key)
                    move_file(source, target)
                except OSError as exc:
                    report.problems.append((str(source), exc.strerror or str(exc)))
                    if photo_key is not None:
                        break  # the photo stayed: its sidecars stay with it
                    continue
                report.moves.append((str(source), str(target)))
                report.bytes += size
                if photo_key is not None:
                    report.photos += 1
                    statuses.append((photo_key, "missing", f"{reason}: {printable(target)}"))
                else:
                    report.sidecars += 1
    finally:
        Sidecars(catalog).set_status(statuses)
        if report.op is not None:
            log.end(report.op)
    return report


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


@dataclass
class UndoReport:
    operations: list[str] = field(default_factory=list)
    restored: list[tuple[str, str]] = field(default_factory=list)  # (from where, back to)
    already: int = 0  # back in place before this undo (an earlier undo stopped half-way)
    problems: list[tuple[str, str]] = field(default_factory=list)


def undo(catalog: Catalog, everything: bool = False) -> UndoReport:
    """Move back the files of the last operation not undone (or of all of them, newest first).

    A file that has reappeared at its old place is never overwritten: it is
    reported and the operation stays open, so ``undo`` can be run again once
    that is sorted out.
    """
    log = UndoLog(catalog)
    pending = [op for op in log.operations() if op["undone"] is None and op["moves"]]
    report = UndoReport()
    store = Sidecars(catalog)
    for op in reversed(pending if everything else pending[-1:]):
        report.operations.append(op["op"])
        statuses, trouble = [], False
        for move in reversed(op["moves"]):
            original, moved = Path(move["from"]), Path(move["to"])
            if original.exists() or original.is_symlink():
                if moved.exists():
                    report.problems.append((str(original), f"a file has reappeared here; not overwritten "
                                                           f"(the moved one is still at {moved})"))
                    trouble = True
                else:
                    report.already += 1
                    if move["key"] is not None:
                        statuses.append((move["key"], "ok", None))
                continue
            if not moved.exists():
                report.problems.append((str(moved), "no longer there: cannot be restored"))
                trouble = True
                continue
            try:
                move_file(moved, original)
            except OSError as exc:
                report.problems.append((str(moved), exc.strerror or str(exc)))
                trouble = True
                continue
            report.restored.append((str(moved), str(original)))
            if move["key"] is not None:
                statuses.append((move["key"], "ok", None))
        store.set_status([s for s in statuses if store.file_status(s[0]) is not None])
        if not trouble:
            log.end(op["op"], "undone")
            _remove_empty_folders(op)
    return report


def _remove_empty_folders(op: dict) -> None:
    """The operation's folders left empty by the undo (never a file)."""
    if op.get("kind") != "trash" or not op.get("folder"):
        return
    top = Path(op["folder"])
    folders = {Path(m["to"]).parent for m in op["moves"]}
    for folder in sorted({p for f in folders for p in (f, *f.parents) if p.is_relative_to(top)},
                         key=lambda p: -len(p.parts)):
        try:
            folder.rmdir()
        except OSError:
            pass
