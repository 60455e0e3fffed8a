"""Test hosts in network namespaces: two namespaces joined by a veth pair, and nothing else.

For the two-node Ray test (issue #7). Each namespace holds only ``lo`` and one end of the
veth pair, with a private address on a /24 that clashes with none of the machine's
routes; neither has a default route or any link to the machine's own network, so what a
process sends from them reaches the other namespace or its own loopback, never
further. Needs the ``ip`` command (iproute2) and root (CAP_NET_ADMIN);
:func:`unavailable` says why not when it cannot work here.

Processes are stopped by process id (:func:`stop`); ``ip netns pids`` then finds any
process still inside a namespace (an orphaned grandchild), since every process in
there was started by the test.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import subprocess
import time
import uuid


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def unavailable() -> str | None:
    """Why network namespaces cannot be made here (``None``: they can)."""
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is missing"
    probe = f"pc-probe-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"cannot create network namespaces here (needs root or CAP_NET_ADMIN): {made.stderr.strip()}"
    try:
        inside = _ip("netns", "exec", probe, "true", check=False)  # mounts, so needs CAP_SYS_ADMIN as well
        if inside.returncode != 0:
            return f"cannot run a process inside a network namespace here: {inside.stderr.strip()}"
    finally:
        _ip("netns", "delete", probe, check=False)
    return None


def _free_subnet(seed: int) -> ipaddress.IPv4Network:
    """A 10.x.y.0/24 that overlaps none of the machine's addresses or routes."""
    taken = []
    for line in (_ip("-4", "route", "show", "table", "all").stdout + _ip("-4", "-o", "addr").stdout).splitlines():
        for word in line.split():
            try:
                taken.append(ipaddress.ip_network(word, strict=False))
            except ValueError:
                pass
    taken = [n for n in taken if n.version == 4 and n.prefixlen > 0]  # "default" does not parse; 0/0 is no clash
    for step in range(4096):
        n = (seed + step * 7919) % (56 * 256)
        subnet = ipaddress.ip_network(f"10.{200 + n // 256}.{n % 256}.0/24")
        if not any(subnet.overlaps(t) for t in taken):
            return subnet
    raise RuntimeError("no free 10.x.y.0/24 for the test namespaces")


class NamespacePair:
    """Namespaces ``a`` and ``b`` (unique names), a veth pair between them, ``address[a|b]`` on it."""

    def __init__(self) -> None:
        tag = f"{os.getpid()}{uuid.uuid4().hex[:3]}"
        self.a, self.b = f"pc-{tag}-a", f"pc-{tag}-b"
        self.veth = (f"pc{tag}a"[:15], f"pc{tag}b"[:15])  # interface names: 15 characters at most
        self.subnet = _free_subnet(os.getpid())
        hosts = self.subnet.hosts()
        self.address = {self.a: str(next(hosts)), self.b: str(next(hosts))}
        self._made: list[str] = []

    def __enter__(self) -> NamespacePair:
        try:
            for ns in (self.a, self.b):
                _ip("netns", "add", ns)
                self._made.append(ns)
                _ip("-n", ns, "link", "set", "lo", "up")
            # Both ends made straight inside their namespaces: the veth never exists in the machine's own.
            _ip("link", "add", self.veth[0], "netns", self.a, "type", "veth", "peer", "name", self.veth[1],
                "netns", self.b)
            for ns, veth in zip((self.a, self.b), self.veth):
                _ip("-n", ns, "addr", "add", f"{self.address[ns]}/{self.subnet.prefixlen}", "dev", veth)
                _ip("-n", ns, "link", "set", veth, "up")
        except subprocess.CalledProcessError as exc:
            self.__exit__()
            raise RuntimeError(f"setting up the test namespaces failed: {exc.cmd}: {exc.stderr}") from exc
        return self

    def exec(self, ns: str, *args: str) -> list[str]:
        """``args`` as a command line that runs inside namespace ``ns``."""
        return ["ip", "netns", "exec", ns, *args]

    def pids(self, ns: str) -> list[int]:
        """Every process inside ``ns``."""
        out = _ip("netns", "pids", ns, check=False).stdout
        return [int(p) for p in out.split()]

    def __exit__(self, *exc) -> None:
        """Kill what is left inside (by process id), then delete the namespaces (the veth goes with them)."""
        for ns in reversed(self._made):
            for pid in self.pids(ns):
                _kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while self.pids(ns) and time.monotonic() < deadline:
                time.sleep(0.1)
            _ip("netns", "delete", ns, check=False)
        self._made.clear()

    def exists(self) -> list[str]:
        """Which of the two namespaces still exist."""
        listed = {line.split()[0] for line in _ip("netns", "list").stdout.splitlines() if line.strip()}
        return [ns for ns in (self.a, self.b) if ns in listed]


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def stop(process: subprocess.Popen, grace: float = 30) -> str:
    """SIGTERM ``process`` (by its id), SIGKILL it if it has not ended ``grace`` seconds later; says how it ended."""
    if process.poll() is not None:
        return f"had exited ({process.returncode})"
    began = time.monotonic()
    _kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
        return f"exited {process.returncode} {time.monotonic() - began:.1f} s after SIGTERM"
    except subprocess.TimeoutExpired:
        _kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        return f"killed: still running {grace:.0f} s after SIGTERM"
