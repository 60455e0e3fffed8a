"""XMP sidecars: the decisions written where Lightroom, darktable and digiKam read them, and read back.

What each application reads (sources in docs/export.md):

- ``xmp:Rating`` 0-5 stars, -1 rejected: Lightroom/Bridge, darktable
  (``-1`` is its reject), digiKam (stars only: it ignores -1).
- ``xmp:Label`` "Red", "Yellow", "Green", "Blue", "Purple": Lightroom; darktable
  reads it before its own ``darktable:colorlabels``; digiKam reads it after its
  own ``digiKam:ColorLabel``.
- ``digiKam:PickLabel`` 0 none, 1 rejected, 2 pending, 3 accepted and
  ``digiKam:ColorLabel`` 1 red, 3 yellow, 4 green, 5 blue, 6 magenta: digiKam.
- ``darktable:colorlabels`` (a sequence of 0 red ... 4 purple) is updated only
  where a sidecar already has it, so darktable never falls back to a stale one.

Writing is lossless: an existing sidecar is parsed (a DOCTYPE is refused, so no
entity is ever expanded), only these properties are changed wherever they are
(attribute or element form), every other namespace, property, comment and the
xpacket wrapper is kept, and the file is replaced atomically. Original photos
are never touched. Both naming styles are written: ``IMG_1.CR2.xmp``
(darktable, digiKam) and ``IMG_1.xmp`` (Lightroom, Bridge, digiKam's
"compatible" option).

Reading back (:func:`import_changes`) turns a sidecar changed by another tool
since photocull last wrote or read it into the user's decision (origin
``xmp``); photocull's own sidecars are recognised by size and modification
time and never read back as the user's.
"""

from __future__ import annotations

import io
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from photocull.catalog.decisions import LABELS
from photocull.catalog.sidecars import Sidecars, SidecarSeen
from photocull.catalog.store import Catalog, printable
from photocull.files import write_atomic
from photocull.export.common import Listing, adobe_owner_texts, adobe_owners, relative_name, sidecar_names
from photocull.ingest.originals import is_under
from photocull.ingest.remote import is_url

NS_X = "adobe:ns:meta/"
NS_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
NS_XMP = "http://ns.adobe.com/xap/1.0/"
NS_DIGIKAM = "http://www.digikam.org/ns/1.0/"
NS_DARKTABLE = "http://darktable.sf.net/"
PREFIXES = {"x": NS_X, "rdf": NS_RDF, "xmp": NS_XMP, "digiKam": NS_DIGIKAM, "darktable": NS_DARKTABLE}

RATING = f"{{{NS_XMP}}}Rating"
LABEL = f"{{{NS_XMP}}}Label"
PICK = f"{{{NS_DIGIKAM}}}PickLabel"
COLOR = f"{{{NS_DIGIKAM}}}ColorLabel"
DT_COLORS = f"{{{NS_DARKTABLE}}}colorlabels"
DESCRIPTION = f"{{{NS_RDF}}}Description"

STYLES = ("both", "adobe", "full")
PICK_REJECTED, PICK_ACCEPTED = 1, 3
DIGIKAM_COLORS = {"red": 1, "yellow": 3, "green": 4, "blue": 5, "purple": 6}  # 2 orange, 7-9 gray, black, white
DARKTABLE_COLORS = {name: i for i, name in enumerate(LABELS)}  # 0 red ... 4 purple

_PACKET_HEAD = "<?xpacket begin=\"\ufeff\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n"
_PACKET_TAIL = "\n<?xpacket end=\"w\"?>\n"


class SidecarError(Exception):
    """A sidecar that cannot be read safely (not XML, a DOCTYPE, not XMP)."""


