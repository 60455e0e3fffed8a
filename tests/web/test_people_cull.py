"""People edits re-cull: a name or role change queues a cull job (coalesced), whose picks, reasons and
automatic decisions reach the review API; cull jobs by hand, cancelled between stages, resumed."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

import photocull.web.jobs as jobs_module  # noqa: E402
from photocull.config import Settings  # noqa: E402
from photocull.web.app import create_app  # noqa: E402
from tests.web.faces_library import scan_library  # noqa: E402
from tests.web.test_uploads import wait_for_job  # noqa: E402
from tests.web.helpers import CSRF  # noqa: E402


@pytest.fixture(scope="module")
def catalog_path(corpus: Path, models_ready: Path, tmp_path_factory) -> Path:
    return scan_library(corpus, tmp_path_factory.mktemp("people-cull") / "library") / ".photocull" / "catalog.db"


def basketball(client: TestClient) -> dict:
    """The near-duplicate pair of basketball frames: one small face of the same person in each."""
    groups = client.get("/api/groups", params={"limit": 100}).json()["groups"]
    return next(g for g in groups if {m["path"] for m in g["members"]} == {"scenes/basketball1.png",
                                                                           "scenes/basketball2.png"})


def person_in(client: TestClient, path: str) -> int:
    for person in client.get("/api/people").json()["people"]:
        faces = client.get(f"/api/people/{person['id']}/faces").json()["faces"]
        if any(f["path"] == path for f in faces):
            return person["id"]
    raise AssertionError(f"no person in {path}")


def test_a_role_and_a_name_reach_the_picks_after_the_cull_job(catalog_path: Path):
    # The picked basketball frame gets a blink (its face's eyes closed in the catalog). The face is small,
    # so as an "other" person's it is not judged and the pick stands; as a main person's it rejects the frame.
    setup = TestClient(create_app(catalog_path, Settings()), base_url="http://127.0.0.1")
    before = basketball(setup)
    pick = next(m for m in before["members"] if m["rank"] == 1)
    other = next(m for m in before["members"] if m["rank"] == 2)
    person = person_in(setup, pick["path"])
    setup.app.state.jobs.shutdown()
    with sqlite3.connect(catalog_path) as db:
        assert db.execute("UPDATE detected_faces SET eyes = 'closed' WHERE content_hash = ?",
                          (pick["content_hash"],)).rowcount == 1

    app = create_app(catalog_path, Settings())
    client = TestClient(app, base_url="http://127.0.0.1")
    try:
        assert basketball(client)["pick"] == pick["path"]  # nothing re-culled yet
        row = client.patch(f"/api/people/{person}", json={"role": "main"}, headers=CSRF).json()
        assert row["role"] == "main" and row["cull_job"]["kind"] == "cull"
        assert wait_for_job(client.get, row["cull_job"]["id"])["state"] == "done"
        group = basketball(client)
        assert group["pick"] == other["path"], group  # the blinking frame lost the pick...
        members = {m["path"]: m for m in group["members"]}
        blinked = members[pick["path"]]
        assert blinked["decision"]["auto_flag"] == "reject"
        assert members[other["path"]]["decision"]["auto_flag"] == "keep"
        assert f"person {person}" in blinked["reason"] and "eyes closed" in blinked["reason"], blinked
        assert f"person {person}" in group["reason"], group["reason"]  # ...and the reasons say whose eyes

        row = client.patch(f"/api/people/{person}", json={"name": "Ana"}, headers=CSRF).json()
        assert wait_for_job(client.get, row["cull_job"]["id"])["state"] == "done"
        group = basketball(client)
        blinked = next(m for m in group["members"] if m["path"] == pick["path"])
        assert "Ana's eyes closed" in blinked["reason"] and f"person {person}" not in blinked["reason"], blinked
        assert "(Ana)" in group["reason"] and f"person {person}" not in group["reason"], group["reason"]
        photo = client.get("/api/photos", params={"limit": 500}).json()["photos"]
        flags = {p["path"]: p["decision"]["flag"] for p in photo}
        assert flags[pick["path"]] == "reject" and flags[other["path"]] == "keep"
    finally:
        app.state.jobs.shutdown()
        with sqlite3.connect(catalog_path) as db:  # the blink undone for the other tests
            db.execute("UPDATE detected_faces SET eyes = 'open' WHERE content_hash = ?", (pick["content_hash"],))


@pytest.fixture()
def held_cull(monkeypatch):
    """The cull jobs' cull waits, after its first stage, for ``release`` to be set (counts the runs)."""
    release, started = threading.Event(), threading.Semaphore(0)
    runs = []
    real = jobs_module.run_cull

    def slow_cull(catalog, settings, on_progress=None):
        runs.append(1)
        on_progress("reading the catalog", 0, 1)
        started.release()
        assert release.wait(30)
        return real(catalog, settings, on_progress=on_progress)

    monkeypatch.setattr(jobs_module, "run_cull", slow_cull)
    return release, started, runs


