"""``photocull show``: one photo's measurements as a table a person can read.

Every column of the catalog row appears, grouped by where it comes from, with
a short explanation; docs/measurements.md has the formulas.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from photocull.catalog.schema import table_columns
from photocull.ranking.face_rules import FaceVerdict

SECTION_TITLES = {
    "photos": "Image and capture", "technical": "Technical quality", "fingerprints": "Fingerprints",
    "aesthetic": "Aesthetics", "embedding": "Content", "clip": "CLIP", "faces": "Faces",
}

HELP: dict[str, str] = {
    # file
    "path": "where the file is",
    "size": "file size in bytes",
    "content_hash": "SHA-256 of the file's bytes: identical content is analysed once",
    "status": "ok, unreadable (see reason) or missing (no longer found)",
    "reason": "why the file cannot be used",
    # image
    "format": "format found in the content (not the extension)",
    "width": "full-resolution width, upright, in pixels",
    "height": "full-resolution height, upright, in pixels",
    "megapixels": "width x height / 1,000,000",
    "decode_mode": "how the working copy was decoded (reduced-size decodes are faster)",
    # capture
    "capture_time": "when the photo was taken (camera's local time, with sub-seconds)",
    "capture_offset": "the camera's offset from UTC, when recorded",
    "capture_timestamp": "capture time as POSIX seconds (local time read as UTC when no offset is known)",
    "exposure_time": "shutter speed in seconds",
    "f_number": "aperture (f-number)",
    "iso": "sensor sensitivity",
    "exposure_bias": "exposure compensation set on the camera, in EV",
    "focal_length": "lens focal length in mm",
    "gps_latitude": "degrees, north positive",
    "gps_longitude": "degrees, east positive",
    "gps_altitude": "metres above sea level",
    "orientation": "EXIF orientation as recorded (already applied to every measurement)",
    "burst_id": "identifier shared by the frames of one camera burst",
    "sequence_number": "position in a burst or drive sequence",
    "rating": "rating set by another tool (-1 rejected, 1-5 stars)",
    # technical quality (formulas in docs/measurements.md)
    "sharpness": "0-1 from the sharpest regions: 1 = edges as crisp as the pixels allow",
    "blur_width_px": "10-90% edge width along the blurriest direction, at working size",
    "blur_kind": "motion or defocus, when the photo is blurry",
    "motion_angle_deg": "direction of a motion smear: 0 horizontal, 90 vertical",
    "blur_anisotropy": "0 = blur alike in every direction (defocus), 1 = along one direction (motion)",
    "textured_fraction": "share of the picture with enough edges to judge focus",
    "noise_sigma": "noise standard deviation in 8-bit levels, at working size",
    "mean_luminance": "mean brightness, 0 black to 1 white",
    "exposure_ev": "brightness in stops relative to middle grey",
    "highlight_clipping": "share of pixels burnt to white",
    "shadow_clipping": "share of pixels crushed to black",
    "contrast": "RMS contrast (standard deviation of brightness), 0-0.5",
    "colourfulness": "Hasler-Suesstrunk colourfulness: under 15 dull, over 80 vivid",
    "blurry": "sharpness below technical.blurry_below",
    "badly_exposed": "too dark, too bright, or too much clipping (technical.* thresholds)",
    "technical_score": "0-100 summary of sharpness, exposure and noise; ranks photos for now",
    # fingerprints
    "phash": "64-bit perceptual hash (DCT): near-identical pictures differ in few bits",
    "dhash": "64-bit difference hash (gradients): a second, independent near-duplicate test",
    # neural analysers
    "nima_mean": "NIMA aesthetic score, 1-10 (AVA raters' mean vote; most photos 4-6)",
    "nima_std": "spread of NIMA's predicted votes: high means raters would disagree",
    "keywords": "what EfficientNet-Lite0 sees (top ImageNet labels, with probability)",
    "clip_aesthetic": "CLIP zero-shot score, 0-10: how much more 'good photo' than 'bad photo'",
    "face_count": "faces found (each one's eyes, smile and pose: photocull export faces)",
}


def explain_photo(row: dict[str, Any], faces: list[dict[str, Any]] = (),
                  verdict: FaceVerdict | None = None) -> Group:
    tables: list[Any] = [_table("File", ["path", "size", "status", "reason", "content_hash"], row)]
    for table_name, columns in table_columns(with_vectors=False).items():
        if any(row.get(c) is not None for c in columns):  # analysers that did not run are left out
            tables.append(_table(SECTION_TITLES.get(table_name, table_name), columns, row))
    if faces:
        tables.append(_faces_table(faces))
    if verdict is not None and verdict.score is not None:
        head = "[bold red]rejected[/]" if verdict.rejected else f"face score {verdict.score:.2f}"
        tables.append(Text.from_markup(f"\n[bold]Face rules[/] ({head}, {verdict.judged} faces judged; "
                                       "docs/faces.md):"))
        tables += [Text(f"  {reason}") for reason in verdict.reasons]
    return Group(*tables)


def _faces_table(faces: list[dict[str, Any]]) -> Table:
    """One line per face: where it is, eyes, smile, pose, sharpness."""
    table = Table(title="Each face (where: its centre, % from the left and top; eye openness "
                  "about +0.8 open, -1.6 closed)", title_justify="left", box=None, padding=(0, 1))
    for column in ("#", "who", "where", "eyes", "R/L eye", "smile", "yaw", "sharp"):
        table.add_column(column, justify="left" if column in ("who", "where", "eyes") else "right", no_wrap=True)
    for face in faces:
        where = f"{(face['x0'] + face['x1']) / 2:.0%}, {(face['y0'] + face['y1']) / 2:.0%}"
        who = face.get("person_name") or ("-" if face.get("person") is None else f"person {face['person']}")
        if face.get("role") in ("main", "important"):
            who += f" ({face['role']})"
        table.add_row(
            str(face["face_index"]), who, where, face["eyes"], f"{face['eye_right']:+.1f}/{face['eye_left']:+.1f}",
            f"{face['smile']:.2f}" + (" :)" if face["smiling"] else ""),
            f"{face['yaw']:+.0f}°" + ("" if face["facing"] else " turned"),
            "-" if face["sharpness"] is None else f"{face['sharpness']:.2f}",
        )
    return table


def _table(title: str, columns: list[str], row: dict[str, Any]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_column(style="dim")
    for name in columns:
        value = row.get(name)
        if value is None and name not in ("status",):
            continue
        table.add_row(name, _format(name, value), HELP.get(name, ""))
    return table


def _format(name: str, value: Any) -> str:
    if name in ("phash", "dhash") and isinstance(value, int):
        from photocull.analysis.fingerprints import to_hex

        return to_hex(value)
    if name == "keywords" and isinstance(value, str):
        import json

        return ", ".join(f"{label} {p:.0%}" for label, p in json.loads(value))
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, bool) or (name in ("blurry", "badly_exposed") and value in (0, 1)):
        return "yes" if value else "no"
    return str(value)