@dataclass(frozen=True, slots=True)
class XmpValues:
    """The decision as a sidecar holds it."""

    rating: int | None = None  # xmp:Rating: -1 rejected, 0..5
    label: str | None = None  # red ... purple
    pick: int | None = None  # digiKam:PickLabel

    @property
    def flag(self) -> str | None:
        """keep / reject as the sidecar says it (digiKam's pick label first, then a -1 rating)."""
        if self.pick == PICK_REJECTED:
            return "reject"
        if self.pick == PICK_ACCEPTED:
            return "keep"
        return "reject" if self.rating == -1 else None

    @property
    def stars(self) -> int | None:
        return self.rating if self.rating is not None and 0 <= self.rating <= 5 else None


def values_for(flag: str | None, rating: int | None, label: str | None) -> XmpValues:
    """What a sidecar carries for a decision: a reject is rating -1 and pick 1; a keep is pick 3."""
    if flag == "reject":
        return XmpValues(-1, label, PICK_REJECTED)
    return XmpValues(rating, label, PICK_ACCEPTED if flag == "keep" else None)


# -- reading --------------------------------------------------------------
def read_sidecar(path: Path) -> XmpValues:
    """Rating, colour label and pick label of a sidecar, attribute or element form."""
    return _values(_parse(path.read_bytes())[1])


def _values(root: ET.Element) -> XmpValues:
    rating = _int(_get(root, RATING))
    text = _get(root, LABEL)
    label = text.strip().lower() if text is not None else None
    if label not in LABELS:
        label = None
        if text is None:  # no xmp:Label at all: the applications' own labels
            digikam = _int(_get(root, COLOR))
            label = next((name for name, n in DIGIKAM_COLORS.items() if n == digikam), None)
            if label is None:
                colours = _darktable_colours(root)
                label = LABELS[colours[0]] if colours and 0 <= colours[0] < len(LABELS) else None
    pick = _int(_get(root, PICK))
    return XmpValues(rating if rating is not None and -1 <= rating <= 5 else None, label,
                     pick if pick is not None and 0 <= pick <= 3 else None)


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return round(float(text.strip()))
    except ValueError:
        return None


def _descriptions(root: ET.Element) -> list[ET.Element]:
    return list(root.iter(DESCRIPTION))


def _get(root: ET.Element, name: str) -> str | None:
    for description in _descriptions(root):
        if name in description.attrib:
            return description.attrib[name]
        element = description.find(name)
        if element is not None:
            return "".join(element.itertext())
    return None


def _darktable_colours(root: ET.Element) -> list[int]:
    for description in _descriptions(root):
        element = description.find(DT_COLORS)
        if element is not None:
            return [n for li in element.iter(f"{{{NS_RDF}}}li") if (n := _int(li.text)) is not None]
    return []


def _parse(data: bytes) -> tuple[tuple[str, str], ET.Element, dict[str, str]]:
    """(text before and after the root element, the root, prefixes declared) of a sidecar's bytes."""
    if re.search(rb"<!(DOCTYPE|ENTITY)", data, re.IGNORECASE):
        raise SidecarError("has a DOCTYPE or ENTITY declaration: refused (entities are never expanded)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SidecarError(f"not UTF-8: {exc}") from exc
    start = re.search(r"<[A-Za-z_]", text)
    ends = list(re.finditer(r"</[^>]+>|/>", text))
    if start is None or not ends:
        raise SidecarError("no XML element")
    head, tail = text[:start.start()], text[ends[-1].end():]
    prefixes: dict[str, str] = {}
    try:
        for _, (prefix, uri) in ET.iterparse(io.BytesIO(data), events=("start-ns",)):
            prefixes.setdefault(prefix, uri)
        parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True, insert_pis=True))
        parser.feed(text[start.start():ends[-1].end()])
        root = parser.close()
    except ET.ParseError as exc:
        raise SidecarError(f"not XML: {exc}") from exc
    if root.tag != f"{{{NS_RDF}}}RDF" and root.find(f".//{{{NS_RDF}}}RDF") is None:
        raise SidecarError("not an XMP packet (no rdf:RDF)")
    return (head, tail), root, prefixes