def test_people_edits_queue_one_cull_while_none_has_started(client: TestClient, held_cull):
    release, started, runs = held_cull
    people = client.get("/api/people").json()["people"]
    first = client.patch(f"/api/people/{people[0]['id']}", json={"name": "Obama"}, headers=CSRF).json()["cull_job"]
    assert started.acquire(timeout=10)  # the first cull runs (held) ...
    running = client.get(f"/api/jobs/{first['id']}").json()
    assert running["state"] == "culling" and running["kind"] == "cull"
    # ... so the next edit queues one more, and every edit after it joins that queued one
    second = client.patch(f"/api/people/{people[1]['id']}", json={"role": "important"}, headers=CSRF).json()
    third = client.patch(f"/api/people/{people[2]['id']}", json={"name": "Rose"}, headers=CSRF).json()
    merged = client.post("/api/people/merge", json={"keep": people[3]["id"], "others": [people[4]["id"]]},
                         headers=CSRF).json()
    by_hand = client.post("/api/jobs", json={"kind": "cull"}, headers=CSRF).json()
    assert second["cull_job"]["id"] != first["id"] and second["cull_job"]["state"] == "queued"
    assert third["cull_job"]["id"] == merged["cull_job"]["id"] == by_hand["id"] == second["cull_job"]["id"]
    assert by_hand["kind"] == "cull" and by_hand["inputs"] == []
    release.set()
    assert wait_for_job(client.get, first["id"])["state"] == "done"
    done = wait_for_job(client.get, by_hand["id"])
    assert done["state"] == "done" and done["report"]["cull"]["groups"] >= 3, done
    assert len(runs) == 2
    culls = [j for j in client.get("/api/jobs").json()["jobs"] if j["kind"] == "cull"]
    assert {first["id"], by_hand["id"]} <= {j["id"] for j in culls}
    assert client.post("/api/jobs", json={"kind": "cull", "paths": ["people"]}, headers=CSRF).status_code == 400
    assert client.post("/api/jobs", json={"kind": "nope"}, headers=CSRF).status_code == 422


def test_a_cull_job_cancels_between_stages_and_resumes(client: TestClient, held_cull):
    release, started, runs = held_cull
    before = client.get("/api/groups", params={"limit": 100}).json()
    job = client.post("/api/jobs", json={"kind": "cull"}, headers=CSRF).json()
    assert started.acquire(timeout=10)
    assert client.post(f"/api/jobs/{job['id']}/cancel", headers=CSRF).json()["message"] == "cancelling…"
    release.set()  # the cull goes on to its next stage, sees the cancel and stops before writing
    cancelled = wait_for_job(client.get, job["id"])
    assert cancelled["state"] == "cancelled" and "last cull" in cancelled["message"], cancelled
    assert client.get("/api/groups", params={"limit": 100}).json() == before
    resumed = client.post(f"/api/jobs/{job['id']}/resume", headers=CSRF).json()
    assert resumed["kind"] == "cull" and resumed["id"] != job["id"]
    assert wait_for_job(client.get, resumed["id"])["state"] == "done"
    assert len(runs) == 2
