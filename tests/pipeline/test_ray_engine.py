"""The Ray engine (issue #7): same catalog as the local pool, and the fault cases.

One private Ray for the module, bound to 127.0.0.1 with its own short temporary
folder (removed after); no traffic leaves the machine. The driver-kill case runs
``photocull scan --engine ray`` in its own session, which starts its own Ray;
the test kills that session's processes, by process id, and removes its folder.
The killed-actor case kills a Ray Data decode actor of the module's Ray. A file
that kills its worker every time is checked on both engines through the CLI,
whose processes (and so workers and actors) load a test-only crashing decoder
from a ``sitecustomize`` on ``PYTHONPATH``; its private Ray stops with it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from photocull.catalog.store import Catalog
from photocull.config import Settings
from photocull.pipeline.executor import CRASHED
from photocull.pipeline import ray_engine
from photocull.pipeline.ray_engine import start_local_ray
from photocull.pipeline.scan import scan
from photocull.previews import THUMBNAIL_SIZE
from tests.catalog_values import assert_same_values as _assert_same
from tests.catalog_values import catalog_values as _values
from tests.catalog_values import BAD, scenes_with_bad_files
from tests.helpers import run_cli

ANALYSERS = ("technical", "fingerprints", "aesthetic", "embedding")  # two networks: the inference actors run
DECODED = ("technical", "fingerprints")  # measured by the decoders themselves


def _settings(engine: str, **scan_settings) -> Settings:
    return Settings(scan={"engine": engine, "analysers": ANALYSERS, **scan_settings})


@pytest.fixture(scope="module")
def ray():
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'photocull[ray]'")
    temp = start_local_ray(2)
    yield ray
    ray.shutdown()
    shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def photos(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """corpus/scenes, four broken files from corpus/bad and bytes that are no image at all."""
    folder = scenes_with_bad_files(corpus, tmp_path_factory.mktemp("ray") / "photos")
    (folder / "noise.jpg").write_bytes(os.urandom(5000))
    return folder


@pytest.fixture(scope="module")
def local_catalog(photos: Path, models_ready: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The catalog the local process pool makes of ``photos``: the reference."""
    path = tmp_path_factory.mktemp("local") / "catalog.db"
    with Catalog(path) as catalog:
        scan([photos], catalog, _settings("local"))
    return _values(path)


def test_ray_gives_the_same_catalog_as_the_local_pool(ray, photos: Path, local_catalog: dict, tmp_path: Path) -> None:
    with Catalog(tmp_path / "catalog.db") as catalog:
        report = scan([photos], catalog, _settings("ray"))
    assert report.analyser_runs["aesthetic"] == report.analyser_runs["embedding"] == len(local_catalog["photos"])
    actual = _values(tmp_path / "catalog.db")
    _assert_same(actual, local_catalog)
    # the actors' thumbnails, saved by the driver beside the catalog (the web gallery reads them)
    saved = {p.name for p in (tmp_path / "previews").rglob("*.webp")}
    assert saved == {f"{content_hash}-{THUMBNAIL_SIZE}.webp" for content_hash in local_catalog["photos"]}
    # (b) corrupt files are recorded unreadable, with the same reasons, and the job succeeds
    unreadable = {k: r["reason"] for k, r in actual["files"].items() if r["status"] == "unreadable"}
    assert {*BAD, "noise.jpg"} <= {Path(k).name for k in unreadable}
    assert all(reason for reason in unreadable.values())
    assert report.new_unreadable == len(unreadable)


def test_the_private_ray_listens_on_loopback_only(ray) -> None:
    """Ray would advertise and bind the machine's own address; ``start_local_ray`` keeps it on 127.0.0.1."""
    psutil = pytest.importorskip("psutil")
    assert {node["NodeManagerAddress"] for node in ray.nodes()} == {"127.0.0.1"}
    ours = {p.pid for p in psutil.Process().children(recursive=True)}
    listening = [c.laddr for c in psutil.net_connections("inet") if c.status == "LISTEN" and c.pid in ours]
    assert listening, "no listening socket of this Ray found"
    assert all(addr.ip in ("127.0.0.1", "::ffff:127.0.0.1", "::1") for addr in listening), listening


