"""People in the web app on a real scanned catalog: listing with faces, face thumbnails, naming, merging."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from photocull.config import Settings  # noqa: E402
from photocull.web.app import create_app  # noqa: E402
from tests.web.faces_library import scan_library  # noqa: E402
from tests.web.helpers import CSRF  # noqa: E402


@pytest.fixture(scope="module")
def catalog_path(corpus: Path, models_ready: Path, tmp_path_factory) -> Path:
    return scan_library(corpus, tmp_path_factory.mktemp("people") / "library") / ".photocull" / "catalog.db"


def people(client: TestClient) -> list[dict]:
    response = client.get("/api/people")
    assert response.status_code == 200, response.text
    return response.json()["people"]


def photos_of(client: TestClient, person: int) -> set[str]:
    page = client.get("/api/photos", params={"limit": 500, "person": person})
    assert page.status_code == 200, page.text
    return {p["path"] for p in page.json()["photos"]}


def test_people_have_a_face_served_as_a_cached_webp_square(client: TestClient, catalog_path: Path):
    found = people(client)
    assert len(found) >= 5 and all(p["faces"] >= 1 and p["photos"] >= 1 for p in found)
    assert [p["faces"] for p in found] == sorted((p["faces"] for p in found), reverse=True)
    for person in found:
        face = person["face"]
        assert face["url"] == f"/faces/{face['content_hash']}/{face['face_index']}"
        response = client.get(face["url"])
        assert response.status_code == 200 and response.headers["content-type"] == "image/webp"
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        image = Image.open(io.BytesIO(response.content))
        assert image.format == "WEBP" and image.size == (160, 160)
        again = client.get(face["url"], headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304
        cached = catalog_path.parent / "faces" / f"{face['content_hash']}-{face['face_index']}.webp"
        assert cached.read_bytes() == response.content
    assert people(client) == found  # the representatives come from the cache now, the same
    face = found[0]["face"]
    assert client.get(f"/faces/{face['content_hash']}/99").status_code == 404
    assert client.get(f"/faces/{'0' * 64}/0").status_code == 404
    assert client.get(f"/faces/{face['content_hash'].upper()}/0").status_code == 422
    assert client.get("/faces/..%2F..%2Fetc%2Fpasswd/0").status_code in (404, 422)


def test_a_persons_faces(client: TestClient):
    person = people(client)[0]
    faces = client.get(f"/api/people/{person['id']}/faces").json()["faces"]
    assert len(faces) == person["faces"]
    assert {f["path"] for f in faces} == photos_of(client, person["id"])
    assert all(f["url"] == f"/faces/{f['content_hash']}/{f['face_index']}" for f in faces)
    assert [f["distance"] for f in faces] == sorted((f["distance"] for f in faces), reverse=True)
    assert client.get("/api/people/9999/faces").status_code == 404


def test_name_and_role_persist(client: TestClient, catalog_path: Path):
    person = people(client)[-1]
    patch = client.patch(f"/api/people/{person['id']}", json={"name": "Rose", "role": "main"}, headers=CSRF)
    assert patch.status_code == 200, patch.text
    row = patch.json()
    assert (row["id"], row["name"], row["role"]) == (person["id"], "Rose", "main")
    assert row["face"] == person["face"] and row["confirmed"] == row["faces"]
    fresh = TestClient(create_app(catalog_path, Settings()), base_url="http://127.0.0.1")
    seen = next(p for p in people(fresh) if p["id"] == person["id"])
    assert (seen["name"], seen["role"]) == ("Rose", "main")
    only_role = fresh.patch(f"/api/people/{person['id']}", json={"role": "other"}, headers=CSRF).json()
    assert (only_role["name"], only_role["role"]) == ("Rose", "other")
    cleared = fresh.patch(f"/api/people/{person['id']}", json={"name": None}, headers=CSRF).json()
    assert cleared["name"] is None
    assert client.patch(f"/api/people/{person['id']}", json={"role": "boss"}, headers=CSRF).status_code == 422
    assert client.patch(f"/api/people/{person['id']}", json={}, headers=CSRF).status_code == 422
    assert client.patch("/api/people/9999", json={"name": "x"}, headers=CSRF).status_code == 404
    assert client.patch(f"/api/people/{person['id']}", json={"name": "x"}).status_code == 403


def test_merge_joins_two_people_and_the_person_filter_follows(client: TestClient, catalog_path: Path):
    before = people(client)
    keep, other = before[0]["id"], before[1]["id"]
    expected = photos_of(client, keep) | photos_of(client, other)
    assert photos_of(client, other)  # a view filtered by the merged person, built before the merge
    merged = client.post("/api/people/merge", json={"keep": keep, "others": [other]}, headers=CSRF)
    assert merged.status_code == 200, merged.text
    body = merged.json()
    assert body["merged"] == [other] and body["person"]["id"] == keep
    assert body["person"]["faces"] == before[0]["faces"] + before[1]["faces"]
    after = people(client)
    assert len(after) == len(before) - 1 and other not in {p["id"] for p in after}
    assert photos_of(client, keep) == expected
    assert photos_of(client, other) == set()
    fresh = TestClient(create_app(catalog_path, Settings()), base_url="http://127.0.0.1")
    assert photos_of(fresh, keep) == expected
    for wrong in ({"keep": keep, "others": [keep]}, {"keep": keep, "others": []}):
        assert client.post("/api/people/merge", json=wrong, headers=CSRF).status_code == 422, wrong
    assert client.post("/api/people/merge", json={"keep": keep, "others": [9999]},
                       headers=CSRF).status_code == 404
