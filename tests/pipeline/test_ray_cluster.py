"""The Ray engine on a two-node cluster (issue #7): two hosts in network namespaces this test makes.

Namespace A holds the Ray head and the driver (``photocull scan --address A:6379``),
namespace B a worker node joining it; a veth pair is their only link (tests/netns.py),
so Ray's traffic goes between them or to their own loopback and nowhere else. Each node
is one ``ray start --block`` process with its namespace's ``--node-ip-address`` and a
temporary folder of its own, stopped by process id at the end; token authentication
with a token made here (``RAY_AUTH_MODE=token``, ``RAY_AUTH_TOKEN``) and a HOME of its
own, so the user's ``~/.ray`` is neither read nor written. Needs root (CAP_NET_ADMIN and
CAP_SYS_ADMIN), ``ip`` and Ray; skips saying which is missing.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from photocull.catalog.store import Catalog
from photocull.config import Settings
from photocull.pipeline.scan import scan
from tests import netns
from tests.catalog_values import BAD, assert_same_values, catalog_values, scenes_with_bad_files

ANALYSERS = ("technical", "fingerprints", "aesthetic", "embedding")  # the networks too: the inference actor runs
PORT = 6379  # the head's port inside namespace A: a fresh namespace has every port free
START_TIMEOUT = 90
SCAN_TIMEOUT = 180  # 25 files; the local pool takes seconds
# Actors Ray itself makes on a cluster (Ray Data's bookkeeping): not the scan's work.
RAY_OWN_ACTORS = {"_StatsActor", "_AutoscalingCoordinatorActor", "ActorLocationTracker", "AutoscalingRequester"}
ADDRESS_FILE = Path("/tmp/ray/ray_current_cluster")  # Ray's default one: this test must not write it

# Run inside namespace A: connect to the cluster, wait until both nodes are alive, print them.
PROBE = """
import json, sys, time, ray
deadline = time.monotonic() + float(sys.argv[2])
ray.init(address=sys.argv[1], log_to_driver=False, logging_level="ERROR")
while True:
    alive = {n["NodeManagerAddress"]: n["NodeID"] for n in ray.nodes() if n["Alive"]}
    if len(alive) >= 2 or time.monotonic() > deadline:
        break
    time.sleep(0.5)
