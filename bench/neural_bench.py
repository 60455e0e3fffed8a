#!/usr/bin/env python
"""Neural analysers benchmark: ONNX Runtime against PyTorch eager, and full-scan throughput.

Part 1, *inference*: photos/s of the two networks a default scan runs (NIMA for
the aesthetic score, EfficientNet-Lite0 for the embedding), both on each
photo, at batch sizes 1, 8 and 32, with

* photocull's converted ONNX models on ONNX Runtime (as the scan runs them), and
* the same networks as PyTorch eager modules (``bench/reference_models.py``:
  a torch MobileNet for NIMA, the ``efficientnet_lite_pytorch`` model),

on the same real inputs (corpus photos at 224 x 224) with the same thread
count, side by side in one run, reported as a ratio. With ``--providers``
(e.g. ``CUDAExecutionProvider`` on a GPU machine) ONNX Runtime runs there too.

Part 2, *scan*: ``photocull scan`` photos/s and peak memory (process tree) on the benchmark's 12-megapixel
JPEGs (made by ``bench/scan_bench.py``) with the foundation analysers only and
with the default set (foundation + NIMA + embedding), for a few splits of the
cores between decoding workers and inference threads, the automatic one first.

Dev-only: needs torch (``pip install torch==2.13.0``), keras and
``efficientnet_lite_pytorch`` besides photocull. Prints a table and writes
JSON (``bench/results/neural_bench.json``). See docs/benchmarks.md.

Usage::

    python bench/neural_bench.py [--photos 300] [--threads N] [--providers P ...] [--skip-scan]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import reference_models as ref  # noqa: E402  (sets KERAS_BACKEND)
import scan_bench  # noqa: E402

from photocull.config import Settings  # noqa: E402
from photocull.ingest.decode import decode  # noqa: E402
from photocull.models import store  # noqa: E402
from photocull.models.preprocess import model_input  # noqa: E402
from photocull.models.runtime import InferenceRuntime, thread_budget  # noqa: E402

BATCHES = (1, 8, 32)
SCAN_TARGET = 15.0  # photos/s, full scan on 12 MP JPEGs, 2 cores
RATIO_TARGET = 1.5  # ONNX Runtime vs PyTorch eager on CPU


def corpus_inputs(corpus: Path, count: int) -> np.ndarray:
    """``count`` real 224 x 224 inputs, made as the scan makes them (cycled over the corpus)."""
    files = sorted((corpus / "scenes").iterdir()) + sorted((corpus / "dedup" / "base_images").iterdir())
    settings = Settings()
    made = [model_input(decode(f.read_bytes(), f, settings.ingest).rgb) for f in files]
    return np.stack([made[i % len(made)] for i in range(count)])


def rate(run, inputs: np.ndarray, batch: int, seconds: float) -> float:
    """Photos/s of ``run`` over batches of ``inputs``, repeated for at least ``seconds`` after a warm-up."""
    run(inputs[:batch])
    done, started = 0, time.perf_counter()
    while True:
        for start in range(0, len(inputs) - batch + 1, batch):
            run(inputs[start:start + batch])
            done += batch
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return done / elapsed


def inference_part(inputs: np.ndarray, threads: int, providers: list[str], seconds: float) -> list[dict]:
    import torch

    settings = Settings(models={"providers": tuple(providers)})
    for name in ("nima", "efficientnet-lite0"):
        store.fetch(name, settings)
    runtime = InferenceRuntime(settings, threads)
    nima_onnx = runtime.session(store.model_path("nima", settings))
    effnet_onnx = runtime.session(store.model_path("efficientnet-lite0", settings))
    sources = store.cache_dir(settings) / "sources"
    nima_torch = ref.nima_torch(sources / "weights_aisthetics.hdf5").eval()
    effnet_torch = ref.efficientnet_lite0_torch(sources / "efficientnet-lite0-57934424.pth").eval()
    torch.set_num_threads(threads)

    def onnx_both(batch: np.ndarray) -> None:
        nima_onnx.run(["scores"], {"image": batch})
        effnet_onnx.run(["embedding", "probabilities"], {"image": batch})

    def torch_both(batch: np.ndarray) -> None:
        ref.run_torch(nima_torch, batch)
        ref.run_torch(effnet_torch, batch)

    rows = []
    for batch in BATCHES:
        ours = rate(onnx_both, inputs, batch, seconds)
        eager = rate(torch_both, inputs, batch, seconds)
        rows.append({"batch": batch, "onnxruntime": ours, "torch_eager": eager, "ratio": ours / eager,
                     "provider": runtime.providers[0], "threads": threads})
        scan_bench.log(f"batch {batch:2}: ONNX Runtime {ours:6.1f}/s, PyTorch eager {eager:6.1f}/s, "
                       f"x{ours / eager:.2f}")
    return rows


def scan_part(photos: int, data_dir: Path, corpus: Path) -> list[dict]:
    cores = os.cpu_count() or 1
    folder, _ = scan_bench.ensure_photos(data_dir, corpus, photos, cores)
    scan_bench.warm_page_cache(sorted(folder.iterdir()))
    auto_workers, auto_threads = thread_budget(Settings(), neural=True)
    splits = [(auto_workers, auto_threads)] + [
        s for s in ((cores, 1), (max(1, cores - 1), 1), (cores, cores)) if s != (auto_workers, auto_threads)]
    runs = [("foundation", "technical,fingerprints", cores, 0)]
    runs += [("default", "technical,fingerprints,aesthetic,embedding", w, t) for w, t in splits]
    command = scan_bench.photocull_cmd(None)
    rows = []
    for label, analysers, workers, threads in runs:
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "PHOTOCULL_SCAN__ANALYSERS": analysers,
                   "PHOTOCULL_MODELS__INFERENCE_THREADS": str(threads)}
            result = scan_bench.run_measured(
                command + ["scan", str(folder), "--catalog", str(Path(tmp) / "c.db"), "--workers", str(workers),
                           "--json"], f"scan {label}", cwd=tmp, env=env)
        if result["returncode"] != 0:
            sys.exit("photocull scan failed")
        photos = result["summary"]["analysed"]
        row = {"analysers": label, "workers": workers, "inference_threads": threads, "photos": photos,
               "seconds": result["wall_s"], "photos_per_s": photos / result["wall_s"],
               "peak_rss_mb": result["peak_rss_bytes"] / 2**20}
        rows.append(row)
        scan_bench.log(f"scan {label:10} workers {workers} threads {threads}: {row['photos_per_s']:.1f} photos/s, "
                       f"peak {row['peak_rss_mb']:.0f} MB")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=300, help="12 MP JPEGs in the scan part")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads for both runtimes")
    parser.add_argument("--providers", nargs="*", default=[], help="ONNX Runtime providers (default: CPU)")
    parser.add_argument("--seconds", type=float, default=5.0, help="least time per inference measurement")
    parser.add_argument("--skip-scan", action="store_true")
    parser.add_argument("--data-dir", type=Path, default=scan_bench.DEFAULT_DATA_DIR)
    parser.add_argument("--corpus", type=Path, default=scan_bench.DEFAULT_CORPUS)
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results" / "neural_bench.json")
    args = parser.parse_args()

    inputs = corpus_inputs(args.corpus, 64)
    inference = inference_part(inputs, args.threads, args.providers, args.seconds)
    scans = [] if args.skip_scan else scan_part(args.photos, args.data_dir, args.corpus)

    print(f"\nInference, NIMA + EfficientNet-Lite0 per photo, {args.threads} threads, {inference[0]['provider']}")
    print(f"{'batch':>5} {'ONNX Runtime/s':>15} {'PyTorch eager/s':>16} {'ratio':>7}  target x{RATIO_TARGET}")
    for row in inference:
        verdict = "met" if row["ratio"] >= RATIO_TARGET else "MISSED"
        print(f"{row['batch']:>5} {row['onnxruntime']:>15.1f} {row['torch_eager']:>16.1f} "
              f"{row['ratio']:>6.2f}x  {verdict}")
    if scans:
        base = scans[0]["photos_per_s"]
        print(f"\nScan of {args.photos} 12 MP JPEGs (photocull scan, fresh catalog)")
        print(f"{'analysers':>10} {'workers':>7} {'threads':>7} {'photos/s':>9} {'vs foundation':>14} "
              f"{'peak RSS':>9}  target {SCAN_TARGET}/s")
        for row in scans:
            verdict = "" if row["analysers"] == "foundation" else (
                "met" if row["photos_per_s"] >= SCAN_TARGET else "MISSED")
            print(f"{row['analysers']:>10} {row['workers']:>7} {row['inference_threads']:>7} "
                  f"{row['photos_per_s']:>9.1f} {row['photos_per_s'] / base:>13.2f}x "
                  f"{row['peak_rss_mb']:>6.0f} MB  {verdict}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version()},
        "targets": {"scan_photos_per_s": SCAN_TARGET, "onnx_vs_torch": RATIO_TARGET},
        "inference": inference, "scan": scans,
    }, indent=2))
    print(f"\nJSON: {args.out}")


if __name__ == "__main__":
    main()
