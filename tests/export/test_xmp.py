"""XMP sidecars: what exiftool reads from ours, lossless updates, reading back other tools' changes, re-runs."""

from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from photocull.catalog.decisions import AutoDecision
from photocull.catalog.store import Catalog
from photocull.export.xmp import (
    SidecarError, XmpValues, import_changes, read_sidecar, updated_sidecar, write_sidecars,
)
from photocull.pipeline.scan import scan
from tests.export.conftest import PIXELS, run_exiftool
from tests.helpers import run_cli

DARKTABLE_SIDECAR = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:darktable="http://darktable.sf.net/"
    xmlns:foo="http://example.org/foo/1.0/"
   xmp:Rating="1"
   darktable:xmp_version="5"
   darktable:history_end="2"
   foo:keep="me">
   <!-- a comment another tool left -->
   <darktable:colorlabels>
    <rdf:Seq>
     <rdf:li>3</rdf:li>
    </rdf:Seq>
   </darktable:colorlabels>
   <darktable:history>
    <rdf:Seq>
     <rdf:li darktable:operation="exposure" darktable:enabled="1" darktable:params="0000000000000000"/>
     <rdf:li darktable:operation="colorin" darktable:enabled="1" darktable:params="gz48eJzj"/>
    </rdf:Seq>
   </darktable:history>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
