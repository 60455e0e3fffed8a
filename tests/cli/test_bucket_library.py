"""A bucket library (``s3://``, moto's server on 127.0.0.1) through the commands that take a scanned folder."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from tests.helpers import run_cli

URL = "s3://photos/trip"


def cli_json(*args: str | Path) -> object:
    return json.loads(run_cli(*args, "--json").stdout)


def files_under(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_commands_read_the_catalog_of_a_url(bucket_library, tmp_path):
    keys = set(bucket_library)
    assert {row["path"] for row in cli_json("top", URL, "--all-frames")} == keys
    # Shown relative to the URL given; a prefix inside the scanned one finds the same catalog.
    table = run_cli("top", URL + "/").stdout
    assert f"photos in {URL}" in table and "day2/graf1.png" in table and "s3:/photos" not in table
    assert "graf1.png" in run_cli("top", f"{URL}/day2").stdout

    duplicates = cli_json("groups", URL, "--kind", "duplicates")
    assert [{m["path"] for m in g["members"]} for g in duplicates] == \
        [{f"{URL}/baboon.jpg", f"{URL}/day2/baboon-copy.jpg"}]
    assert "day2/baboon-copy.jpg" in run_cli("groups", URL).stdout
    assert run_cli("cull", URL).returncode == 0


def test_exports_stream_the_objects(bucket_library, s3, tmp_path):
    run_cli("decide", f"{URL}/home.jpg", f"{URL}/day2", "--keep")
    run_cli("decide", f"{URL}/fruits.jpg", "--reject")
    decided = {row["path"]: row["after"]["flag"] for row in cli_json("decide", URL)}
    assert set(decided) == set(bucket_library)
    keepers = {url for url, flag in decided.items() if flag == "keep"}
    assert {f"{URL}/home.jpg", f"{URL}/day2/graf1.png", f"{URL}/day2/baboon-copy.jpg"} <= keepers
    assert f"{URL}/fruits.jpg" not in keepers
    expected = {url.removeprefix("s3://"): bucket_library[url] for url in keepers}

    # Keepers copied out of the bucket: BUCKET/KEY in DEST, the objects' bytes; again: already there.
    dest = tmp_path / "keepers"
    report = cli_json("export", "keepers", dest, "-f", URL)
    assert (report["photos"], report["problems"]) == (len(keepers), [])
    assert files_under(dest) == expected
    assert cli_json("export", "keepers", dest, "-f", URL)["already_there"] == len(keepers)
    # A prefix inside the library limits the export to it, as a folder does.
    day2 = tmp_path / "day2"
    cli_json("export", "keepers", day2, "-f", f"{URL}/day2", "--mode", "link")
    assert files_under(day2) == {k: v for k, v in expected.items() if k.startswith("photos/trip/day2/")}

    # The ZIP: the same entries and bytes, and the scores.
    archive = tmp_path / "keepers.zip"
    assert cli_json("export", "zip", archive, "-f", URL)["photos"] == len(keepers)
    with zipfile.ZipFile(archive) as zipped:
        assert zipped.testzip() is None
        entries = {name: zipped.read(name) for name in zipped.namelist()}
    assert len(entries.pop("photo_scores.csv").splitlines()) == len(bucket_library) + 1
    assert entries == expected

    # XMP: never into the bucket; with --dest, beside the exported keepers.
    refused = run_cli("export", "xmp", URL, check=False)
    assert refused.returncode == 1
    assert "object storage" in refused.stderr and "--dest" in refused.stderr and "never writes" in refused.stderr
    written = cli_json("export", "xmp", URL, "--dest", dest)
    assert str(dest / "photos/trip/home.jpg.xmp") in written["written"] and not written["problems"]
    assert b'PickLabel="3"' in (dest / "photos/trip/home.jpg.xmp").read_bytes()
    assert b'Rating="-1"' in (dest / "photos/trip/fruits.jpg.xmp").read_bytes()
    listed = s3.list_objects_v2(Bucket="photos")["Contents"]
    assert sorted(o["Key"] for o in listed) == sorted([k.removeprefix("s3://photos/") for k in bucket_library]
                                                      + ["trip2/leuvenA.jpg"])

    # The trash never touches the bucket: the reject stays, reported.
    trashed = run_cli("trash", URL)
    assert "moved 0 rejects" in trashed.stderr and "never moves or deletes" in trashed.stderr
    assert s3.get_object(Bucket="photos", Key="trip/fruits.jpg")["Body"].read() == bucket_library[f"{URL}/fruits.jpg"]


def test_url_without_a_catalog_says_which_scan_makes_it(s3, tmp_path):
    for args in (["top", "s3://photos/trip2"], ["groups", "s3://photos/trip2/x"],
                 ["export", "keepers", tmp_path / "out", "-f", "s3://photos/trip2"]):
        result = run_cli(*args, check=False)
        assert result.returncode == 1
        assert "no catalog found for s3://photos/trip2" in result.stderr
        assert "photocull scan s3://photos/trip2" in result.stderr and "--catalog" in result.stderr
    assert not (tmp_path / "out").exists()
