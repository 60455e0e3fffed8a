"""Render the culling report as one self-contained HTML page: inline CSS, SVG plot, previews as data URIs.

Only presentation lives here; :mod:`photocull.export.report` gathers what
is shown. Every text from the catalog (file names, person names, reasons) is
escaped. The page works offline, opened from a mail or a USB stick.
"""

from __future__ import annotations

import base64
from html import escape
from typing import Any

_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:1rem;color:#222;background:#fafafa}
h1{font-size:1.6rem;margin:.2rem 0}h2{margin-top:2rem;border-bottom:1px solid #ddd}
.cards{display:flex;flex-wrap:wrap;gap:.8rem}.card{background:#fff;border:1px solid #ddd;border-radius:8px;
padding:.6rem 1rem;min-width:9rem}.card b{display:block;font-size:1.5rem}
.group{background:#fff;border:1px solid #ddd;border-radius:8px;margin:1rem 0;padding:.6rem}
.group h3{margin:.2rem 0;font-size:1rem}.why{color:#555;margin:.2rem 0 .5rem}
.shots{display:flex;flex-wrap:wrap;gap:.5rem}.shot{width:170px;font-size:.8rem;color:#444}
.shot img{width:160px;height:160px;object-fit:contain;background:#eee;border:3px solid transparent;border-radius:4px}
.shot.pick img{border-color:#2a9d3a}.shot.reject img{opacity:.55}.shot .name{word-break:break-all}
.tag{display:inline-block;padding:0 .4rem;border-radius:4px;background:#eee;font-size:.75rem}
.tag.keep{background:#d8f3dc}.tag.reject{background:#ffd6d6}
.people{display:flex;flex-wrap:wrap;gap:.8rem}.person{width:140px;text-align:center;font-size:.85rem}
.person img{width:128px;height:128px;border-radius:50%;object-fit:cover;background:#eee}
svg text{font:11px system-ui,sans-serif;fill:#444}footer{margin:2rem 0;color:#777;font-size:.8rem}
"""


def data_uri(data: bytes | None, mime: str = "image/webp") -> str | None:
    return None if data is None else f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def render(report: dict[str, Any]) -> str:
    """The page for the values :func:`photocull.export.report.gather` returns."""
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>{escape(report['title'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(report['title'])}</h1>",
        f"<p class='why'>{escape(report['subtitle'])}</p>",
        _cards(report["cards"]),
        "<h2>Score distribution</h2>",
        _histogram(report["histogram"]),
        f"<p class='why'>{escape(report['score_note'])}</p>",
    ]
    if report["top"]:
        parts += ["<h2>Best photos</h2>", "<div class='shots'>",
                  *(_shot(photo) for photo in report["top"]), "</div>"]
    parts.append(f"<h2>Groups ({report['group_count']})</h2>")
    if report["groups_note"]:
        parts.append(f"<p class='why'>{escape(report['groups_note'])}</p>")
    parts += [_group(group) for group in report["groups"]]
    if report["people"]:
        parts += ["<h2>People</h2>", "<div class='people'>", *(_person(p) for p in report["people"]), "</div>"]
    parts.append(f"<footer>{escape(report['footer'])}</footer></body></html>")
    return "\n".join(parts)


def _cards(cards: list[tuple[str, str]]) -> str:
    inner = "".join(f"<div class='card'><b>{escape(value)}</b>{escape(label)}</div>" for label, value in cards)
    return f"<div class='cards'>{inner}</div>"


def _histogram(histogram: dict[str, Any]) -> str:
    """Stacked bars of photos per score band: kept, rejected, undecided."""
    bins: list[dict[str, int]] = histogram["bins"]
    width, height, left, bottom = 720, 220, 40, 30
    tallest = max([sum(b.values()) for b in bins] + [1])
    bar = (width - left - 10) / len(bins)
    colours = {"keep": "#2a9d3a", "reject": "#d64545", "undecided": "#9aa5b1"}
    shapes = [f"<svg viewBox='0 0 {width} {height}' width='100%' role='img' "
              f"aria-label='histogram of composite scores'>"]
    for i, counts in enumerate(bins):
        y = height - bottom
        for name in ("keep", "reject", "undecided"):
            h = (height - bottom - 10) * counts.get(name, 0) / tallest
            if h > 0:
                y -= h
                shapes.append(f"<rect x='{left + i * bar + 1:.1f}' y='{y:.1f}' width='{bar - 2:.1f}' "
                              f"height='{h:.1f}' fill='{colours[name]}'><title>{counts.get(name, 0)} "
                              f"{name}</title></rect>")
    for i in range(0, len(bins) + 1, max(1, len(bins) // 5)):
        x = left + i * bar
        shapes.append(f"<text x='{x:.1f}' y='{height - 10}' text-anchor='middle'>{i / len(bins):.1f}</text>")
    shapes.append(f"<text x='{left - 6}' y='18' text-anchor='end'>{tallest}</text>")
    shapes.append(f"<line x1='{left}' y1='{height - bottom}' x2='{width - 10}' y2='{height - bottom}' stroke='#888'/>")
    legend = "".join(f"<tspan fill='{colour}'>■</tspan> {name}  " for name, colour in colours.items())
    shapes.append(f"<text x='{width - 10}' y='18' text-anchor='end'>{legend}</text></svg>")
    return "".join(shapes)


def _shot(photo: dict[str, Any]) -> str:
    flag = photo.get("flag")
    classes = "shot" + (" pick" if photo.get("pick") else "") + (" reject" if flag == "reject" else "")
    image = (f"<img src='{photo['preview']}' alt='{escape(photo['name'])}' loading='lazy'>"
             if photo.get("preview") else "<img alt='no preview'>")
    score = "" if photo.get("score") is None else f" · {photo['score']:.2f}"
    tag = f" <span class='tag {escape(flag)}'>{escape(flag)}</span>" if flag else ""
    reason = f"<div>{escape(photo['reason'])}</div>" if photo.get("reason") else ""
    rank = f"#{photo['rank']} " if photo.get("rank") else ""
    return (f"<div class='{classes}' title='{escape(photo['path'])}'>{image}"
            f"<div class='name'>{rank}{escape(photo['name'])}{score}{tag}</div>{reason}</div>")


def _group(group: dict[str, Any]) -> str:
    keep = "keep all" if group["keep_all"] else f"{len(group['members'])} shots"
    return (f"<div class='group'><h3>Group {group['id']} · {escape(group['kind'].replace('_', ' '))} · {keep}</h3>"
            f"<p class='why'>{escape(group['reason'])}</p><div class='shots'>"
            + "".join(_shot(m) for m in group["members"]) + "</div></div>")


def _person(person: dict[str, Any]) -> str:
    image = f"<img src='{person['crop']}' alt=''>" if person.get("crop") else "<img alt=''>"
    name = person.get("name") or f"person {person['id']}"
    return (f"<div class='person'>{image}<div><b>{escape(name)}</b></div>"
            f"<div>{escape(person['role'])} · {person['photos']} photos</div></div>")