# -- writing --------------------------------------------------------------
def updated_sidecar(data: bytes | None, values: XmpValues) -> bytes:
    """A sidecar's bytes with our properties set to ``values`` and everything else kept
    (``data`` None: a new, minimal ``x:xmpmeta`` packet)."""
    if data is None:
        root = ET.Element(f"{{{NS_X}}}xmpmeta", {f"{{{NS_X}}}xmptk": "photocull"})
        rdf = ET.SubElement(root, f"{{{NS_RDF}}}RDF")
        ET.SubElement(rdf, DESCRIPTION, {f"{{{NS_RDF}}}about": ""})
        (head, tail), prefixes = (_PACKET_HEAD, _PACKET_TAIL), {}
    else:
        (head, tail), root, prefixes = _parse(data)
    _set(root, RATING, None if values.rating is None else str(values.rating))
    _set(root, LABEL, values.label.capitalize() if values.label else None)
    _set(root, PICK, None if values.pick is None else str(values.pick))
    _set(root, COLOR, str(DIGIKAM_COLORS[values.label]) if values.label else None,
         add=values.label is not None)
    _set_darktable_colours(root, values.label)
    for prefix, uri in {**PREFIXES, **prefixes}.items():
        if prefix and not re.fullmatch(r"ns\d+", prefix):
            ET.register_namespace(prefix, uri)
    if data is None:
        _indent_new(root)
    body = ET.tostring(root, encoding="unicode")
    return (head + body + tail).encode("utf-8")


def _set(root: ET.Element, name: str, value: str | None, add: bool = True) -> None:
    """Set (or with None remove) a simple property wherever it is; new ones become attributes."""
    found = False
    for description in _descriptions(root):
        if name in description.attrib:
            if value is None or found:
                del description.attrib[name]
            else:
                description.set(name, value)
            found = True
        for element in description.findall(name):
            if value is None or found:
                _remove(description, element)
            else:
                element.text = value
                for child in list(element):
                    element.remove(child)
            found = True
    if not found and value is not None and add:
        descriptions = _descriptions(root)
        if not descriptions:
            rdf = root if root.tag == f"{{{NS_RDF}}}RDF" else root.find(f".//{{{NS_RDF}}}RDF")
            descriptions = [ET.SubElement(rdf, DESCRIPTION, {f"{{{NS_RDF}}}about": ""})]
        descriptions[0].set(name, value)


def _set_darktable_colours(root: ET.Element, label: str | None) -> None:
    """darktable's own colour labels, only where present (darktable reads them when xmp:Label is absent)."""
    for description in _descriptions(root):
        element = description.find(DT_COLORS)
        if element is None:
            continue
        if label is None:
            _remove(description, element)
            continue
        seq = element.find(f"{{{NS_RDF}}}Seq")
        if seq is None:
            seq = ET.SubElement(element, f"{{{NS_RDF}}}Seq")
        items = seq.findall(f"{{{NS_RDF}}}li")
        for extra in items[1:]:
            _remove(seq, extra)
        item = items[0] if items else ET.SubElement(seq, f"{{{NS_RDF}}}li")
        item.text = str(DARKTABLE_COLORS[label])


def _remove(parent: ET.Element, element: ET.Element) -> None:
    """Remove a child, keeping the layout: the whitespace after it follows whatever came before it."""
    children = list(parent)
    index = children.index(element)
    if index > 0:
        children[index - 1].tail = element.tail
    else:
        parent.text = element.tail
    parent.remove(element)


def _indent_new(root: ET.Element) -> None:
    ET.indent(root, space=" ")


# -- the catalog's sidecars -----------------------------------------------
@dataclass
class XmpReport:
    written: list[str] = field(default_factory=list)  # sidecars created or updated
    unchanged: int = 0  # already held the decision
    imported: list[dict] = field(default_factory=list)  # decisions read back: path, sidecar, what changed
    problems: list[tuple[str, str]] = field(default_factory=list)  # (file, why)
    skipped_adobe: list[str] = field(default_factory=list)  # photos sharing NAME.xmp with another photo
    in_object_storage: list[str] = field(default_factory=list)  # URL photos left out: no ``dest`` given


REMOTE_REASON = ("photocull never writes into object storage (it may be denied, and a bucket is not where "
                 "Lightroom, darktable or digiKam look for sidecars)")


