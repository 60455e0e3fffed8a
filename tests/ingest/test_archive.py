"""ZIP input: photos extracted safely; traversal, links and bombs refused whole."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest
from PIL import Image

from photocull.config import IngestSettings
from photocull.ingest.archive import ArchiveRefused, extract_zip

SETTINGS = IngestSettings()


def jpeg_bytes(colour=(200, 100, 50)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def make_zip(path, entries: dict[str, bytes], compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def test_photos_are_extracted_and_other_files_left_out(tmp_path):
    archive = make_zip(tmp_path / "card.zip", {"DCIM/a.jpg": jpeg_bytes(), "DCIM/b.JPG": jpeg_bytes(),
                                               "notes.txt": b"hello", "__MACOSX/._a.jpg": b"junk",
                                               ".hidden/c.jpg": jpeg_bytes()})
    folder = extract_zip(archive, tmp_path / "out", SETTINGS)
    # Non-photos, hidden entries and macOS "._" resource forks stay in the archive.
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "DCIM/a.jpg", "DCIM/b.JPG"]
    assert (folder / "DCIM" / "a.jpg").read_bytes() == jpeg_bytes()
    # An unchanged archive is not extracted again.
    (folder / "DCIM" / "a.jpg").unlink()
    assert extract_zip(archive, tmp_path / "out", SETTINGS) == folder
    assert not (folder / "DCIM" / "a.jpg").exists()


@pytest.mark.parametrize("name", ["../evil.jpg", "photos/../../evil.jpg", "/etc/evil.jpg",
                                  "C:/evil.jpg", "..\\evil.jpg"])
def test_entries_escaping_the_folder_refuse_the_whole_archive(tmp_path, name):
    archive = make_zip(tmp_path / "evil.zip", {"ok.jpg": jpeg_bytes(), name: jpeg_bytes()})
    with pytest.raises(ArchiveRefused, match="outside the extraction folder"):
        extract_zip(archive, tmp_path / "out", SETTINGS)
    assert not (tmp_path / "evil.jpg").exists()
    assert not any(p.is_file() for p in (tmp_path / "out").rglob("*"))


def test_symbolic_links_are_refused(tmp_path):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("link.jpg")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(ArchiveRefused, match="symbolic link"):
        extract_zip(archive, tmp_path / "out", SETTINGS)


def test_highly_compressed_entry_is_refused_as_a_bomb(tmp_path):
    archive = make_zip(tmp_path / "bomb.zip", {"bomb.jpg": b"\0" * (50 << 20)}, zipfile.ZIP_DEFLATED)
    with pytest.raises(ArchiveRefused, match="zip bomb"):
        extract_zip(archive, tmp_path / "out", SETTINGS)


def test_total_size_limit(tmp_path):
    archive = make_zip(tmp_path / "big.zip", {f"{i}.jpg": jpeg_bytes() for i in range(5)})
    with pytest.raises(ArchiveRefused, match="uncompressed size exceeds"):
        extract_zip(archive, tmp_path / "out", IngestSettings(zip_max_total_bytes=2 * len(jpeg_bytes())))


def test_not_a_zip(tmp_path):
    archive = tmp_path / "fake.zip"
    archive.write_bytes(b"this is not a zip archive")
    with pytest.raises(ArchiveRefused, match="not a valid ZIP"):
        extract_zip(archive, tmp_path / "out", SETTINGS)
