"""The review page's needs on a real catalog: the user's own decision for exact undo, the `best` filter,
and rebuilding the gallery."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from photocull.config import Settings  # noqa: E402
from photocull.web.app import create_app  # noqa: E402
from tests.web.faces_library import scan_library  # noqa: E402
from tests.web.helpers import CSRF, all_photos  # noqa: E402


@pytest.fixture(scope="module")
def catalog_path(corpus: Path, models_ready: Path, tmp_path_factory) -> Path:
    return scan_library(corpus, tmp_path_factory.mktemp("review") / "library") / ".photocull" / "catalog.db"


def test_user_decision_round_trip_and_exact_undo(client: TestClient):
    photo = all_photos(client, sort="name")[0]
    path, auto = photo["path"], photo["decision"]["auto_flag"]
    assert photo["decision"]["user"] is None and not photo["decision"]["by_user"]

    def post(**values) -> dict:
        response = client.post("/api/decisions", json={"path": path, **values}, headers=CSRF)
        assert response.status_code == 200, response.text
        return response.json()["decisions"][path]

    first = post(flag="reject", rating=3)
    assert first["user"] == {"flag": "reject", "rating": 3, "label": None} and first["flag"] == "reject"
    second = post(label="red", rating=None)
    assert second["user"] == {"flag": "reject", "rating": None, "label": "red"}
    # Z: put back exactly what the user had before the last change
    back = post(**first["user"])
    assert back["user"] == first["user"]
    assert next(p for p in all_photos(client) if p["path"] == path)["decision"]["user"] == first["user"]
    # Z again: the user had nothing before, so forget the decision
    gone = client.delete("/api/decisions", params={"path": path}, headers=CSRF).json()["decisions"][path]
    assert gone["user"] is None and gone["flag"] == auto and not gone["by_user"]
    fresh = TestClient(create_app(client.app.state.catalog_path, Settings()), base_url="http://127.0.0.1")
    assert next(p for p in all_photos(fresh) if p["path"] == path)["decision"]["user"] is None


def test_best_is_each_groups_pick_and_every_ungrouped_photo(client: TestClient):
    everything = all_photos(client)
    groups = client.get("/api/groups").json()["groups"]
    assert len(groups) >= 2
    best = all_photos(client, filter="best", sort="score")
    counts = Counter(p["group"] for p in best if p["group"] is not None)
    assert set(counts) == {g["id"] for g in groups} and set(counts.values()) == {1}
    assert {p["path"] for p in best if p["group"] is not None} == {g["pick"] for g in groups}
    assert {p["path"] for p in best if p["group"] is None} == {p["path"] for p in everything if p["group"] is None}
    assert all(p["group_rank"] in (None, 1) for p in best)
    assert len(best) == len(everything) - sum(len(g["members"]) - 1 for g in groups)


def test_reload_rebuilds_the_gallery(client: TestClient):
    old = client.app.state.index
    assert client.post("/api/reload").status_code == 403  # CSRF guard
    response = client.post("/api/reload", headers=CSRF)
    assert response.status_code == 200 and response.json() == {"photos": len(all_photos(client))}
    assert client.app.state.index is not old
    assert client.get("/api/stats").json()["photos"] == response.json()["photos"]