def write_sidecars(catalog: Catalog, style: str = "both", under: Path | str | None = None,
                   dest: Path | None = None) -> XmpReport:
    """Write every decided file's sidecar(s); first read back any changed by another tool, so none is lost.

    ``dest``: the sidecars go into this folder instead, at each photo's place in an export tree
    (``photocull export keepers DEST`` puts the photos at the same places), the only way for photos
    in object storage (:data:`REMOTE_REASON`); without it those are listed in ``in_object_storage``.
    Sidecars in ``dest`` are written, never read back.
    """
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}")
    report = import_changes(catalog, under) if dest is None else XmpReport()
    store = Sidecars(catalog)
    keys = store.readable_keys()
    owners = adobe_owners([catalog.resolve(k) for k in keys])
    listing = Listing()
    seen = store.seen()
    remembered = []
    for key, (flag, rating, label, _) in catalog.decisions.effective_by_key().items():
        photo = catalog.resolve(key)
        if under is not None and not is_under(photo, under):
            continue
        if dest is None and is_url(photo):
            report.in_object_storage.append(key)
            continue
        values = values_for(flag, rating, label)
        beside = photo if dest is None else dest.resolve() / relative_name(catalog, key)
        for target in _targets(beside, style, photo in owners, report):
            existing = listing.find(target)
            try:
                if existing is None:
                    if values == XmpValues():
                        continue
                    data, existing = None, target
                else:
                    data = existing.read_bytes()
                new = updated_sidecar(data, values)
                skey = catalog.key(existing)
                if new == data:
                    report.unchanged += 1
                else:
                    write_atomic(existing, new, durable=data is not None)
                    report.written.append(str(existing))
                stat = existing.stat()
            except (OSError, SidecarError) as exc:
                report.problems.append((str(existing or target), str(exc)))
                continue
            if dest is None and (new != data or seen.get(("sidecar", skey)) is None):
                remembered.append(SidecarSeen(skey, key, "sidecar", stat.st_size, stat.st_mtime_ns,
                                              values.rating, values.label, values.pick, "written"))
    store.remember(remembered)
    return report


def _targets(photo: Path, style: str, owner: bool, report: XmpReport) -> list[Path]:
    full, *adobe = sidecar_names(photo, True)
    if style in ("both", "adobe") and not owner:
        report.skipped_adobe.append(str(photo))
        adobe = []
    if style == "full":
        return [full]
    if style == "adobe":
        return adobe or [full]
    return [full, *adobe]


