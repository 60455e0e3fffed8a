"""Candidate pairs: each photo's nearest neighbours by embedding, never an n x n matrix.

Small libraries compare every embedding exactly, one block of rows at a time
(memory O(block x n)). Large ones project the 1280-d embeddings to
``PCA_DIMS`` dimensions (an SVD fitted on a sample) and search a usearch HNSW
graph: the 1280-d graph took 60-90 s to build for 100,000 photos here, the
64-d one a few seconds. Every candidate the graph returns is then scored
again with the exact cosine of the full vectors, so the thresholds downstream
see true cosines; only the recall is approximate (docs/grouping.md).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

PCA_DIMS = 64  # projected dimensions for the approximate index
PCA_SAMPLE = 20_000  # rows the projection is fitted on
_BLOCK = 1024  # rows per block of the exact search
# HNSW parameters: measured against exact search at 10,000 photos (bench/grouping_bench.py).
_CONNECTIVITY = 16
_EXPANSION_ADD = 48
_EXPANSION_SEARCH = 48

Progress = Callable[[str, int, int], None]


def candidate_pairs(vectors: np.ndarray, k: int, min_cosine: float, exact_below: int,
                    on_progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i < j) where j is among i's ``k`` nearest neighbours or i among j's, with cosine
    >= ``min_cosine``: arrays (i, j, cosine), sorted by (i, j). Rows of zeros (no embedding) take part in none."""
    rows = np.flatnonzero(np.any(vectors != 0, axis=1))
    if len(rows) < 2:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0, np.float32)
    x = np.ascontiguousarray(vectors[rows], dtype=np.float32)
    k = min(k, len(rows) - 1)
    if len(rows) < exact_below:
        neighbours = exact_neighbours(x, k, on_progress)
    else:
        neighbours = approximate_neighbours(x, k, on_progress)
    a = np.repeat(np.arange(len(rows)), neighbours.shape[1])
    b = neighbours.ravel()
    keep = (b >= 0) & (b != a)
    a, b = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
    pairs = np.unique(a.astype(np.int64) * len(rows) + b)
    a, b = pairs // len(rows), pairs % len(rows)
    cosine = _pair_cosines(x, a, b)
    keep = cosine >= min_cosine
    return rows[a[keep]], rows[b[keep]], cosine[keep]


def exact_neighbours(x: np.ndarray, k: int, on_progress: Progress | None = None) -> np.ndarray:
    """Each row's ``k`` nearest other rows by inner product, computed block by block: (n, k) indexes."""
    n = len(x)
    out = np.empty((n, k), np.int64)
    for start in range(0, n, _BLOCK):
        sims = x[start:start + _BLOCK] @ x.T
        block = np.arange(start, min(start + _BLOCK, n))
        sims[block - start, block] = -np.inf  # a photo is not its own neighbour
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < n else np.argsort(-sims, axis=1)[:, :k]
        out[block] = top
        if on_progress:
            on_progress("neighbours", min(start + _BLOCK, n), n)
    return out


def approximate_neighbours(x: np.ndarray, k: int, on_progress: Progress | None = None) -> np.ndarray:
    """Each row's ``k`` approximate nearest neighbours (PCA + usearch HNSW): (n, k) indexes, -1 where fewer found."""
    from usearch.index import Index

    projected = project(x, PCA_DIMS)
    index = Index(ndim=projected.shape[1], metric="ip", dtype="f32", connectivity=_CONNECTIVITY,
                  expansion_add=_EXPANSION_ADD, expansion_search=_EXPANSION_SEARCH)
    keys = np.arange(len(x), dtype=np.uint64)
    index.add(keys, projected, threads=0)
    if on_progress:
        on_progress("neighbours", len(x) // 2, len(x))
    matches = index.search(projected, k + 1, threads=0)  # +1: the photo itself comes back first
    found = matches.keys.astype(np.int64)
    found[np.arange(found.shape[1])[None, :] >= matches.counts[:, None]] = -1
    if on_progress:
        on_progress("neighbours", len(x), len(x))
    return found


def project(x: np.ndarray, dims: int, sample: int = PCA_SAMPLE, seed: int = 0) -> np.ndarray:
    """Rows projected on the top ``dims`` principal axes (fitted on a sample), then scaled to unit length."""
    if x.shape[1] <= dims:
        return x
    rng = np.random.default_rng(seed)
    fit = x[np.sort(rng.choice(len(x), min(sample, len(x)), replace=False))]
    mean = fit.mean(axis=0)
    _, _, vt = np.linalg.svd(fit - mean, full_matrices=False)
    projected = (x - mean) @ vt[:dims].T
    return np.ascontiguousarray(projected / np.maximum(np.linalg.norm(projected, axis=1, keepdims=True), 1e-12),
                                dtype=np.float32)


def _pair_cosines(x: np.ndarray, a: np.ndarray, b: np.ndarray, chunk: int = 65_536) -> np.ndarray:
    out = np.empty(len(a), np.float32)
    for start in range(0, len(a), chunk):
        s = slice(start, start + chunk)
        out[s] = np.einsum("ij,ij->i", x[a[s]], x[b[s]])
    return out
