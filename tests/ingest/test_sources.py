"""Discovery: recursive folders, single files, hidden and state folders skipped, others counted."""

from __future__ import annotations

from photocull.config import IngestSettings
from photocull.ingest.sources import discover


def test_discovery_walks_folders_and_counts_what_it_ignores(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/1.jpg", "a/b/2.CR2", "a/b/3.heic", "a/clip.mov", "a/1.xmp", ".hidden.jpg",
                 ".photocull/archives/x.jpg", "a/.thumbs/t.jpg"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    found = discover([tmp_path], IngestSettings(), tmp_path / ".photocull" / "archives")
    assert sorted(f.path.relative_to(tmp_path).as_posix() for f in found.files) == [
        "a/1.jpg", "a/b/2.CR2", "a/b/3.heic"]
    assert found.ignored == {".mov": 1}  # the .xmp sidecar is a companion, not ignored
    assert found.walked_roots == [tmp_path]


def test_named_files_are_taken_whatever_their_extension_and_missing_paths_reported(tmp_path):
    odd = tmp_path / "photo.data"
    odd.write_bytes(b"x")
    found = discover([odd, odd, tmp_path / "nope"], IngestSettings(), tmp_path / "arch")
    assert [f.path for f in found.files] == [odd]
    assert found.problems == [(str(tmp_path / "nope"), "no such file or folder")]
