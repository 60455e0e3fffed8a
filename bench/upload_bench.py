#!/usr/bin/env python
"""Upload benchmark: 2 GB through our tus server, with the connection dropped once in the middle.

A real ``photocull serve`` (a child process on 127.0.0.1 and a free port, stopped by its process id)
on an empty library in a temporary folder; the file is a stored ZIP of random bytes (one member,
``noise.jpg``), so that it passes the server's content check on the last byte. ``finish`` is not
called: nothing is extracted or scanned, the benchmark measures the upload alone.

1. tuspy (the tus project's Python client) creates the upload and sends it in chunks of 8 MiB up to
   half the file;
2. a PATCH of the next chunk is cut after half of its bytes: the socket is closed with a reset
   (SO_LINGER 0), as when a network goes away;
3. a new tuspy session on the same upload URL asks the server for the offset (HEAD) and sends the rest.

Measured: MB/s before and after the drop, and overall (creation to the last byte, the pause to
reconnect left out); the bytes sent again after the drop; the server process's resident memory
(psutil, sampled every 20 ms: its peak over the upload against its size before); and the baseline,
``shutil.copyfile`` of the same file on the same disk (then fsync, as the server fsyncs the upload on
its last byte). The stored bytes' SHA-256 must equal the source's. Prints a table and writes
``bench/results/upload.json``; the 2 GB files are deleted at the end.

Skipped, with a message, when the temporary folder has less than 6 GB free.

Usage::

    python bench/upload_bench.py [--size 2000000000] [--tmp /tmp]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from tests.served import Server  # noqa: E402

CHUNK = 8 * 1024 * 1024
NEEDED_FREE = 6 * 10**9
CSRF = {"X-Photocull": "1"}
MB = 10**6


def make_source(path: Path, size: int) -> str:
    """A stored ZIP of ``size`` bytes in all: one member ``noise.jpg`` of random bytes; its SHA-256."""
    overhead = 30 + len("noise.jpg") + 20  # local header + zip64 extra field
    overhead += 46 + len("noise.jpg") + 28 + 56 + 20 + 22  # central directory, zip64 end records
    member = size - overhead
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf, zf.open("noise.jpg", "w", force_zip64=True) as out:
        left = member
        while left:
            block = os.urandom(min(CHUNK, left))
            out.write(block)
            left -= len(block)
    return sha256(path)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


class MemorySampler(threading.Thread):
    """The peak resident memory of a process and its children, sampled every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.02):
        import psutil

        super().__init__(daemon=True)
        self.process, self.interval = psutil.Process(pid), interval
        self.peak = self.baseline = self.rss()
        self.samples = 0
        self._done = threading.Event()

    def rss(self) -> int:
        total = self.process.memory_info().rss
        for child in self.process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except Exception:  # a child that just ended
                pass
        return total

    def run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, self.rss())
            self.samples += 1
            time.sleep(self.interval)

    def stop(self) -> None:
        self._done.set()
        self.join()