print(json.dumps(alive))
"""


def _ray_command() -> list[str]:
    ray = Path(sys.executable).with_name("ray")  # the environment's own entry point
    if ray.is_file():
        return [str(ray)]
    return [sys.executable, "-c", "import sys; from ray.scripts.scripts import main; sys.exit(main())"]


class TwoNodeCluster:
    """A Ray head in namespace A and a worker node in namespace B, until :meth:`close`."""

    def __init__(self, pair: netns.NamespacePair, temp: Path):
        self.pair, self.temp = pair, temp
        self.head_ip, self.worker_ip = pair.address[pair.a], pair.address[pair.b]
        self.address = f"{self.head_ip}:{PORT}"
        home = temp / "home"
        home.mkdir()
        self.env = {**os.environ, "HOME": str(home), "TMPDIR": str(temp), "RAY_USAGE_STATS_ENABLED": "0",
                    "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32), "PYTHONUNBUFFERED": "1",
                    # SIGTERM stops a node at once: no 30 s drain while actors (Ray Data's own) still hold leases
                    "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"}
        self.env.pop("RAY_ADDRESS", None)
        self.temp_dirs = {pair.a: temp / "a", pair.b: temp / "b"}
        self.nodes: dict[str, subprocess.Popen] = {}
        self.leftovers: dict[str, list[str]] = {}  # processes still in a namespace after its node stopped
        self.stopped: dict[str, str] = {}  # how each node's process ended
        self.alive: dict[str, str] = {}  # node IP -> node id, once started

    def start(self) -> dict[str, str]:
        """Head and worker node (started together); returns the alive nodes (IP -> node id) once both are."""
        common = ["--block", "--num-cpus=1", "--disable-usage-stats", "--object-store-memory=200000000"]
        self._start(self.pair.a, ["--head", f"--port={PORT}", "--include-dashboard=false", *common])
        self._start(self.pair.b, [f"--address={self.address}", *common])  # it waits for the head by itself
        for ns in (self.pair.a, self.pair.b):
            self._wait_up(ns)
        probe = subprocess.run(self.pair.exec(self.pair.a, sys.executable, "-c", PROBE, self.address,
                                              str(START_TIMEOUT)),
                               env=self.env, cwd=self.temp, capture_output=True, text=True, timeout=START_TIMEOUT + 60)
        if probe.returncode != 0:
            raise RuntimeError(f"the cluster probe failed:\n{probe.stderr[-3000:]}\n{self.logs()}")
        return json.loads(probe.stdout.strip().splitlines()[-1])

    def _start(self, ns: str, args: list[str]) -> None:
        folder = self.temp_dirs[ns]
        folder.mkdir()
        command = self.pair.exec(ns, *_ray_command(), "start", f"--node-ip-address={self.pair.address[ns]}",
                                 f"--temp-dir={folder}", *args)
        with open(self.temp / f"{ns}.log", "wb") as log:
            self.nodes[ns] = subprocess.Popen(command, env=self.env, cwd=self.temp, stdout=log,
                                              stderr=subprocess.STDOUT)

    def _wait_up(self, ns: str) -> None:
        """Until ``ray start`` in ``ns`` has written its address file, its last step once the node is up."""
        folder = self.temp_dirs[ns]
        deadline = time.monotonic() + START_TIMEOUT
        while not (folder / "ray_current_cluster").exists():
            if self.nodes[ns].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ray start in {ns} did not come up:\n{self.logs()}")
            time.sleep(0.2)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.temp.glob("*.log")))

    def worker_log_markers(self, ns: str) -> dict[str, str]:
        """What Ray's worker processes on the node of ``ns`` ran, by worker: the ``:actor_name:`` and
        ``:task_name:`` lines Ray writes into a worker's log files when an actor is made or a task starts
        there (``logs/old`` holds those of workers that have exited)."""
        markers: dict[str, str] = {}
        for session in self.temp_dirs[ns].glob("session_2*"):  # not the session_latest link
            for log in sorted(session.glob("logs/**/worker-*")):
                for line in log.read_text(errors="replace").splitlines():
                    if line.startswith((":actor_name:", ":task_name:")):
                        markers.setdefault(log.stem, line.strip())
        return markers

    def status(self) -> str:
        """``ray status -v``, run in namespace A: nodes, resources in use, pending demands."""
        result = subprocess.run(self.pair.exec(self.pair.a, *_ray_command(), "status", "-v", "--address", self.address),
                                env=self.env, cwd=self.temp, capture_output=True, text=True, timeout=60)
        return result.stdout + result.stderr

    def close(self) -> None:
        """Each node's process stopped by id (SIGTERM, SIGKILL after a grace); what it left inside its
        namespace is recorded in ``leftovers`` (and then killed, by id, with the namespaces)."""
        for ns in (self.pair.b, self.pair.a):  # the worker node first
            if ns in self.nodes:
                self.stopped[ns] = netns.stop(self.nodes[ns])
                began = time.monotonic()  # its workers and agents notice their raylet is gone
                while self.pair.pids(ns) and time.monotonic() < began + 20:
                    time.sleep(0.2)
                self.stopped[ns] += f"; its namespace empty {time.monotonic() - began:.1f} s later"
                if self.pair.pids(ns):
                    self.leftovers[ns] = [f"{pid} {_cmdline(pid)}" for pid in self.pair.pids(ns)]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:120]
    except OSError:
        return "?"


@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("ray", reason="Ray is not installed: pip install 'photocull[ray]'")
    why = netns.unavailable()
    if why:
        pytest.skip(f"the two-node Ray test needs network namespaces: {why}")
    address_file_before = ADDRESS_FILE.read_bytes() if ADDRESS_FILE.exists() else None
    temp = Path(tempfile.mkdtemp(prefix="pcn-", dir="/tmp"))  # short: Ray's socket paths must stay < 108 chars
    pair = netns.NamespacePair()
    running = None
    try:
        with pair:
            running = TwoNodeCluster(pair, temp)
            try:
                running.alive = running.start()
                yield running
            finally:
                running.close()
    finally:
        shutil.rmtree(temp, ignore_errors=True)
        if address_file_before is None and ADDRESS_FILE.exists() and running is not None \
                and ADDRESS_FILE.read_text().strip() == running.address:
            ADDRESS_FILE.unlink()  # ours after all: removed, and the check below fails
    # Teardown checks: nothing of this test is left behind.
    assert pair.exists() == [], "test namespaces left behind"
    assert not temp.exists()
    assert (ADDRESS_FILE.read_bytes() if ADDRESS_FILE.exists() else None) == address_file_before, \
        "the test wrote Ray's default ray_current_cluster"
    assert running is None or running.leftovers == {}, \
        f"processes outlived their node's ray start: {running.leftovers} ({running.stopped})"


@pytest.fixture(scope="module")
def photos(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """corpus/scenes and four broken files from corpus/bad (at one path: both nodes see this machine's disk)."""
    return scenes_with_bad_files(corpus, tmp_path_factory.mktemp("two-node") / "photos")


def test_a_scan_on_two_nodes_gives_the_local_pools_catalog(cluster: TwoNodeCluster, photos: Path,
                                                            models_ready: Path, tmp_path: Path) -> None:
    pair = cluster.pair
    assert set(cluster.alive) == {cluster.head_ip, cluster.worker_ip}  # two hosts, each at its namespace's address

    catalog_path = tmp_path / "two-node.db"
    env = {**cluster.env, "COLUMNS": "200", "PHOTOCULL_SCAN__ANALYSERS": ",".join(ANALYSERS)}
    with open(tmp_path / "driver.log", "w+") as log:
        driver = subprocess.Popen(pair.exec(pair.a, sys.executable, "-m", "photocull", "scan", str(photos),
                                            "--engine", "ray", "--address", cluster.address,
                                            "--catalog", str(catalog_path), "--no-cull", "--quiet"),
                                  env=env, cwd=cluster.temp, stdout=log, stderr=subprocess.STDOUT)
        try:
            driver.wait(timeout=SCAN_TIMEOUT)
        except subprocess.TimeoutExpired:
            status = cluster.status()  # while it still waits: what the cluster is waiting for
            netns.stop(driver, grace=5)
            log.seek(0)
            pytest.fail(f"the scan on two nodes did not finish in {SCAN_TIMEOUT} s\n{log.read()[-3000:]}\n{status}")
        log.seek(0)
        assert driver.returncode == 0, log.read()[-5000:]

    with Catalog(tmp_path / "local.db") as catalog:
        scan([photos], catalog, Settings(scan={"engine": "local", "analysers": ANALYSERS}))
    expected = catalog_values(tmp_path / "local.db")
    actual = catalog_values(catalog_path)
    assert_same_values(actual, expected)

    # Corrupt files are unreadable rows with a reason, and the job still succeeded (above).
    unreadable = {Path(k).name: r["reason"] for k, r in actual["files"].items() if r["status"] == "unreadable"}
    assert set(BAD) <= set(unreadable) and all(unreadable.values())

    # The work ran on both nodes: each node's own worker logs name what its workers ran.
    ran = {ns: {m.split(":", 2)[2] for m in cluster.worker_log_markers(ns).values()} - RAY_OWN_ACTORS
           for ns in (pair.a, pair.b)}
    assert ran[pair.a] and ran[pair.b], f"work on the head: {ran[pair.a]}; on the worker node: {ran[pair.b]}"
