"""Keepers copied, linked and moved; the ZIP; the trash and its undo, byte for byte."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

from photocull.catalog.sidecars import Sidecars
from photocull.catalog.store import Catalog
from photocull.config import RuleSettings
from photocull.export.archive import write_zip
from photocull.export.keepers import export_keepers
from photocull.export.trash import UndoLog, trash_rejects, undo
from photocull.export.xmp import write_sidecars
from tests.helpers import run_cli, tree_digest


def _decide(catalog: Catalog, shoot: Path) -> None:
    """leuvenA and sub/board.jpg kept, baboon rejected, fruits and sub/board.png undecided; sidecars written."""
    catalog.decisions.set_user(shoot / "leuvenA.jpg", flag="keep", rating=4)
    catalog.decisions.set_user(shoot / "sub" / "board.jpg", flag="keep")
    catalog.decisions.set_user(shoot / "baboon.jpg", flag="reject")
    write_sidecars(catalog)


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_keepers_are_copied_with_their_folders_and_sidecars(catalog: Catalog, shoot: Path, tmp_path: Path) -> None:
    _decide(catalog, shoot)
    dest = tmp_path / "selected"
    report = export_keepers(catalog, dest)
    assert _files(dest) == {"leuvenA.jpg", "leuvenA.jpg.xmp", "leuvenA.xmp", "sub/board.jpg", "sub/board.jpg.xmp"}
    assert (dest / "leuvenA.jpg").read_bytes() == (shoot / "leuvenA.jpg").read_bytes()
    assert (report.photos, report.sidecars) == (2, 3)
    assert report.bytes == sum((dest / name).stat().st_size for name in _files(dest))
    again = export_keepers(catalog, dest)  # the same files already there: nothing doubled
    assert (again.photos, again.already_there) == (0, 2) and len(_files(dest)) == 5
    (dest / "leuvenA.jpg").write_bytes(b"another photo")  # a different file in the way: never overwritten
    third = export_keepers(catalog, dest)
    assert (dest / "leuvenA.jpg").read_bytes() == b"another photo"
    assert (dest / "leuvenA (1).jpg").read_bytes() == (shoot / "leuvenA.jpg").read_bytes()
    assert (dest / "leuvenA (1).jpg.xmp").is_file() and (dest / "leuvenA (1).xmp").is_file()
    assert third.renamed == [(str(shoot / "leuvenA.jpg"), "leuvenA (1).jpg")]


def test_undecided_files_only_on_request(catalog: Catalog, shoot: Path, tmp_path: Path) -> None:
    _decide(catalog, shoot)
    report = export_keepers(catalog, tmp_path / "all", include_undecided=True)
    assert report.photos == 4  # every file but the reject
    assert "baboon.jpg" not in _files(tmp_path / "all")


def test_keepers_hard_linked(catalog: Catalog, shoot: Path, tmp_path: Path) -> None:
    _decide(catalog, shoot)
    export_keepers(catalog, tmp_path / "linked", "link")
    assert (tmp_path / "linked" / "leuvenA.jpg").stat().st_ino == (shoot / "leuvenA.jpg").stat().st_ino
    assert (tmp_path / "linked" / "leuvenA.xmp").stat().st_ino != (shoot / "leuvenA.xmp").stat().st_ino


def test_keepers_moved_and_undone(catalog: Catalog, shoot: Path, tmp_path: Path) -> None:
    _decide(catalog, shoot)
    before = tree_digest(shoot)
    report = export_keepers(catalog, tmp_path / "moved", "move")
    assert report.photos == 2 and not (shoot / "leuvenA.jpg").exists()
    assert Sidecars(catalog).file_status("leuvenA.jpg")[0] == "missing"
    assert (tmp_path / "moved" / "sub" / "board.jpg.xmp").is_file()
    restored = undo(catalog)
    assert len(restored.restored) == 5 and not restored.problems
    assert tree_digest(shoot) == before
    assert Sidecars(catalog).file_status("leuvenA.jpg") == ("ok", None)


def test_zip_of_the_keepers(catalog: Catalog, shoot: Path, tmp_path: Path) -> None:
    _decide(catalog, shoot)
    output = tmp_path / "keepers.zip"
    report = write_zip(catalog, output, RuleSettings())
    with zipfile.ZipFile(output) as archive:
        names = archive.namelist()
        assert set(names) == {"leuvenA.jpg", "leuvenA.jpg.xmp", "leuvenA.xmp", "sub/board.jpg",
                              "sub/board.jpg.xmp", "photo_scores.csv"}
        assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())
        assert archive.read("sub/board.jpg") == (shoot / "sub" / "board.jpg").read_bytes()
        rows = list(csv.DictReader(io.StringIO(archive.read("photo_scores.csv").decode())))
    assert report.photos == 2 and not list(tmp_path.glob(".*partial"))
    by_name = {Path(r["path"]).name: r for r in rows}
    assert (by_name["leuvenA.jpg"]["flag"], by_name["leuvenA.jpg"]["rating"], by_name["leuvenA.jpg"]["decided_by"]) \
        == ("keep", "4", "user")
    assert by_name["baboon.jpg"]["flag"] == "reject" and by_name["fruits.jpg"]["decided_by"] == ""


def test_trash_then_undo_restores_every_byte_and_the_catalog(catalog: Catalog, shoot: Path) -> None:
    _decide(catalog, shoot)
    before = tree_digest(shoot)
    dry = trash_rejects(catalog, dry_run=True)
    assert dry.photos == 1 and (shoot / "baboon.jpg").exists()
    report = trash_rejects(catalog)
    assert (report.photos, report.sidecars) == (1, 2)
    folder = Path(report.folder)
    assert folder.parent == shoot / ".photocull" / "trash"
    assert _files(folder) == {"baboon.jpg", "baboon.jpg.xmp", "baboon.xmp"}
    assert not (shoot / "baboon.jpg").exists() and not (shoot / "baboon.xmp").exists()
    status, reason = Sidecars(catalog).file_status("baboon.jpg")
    assert status == "missing" and reason.startswith("moved to trash")
    assert [d.path for d in catalog.decisions.all(flag="reject")] == []
    log = [json.loads(line) for line in UndoLog(catalog).path.read_text().splitlines()]
    assert [r["from"] for r in log if "from" in r][0] == str(shoot / "baboon.jpg")
    result = undo(catalog)
    assert not result.problems and tree_digest(shoot) == before
    assert Sidecars(catalog).file_status("baboon.jpg") == ("ok", None)
    assert not folder.exists()  # emptied by the undo
    assert undo(catalog).operations == []  # nothing left to undo


def test_undo_never_overwrites_a_file_that_reappeared(catalog: Catalog, shoot: Path) -> None:
    _decide(catalog, shoot)
    report = trash_rejects(catalog)
    (shoot / "baboon.jpg").write_bytes(b"a new file with the old name")
    result = undo(catalog)
    assert any("reappeared" in why for _, why in result.problems)
    assert (shoot / "baboon.jpg").read_bytes() == b"a new file with the old name"
    assert (Path(report.folder) / "baboon.jpg").is_file()  # still safe in the trash
    (shoot / "baboon.jpg").unlink()
    second = undo(catalog)  # the operation stayed open: it can be finished
    assert not second.problems and (shoot / "baboon.jpg").is_file()


def test_a_crash_between_log_and_move_can_still_be_undone(catalog: Catalog, shoot: Path) -> None:
    """The log is written before each move: an entry whose move never happened is harmless to undo."""
    _decide(catalog, shoot)
    log = UndoLog(catalog)
    op = log.begin("trash", shoot / ".photocull" / "trash" / "crashed")
    log.moved(op, shoot / "fruits.jpg", shoot / ".photocull" / "trash" / "crashed" / "fruits.jpg", "fruits.jpg")
    with open(log.path, "a") as stream:
        stream.write('{"op": "cut sh')  # the process died mid-line
    result = undo(catalog)
    assert result.already == 1 and not result.problems and (shoot / "fruits.jpg").is_file()


def test_cli_trash_and_undo(shoot: Path) -> None:
    run_cli("decide", shoot / "baboon.jpg", "--reject")
    before = tree_digest(shoot)
    listed = run_cli("trash", shoot, "--dry-run")
    assert "would move 1 rejects" in listed.stderr and (shoot / "baboon.jpg").exists()
    moved = json.loads(run_cli("trash", shoot, "--json").stdout)
    assert moved["photos"] == 1 and not (shoot / "baboon.jpg").exists()
    assert "restored 1 files" in run_cli("undo", shoot).stderr
    assert tree_digest(shoot) == before
    assert run_cli("undo", shoot, check=False).returncode == 1


def test_trash_to_another_file_system_copies_flushes_then_removes(catalog: Catalog, shoot: Path, tmp_path: Path,
                                                                   monkeypatch) -> None:
    import errno
    import os

    from photocull.export import trash as trash_module

    real_rename = os.rename

    def cross_device(source, dest):  # the first rename of each file fails as it does across devices
        if not str(source).endswith("photocull-partial"):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_rename(source, dest)

    _decide(catalog, shoot)
    before = tree_digest(shoot)
    monkeypatch.setattr(trash_module.os, "rename", cross_device)
    report = trash_rejects(catalog, to=tmp_path / "elsewhere")
    assert report.photos == 1 and not (shoot / "baboon.jpg").exists()
    assert Path(report.folder).parent == tmp_path / "elsewhere"
    assert not list((tmp_path / "elsewhere").rglob("*partial"))
    monkeypatch.setattr(trash_module.os, "rename", real_rename)
    assert not undo(catalog).problems and tree_digest(shoot) == before


def test_an_interrupted_trash_keeps_what_it_moved_undoable(catalog: Catalog, shoot: Path, monkeypatch) -> None:
    from photocull.export import trash as trash_module

    catalog.decisions.set_user(shoot / "baboon.jpg", flag="reject")
    catalog.decisions.set_user(shoot / "fruits.jpg", flag="reject")
    before = tree_digest(shoot)
    real_move, moves = trash_module.move_file, []

    def dies_on_the_second_photo(source: Path, dest: Path) -> None:
        if moves:
            raise KeyboardInterrupt
        moves.append(source)
        real_move(source, dest)

    monkeypatch.setattr(trash_module, "move_file", dies_on_the_second_photo)
    try:
        trash_rejects(catalog)
    except KeyboardInterrupt:
        pass
    monkeypatch.setattr(trash_module, "move_file", real_move)
    assert Sidecars(catalog).file_status("baboon.jpg")[0] == "missing"  # the one moved is recorded
    assert Sidecars(catalog).file_status("fruits.jpg")[0] == "ok"
    result = undo(catalog)
    assert not result.problems and tree_digest(shoot) == before
    assert Sidecars(catalog).file_status("baboon.jpg")[0] == "ok"


def test_file_names_that_are_not_utf8(shoot: Path, tmp_path: Path) -> None:
    import os
    import shutil

    from photocull.pipeline.scan import scan
    from tests.export.conftest import PIXELS

    folder = tmp_path / "card"
    folder.mkdir()
    odd = folder / os.fsdecode(b"caf\xe9.jpg")  # Latin-1 name from an old card
    shutil.copy2(shoot / "fruits.jpg", odd)
    with Catalog(folder / ".photocull" / "catalog.db") as catalog:
        scan([folder], catalog, PIXELS)
        catalog.decisions.set_user(odd, flag="reject", label="red")
        write_sidecars(catalog)
        assert (folder / os.fsdecode(b"caf\xe9.jpg.xmp")).is_file()
    listed = run_cli("trash", folder, "--dry-run")
    assert "caf\ufffd.jpg" in listed.stdout
    run_cli("trash", folder)
    assert not odd.exists()
    run_cli("undo", folder)
    with Catalog(folder / ".photocull" / "catalog.db") as catalog:
        assert odd.is_file() and catalog.decisions.get(odd).flag == "reject"
        catalog.decisions.set_user(odd, flag="keep")
        assert export_keepers(catalog, tmp_path / "out").photos == 1
        assert write_zip(catalog, tmp_path / "out.zip", RuleSettings()).photos == 1
    with zipfile.ZipFile(tmp_path / "out.zip") as archive:
        assert "caf\ufffd.jpg" in archive.namelist()
