"""The review web app in real headless Chromium, as a user meets it: an empty library, a ZIP of
corpus photos dropped in, the scan job followed live, a group reviewed by keyboard, a person named,
the keepers downloaded as a ZIP. The tests run in file order on one server and one library; each
page is saved as a screenshot under ``test-output/e2e/``.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import Server

# Analysers the job runs: enough for groups (embedding) and people (faces), without NIMA, for speed.
CONFIG = '[scan]\nanalysers = ["technical", "fingerprints", "embedding", "faces"]\n'
JOB_SECONDS = 300


@pytest.fixture(scope="module")
def upload_zip(corpus: Path, tmp_path_factory) -> Path:
    """Photos of five people and eight near-duplicate Obama frames: groups and people to review."""
    path = tmp_path_factory.mktemp("upload") / "trip.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for folder in ("faces/people", "faces/variants"):
            for photo in sorted((corpus / folder).rglob("*")):
                if photo.is_file():
                    zf.write(photo, str(photo.relative_to(corpus / "faces")))
    return path


@pytest.fixture(scope="module")
def expected_photos(upload_zip: Path) -> set[str]:
    with zipfile.ZipFile(upload_zip) as zf:
        return set(zf.namelist())


@pytest.fixture(scope="module")
def server(serve: Callable[..., Server], models_ready: Path, tmp_path_factory) -> Server:
    """``photocull serve`` on a library folder that holds nothing yet."""
    root = tmp_path_factory.mktemp("e2e")
    library = root / "library"
    library.mkdir()
    config = root / "photocull.toml"
    config.write_text(CONFIG)
    return serve(library, config)


@pytest.fixture(scope="module")
def context(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    yield context
    context.close()


@pytest.fixture(scope="module")
def page(context, server: Server):
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc.stack or exc}"))
    page.goto(server.url + "/")
    yield page
    assert not errors, f"uncaught errors in the page: {errors}"


def go(page, server: Server, route: str) -> None:
    page.goto(f"{server.url}/#/{route}")
    page.wait_for_load_state("networkidle")


def test_upload_zip_and_follow_the_job(page, server: Server, upload_zip: Path, expected_photos: set[str], shots):
    go(page, server, "upload")
    assert server.get("/api/stats")["photos"] == 0
    page.set_input_files("input#upload-files", str(upload_zip))
    job = page.locator("#jobs .job").first
    job.wait_for(timeout=60_000)  # the upload finished and the scan job started
    page.screenshot(path=shots / "upload-running.png")
    page.wait_for_selector('#jobs .job[data-state="done"]', timeout=JOB_SECONDS * 1000)
    page.wait_for_function("document.querySelector('.upload-summary').textContent.includes('scan done')")
    page.screenshot(path=shots / "upload-done.png", full_page=True)
    photos = server.get("/api/photos?limit=500")["photos"]
    assert len(photos) == len(expected_photos)
    for name in expected_photos:  # each member of the ZIP, extracted inside the library's uploads folder
        assert sum(p["path"].startswith("uploads/") and p["path"].endswith("/" + name) for p in photos) == 1, name


def test_gallery_shows_the_photos_best_first(page, server: Server, expected_photos: set[str], shots):
    go(page, server, "gallery")
    cards = page.locator("#gallery .card")
    cards.first.wait_for()
    page.wait_for_function(f"document.querySelectorAll('#gallery .card').length >= {len(expected_photos)}")
    api = server.get("/api/photos?limit=500&sort=score")["photos"]
    shown = cards.evaluate_all("cards => cards.map(c => c.dataset.path)")
    assert shown == [p["path"] for p in api]  # best first, every photo once
    page.wait_for_function("[...document.querySelectorAll('#gallery .card img')].slice(0, 8)"
                           ".every(img => img.complete && img.naturalWidth > 0)")
    page.screenshot(path=shots / "gallery.png")

    page.select_option("select#filter", "duplicates")
    duplicates = {p["path"] for p in server.get("/api/photos?limit=500&filter=duplicates")["photos"]}
    assert duplicates, "the Obama frames are near-duplicates"
    page.wait_for_function(f"document.querySelectorAll('#gallery .card').length === {len(duplicates)}")
    assert set(cards.evaluate_all("cards => cards.map(c => c.dataset.path)")) == duplicates
    page.screenshot(path=shots / "gallery-duplicates.png")


def decision(server: Server, path: str) -> dict:
    photos = server.get("/api/photos?limit=500")["photos"]
    return next(p["decision"] for p in photos if p["path"] == path)


def test_review_a_group_by_keyboard(page, server: Server, shots):
    groups = server.get("/api/groups")["groups"]
    group = max(groups, key=lambda g: len(g["members"]))
    assert len(group["members"]) >= 3
    go(page, server, f"review/{group['id']}")
    review = page.locator(f'#review[data-group="{group["id"]}"]')
    review.wait_for()
    pick = page.locator("#review .member.pick")
    assert pick.get_attribute("data-path") == group["pick"]
    assert group["reason"] and group["reason"] in page.locator("#review").inner_text()
    page.screenshot(path=shots / "review.png")

    page.keyboard.press("ArrowRight")  # the second-ranked member
    current = page.locator("#review .member.current")
    second = current.get_attribute("data-path")
    assert second != group["pick"]
    page.keyboard.press("p")
    page.wait_for_selector('#review .member.current[data-flag="keep"]')
    assert decision(server, second)["user"]["flag"] == "keep"  # saved at once
    page.keyboard.press("4")
    page.wait_for_selector('#review .member.current[data-rating="4"]')
    assert decision(server, second)["user"]["rating"] == 4
    page.keyboard.press("z")  # undo the stars, the keep stays
    page.wait_for_function("document.querySelector('#review .member.current').dataset.rating !== '4'")
    assert decision(server, second)["user"] == {"flag": "keep", "rating": None, "label": None}

    page.keyboard.press("ArrowLeft")  # back to the pick: reject it
    assert current.get_attribute("data-path") == group["pick"]
    page.keyboard.press("x")
    page.wait_for_selector('#review .member.current[data-flag="reject"]')
    assert decision(server, group["pick"])["user"]["flag"] == "reject"
    page.screenshot(path=shots / "review-decided.png")

    page.reload()  # closing the tab loses nothing
    page.wait_for_selector(f'#review .member[data-path="{group["pick"]}"][data-flag="reject"]')
    page.wait_for_selector(f'#review .member[data-path="{second}"][data-flag="keep"]')
    assert server.get("/api/stats")["user_flags"] == 2


def test_label_a_person(page, server: Server, shots):
    people = server.get("/api/people")["people"]
    assert len(people) >= 4  # five people in the corpus folders
    go(page, server, "people")
    person = people[0]
    card = page.locator(f'#people .person[data-id="{person["id"]}"]')
    card.wait_for()
    page.wait_for_function("id => { const img = document.querySelector(`#people .person[data-id='${id}'] img.face`);"
                           " return img && img.complete && img.naturalWidth > 0; }", arg=person["id"])
    card.locator("input.name").fill("Barack Obama")
    card.locator("input.name").press("Enter")
    card.locator("select.role").select_option("main")
    page.wait_for_function("true")  # let the last request leave
    page.screenshot(path=shots / "people.png")
    for _ in range(50):
        saved = next(p for p in server.get("/api/people")["people"] if p["id"] == person["id"])
        if saved["name"] == "Barack Obama" and saved["role"] == "main":
            break
        page.wait_for_timeout(100)
    assert (saved["name"], saved["role"]) == ("Barack Obama", "main")
    # the edits queued a cull job (picks weigh names and roles): the page follows it to its end
    page.wait_for_function("document.querySelector('#cull-note')?.dataset.state === 'done'", timeout=30000)
    assert any(j["kind"] == "cull" and j["state"] == "done" for j in server.get("/api/jobs")["jobs"])


def test_slideshow_best_first(page, server: Server, shots):
    best = server.get("/api/photos?limit=500&sort=score&filter=best")["photos"]
    go(page, server, "slideshow")
    page.wait_for_function("hash => (document.querySelector('#slideshow img')?.src || '').includes(hash)",
                           arg=best[0]["content_hash"])
    page.screenshot(path=shots / "slideshow.png")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"!document.querySelector('#slideshow img').src.includes('{best[0]['content_hash']}')")
    assert best[1]["content_hash"] in page.locator("#slideshow img").first.get_attribute("src")
    page.keyboard.press("Escape")


def test_stats_match_the_catalog(page, server: Server, shots):
    stats = server.get("/api/stats")
    go(page, server, "stats")
    for name in ("photos", "kept", "rejected", "undecided"):
        cell = page.locator(f'#stats [data-stat="{name}"]')
        cell.wait_for()
        assert re.search(rf"\b{stats[name]}\b", cell.inner_text()), (name, cell.inner_text())
    agreement = page.locator('#stats [data-stat="agreement"]').inner_text()
    assert f"{round(stats['agreement'] * 100)}" in agreement
    page.screenshot(path=shots / "stats.png")


def test_export_zip_holds_the_keepers(page, server: Server, shots, tmp_path):
    kept = {p["path"] for p in server.get("/api/photos?limit=500&filter=kept")["photos"]}
    assert kept
    go(page, server, "export")
    page.screenshot(path=shots / "export.png")
    with page.expect_download() as info:
        page.click("a#export-zip")
    target = tmp_path / "keepers.zip"
    info.value.save_as(target)
    with zipfile.ZipFile(target) as zf:
        assert zf.testzip() is None
        names = [re.sub(r" \(\d+\)(?=\.)", "", Path(n).name) for n in zf.namelist()]  # a clash gets " (1)"
    assert "photo_scores.csv" in names  # the scores and decisions travel with the photos
    names.remove("photo_scores.csv")
    assert sorted(names) == sorted(Path(p).name for p in kept)


def test_phone_sized_screen(browser, server: Server, shots):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, has_touch=True)
    try:
        page = context.new_page()
        for route in ("gallery", "review", "people", "stats", "upload"):
            go(page, server, route)
            page.wait_for_timeout(300)
            page.screenshot(path=shots / f"phone-{route}.png")
            width = page.evaluate("document.scrollingElement.scrollWidth")
            assert width <= 392, f"{route}: the page is {width} px wide on a 390 px screen"
    finally:
        context.close()