def drop_connection(server: Server, path: str, source: Path, offset: int, send: int) -> int:
    """A PATCH of one chunk at ``offset`` cut after ``send`` bytes by a TCP reset; the bytes sent."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("PATCH", path)
    for key, value in {**CSRF, "Tus-Resumable": "1.0.0", "Upload-Offset": str(offset),
                       "Content-Type": "application/offset+octet-stream", "Content-Length": str(CHUNK)}.items():
        conn.putheader(key, value)
    conn.endheaders()
    sent = 0
    with open(source, "rb") as f:
        f.seek(offset)
        while sent < send:
            block = f.read(min(1 << 20, send - sent))
            conn.sock.sendall(block)
            sent += len(block)
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.sock.close()  # RST: the server sees the client vanish mid-body
    return sent


def stored_offset(url: str) -> int:
    request = urllib.request.Request(url, method="HEAD", headers={**CSRF, "Tus-Resumable": "1.0.0"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.headers["Upload-Offset"])


def settle(url: str, timeout: float = 10) -> int:
    """The stored offset once the server has written what arrived before the reset (two equal HEADs)."""
    deadline = time.monotonic() + timeout
    last = stored_offset(url)
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = stored_offset(url)
        if now == last:
            return now
        last = now
    return last


def run(size: int, tmp: Path) -> dict:
    from tusclient import client as tus

    work = Path(tempfile.mkdtemp(prefix="photocull-upload-bench-", dir=tmp))
    server = None
    try:
        library = work / "library"
        library.mkdir()
        source = work / "noise.zip"
        print(f"making a {size / MB:,.0f} MB stored ZIP of random bytes in {work} ...", flush=True)
        started = time.perf_counter()
        source_sha = make_source(source, size)
        length = source.stat().st_size
        print(f"  {time.perf_counter() - started:.1f} s", flush=True)

        load_before = os.getloadavg()
        server = Server(library, work / "serve.log")
        time.sleep(1.0)  # let the idle server settle before its baseline memory is taken
        sampler = MemorySampler(server.process.pid)
        sampler.start()

        drop_at = (length // 2) // CHUNK * CHUNK
        print("uploading (first half) ...", flush=True)
        t0 = time.perf_counter()
        first = tus.TusClient(f"{server.url}/uploads/", headers=CSRF).uploader(
            str(source), chunk_size=CHUNK, metadata={"filename": "noise.zip", "batch": "bench"})
        first.upload(stop_at=drop_at)
        t1 = time.perf_counter()
        url = first.url
        upload_path = urllib.parse.urlsplit(url).path

        dropped_sent = drop_connection(server, upload_path, source, drop_at, CHUNK // 2)
        resumed_at = settle(url)
        print(f"connection reset after {dropped_sent:,} bytes of the chunk at {drop_at:,}; "
              f"the server has {resumed_at:,}", flush=True)

        print("uploading (the rest, new session) ...", flush=True)
        t2 = time.perf_counter()
        second = tus.TusClient(f"{server.url}/uploads/", headers=CSRF).uploader(
            str(source), url=url, chunk_size=CHUNK, retries=3, retry_delay=1)
        head_offset = second.offset  # what the new session's HEAD answered
        second.upload()
        t3 = time.perf_counter()
        sampler.stop()

        upload_id = upload_path.rstrip("/").rsplit("/", 1)[-1]
        stored = library / ".photocull" / "uploads" / f"{upload_id}.bin"
        info = json.loads(stored.with_suffix(".json").read_text())
        stored_sha = sha256(stored)
        identical = stored_sha == source_sha and stored.stat().st_size == length and info["complete"]

        copy = work / "copy.zip"
        started = time.perf_counter()
        shutil.copyfile(source, copy)
        with open(copy, "rb+") as f:
            os.fsync(f.fileno())
        copy_seconds = time.perf_counter() - started
        copy.unlink()

        # tus termination: the server forgets the upload and its bytes
        request = urllib.request.Request(url, method="DELETE", headers={**CSRF, "Tus-Resumable": "1.0.0"})
        with urllib.request.urlopen(request, timeout=30) as response:
            deleted = response.status == 204 and not stored.exists()

        sent_total = drop_at + dropped_sent + (length - head_offset)
        first_s, second_s = t1 - t0, t3 - t2
        upload_mbps = length / MB / (first_s + second_s)
        copy_mbps = length / MB / copy_seconds
        return {
            "bytes": length,
            "chunk_bytes": CHUNK,
            "client": "tuspy " + _version("tuspy"),
            "drop": {"at_offset": drop_at, "bytes_sent_in_cut_request": dropped_sent,
                     "server_offset_after": resumed_at, "head_offset_new_session": head_offset,
                     "bytes_resent": sent_total - length},
            "before_drop": {"bytes": drop_at, "seconds": round(first_s, 3), "mb_per_s": round(drop_at / MB / first_s, 1)},
            "after_drop": {"bytes": length - head_offset, "seconds": round(second_s, 3),
                           "mb_per_s": round((length - head_offset) / MB / second_s, 1)},
            "upload_mb_per_s": round(upload_mbps, 1),
            "copy": {"seconds": round(copy_seconds, 3), "mb_per_s": round(copy_mbps, 1)},
            "upload_vs_copy": round(upload_mbps / copy_mbps, 3),
            "server_rss": {"before_mb": round(sampler.baseline / MB, 1), "peak_mb": round(sampler.peak / MB, 1),
                           "growth_mb": round((sampler.peak - sampler.baseline) / MB, 1), "samples": sampler.samples},
            "sha256": source_sha,
            "identical": identical,
            "terminated": deleted,
            "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "cpus": os.cpu_count(),
        }
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


def show(result: dict) -> None:
    rows = [
        ("upload size", f"{result['bytes'] / MB:,.0f} MB in chunks of {result['chunk_bytes'] >> 20} MiB"),
        ("before the drop", f"{result['before_drop']['mb_per_s']:,.1f} MB/s ({result['before_drop']['seconds']:.1f} s)"),
        ("after the drop (new session)", f"{result['after_drop']['mb_per_s']:,.1f} MB/s ({result['after_drop']['seconds']:.1f} s)"),
        ("upload overall", f"{result['upload_mb_per_s']:,.1f} MB/s"),
        ("baseline: shutil.copyfile + fsync", f"{result['copy']['mb_per_s']:,.1f} MB/s ({result['copy']['seconds']:.1f} s)"),
        ("upload / copy", f"{result['upload_vs_copy']:.2f}"),
        ("bytes re-sent after the drop", f"{result['drop']['bytes_resent']:,} "
                                         f"(cut request {result['drop']['bytes_sent_in_cut_request']:,}, "
                                         f"kept {result['drop']['server_offset_after'] - result['drop']['at_offset']:,})"),
        ("server RSS before / peak", f"{result['server_rss']['before_mb']:.1f} / {result['server_rss']['peak_mb']:.1f} MB "
                                     f"(+{result['server_rss']['growth_mb']:.1f} MB, {result['server_rss']['samples']} samples)"),
        ("stored bytes identical (sha256)", str(result["identical"])),
        ("load average before / after", f"{result['load_before'][0]} / {result['load_after'][0]} on {result['cpus']} CPUs"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=2 * 10**9, help="bytes to upload (default 2 GB)")
    parser.add_argument("--tmp", type=Path, default=Path(tempfile.gettempdir()), help="where the files go")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "upload.json")
    args = parser.parse_args()
    free = shutil.disk_usage(args.tmp).free
    if free < NEEDED_FREE:
        print(f"skipped: {free / 10**9:.1f} GB free in {args.tmp}, the benchmark needs {NEEDED_FREE / 10**9:.0f} GB")
        return 0
    result = run(args.size, args.tmp)
    show(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    if not result["identical"]:
        print("FAILED: the stored bytes differ from the source")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