def test_a_long_listing_runs_as_datasets_one_after_another(ray, photos: Path, local_catalog: dict, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ray_engine, "DATASET_TASKS", 10)  # 25 files: three datasets, as 1,000,000 would make 20
    with Catalog(tmp_path / "catalog.db") as catalog:
        report = scan([photos], catalog, Settings(scan={"engine": "ray", "analysers": DECODED}))
    assert report.processed == len(local_catalog["files"]) > 20
    tables = ("files", "photos", *DECODED)
    _assert_same(_values(tmp_path / "catalog.db", tables), local_catalog, tables)


def _decoder_pids() -> list[int]:
    """The Ray Data decode actors of this process's Ray (its raylet's workers), by their process title."""
    psutil = pytest.importorskip("psutil")
    pids = []
    for child in psutil.Process().children(recursive=True):
        try:
            if " ".join(child.cmdline()).startswith("ray::MapWorker(MapBatches(_Decoder))"):
                pids.append(child.pid)
        except psutil.Error:  # gone meanwhile
            pass
    return pids


def test_a_killed_decode_actor_loses_no_photo(ray, photos: Path, local_catalog: dict, tmp_path: Path) -> None:
    killed = []

    def on_result(result, done: int, total: int) -> None:
        if done >= 3 and not killed and (pids := _decoder_pids()):
            os.kill(pids[0], signal.SIGKILL)  # mid-scan: it holds a batch, and more are queued
            killed.append(pids[0])

    # Without the networks, results come straight from the decoders: after 3, they are mid-job (with
    # them, the decoders may have finished before the first result is out of the inference stage).
    settings = Settings(scan={"engine": "ray", "analysers": DECODED, "commit_every": 4})
    with Catalog(tmp_path / "catalog.db") as catalog:
        report = scan([photos], catalog, settings, on_result=on_result)
    assert killed
    assert report.processed == len(local_catalog["files"])  # every file came back once
    tables = ("files", "photos", *DECODED)
    _assert_same(_values(tmp_path / "catalog.db", tables), local_catalog, tables)


# Installed with PYTHONPATH in a scan's processes (workers and actors inherit it): decoding a file named
# crash-me* kills the process, as a decoder crash on a hostile file would, every time.
CRASHING_DECODER = '''
import importlib.abc, importlib.util, os, signal, sys


class CrashingDecoder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "photocull.ingest.decode":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            decode = module.decode

            def crashing(data, name, *args, **kwargs):
                if "crash-me" in str(name):
                    os.kill(os.getpid(), signal.SIGKILL)
                return decode(data, name, *args, **kwargs)

            module.decode = crashing

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, CrashingDecoder())
'''


@pytest.mark.parametrize("engine", ["local", "ray"])
def test_a_file_that_kills_its_worker_every_time_is_unreadable(engine: str, corpus: Path, tmp_path: Path) -> None:
    if engine == "ray":
        pytest.importorskip("ray", reason="Ray is not installed: pip install 'photocull[ray]'")
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(CRASHING_DECODER)
    folder = tmp_path / "photos"
    folder.mkdir()
    scenes = sorted((corpus / "scenes").glob("*.jpg"))[:9]
    for scene in scenes:
        shutil.copy(scene, folder)
    (folder / "crash-me.jpg").write_bytes(scenes[0].read_bytes() + b"other content")
    temp = tempfile.mkdtemp(prefix="pccrash-", dir="/tmp")  # the scan's private Ray puts its files in here
    try:
        env = {"PYTHONPATH": os.pathsep.join([str(hook), *filter(None, [os.environ.get("PYTHONPATH")])]),
               "TMPDIR": temp, "RAY_USAGE_STATS_ENABLED": "0", "PHOTOCULL_SCAN__WORKERS": "2"}
        result = run_cli("scan", folder, "--engine", engine, "--catalog", tmp_path / "catalog.db", "--analyzers",
                         "technical", "--no-cull", "--json", env=env, timeout=300)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    report = json.loads(result.stdout)
    assert (report["processed"], report["analysed"], report["unreadable"]) == (10, 9, 1)
    with sqlite3.connect(tmp_path / "catalog.db") as db:
        unreadable = db.execute("SELECT path, reason FROM files WHERE status = 'unreadable'").fetchall()
    assert [(Path(path).name, reason) for path, reason in unreadable] == [("crash-me.jpg", CRASHED)]