"""
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
DT = "{http://darktable.sf.net/}"


def _exif(exiftool: str, *files: Path) -> dict[str, dict]:
    rows = json.loads(run_exiftool(exiftool, "-j", "-XMP:Rating", "-XMP:Label", "-XMP-digiKam:PickLabel",
                                   "-XMP-digiKam:ColorLabel", *files))
    return {Path(r["SourceFile"]).name: r for r in rows}


def test_exiftool_reads_our_rating_label_and_pick_in_both_naming_styles(shoot: Path, exiftool: str) -> None:
    run_cli("decide", shoot / "leuvenA.jpg", "--keep", "--rating", "4", "--label", "green")
    run_cli("decide", shoot / "baboon.jpg", "--reject")
    run_cli("decide", shoot / "sub", "--rating", "2", "--label", "purple")
    run_cli("export", "xmp", shoot)
    read = _exif(exiftool, *shoot.glob("*.xmp"), *(shoot / "sub").glob("*.xmp"))
    for name in ("leuvenA.jpg.xmp", "leuvenA.xmp"):
        assert read[name] | {"SourceFile": None} == {"SourceFile": None, "Rating": 4, "Label": "Green",
                                                     "PickLabel": 3, "ColorLabel": 4}
    for name in ("baboon.jpg.xmp", "baboon.xmp"):  # a reject is rating -1 (Lightroom, darktable) and pick 1 (digiKam)
        assert (read[name]["Rating"], read[name]["PickLabel"]) == (-1, 1)
    # sub/board.jpg and sub/board.png would share board.xmp: only the full names are written
    assert {"board.jpg.xmp", "board.png.xmp"} <= set(read) and "board.xmp" not in read
    assert read["board.png.xmp"]["Rating"] == 2 and read["board.png.xmp"]["Label"] == "Purple"
    assert not (shoot / "fruits.jpg.xmp").exists()  # undecided: no sidecar is made


def test_style_full_and_adobe(catalog: Catalog, shoot: Path) -> None:
    catalog.decisions.set_user(shoot / "fruits.jpg", rating=3)
    write_sidecars(catalog, "full")
    assert (shoot / "fruits.jpg.xmp").is_file() and not (shoot / "fruits.xmp").exists()
    (shoot / "fruits.jpg.xmp").unlink()
    write_sidecars(catalog, "adobe")
    assert (shoot / "fruits.xmp").is_file() and not (shoot / "fruits.jpg.xmp").exists()


def test_photos_are_never_modified(catalog: Catalog, shoot: Path) -> None:
    before = {p: p.read_bytes() for p in shoot.rglob("*") if p.is_file() and ".photocull" not in p.parts}
    for path in before:
        catalog.decisions.set_user(path, flag="keep", rating=5, label="red")
    write_sidecars(catalog)
    assert all(path.read_bytes() == data for path, data in before.items())


def test_lossless_update_keeps_darktable_history_and_foreign_namespaces(catalog: Catalog, shoot: Path,
                                                                         exiftool: str) -> None:
    sidecar = shoot / "fruits.jpg.xmp"
    sidecar.write_text(DARKTABLE_SIDECAR, encoding="utf-8")
    import_changes(catalog)  # someone's sidecar: read first (rating 1, label blue from darktable's colours)
    decision = catalog.decisions.get(shoot / "fruits.jpg")
    assert (decision.rating, decision.label, decision.by_user) == (1, "blue", True)
    catalog.decisions.set_user(shoot / "fruits.jpg", flag="keep", rating=4, label="yellow")
    write_sidecars(catalog, "full")
    text = sidecar.read_text(encoding="utf-8")
    assert text.startswith('<?xpacket begin="\ufeff"') and text.rstrip().endswith('<?xpacket end="w"?>')
    assert "a comment another tool left" in text
    root = ET.fromstring(text.split("?>", 1)[1].rsplit("<?xpacket", 1)[0])
    description = root.find(f"{RDF}RDF/{RDF}Description")
    assert description.get("{http://example.org/foo/1.0/}keep") == "me"
    assert description.get(f"{DT}xmp_version") == "5" and description.get(f"{DT}history_end") == "2"
    history = description.find(f"{DT}history/{RDF}Seq")
    assert [li.get(f"{DT}operation") for li in history] == ["exposure", "colorin"]
    assert history[1].get(f"{DT}params") == "gz48eJzj"
    # our properties: updated in place (the attribute), not duplicated; darktable's own colour follows
    assert description.get("{http://ns.adobe.com/xap/1.0/}Rating") == "4"
    assert text.count("Rating") == 1
    assert [li.text for li in description.find(f"{DT}colorlabels/{RDF}Seq")] == ["1"]
    assert read_sidecar(sidecar) == XmpValues(4, "yellow", 3)
    assert _exif(exiftool, sidecar)["fruits.jpg.xmp"]["Rating"] == 4
    history_dump = run_exiftool(exiftool, "-j", "-XMP-darktable:all", sidecar)
    assert "HistoryOperation" in history_dump  # exiftool still reads darktable's history


def test_element_form_is_updated_in_place(tmp_path: Path) -> None:
    data = DARKTABLE_SIDECAR.replace('   xmp:Rating="1"\n', "").replace(
        "   <!-- a comment", "   <xmp:Rating>2</xmp:Rating>\n   <xmp:Label>Red</xmp:Label>\n   <!-- a comment")
    assert XmpValues(2, "red", None) == _values_of(data, tmp_path)
    updated = updated_sidecar(data.encode(), XmpValues(-1, None, 1)).decode()
    assert "<xmp:Rating>-1</xmp:Rating>" in updated and "xmp:Label" not in updated and "ColorLabel" not in updated
    assert "colorlabels" not in updated  # no label: darktable must not fall back to its old one
    assert "darktable:history" in updated


def _values_of(text: str, folder: Path) -> XmpValues:
    path = folder / "x.xmp"
    path.write_text(text, encoding="utf-8")
    return read_sidecar(path)


def test_labels_of_each_application_are_read(tmp_path: Path) -> None:
    digikam = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
               '<rdf:Description xmlns:digiKam="http://www.digikam.org/ns/1.0/" digiKam:ColorLabel="5" '
               'digiKam:PickLabel="1"/></rdf:RDF></x:xmpmeta>')
    assert _values_of(digikam, tmp_path) == XmpValues(None, "blue", 1)
    assert _values_of(digikam, tmp_path).flag == "reject"
    assert _values_of(DARKTABLE_SIDECAR, tmp_path).label == "blue"


def test_a_doctype_is_refused_and_the_file_left_alone(catalog: Catalog, shoot: Path) -> None:
    sidecar = shoot / "fruits.jpg.xmp"
    evil = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/">&b;</x:xmpmeta>')
    sidecar.write_text(evil)
    with pytest.raises(SidecarError, match="DOCTYPE"):
        read_sidecar(sidecar)
    catalog.decisions.set_user(shoot / "fruits.jpg", rating=2)
    report = write_sidecars(catalog, "full")
    assert sidecar.read_text() == evil and any("DOCTYPE" in why for _, why in report.problems)


def test_a_sidecar_edited_by_another_tool_is_read_back_and_ours_is_not(catalog: Catalog, shoot: Path,
                                                                       exiftool: str) -> None:
    catalog.decisions.set_auto([AutoDecision("leuvenA.jpg", "keep", 3), AutoDecision("baboon.jpg", "keep", 2)])
    write_sidecars(catalog)
    assert import_changes(catalog).imported == []  # our own sidecars
    assert not catalog.decisions.get(shoot / "leuvenA.jpg").by_user
    run_exiftool(exiftool, "-q", "-overwrite_original", "-XMP:Rating=5", "-XMP:Label=Blue", shoot / "leuvenA.jpg.xmp")
    run_cli("scan", shoot, "--analyzers", "technical,fingerprints", "-q")  # the scan reads changed sidecars back
    decision = catalog.decisions.get(shoot / "leuvenA.jpg")
    assert (decision.flag, decision.rating, decision.label, decision.by_user) == ("keep", 5, "blue", True)
    origin = catalog._query("SELECT user_origin, user_flag FROM decisions WHERE path = 'leuvenA.jpg'")[0]
    assert tuple(origin) == ("xmp", None)  # only what the other tool changed became the user's
    assert not catalog.decisions.get(shoot / "baboon.jpg").by_user
    assert import_changes(catalog).imported == []  # read once, not on every run


def test_a_rerun_keeps_user_decisions(catalog: Catalog, shoot: Path) -> None:
    catalog.decisions.set_user(shoot / "leuvenA.jpg", flag="reject", rating=1, label="red")
    catalog.decisions.set_auto([AutoDecision("leuvenA.jpg", "keep", 5, "green")])
    write_sidecars(catalog)
    os.utime(shoot / "leuvenA.jpg")  # touched: the re-scan reads it again
    with Catalog(catalog.path) as again:
        scan([shoot], again, PIXELS)
        again.decisions.set_auto([AutoDecision("leuvenA.jpg", "keep", 4, "purple")])
    run_cli("scan", shoot, "--analyzers", "technical,fingerprints", "-q")
    decision = catalog.decisions.get(shoot / "leuvenA.jpg")
    assert (decision.flag, decision.rating, decision.label, decision.by_user) == ("reject", 1, "red", True)
    assert read_sidecar(shoot / "leuvenA.jpg.xmp") == XmpValues(-1, "red", 1)


def test_a_rating_embedded_in_the_photo_is_the_users(shoot: Path, exiftool: str, tmp_path: Path) -> None:
    folder = tmp_path / "rated"
    folder.mkdir()
    shutil.copy2(shoot / "fruits.jpg", folder / "rated.jpg")
    run_exiftool(exiftool, "-q", "-overwrite_original", "-XMP:Rating=3", folder / "rated.jpg")
    with Catalog(folder / ".photocull" / "catalog.db") as catalog:
        scan([folder], catalog, PIXELS)
        assert [row["path"] for row in import_changes(catalog).imported] == [str(folder / "rated.jpg")]
        decision = catalog.decisions.get(folder / "rated.jpg")
        assert (decision.rating, decision.by_user) == (3, True)
        catalog.decisions.clear_user(folder / "rated.jpg")
        assert import_changes(catalog).imported == []  # imported once: clearing it sticks
