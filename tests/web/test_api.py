"""The web app's API on a real scanned catalog: paging, sorts, filters, decisions, security, previews."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from photocull.catalog.store import Catalog  # noqa: E402
from photocull.config import Settings, WebSettings  # noqa: E402
from photocull.web.app import create_app  # noqa: E402
from tests.helpers import run_cli  # noqa: E402
from tests.web.helpers import CSRF, all_photos  # noqa: E402


@pytest.fixture(scope="module")
def library(corpus: Path, models_ready: Path, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("web") / "library"
    shutil.copytree(corpus / "scenes", root / "scenes")
    run_cli("scan", root, "--analyzers", "technical,fingerprints,aesthetic,embedding")  # also culls
    return root


@pytest.fixture(scope="module")
def catalog_path(library: Path) -> Path:
    return library / ".photocull" / "catalog.db"


def test_paging_and_totals(client: TestClient):
    first = client.get("/api/photos", params={"limit": 7}).json()
    assert first["total"] == 20 and len(first["photos"]) == 7
    pages = [client.get("/api/photos", params={"offset": o, "limit": 7}).json()["photos"] for o in (0, 7, 14)]
    paths = [p["path"] for page in pages for p in page]
    assert len(paths) == 20 == len(set(paths))
    assert all(p.startswith("scenes/") for p in paths)  # relative to the catalog root
    assert client.get("/api/photos", params={"offset": 40}).json()["photos"] == []
    assert client.get("/api/photos", params={"limit": 0}).status_code == 422


def test_sorts(client: TestClient):
    scores = [p["score"] for p in all_photos(client, sort="score")]
    assert scores == sorted(scores, reverse=True)
    times = [p["time"] for p in all_photos(client, sort="time")]
    assert times == sorted(times)
    names = [p["path"] for p in all_photos(client, sort="name")]
    assert names == sorted(names)
    assert client.get("/api/photos", params={"sort": "size"}).status_code == 422


def test_filters_return_what_they_claim(client: TestClient, catalog_path: Path):
    everything = all_photos(client)
    blurry = all_photos(client, filter="blurry")
    assert blurry and {p["path"] for p in blurry} == {p["path"] for p in everything if p["flags"]["blurry"]}
    assert all(p["flags"]["eyes_closed"] for p in all_photos(client, filter="eyes_closed"))
    duplicates = all_photos(client, filter="duplicates")
    assert duplicates and all(p["group_kind"] in ("duplicates", "near_duplicates") for p in duplicates)
    with Catalog(catalog_path) as cat:
        flags = {d.path: d.flag for d in cat.decisions.all()}
    root = catalog_path.parent.parent
    for name, flag in (("rejected", "reject"), ("kept", "keep"), ("undecided", None)):
        shown = {p["path"] for p in all_photos(client, filter=name)}
        assert shown == {str(Path(k).relative_to(root)) for k, v in flags.items() if v == flag}, name
    rated = all_photos(client, min_rating=4)
    assert rated and all(p["decision"]["rating"] >= 4 for p in rated)
    assert len(rated) < len(everything)
    assert client.get("/api/photos", params={"filter": "nope"}).status_code == 422


def test_groups(client: TestClient):
    listing = client.get("/api/groups").json()
    assert listing["total"] == len(listing["groups"]) >= 1
    group = client.get(f"/api/groups/{listing['groups'][0]['id']}").json()
    assert group["members"][0]["rank"] == 1 and group["pick"] == group["members"][0]["path"]
    assert all(m["reason"] for m in group["members"])
    assert client.get("/api/groups/9999").status_code == 404


def test_decision_round_trip_persists_and_survives_a_recull(client: TestClient, catalog_path: Path,
                                                            library: Path):
    photo = next(p for p in all_photos(client) if p["decision"]["auto_flag"] == "keep")
    before = all_photos(client, filter="rejected", sort="name")  # a filtered view the decision must update
    assert photo["path"] not in {p["path"] for p in before}
    saved = client.post("/api/decisions", json={"path": photo["path"], "flag": "reject", "rating": 2},
                        headers=CSRF)
    assert saved.status_code == 200, saved.text
    assert saved.json()["decisions"][photo["path"]]["flag"] == "reject"
    with Catalog(catalog_path) as cat:  # in the file, at once
        decision = cat.decisions.get(library / photo["path"])
        assert (decision.user_flag, decision.user_rating) == ("reject", 2)
    after = [p["path"] for p in all_photos(client, filter="rejected", sort="name")]
    assert after == sorted([p["path"] for p in before] + [photo["path"]])
    assert photo["path"] not in {p["path"] for p in all_photos(client, filter="kept")}
    run_cli("cull", library)
    with Catalog(catalog_path) as cat:
        assert cat.decisions.get(library / photo["path"]).flag == "reject"
    fresh = TestClient(create_app(catalog_path, Settings()), base_url="http://127.0.0.1")
    stats = fresh.get("/api/stats").json()
    assert stats["user_flags"] == 1 and stats["agreement"] == 0.0
    assert stats["kept"] + stats["rejected"] + stats["undecided"] == stats["photos"] == 20
    undone = fresh.delete("/api/decisions", params={"path": photo["path"]}, headers=CSRF)
    assert undone.json()["decisions"][photo["path"]]["flag"] == "keep"
    with Catalog(catalog_path) as cat:
        assert not cat.decisions.get(library / photo["path"]).by_user
    several = [p["path"] for p in all_photos(client)[:3]]
    both = fresh.post("/api/decisions", json={"paths": several, "label": "red"}, headers=CSRF).json()
    assert all(d["label"] == "red" for d in both["decisions"].values())
    for path in several:
        fresh.delete("/api/decisions", params={"path": path}, headers=CSRF)
    assert fresh.post("/api/decisions", json={"path": "../../etc/passwd", "flag": "keep"},
                      headers=CSRF).status_code == 404


def test_decisions_by_another_process_are_seen(client: TestClient, library: Path):
    photo = all_photos(client, sort="name")[0]["path"]
    run_cli("decide", library / photo, "--reject")
    try:
        assert photo in {p["path"] for p in all_photos(client, filter="rejected")}
    finally:
        run_cli("decide", library / photo, "--clear")


def test_csrf_header_required(client: TestClient):
    path = all_photos(client)[0]["path"]
    assert client.post("/api/decisions", json={"path": path, "flag": "keep"}).status_code == 403
    assert client.delete("/api/decisions", params={"path": path}).status_code == 403
    cross = client.post("/api/decisions", json={"path": path, "flag": "keep"},
                        headers={**CSRF, "Origin": "http://evil.example"})
    assert cross.status_code == 403


def test_without_a_token_only_loopback_host_names_are_answered(client: TestClient):
    """DNS rebinding: a page on evil.example resolved to 127.0.0.1 sends Host: evil.example."""
    assert client.get("/api/stats", headers={"Host": "evil.example:8765"}).status_code == 421
    for host in ("127.0.0.1:8765", "localhost", "[::1]:8765"):
        assert client.get("/api/stats", headers={"Host": host}).status_code == 200, host


def test_token_required_when_set(catalog_path: Path):
    settings = Settings(web=WebSettings(token="s3cret"))
    client = TestClient(create_app(catalog_path, settings), base_url="http://127.0.0.1")
    assert client.get("/api/stats").status_code == 401
    assert client.get("/api/stats", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/stats", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.get("/login", params={"token": "wrong"}).status_code == 401
    login = client.get("/login", params={"token": "s3cret"}, follow_redirects=False)
    assert login.status_code == 303 and "photocull_token" in login.cookies
    assert client.get("/api/stats").status_code == 200  # the cookie now
    with pytest.raises(ValueError, match="token"):
        create_app(catalog_path, Settings(web=WebSettings(host="0.0.0.0")))


def test_previews(client: TestClient):
    photo = all_photos(client)[0]
    response = client.get(f"/previews/{photo['content_hash']}/256")
    assert response.status_code == 200 and response.headers["content-type"] == "image/webp"
    assert response.content[:4] == b"RIFF" and response.content[8:12] == b"WEBP"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    again = client.get(f"/previews/{photo['content_hash']}/256", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304
    assert client.get(f"/previews/{photo['content_hash']}/999").status_code == 404
    assert client.get(f"/previews/{'0' * 64}/256").status_code == 404
    assert client.get(f"/previews/{photo['content_hash'].upper()}/256").status_code == 422
    assert client.get("/previews/not-a-hash/256").status_code == 422
    for sneaky in ("/previews/../../etc/passwd/256", "/previews/%2e%2e%2f%2e%2e%2fetc%2fpasswd/256",
                   "/previews/..%2F..%2Fetc%2Fpasswd/256"):
        assert client.get(sneaky).status_code in (404, 422), sneaky


def test_pages_and_docs(client: TestClient):
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text and page.headers["cache-control"] == "no-cache"
    script = client.get("/static/api.js")  # the front end's modules: revalidated each time, with an ETag
    assert script.status_code == 200 and "X-Photocull" in script.text and "javascript" in script.headers["content-type"]
    assert script.headers["cache-control"] == "no-cache" and script.headers.get("etag")
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert {"/api/photos", "/api/decisions", "/api/stats", "/previews/{content_hash}/{size}"} <= set(spec["paths"])
    assert client.get("/api/people").json() == {"people": []}


def test_photocull_serve_runs_a_real_server(library: Path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "photocull", "serve", str(library), "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/stats", timeout=5) as response:
                    stats = json.load(response)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(server.stderr.read().decode() if server.poll() is not None
                                         else "server did not answer in 60 s")
                time.sleep(0.2)
        assert stats["photos"] == 20
    finally:
        os.kill(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        server.stdout.close()
        server.stderr.close()
