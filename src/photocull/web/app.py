"""``create_app``: the review web app for one catalog (docs/web.md)."""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from photocull import __version__
from photocull.config import Settings
from photocull.web.api import router
from photocull.web.index import GalleryIndex
from photocull.web.security import Guard, check_binding, token_required


def create_app(catalog_path: Path, settings: Settings) -> FastAPI:
    """The app serving ``catalog_path``. Scores every photo once, now (a few seconds at 100,000 photos).

    Raises ValueError when ``settings.web`` binds a non-loopback address without a token.
    """
    web = settings.web
    check_binding(web.host, web.token)
    app = FastAPI(title="photocull", version=__version__,
                  description="Review a culled library: gallery, groups, decisions, previews. See docs/web.md.")
    app.state.settings = settings
    app.state.catalog_path = Path(catalog_path).resolve()
    app.state.index = GalleryIndex(app.state.catalog_path, settings)
    app.state.previews = app.state.catalog_path.parent / "previews"
    app.add_middleware(Guard, token=web.token, required=token_required(web.host, web.token))
    app.include_router(router)
    app.add_api_route("/", gallery_page, methods=["GET"], response_class=HTMLResponse, include_in_schema=False)
    return app


def gallery_page(request: Request) -> HTMLResponse:
    """The first page of the gallery, best first, with keep / reject buttons (a placeholder front end)."""
    index: GalleryIndex = request.app.state.index
    index.sync()
    page = index.page(limit=60)
    cards = []
    for photo in page["photos"]:
        flag = photo["decision"]["flag"] or "undecided"
        path = html.escape(photo["path"], quote=True)
        cards.append(
            f'<figure class="{flag}" data-path="{path}">'
            f'<img loading="lazy" src="/previews/{photo["content_hash"]}/256" alt="{path}">'
            f'<meter min="0" max="1" value="{photo["score"]}"></meter>'
            f'<figcaption>{path} · {photo["score"]:.2f} · <span class="flag">{flag}</span></figcaption>'
            '<button data-flag="keep">keep</button><button data-flag="reject">reject</button></figure>')
    body = "\n".join(cards)
    return HTMLResponse(_PAGE.replace("{total}", str(page["total"])).replace("{cards}", body))


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>photocull</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 1em; background: #111; color: #ddd; }
main { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 12px; }
figure { margin: 0; padding: 6px; background: #222; border: 2px solid transparent; }
figure.keep { border-color: #3a3; } figure.reject { border-color: #a33; opacity: .6; }
img { width: 100%; height: 160px; object-fit: contain; background: #000; }
meter { width: 100%; } figcaption { font-size: 12px; overflow-wrap: anywhere; }
</style></head>
<body><h1>photocull</h1><p>{total} photos, best first. <a href="/docs">API</a></p>
<main>
{cards}
</main>
<script type="module">
document.querySelector("main").addEventListener("click", async (event) => {
  const button = event.target.closest("button");
  if (!button) return;
  const figure = button.closest("figure");
  const response = await fetch("/api/decisions", {
    method: "POST", headers: {"Content-Type": "application/json", "X-Photocull": "1"},
    body: JSON.stringify({path: figure.dataset.path, flag: button.dataset.flag}),
  });
  if (!response.ok) { alert(`not saved: ${response.status}`); return; }
  const decision = (await response.json()).decisions[figure.dataset.path];
  figure.className = decision.flag || "undecided";
  figure.querySelector(".flag").textContent = decision.flag || "undecided";
});
</script></body></html>
"""
