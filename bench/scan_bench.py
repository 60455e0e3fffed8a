#!/usr/bin/env python
"""Scan benchmark for photocull.

Measures, on the same machine and the same files:

1. a *baseline*: the seeds' naive per-photo pipeline (full Pillow decode,
   ``imagehash.phash``, OpenCV variance of Laplacian at full resolution,
   SHA-256 of the file) over a ``multiprocessing.Pool``;
2. ``photocull scan`` (the CLI, in a subprocess, fresh catalog) on the same
   12-megapixel JPEGs;
3. a re-scan of an unchanged tree of many small files (second
   ``photocull scan`` on a catalog that already knows every file).

Wall time and peak memory (RSS summed over the whole process tree, sampled
every ~50 ms) are recorded for every run. Results are printed as a table and
written as JSON (``bench/results/scan_bench.json`` by default).

This is a benchmark, not a test: it exits 0 even when a target is missed
(missed targets are marked in the table and in the JSON). It exits 2 only
when a measured command itself failed.

Usage::

    python bench/scan_bench.py [--photos 1000] [--rescan-files 10000]
                               [--workers N] [--data-dir DIR] [--out FILE]

See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
DEFAULT_DATA_DIR = BENCH_DIR / "data"
DEFAULT_OUT = BENCH_DIR / "results" / "scan_bench.json"
DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "corpus"

# Generated photo set. Bump GEN_VERSION whenever the generator changes: a data
# dir made by another version is regenerated.
GEN_VERSION = 1
WIDTH, HEIGHT = 4000, 3000
QUALITY = 90
NOISE_SIGMA = (3.0, 4.0)  # Gaussian sensor noise, in 8-bit levels
BRIGHTNESS = (0.90, 1.10)
CROP_SCALE = (0.85, 1.0)  # per-copy crop window, fraction of the largest 4:3 box
SEED = 20240601
BASE_TIME = _dt.datetime(2024, 6, 1, 9, 0, 0)
CAMERAS = [
    ("Canon", "Canon EOS R6"),
    ("NIKON CORPORATION", "NIKON Z 6_2"),
    ("SONY", "ILCE-7M3"),
    ("FUJIFILM", "X-T4"),
]
MIN_SOURCE_SIDE = 300  # corpus photos smaller than this are not used

# Re-scan tree.
RESCAN_VERSION = 1
RESCAN_SIZE = (64, 48)
RESCAN_PER_FOLDER = 100

# Targets.
TARGET_RATIO = 4.0
TARGET_PEAK_MEM = 1_000_000_000  # bytes (1 GB)
TARGET_RESCAN_S = 3.0

SAMPLE_INTERVAL = 0.05


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def fmt_mb(n: float | None) -> str:
    return "n/a" if n is None else f"{n / 1e6:,.0f} MB"


def fmt_s(s: float | None) -> str:
    return "n/a" if s is None else f"{s:,.2f} s"


def write_json(path: Path, obj) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class Progress:
    """A one-line progress indicator on stderr (no dependency on Rich)."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self.t0 = time.perf_counter()
        self.last = 0.0
        self.tty = sys.stderr.isatty()

    def step(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if self.done >= self.total or now - self.last >= (0.2 if self.tty else 5.0):
            self.last = now
            el = now - self.t0
            rate = self.done / el if el > 0 else 0.0
            eta = (self.total - self.done) / rate if rate > 0 else 0.0
            line = (f"  {self.label}: {self.done}/{self.total} "
                    f"({rate:,.1f}/s, {el:,.0f} s elapsed, ~{eta:,.0f} s left)")
            if self.tty:
                sys.stderr.write("\r" + line + "\x1b[K")
                if self.done >= self.total:
                    sys.stderr.write("\n")
                sys.stderr.flush()
            else:
                log(line)


# --------------------------------------------------------------------------
# 1. generating the 12-megapixel photo set
# --------------------------------------------------------------------------

SOURCE_PATTERNS = [
    "scenes/*.jpg",
    "scenes/*.png",
    "dedup/base_images/*.jpg",
    "exif/jpg/*.jpg",
    "faces/people/**/*.jpg",
]


def list_sources(corpus: Path) -> list[str]:
    """Real photos from the corpus that are large enough to be upscaled."""
    from PIL import Image

    out = []
    for pat in SOURCE_PATTERNS:
        for p in sorted(corpus.glob(pat)):
            try:
                with Image.open(p) as im:
                    if min(im.size) < MIN_SOURCE_SIDE:
                        continue
                    im.load()  # must decode (exif/jpg/corrupted.jpg does)
            except Exception:
                continue
            out.append(str(p.relative_to(corpus)))
    return out


def make_plan(n: int, n_sources: int) -> list[dict]:
    """Which source, when and with which camera, for photos 0..n-1.

    Sequential and seeded, so the plan for photo i does not depend on n: a
    larger set extends a smaller one. Photos come in bursts of 1-5 frames of the
    same scene (1 s apart), with a few seconds between bursts, like a shoot.
    """
    import numpy as np

    rng = np.random.default_rng(SEED)
    plan = []
    t = 0
    src = 0
    left_in_burst = 0
    for i in range(n):
        if left_in_burst == 0:
            left_in_burst = int(rng.integers(1, 6))
            src = int(rng.integers(0, n_sources))
            t += int(rng.integers(2, 15)) if i else 0
        else:
            t += 1
        left_in_burst -= 1
        plan.append({"index": i, "source": src, "offset_s": t,
                     "camera": (i // 250) % len(CAMERAS)})
    return plan


def photo_name(i: int) -> str:
    return f"IMG_{i + 1:05d}.jpg"


_SOURCES = None  # per worker: list of RGB uint8 arrays


def _init_sources(corpus: str, sources: list[str]) -> None:
    global _SOURCES
    import numpy as np
    from PIL import Image

    try:
        import cv2
        cv2.setNumThreads(1)
    except Exception:
        pass
    arrs = []
    for rel in sources:
        with Image.open(Path(corpus) / rel) as im:
            arrs.append(np.asarray(im.convert("RGB")))
    _SOURCES = arrs


def _make_exif(camera: int, when: _dt.datetime, idx: int, width: int, height: int):
    from PIL import Image
    from PIL.TiffImagePlugin import IFDRational

    make, model = CAMERAS[camera]
    stamp = when.strftime("%Y:%m:%d %H:%M:%S")
    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x0110] = model
    exif[0x0112] = 1  # Orientation: normal
    exif[0x011A] = IFDRational(300, 1)
    exif[0x011B] = IFDRational(300, 1)
    exif[0x0128] = 2
    exif[0x0131] = "photocull scan_bench"
    exif[0x0132] = stamp
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = stamp  # DateTimeOriginal
    sub[0x9004] = stamp  # DateTimeDigitized
    sub[0x9291] = f"{(idx * 37) % 100:02d}"  # SubSecTimeOriginal
    sub[0x829A] = IFDRational(1, (125, 250, 500, 1000)[idx % 4])  # ExposureTime
    sub[0x829D] = IFDRational((28, 40, 56, 80)[idx % 4], 10)  # FNumber
    sub[0x8827] = (100, 200, 400, 800, 1600)[idx % 5]  # ISO
    sub[0x920A] = IFDRational((24, 35, 50, 85)[(idx // 7) % 4], 1)  # FocalLength
    sub[0xA002] = width
    sub[0xA003] = height
    return exif


def _gen_photo(task: tuple) -> tuple[str, int]:
    """Make one 4000x3000 JPEG from a corpus photo. Runs in a pool worker."""
    import cv2
    import numpy as np
    from PIL import Image

    idx, src, offset_s, camera, out_path = task
    rng = np.random.default_rng([SEED, idx])
    img = _SOURCES[src]
    h, w = img.shape[:2]
    # largest 4:3 box in the source, shrunk a little, at a random offset
    bw, bh = (w, w * 3 // 4) if w * 3 <= h * 4 else (h * 4 // 3, h)
    s = rng.uniform(*CROP_SCALE)
    bw, bh = max(4, int(bw * s)), max(3, int(bh * s))
    x0 = int(rng.integers(0, w - bw + 1))
    y0 = int(rng.integers(0, h - bh + 1))
    crop = img[y0:y0 + bh, x0:x0 + bw]
    crop = cv2.convertScaleAbs(crop, alpha=float(rng.uniform(*BRIGHTNESS)))
    big = cv2.resize(crop, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    sigma = float(rng.uniform(*NOISE_SIGMA))
    noise = np.empty((HEIGHT, WIDTH, 3), np.int16)
    cv2.setRNGSeed(int(rng.integers(0, 2**31 - 1)))
    cv2.randn(noise, (0, 0, 0), (sigma, sigma, sigma))
    big = cv2.add(big, noise, dtype=cv2.CV_8U)  # saturating add
    del noise
    when = BASE_TIME + _dt.timedelta(seconds=offset_s)
    exif = _make_exif(camera, when, idx, WIDTH, HEIGHT)
    tmp = out_path + ".part"
    Image.fromarray(big).save(tmp, "JPEG", quality=QUALITY, exif=exif)
    os.replace(tmp, out_path)
    return os.path.basename(out_path), os.path.getsize(out_path)


def ensure_photos(data_dir: Path, corpus: Path, n: int, workers: int) -> tuple[Path, dict]:
    """Make sure DATA/photos holds photos 0..n-1; return DATA/set-N (hard links
    to exactly those n photos, so the scanned folder has nothing else)."""
    from multiprocessing import Pool

    photos = data_dir / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    mpath = photos / "manifest.json"
    sources = list_sources(corpus)
    if not sources:
        raise SystemExit(f"no usable source photos under {corpus} (see --corpus)")
    params = {"version": GEN_VERSION, "width": WIDTH, "height": HEIGHT,
              "quality": QUALITY, "noise_sigma": list(NOISE_SIGMA), "seed": SEED,
              "sources": sources}
    manifest = read_json(mpath)
    if not manifest or manifest.get("params") != params:
        if manifest is not None or any(photos.glob("*.jpg")):
            log(f"  generator or sources changed: regenerating {photos}")
        for p in photos.glob("*.jpg*"):
            p.unlink()
        manifest = {"params": params, "files": {}}
    files: dict = manifest["files"]
    for p in photos.glob("*.part"):
        p.unlink()

    plan = make_plan(n, len(sources))
    todo = []
    for item in plan:
        name = photo_name(item["index"])
        p = photos / name
        if files.get(name) is not None and p.is_file() and p.stat().st_size == files[name]:
            continue
        files.pop(name, None)
        todo.append((item["index"], item["source"], item["offset_s"], item["camera"], str(p)))

    if todo:
        log(f"Generating {len(todo)} photos of {WIDTH}x{HEIGHT} (q{QUALITY}) in {photos} "
            f"from {len(sources)} corpus photos, {workers} processes ...")
        prog = Progress("generated", len(todo))
        last_save = time.perf_counter()
        with Pool(workers, initializer=_init_sources, initargs=(str(corpus), sources)) as pool:
            for name, size in pool.imap_unordered(_gen_photo, todo, chunksize=1):
                files[name] = size
                prog.step()
                if time.perf_counter() - last_save > 10:
                    write_json(mpath, manifest)
                    last_save = time.perf_counter()
        write_json(mpath, manifest)
    else:
        log(f"Reusing {n} generated photos in {photos}")

    # DATA/set-N: exactly the first n photos, as hard links (copies if links fail)
    set_dir = data_dir / f"set-{n}"
    set_dir.mkdir(exist_ok=True)
    wanted = {photo_name(i) for i in range(n)}
    for p in set_dir.iterdir():
        if p.name not in wanted:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
    total = 0
    for name in sorted(wanted):
        src, dst = photos / name, set_dir / name
        st = src.stat()
        total += st.st_size
        try:
            dst_st = dst.stat()
            if dst_st.st_ino == st.st_ino or (dst_st.st_size == st.st_size
                                              and dst_st.st_mtime >= st.st_mtime):
                continue
            dst.unlink()
        except FileNotFoundError:
            pass
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
    info = {"dir": str(set_dir), "photos": n, "total_bytes": total,
            "mean_bytes": total / n if n else 0, "width": WIDTH, "height": HEIGHT,
            "quality": QUALITY, "sources": len(sources), "generator_version": GEN_VERSION}
    return set_dir, info


# --------------------------------------------------------------------------
# 4. the re-scan tree: many small, distinct JPEGs in nested folders
# --------------------------------------------------------------------------

_THUMBS = None


def _init_thumbs(corpus: str, sources: list[str]) -> None:
    global _THUMBS
    import numpy as np
    from PIL import Image

    tw, th = RESCAN_SIZE
    thumbs = []
    for rel in sources:
        with Image.open(Path(corpus) / rel) as im:
            im = im.convert("RGB")
            im.thumbnail((tw * 2, th * 2))
            thumbs.append(np.asarray(im))
    _THUMBS = thumbs


def _gen_small_folder(task: tuple) -> list[tuple[str, int]]:
    import numpy as np
    from PIL import Image

    root, folder, first, count = task
    tw, th = RESCAN_SIZE
    d = Path(root) / folder
    d.mkdir(parents=True, exist_ok=True)
    out = []
    for k in range(first, first + count):
        rng = np.random.default_rng([SEED, 1, k])
        t = _THUMBS[int(rng.integers(0, len(_THUMBS)))]
        h, w = t.shape[:2]
        cw, ch = min(w, tw), min(h, th)
        x0 = int(rng.integers(0, w - cw + 1))
        y0 = int(rng.integers(0, h - ch + 1))
        a = t[y0:y0 + ch, x0:x0 + cw].astype(np.int16)
        a = a + rng.normal(0, 3, a.shape).round().astype(np.int16)
        im = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
        if im.size != (tw, th):
            im = im.resize((tw, th))
        when = BASE_TIME + _dt.timedelta(seconds=k)
        rel = f"{folder}/IMG_{k + 1:05d}.jpg"
        p = Path(root) / rel
        im.save(p, "JPEG", quality=85, exif=_make_exif(k % len(CAMERAS), when, k, tw, th))
        out.append((rel, p.stat().st_size))
    return out


def ensure_rescan_tree(data_dir: Path, corpus: Path, m: int, workers: int) -> tuple[Path, dict]:
    from multiprocessing import Pool

    root = data_dir / f"rescan-{m}"
    mpath = data_dir / f"rescan-{m}.manifest.json"  # outside the scanned tree
    sources = list_sources(corpus)
    params = {"version": RESCAN_VERSION, "files": m, "size": list(RESCAN_SIZE),
              "per_folder": RESCAN_PER_FOLDER, "seed": SEED, "sources": sources}
    manifest = read_json(mpath)
    ok = bool(manifest) and manifest.get("params") == params
    if ok:
        listed = manifest.get("files", {})
        ok = len(listed) == m and all(
            (root / rel).is_file() and (root / rel).stat().st_size == size
            for rel, size in listed.items())
        if ok:  # nothing else in the tree
            n_now = sum(1 for p in root.rglob("*") if p.is_file())
            ok = n_now == m
    if ok:
        log(f"Reusing re-scan tree of {m} files in {root}")
    else:
        if root.exists():
            shutil.rmtree(root)
        mpath.unlink(missing_ok=True)
        root.mkdir(parents=True)
        tasks = []
        for f, first in enumerate(range(0, m, RESCAN_PER_FOLDER)):
            sub = f"d{f // 100:02d}/d{f:04d}" if m > RESCAN_PER_FOLDER * 100 else f"d{f:03d}"
            tasks.append((str(root), sub, first, min(RESCAN_PER_FOLDER, m - first)))
        log(f"Generating re-scan tree of {m} small JPEGs ({RESCAN_SIZE[0]}x{RESCAN_SIZE[1]}) "
            f"in {len(tasks)} folders under {root} ...")
        prog = Progress("files", m)
        files = {}
        with Pool(workers, initializer=_init_thumbs, initargs=(str(corpus), sources)) as pool:
            for chunk in pool.imap_unordered(_gen_small_folder, tasks):
                files.update(chunk)
                prog.step(len(chunk))
        manifest = {"params": params, "files": files}
        write_json(mpath, manifest)
    total = sum(manifest["files"].values())
    folders = sum(1 for p in root.rglob("*") if p.is_dir())
    return root, {"dir": str(root), "files": m, "folders": folders, "total_bytes": total}


# --------------------------------------------------------------------------
# measuring a command: wall time + peak RSS of its process tree
# --------------------------------------------------------------------------


class TreeSampler(threading.Thread):
    """Samples the summed RSS of a process and all its descendants."""

    def __init__(self, pid: int, interval: float = SAMPLE_INTERVAL) -> None:
        super().__init__(daemon=True)
        import psutil

        self.psutil = psutil
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_rss = 0
        self.max_procs = 0
        self.samples = 0
        self._stop_ev = threading.Event()
        self._procs: dict[int, object] = {}

    def sample(self) -> None:
        ps = self.psutil
        try:
            procs = [self.root] + self.root.children(recursive=True)
        except ps.Error:
            return
        total = 0
        alive = 0
        for p in procs:
            try:
                total += p.memory_info().rss
                alive += 1
            except ps.Error:
                pass
        self.samples += 1
        self.peak_rss = max(self.peak_rss, total)
        self.max_procs = max(self.max_procs, alive)

    def run(self) -> None:
        while not self._stop_ev.is_set():
            self.sample()
            self._stop_ev.wait(self.interval)

    def stop(self) -> None:
        self._stop_ev.set()
        self.join()


def run_measured(cmd: list[str], label: str, cwd: str | None = None,
                 env: dict | None = None) -> dict:
    log(f"Running {label}: {shlex.join(cmd)}")
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=cwd, env=env)
    sampler = TreeSampler(proc.pid)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    sampler.stop()
    res = {"cmd": cmd, "returncode": proc.returncode, "wall_s": wall,
           "peak_rss_bytes": sampler.peak_rss, "max_processes": sampler.max_procs,
           "rss_samples": sampler.samples, "loadavg_before": load}
    res["summary"] = parse_last_json(out)
    if proc.returncode != 0:
        res["stderr_tail"] = err[-4000:]
        res["stdout_tail"] = out[-2000:]
        log(f"  FAILED (exit {proc.returncode}):\n{err[-2000:]}")
    else:
        log(f"  {wall:.2f} s wall, peak RSS {fmt_mb(sampler.peak_rss)}")
    return res


def parse_last_json(text: str):
    """The last JSON object printed on stdout (the CLI's --json summary)."""
    dec = json.JSONDecoder()
    last = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                obj, _ = dec.raw_decode(line)
                last = obj
            except ValueError:
                pass
    if last is None:  # pretty-printed over several lines?
        i = text.find("{")
        while i != -1:
            try:
                obj, _ = dec.raw_decode(text[i:])
                last = obj
            except ValueError:
                pass
            i = text.find("\n{", i + 1)
            if i != -1:
                i += 1
    return last if isinstance(last, dict) else None


# --------------------------------------------------------------------------
# 2. the baseline: the seeds' naive pipeline (run in a subprocess)
# --------------------------------------------------------------------------


def _baseline_init() -> None:
    # One OpenCV thread per pool process: N processes already use the N cores,
    # so this only avoids oversubscription (it favours the baseline).
    import cv2
    cv2.setNumThreads(1)


def _baseline_one(path: str) -> tuple[str, str, str, float]:
    import cv2
    import imagehash
    import numpy as np
    from PIL import Image

    with open(path, "rb") as f:
        sha = hashlib.file_digest(f, "sha256").hexdigest()
    img = Image.open(path).convert("RGB")  # full decode, no draft()
    ph = imagehash.phash(img)
    gray = cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2GRAY)
    sharp = float(cv2.Laplacian(gray, cv2.CV_64F).var())
    return path, sha, str(ph), sharp


def baseline_main(folder: str, workers: int) -> int:
    """Entry of the hidden ``--_baseline`` mode; prints one JSON object."""
    t_start = time.perf_counter()
    from multiprocessing import Pool

    import cv2  # noqa: F401  (import cost is part of the pipeline)
    import imagehash  # noqa: F401

    paths = sorted(str(p) for p in Path(folder).rglob("*")
                   if p.suffix.lower() in (".jpg", ".jpeg") and p.is_file())
    t0 = time.perf_counter()
    results = []
    with Pool(workers, initializer=_baseline_init) as pool:
        for r in pool.imap_unordered(_baseline_one, paths, chunksize=1):
            results.append(r)
    t1 = time.perf_counter()
    print(json.dumps({"files": len(paths), "processed": len(results),
                      "seconds": t1 - t0, "startup_seconds": t0 - t_start,
                      "distinct_sha256": len({r[1] for r in results}),
                      "mean_laplacian_var": (sum(r[3] for r in results) / len(results)
                                             if results else None)}))
    return 0


# --------------------------------------------------------------------------
# 3. photocull
# --------------------------------------------------------------------------


def best_of(runs: list[dict]) -> dict | None:
    """The fastest successful run (else the first failed one). With several runs,
    its peak RSS is replaced by the highest of all runs, and every run is kept
    under "runs"."""
    if not runs:
        return None
    ok = [r for r in runs if r["returncode"] == 0]
    best = dict(min(ok, key=lambda r: r["wall_s"]) if ok else runs[0])
    if len(runs) > 1:
        best["runs"] = [{k: r.get(k) for k in ("wall_s", "peak_rss_bytes", "returncode",
                                                "loadavg_before", "summary")} for r in runs]
        best["peak_rss_bytes"] = max(r["peak_rss_bytes"] for r in runs)
    return best


def photocull_cmd(override: str | None) -> list[str]:
    if override:
        return shlex.split(override)
    exe = Path(sys.executable).parent / "photocull"
    if exe.is_file():
        return [str(exe)]
    found = shutil.which("photocull")
    if found:
        return [found]
    return [sys.executable, "-m", "photocull"]


def photocull_scan(base: list[str], paths: list[Path], catalog: Path, workers: int,
                   label: str) -> dict:
    # The foundation analysers only, like the baseline; bench/neural_bench.py measures the networks.
    cmd = base + ["scan", *map(str, paths), "--catalog", str(catalog),
                  "--workers", str(workers), "--analyzers", "technical,fingerprints", "--json"]
    # Default settings: run in the catalog's folder (no ./photocull.toml there)
    # and without $PHOTOCULL_CONFIG.
    env = {k: v for k, v in os.environ.items() if k != "PHOTOCULL_CONFIG"}
    return run_measured(cmd, label, cwd=str(catalog.parent), env=env)


def check_summary(res: dict, what: str, files: int, processed: int | None,
                  skipped: int | None, warnings: list[str]) -> None:
    s = res.get("summary")
    if res["returncode"] != 0:
        warnings.append(f"{what}: exit code {res['returncode']}")
        return
    if not s:
        warnings.append(f"{what}: no JSON summary on stdout")
        return
    missing = [k for k in ("files", "processed", "skipped", "unreadable", "seconds") if k not in s]
    if missing:
        warnings.append(f"{what}: JSON summary lacks {', '.join(missing)}")
    if s.get("files") not in (None, files):
        warnings.append(f"{what}: summary says files={s.get('files')}, expected {files}")
    if processed is not None and s.get("processed") not in (None, processed):
        warnings.append(f"{what}: processed={s.get('processed')}, expected {processed}")
    if skipped is not None and s.get("skipped") not in (None, skipped):
        warnings.append(f"{what}: skipped={s.get('skipped')}, expected {skipped}")
    if s.get("unreadable"):
        warnings.append(f"{what}: unreadable={s.get('unreadable')}")


# --------------------------------------------------------------------------
# machine facts, page cache, report
# --------------------------------------------------------------------------


def machine_facts(pc_cmd: list[str]) -> dict:
    import numpy
    import PIL
    from PIL import features

    facts = {
        "cpu_count": os.cpu_count(),
        "usable_cpus": default_workers(),
        "cpu_model": None,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "pillow": PIL.__version__,
        "libjpeg_turbo": bool(features.check_feature("libjpeg_turbo")),
        "libjpeg_turbo_version": features.version_feature("libjpeg_turbo"),
        "numpy": numpy.__version__,
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts["cpu_model"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import psutil
        facts["memory_total_bytes"] = psutil.virtual_memory().total
    except Exception:
        pass
    try:
        import cv2
        facts["opencv"] = cv2.__version__
    except Exception:
        pass
    try:
        import imagehash
        facts["imagehash"] = getattr(imagehash, "__version__", None)
    except Exception:
        pass
    try:
        from importlib.metadata import version
        facts["photocull"] = version("photocull")
    except Exception:
        facts["photocull"] = None
    facts["photocull_cmd"] = pc_cmd
    return facts


def warm_page_cache(paths) -> None:
    """Read every file once so that both pipelines see the same warm cache."""
    buf = bytearray(1 << 20)
    for p in paths:
        with open(p, "rb", buffering=0) as f:
            while f.readinto(buf):
                pass


def status(ok: bool | None) -> str:
    return "n/a" if ok is None else ("ok" if ok else "MISSED")


def print_table(rows: list[list[str]], title: str, caption: str) -> None:
    header = ["Measurement", "Result", "Wall", "Peak RSS", "Target", "Status"]
    try:
        from rich.console import Console
        from rich.table import Table

        console = Console()
        if not console.is_terminal:
            console = Console(width=110)
        t = Table(title=title, caption=caption)
        for h in header:
            t.add_column(h, justify="left" if h in ("Measurement", "Target") else "right")
        for r in rows:
            st = r[-1]
            style = "bold red" if "MISSED" in st else ("green" if st == "ok" else "")
            t.add_row(*r[:-1], f"[{style}]{st}[/]" if style else st)
        console.print(t)
        return
    except ImportError:
        pass
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print(title)
    print()
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    print()
    print(caption)


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, metavar="N", default=1000,
                    help="number of 12-MP JPEGs to scan (default 1000)")
    ap.add_argument("--rescan-files", type=int, metavar="M", default=10000,
                    help="number of small files in the re-scan tree (default 10000; 0 skips)")
    ap.add_argument("--workers", type=int, metavar="N", default=default_workers(),
                    help="worker processes for photocull and for the baseline "
                         "(default: usable CPUs)")
    ap.add_argument("--data-dir", type=Path, metavar="DIR", default=DEFAULT_DATA_DIR,
                    help=f"cache for generated files (default {DEFAULT_DATA_DIR})")
    ap.add_argument("--out", type=Path, metavar="FILE", default=DEFAULT_OUT,
                    help=f"JSON results file (default {DEFAULT_OUT})")
    ap.add_argument("--corpus", type=Path, metavar="DIR", default=DEFAULT_CORPUS,
                    help=f"the shared photo corpus (default {DEFAULT_CORPUS})")
    ap.add_argument("--photocull", metavar="CMD", default=None,
                    help="command that runs photocull (default: the 'photocull' entry "
                         "point next to this Python, else 'python -m photocull')")
    ap.add_argument("--repeat", type=int, metavar="K", default=1,
                    help="run the baseline, the photocull scan and the timed re-scan K times "
                         "each (baseline and scan alternated) and report the fastest run and "
                         "the highest peak memory (default 1)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the baseline run")
    ap.add_argument("--no-warm", action="store_true",
                    help="do not pre-read the photos into the page cache")
    ap.add_argument("--generate-only", action="store_true",
                    help="only generate (or check) the data sets, measure nothing")
    ap.add_argument("--_baseline", metavar="DIR", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args._baseline:
        return baseline_main(args._baseline, args.workers)

    if args.photos < 1:
        ap.error("--photos must be at least 1")
    workers = max(1, args.workers)
    repeat = max(1, args.repeat)
    data_dir = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    if not args.corpus.is_dir():
        log(f"corpus not found at {args.corpus} (use --corpus)")
        return 2

    pc = photocull_cmd(args.photocull)
    facts = machine_facts(pc)
    warnings: list[str] = []
    failed = False

    # 1. data
    t = time.perf_counter()
    set_dir, photos_info = ensure_photos(data_dir, args.corpus, args.photos, workers)
    rescan_root = rescan_info = None
    if args.rescan_files > 0:
        rescan_root, rescan_info = ensure_rescan_tree(data_dir, args.corpus,
                                                      args.rescan_files, workers)
    log(f"Data ready in {time.perf_counter() - t:.1f} s: {args.photos} photos, "
        f"{photos_info['mean_bytes'] / 1e6:.2f} MB each on average")
    if args.generate_only:
        return 0

    photo_paths = sorted(set_dir.glob("*.jpg"))
    if not args.no_warm:
        log("Reading the photos once to warm the page cache ...")
        warm_page_cache(photo_paths)

    tmp_root = Path(tempfile.mkdtemp(prefix="photocull-bench-"))
    results: dict = {
        "benchmark": "scan_bench",
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": facts,
        "params": {"photos": args.photos, "rescan_files": args.rescan_files,
                   "workers": workers, "repeat": repeat, "data_dir": str(data_dir),
                   "page_cache_warmed": not args.no_warm},
        "dataset": {"photos": photos_info, "rescan": rescan_info},
        "targets": {"ratio_min": TARGET_RATIO, "peak_rss_max_bytes": TARGET_PEAK_MEM,
                    "rescan_wall_max_s": TARGET_RESCAN_S},
    }
    try:
        # 2. baseline and 3. photocull scan (fresh catalog each time),
        # alternated when --repeat > 1; keep the fastest run of each.
        base_runs: list[dict] = []
        scan_runs: list[dict] = []
        for r in range(repeat):
            sfx = f" [{r + 1}/{repeat}]" if repeat > 1 else ""
            if not args.no_baseline:
                base_runs.append(run_measured(
                    [sys.executable, str(Path(__file__).resolve()),
                     "--_baseline", str(set_dir), "--workers", str(workers)],
                    "baseline (naive pipeline)" + sfx))
            cat_dir = tmp_root / f"scan-{r}"
            cat_dir.mkdir()
            scan_runs.append(photocull_scan(pc, [set_dir], cat_dir / "catalog.db", workers,
                                            "photocull scan (fresh catalog)" + sfx))

        base = best_of(base_runs)
        if base is not None:
            if base["returncode"] != 0:
                failed = True
                warnings.append(f"baseline: exit code {base['returncode']}")
            else:
                base["photos_per_s"] = args.photos / base["wall_s"]
                bs = base.get("summary") or {}
                if bs.get("seconds"):
                    base["photos_per_s_excluding_startup"] = args.photos / bs["seconds"]
            results["baseline"] = base

        scan = best_of(scan_runs)
        if scan["returncode"] != 0:
            failed = True
        else:
            scan["photos_per_s"] = args.photos / scan["wall_s"]
        check_summary(scan, "photocull scan", args.photos, args.photos, 0, warnings)
        results["photocull_scan"] = scan

        ratio = None
        if base and base.get("photos_per_s") and scan.get("photos_per_s"):
            ratio = scan["photos_per_s"] / base["photos_per_s"]
        results["ratio"] = ratio

        # 4. re-scan of an unchanged tree
        if rescan_root is not None:
            cat_dir = tmp_root / "rescan"
            cat_dir.mkdir()
            catalog = cat_dir / "catalog.db"
            first = photocull_scan(pc, [rescan_root], catalog, workers,
                                   "photocull scan of the small-file tree (fills the catalog)")
            check_summary(first, "re-scan tree, first scan", args.rescan_files,
                          args.rescan_files, 0, warnings)
            second = None
            if first["returncode"] != 0:
                failed = True
            else:
                runs = []
                for r in range(repeat):
                    sfx = f" [{r + 1}/{repeat}]" if repeat > 1 else ""
                    runs.append(photocull_scan(pc, [rescan_root], catalog, workers,
                                               "photocull re-scan (unchanged tree, timed)" + sfx))
                    if runs[-1]["returncode"] != 0:
                        break
                second = best_of(runs)
                if second["returncode"] != 0:
                    failed = True
                check_summary(second, "re-scan", args.rescan_files, 0,
                              args.rescan_files, warnings)
            results["rescan_first"] = first
            results["rescan"] = second
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)

    # verdicts
    scan = results.get("photocull_scan") or {}
    rescan = results.get("rescan") or {}

    def under(v, limit):
        return None if v is None else v < limit

    scan_ok = scan.get("returncode") == 0
    verdicts = {
        "ratio": None if ratio is None else ratio >= TARGET_RATIO,
        "scan_peak_rss": under(scan.get("peak_rss_bytes"), TARGET_PEAK_MEM) if scan_ok else None,
        "rescan_wall": (under(rescan.get("wall_s"), TARGET_RESCAN_S)
                        if rescan and rescan.get("returncode") == 0 else None),
        "rescan_peak_rss": (under(rescan.get("peak_rss_bytes"), TARGET_PEAK_MEM)
                            if rescan and rescan.get("returncode") == 0 else None),
    }
    results["verdicts"] = verdicts
    results["warnings"] = warnings

    # table
    def json_s(res: dict) -> str:
        v = (res.get("summary") or {}).get("seconds")
        return f"JSON says {v:.2f} s" if isinstance(v, (int, float)) else "no JSON seconds"

    rows = []
    b = results.get("baseline")
    if b:
        bs = b.get("summary") or {}
        rows.append([
            "Baseline scan (naive)",
            f"{b['photos_per_s']:,.1f} photos/s" if b.get("photos_per_s") else "FAILED",
            fmt_s(b["wall_s"]), fmt_mb(b["peak_rss_bytes"]), "reference",
            "ok" if b["returncode"] == 0 else "FAILED"])
    if scan:
        rows.append([
            "photocull scan",
            f"{scan['photos_per_s']:,.1f} photos/s" if scan.get("photos_per_s") else "FAILED",
            fmt_s(scan["wall_s"]), fmt_mb(scan["peak_rss_bytes"]), "RSS < 1 GB",
            status(verdicts["scan_peak_rss"]) if scan_ok else "FAILED"])
    rows.append(["Speed-up photocull/baseline",
                 "n/a" if ratio is None else f"{ratio:.2f}x", "", "", f">= {TARGET_RATIO:g}x",
                 status(verdicts["ratio"])])
    if results.get("rescan_first"):
        f1 = results["rescan_first"]
        rows.append(["Re-scan tree, first scan", json_s(f1), fmt_s(f1["wall_s"]),
                     fmt_mb(f1["peak_rss_bytes"]), "(untimed)",
                     "ok" if f1["returncode"] == 0 else "FAILED"])
    if rescan:
        missed = [name for name, key in (("time", "rescan_wall"), ("memory", "rescan_peak_rss"))
                  if verdicts[key] is False]
        rows.append([
            "Re-scan, unchanged files", json_s(rescan),
            fmt_s(rescan["wall_s"]), fmt_mb(rescan["peak_rss_bytes"]),
            f"< {TARGET_RESCAN_S:g} s, RSS < 1 GB",
            "FAILED" if rescan.get("returncode") != 0
            else (f"MISSED ({', '.join(missed)})" if missed else "ok")])
    title = (f"photocull scan benchmark: {args.photos} photos of {WIDTH}x{HEIGHT} "
             f"(~{photos_info['mean_bytes'] / 1e6:.1f} MB), {workers} workers"
             + (f", best of {repeat} runs" if repeat > 1 else ""))
    caption = (f"{facts['cpu_count']} CPUs, Python {facts['python']}, Pillow {facts['pillow']}, "
               f"libjpeg-turbo {'yes' if facts['libjpeg_turbo'] else 'no'}. Baseline = full "
               f"Pillow decode + imagehash.phash + OpenCV Laplacian variance + SHA-256 "
               f"over a Pool of {workers}. Wall includes Python start-up; peak RSS is summed "
               f"over the process tree.")
    if rescan_info:
        caption += (f" Re-scan tree: {rescan_info['files']} files of "
                    f"{RESCAN_SIZE[0]}x{RESCAN_SIZE[1]} in {rescan_info['folders']} folders.")
    print_table(rows, title, caption)
    for w in warnings:
        print(f"warning: {w}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, results)
    print(f"results written to {args.out}")
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