def import_changes(catalog: Catalog, under: Path | None = None) -> XmpReport:
    """Read back sidecars changed since photocull last wrote or read them, and ratings embedded in the photos,
    as the user's decisions (origin ``xmp``).

    It runs at the end of every scan, so it stays cheap: one listing per
    folder, a stat per sidecar found, and a parse only of those whose size or
    modification time changed (paths are handled as text: 20,000 ``Path``
    objects cost more than the listings).
    """
    report = XmpReport()
    store = Sidecars(catalog)
    decisions = catalog.decisions
    seen = store.seen()
    photos = {key: _text_path(catalog, key) for key in store.readable_keys()}
    owners = adobe_owner_texts(photos.values())
    sep = "/" if is_url(under) else os.sep
    within = None if under is None else os.fspath(under).rstrip(sep) + sep
    listing = Listing()
    remembered = []
    for key, photo in photos.items():
        if is_url(photo) or not _inside(photo, within):
            continue  # no sidecars are read from object storage (see write_sidecars)
        folder, name = os.path.split(photo)
        wanted = [name + ".xmp"] + ([os.path.splitext(name)[0] + ".xmp"] if photo in owners else [])
        found = []
        for candidate in wanted:
            sidecar_name = listing.find_text(folder, candidate)
            if sidecar_name is None:
                continue
            sidecar = os.path.join(folder, sidecar_name)
            try:
                stat = os.stat(sidecar)
            except OSError:
                continue
            skey = _sidecar_key(catalog, key, name, sidecar_name, sidecar)
            before = seen.get(("sidecar", skey))
            if before is not None and (before.size, before.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
                continue
            found.append((stat.st_mtime_ns, Path(sidecar), skey, stat, before))
        for _, sidecar, skey, stat, before in sorted(found, key=lambda f: f[0]):  # the newest is applied last
            try:
                now = read_sidecar(sidecar)
            except (OSError, SidecarError) as exc:
                report.problems.append((str(sidecar), str(exc)))
                continue
            changes = _changes(now, before)
            if changes:
                decisions.set_user(catalog.resolve(key), origin="xmp", **changes)
                report.imported.append({"path": printable(catalog.resolve(key)), "sidecar": str(sidecar),
                                        **changes})
            remembered.append(SidecarSeen(skey, key, "sidecar", stat.st_size, stat.st_mtime_ns,
                                          now.rating, now.label, now.pick, "read"))
    remembered += _import_embedded(catalog, store, seen, photos, within, report)
    store.remember(remembered)
    return report


def _inside(photo: str, within: str | None) -> bool:
    """Whether ``photo`` is in the folder (or URL prefix) ``within`` (ending with its separator), or is it."""
    return within is None or photo.startswith(within) or photo + within[-1] == within


def _text_path(catalog: Catalog, key: str) -> str:
    """A catalog key as an absolute path in text (the common case without building a ``Path``)."""
    if catalog.root is not None and not key.startswith("\0") and not os.path.isabs(key):
        return os.path.join(os.fspath(catalog.root), key)
    return os.fspath(catalog.resolve(key))


def _sidecar_key(catalog: Catalog, key: str, name: str, sidecar_name: str, sidecar: str) -> str:
    """The catalog key of a sidecar beside the photo of ``key`` (named ``name``)."""
    if not key.startswith("\0") and key.endswith(name):
        return key[: len(key) - len(name)] + sidecar_name
    return catalog.key(Path(sidecar))


def _changes(now: XmpValues, before: SidecarSeen | None) -> dict[str, object]:
    """The user's values a sidecar sets: those that differ from what it held when photocull last saw it
    (a sidecar never seen: every value it has)."""
    if before is None:  # 0 stars is how Lightroom writes "unrated": not a decision
        candidates = {"flag": now.flag, "rating": now.stars or None, "label": now.label}
        return {k: v for k, v in candidates.items() if v is not None}
    old = XmpValues(before.rating, before.label, before.pick)
    changes: dict[str, object] = {}
    if now.flag != old.flag:
        changes["flag"] = now.flag
    if now.stars != old.stars and not (now.rating == -1 and now.stars is None):
        changes["rating"] = now.stars
    if now.label != old.label:
        changes["label"] = now.label
    return changes


def _import_embedded(catalog: Catalog, store: Sidecars, seen: dict, photos: dict[str, str],
                     within: str | None, report: XmpReport) -> list[SidecarSeen]:
    """A rating embedded in the photo itself (read by the scan) counts as the user's where they set none."""
    users = store.user_values()
    remembered = []
    for key, rating in store.embedded_ratings().items():
        photo = photos.get(key)
        if photo is None or not _inside(photo, within):
            continue
        before = seen.get(("embedded", key))
        if before is not None and before.rating == rating:
            continue
        flag, user_rating, _ = users.get(key, (None, None, None))
        changes: dict[str, object] = {}
        if rating == -1 and flag is None:
            changes["flag"] = "reject"
        elif rating > 0 and user_rating is None:
            changes["rating"] = rating
        if changes:
            catalog.decisions.set_user(catalog.resolve(key), origin="xmp", **changes)
            report.imported.append({"path": printable(catalog.resolve(key)), "sidecar": None, **changes})
        remembered.append(SidecarSeen(key, key, "embedded", None, None, rating, None, None, "read"))
    return remembered


__all__ = ["XmpValues", "read_sidecar", "updated_sidecar", "write_sidecars", "import_changes", "values_for",
           "SidecarError", "STYLES"]
