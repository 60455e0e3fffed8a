"""Uploads in real headless Chromium, the way a user sends them: files dropped on the drop zone (real
``dragenter``/``dragover``/``drop`` events carrying a DataTransfer of File objects), one of them refused
by the server with its reason shown; and a file of several tus chunks whose upload survives a connection
reset in the middle (Playwright aborts one PATCH), resumed from the offset the server answers to HEAD and
stored byte for byte. Own server, own empty library; screenshots under ``test-output/e2e/``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import Server

CONFIG = '[scan]\nanalysers = ["technical"]\n'  # enough for the photos to reach the catalog, quickly
JOB_SECONDS = 120
CHUNK = 8 * 1024 * 1024  # upload.js's tus chunk size
DROPPED = ("baboon.jpg", "butterfly.jpg", "graf1.png")


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    library = tmp_path_factory.mktemp("e2e-uploads") / "library"
    library.mkdir()
    return library


@pytest.fixture(scope="module")
def server(serve: Callable[..., Server], library: Path) -> Server:
    config = library.parent / "photocull.toml"
    config.write_text(CONFIG)
    return serve(library, config)


@pytest.fixture
def page(browser, server: Server):
    """A fresh context per test: tus fingerprints and the pending batch live in localStorage."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc.stack or exc}"))
    page.goto(f"{server.url}/#/upload")
    page.locator("#dropzone").wait_for()
    yield page
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def wait_for_new_job(page, known: list) -> None:
    """Until the page shows a job not in ``known`` (the ids before the upload) as done."""
    page.wait_for_function(
        """known => [...document.querySelectorAll('#jobs .job')]
             .some((j) => !known.includes(j.dataset.id) && j.dataset.state === 'done')""",
        arg=[str(k) for k in known], timeout=JOB_SECONDS * 1000)


DROP_JS = """([files, zone]) => {
  const dt = new DataTransfer();
  for (const [name, type, b64] of files) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    dt.items.add(new File([bytes], name, { type }));
  }
  const target = document.querySelector(zone);
  for (const type of ["dragenter", "dragover", "drop"]) {
    const event = new DragEvent(type, { bubbles: true, cancelable: true, composed: true, dataTransfer: dt });
    target.dispatchEvent(event);
    if (type === "dragover" && !event.defaultPrevented) throw new Error("dragover was not accepted");
  }
  return dt.files.length;
}"""


def test_drop_files_on_the_drop_zone(page, server: Server, library: Path, corpus: Path, shots):
    known = [j["id"] for j in server.get("/api/jobs")["jobs"]]
    sources = {name: (corpus / "scenes" / name).read_bytes() for name in DROPPED}
    files = [[name, "image/png" if name.endswith(".png") else "image/jpeg", base64.b64encode(data).decode()]
             for name, data in sources.items()]
    files.append(["notes.jpg", "image/jpeg", base64.b64encode(b"a shopping list, not a photo\n" * 20).decode()])
    assert page.evaluate(DROP_JS, [files, "#dropzone"]) == len(files)

    refused = page.locator(".upload-files li.error", has_text="notes.jpg")
    refused.wait_for(timeout=30_000)
    assert "415" in refused.inner_text() and "not what the name says" in refused.inner_text()
    wait_for_new_job(page, known)
    page.screenshot(path=shots / "upload-drop.png", full_page=True)
    assert page.locator(".upload-files li.done").count() == len(DROPPED)
    photos = {p["path"]: p for p in server.get("/api/photos?limit=500")["photos"]}
    dropped = {Path(p).name: p for p in photos if p.startswith("uploads/")}
    assert set(dropped) == set(DROPPED)  # the refused one never reached the library
    for name, data in sources.items():
        assert (library / dropped[name]).read_bytes() == data


@pytest.fixture(scope="module")
def big_png(corpus: Path, tmp_path_factory) -> Path:
    """A real photo as an uncompressed PNG of about 30 MB: four tus chunks."""
    from PIL import Image

    path = tmp_path_factory.mktemp("big") / "big-baboon.png"
    with Image.open(corpus / "scenes" / "baboon.jpg") as image:
        image.convert("RGB").resize((3200, 3200)).save(path, compress_level=0)
    assert 3 * CHUNK < path.stat().st_size < 4 * CHUNK
    return path


def test_an_upload_resumes_after_a_connection_reset(page, server: Server, library: Path, big_png: Path, shots):
    known = [j["id"] for j in server.get("/api/jobs")["jobs"]]
    data = big_png.read_bytes()
    seen: list[tuple[str, int | None]] = []  # (method, Upload-Offset) of every tus request, in order
    aborted: list[int] = []

    def handler(route) -> None:
        request = route.request
        if request.method in ("HEAD", "PATCH"):
            offset = request.headers.get("upload-offset")
            seen.append((request.method, int(offset) if offset is not None else None))
        if request.method == "PATCH" and not aborted and int(request.headers["upload-offset"]) >= CHUNK:
            aborted.append(int(request.headers["upload-offset"]))
            route.abort("connectionreset")  # the second chunk never arrives
            return
        route.continue_()

    page.route("**/uploads/**", handler)
    page.set_input_files("input#upload-files", str(big_png))
    page.locator(".upload-files li").first.wait_for(timeout=10_000)
    page.screenshot(path=shots / "upload-resume-running.png")
    wait_for_new_job(page, known)
    page.screenshot(path=shots / "upload-resume-done.png", full_page=True)
    page.unroute("**/uploads/**")

    assert aborted == [CHUNK], seen
    patches = [offset for method, offset in seen if method == "PATCH"]
    after = seen[seen.index(("PATCH", CHUNK)) + 1:]
    assert after and after[0][0] == "HEAD", f"no HEAD after the reset: {seen}"
    assert patches == sorted(patches) and patches.count(CHUNK) == 2, seen  # resumed at the stored offset
    sent = sum(min(CHUNK, len(data) - offset) for offset in patches)
    assert len(data) < sent < 2 * len(data)
    assert page.locator(".upload-files li.error").count() == 0
    stored = [p for p in library.glob("uploads/*/" + big_png.name)]
    assert len(stored) == 1
    assert hashlib.sha256(stored[0].read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    paths = [p["path"] for p in server.get("/api/photos?limit=500")["photos"]]
    assert sum(p.endswith("/" + big_png.name) for p in paths) == 1