def _session_pids(sid: int) -> list[int]:
    """Processes still alive in session ``sid`` (the driver's own, started with start_new_session)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                if stat.rsplit(")", 1)[1].split()[0] != "Z" and os.getsid(int(entry.name)) == sid:  # not zombies
                    pids.append(int(entry.name))
            except (OSError, IndexError):
                pass
    return pids


def test_a_killed_driver_resumes_from_the_catalog(ray, photos: Path, local_catalog: dict, tmp_path: Path) -> None:
    catalog_path = tmp_path / "catalog.db"
    temp = Path(tempfile.mkdtemp(prefix="pcdrv-", dir="/tmp"))  # the driver's Ray puts its files in here
    env = {**os.environ, "TMPDIR": str(temp), "RAY_USAGE_STATS_ENABLED": "0", "COLUMNS": "200",
           "PHOTOCULL_SCAN__COMMIT_EVERY": "2", "PHOTOCULL_SCAN__ANALYSERS": ",".join(ANALYSERS)}
    driver = subprocess.Popen([sys.executable, "-m", "photocull", "scan", str(photos), "--engine", "ray",
                               "--catalog", str(catalog_path), "--no-cull", "--quiet"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        committed = 0
        deadline = time.monotonic() + 90
        while committed < 4 and driver.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
            if catalog_path.exists():
                try:
                    with sqlite3.connect(catalog_path) as db:
                        committed = db.execute("SELECT count(*) FROM files").fetchone()[0]
                except sqlite3.OperationalError:  # not created yet, or locked for a moment
                    pass
        assert driver.poll() is None, "the scan finished before it could be killed"
        assert 4 <= committed < len(local_catalog["files"])
    finally:
        # SIGKILL the driver and every process of its session (its Ray: GCS, raylet, workers), by id.
        for _ in range(3):
            for pid in _session_pids(driver.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            driver.wait(timeout=30)
            time.sleep(0.5)
        leftover = _session_pids(driver.pid)
        shutil.rmtree(temp, ignore_errors=True)
    assert leftover == []

    with Catalog(catalog_path) as catalog:  # the next run, on the module's Ray
        report = scan([photos], catalog, _settings("ray"))
    assert report.skipped >= committed - 2  # what was committed is not done again (2: a file or two in a batch)
    assert report.processed + report.skipped == len(local_catalog["files"])
    _assert_same(_values(catalog_path), local_catalog)


def test_without_ray_the_engine_says_how_to_install_it(tmp_path: Path, corpus: Path) -> None:
    # An import hook that hides Ray, as on a machine without the extra.
    (tmp_path / "ray.py").write_text("raise ImportError('No module named ray')\n")
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])])}
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(corpus / "scenes" / "fruits.jpg", folder)
    result = run_cli("scan", folder, "--engine", "ray", "--analyzers", "technical", "--no-cull", check=False,
                     env=env)
    assert result.returncode == 2
    assert "pip install 'photocull[ray]'" in result.stderr
    import_only = subprocess.run([sys.executable, "-c", "import photocull.pipeline.scan, photocull.cli.app"],
                                 env={**os.environ, **env}, capture_output=True, text=True)
    assert import_only.returncode == 0, import_only.stderr  # photocull itself works without Ray
