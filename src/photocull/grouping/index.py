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
PCA_SAMPLE = 10_000  # rows the projection is fitted on
_BLOCK = 1024  # rows per block of the exact search
# HNSW parameters, measured against exact search at 10,000 photos (docs/grouping.md): the
# 64-d projection ranks neighbours roughly, so the graph is asked for twice the neighbours
# and the exact cosines decide (recall of pairs above verify_cosine: 0.90 with k, 0.97 with 2k).
_CONNECTIVITY = 16
_EXPANSION_ADD = 64
_EXPANSION_SEARCH = 64
_OVERSAMPLE = 2

Progress = Callable[[str, int, int], None]


def candidate_pairs(vectors: np.ndarray, k: int, min_cosine: float, exact_below: int,
                    on_progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i < j) where j is among i's ``k`` nearest neighbours or i among j's (approximate search: among
    2k candidates), with cosine >= ``min_cosine``: arrays (i, j, exact cosine), sorted by (i, j).
    Rows of zeros (no embedding) take part in none."""
    rows = np.flatnonzero(np.any(vectors != 0, axis=1))
    if len(rows) < 2:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0, np.float32)
    x = np.ascontiguousarray(vectors[rows], dtype=np.float32)
    k = min(k, len(rows) - 1)
    if len(rows) < exact_below:
        neighbours, cosines = exact_neighbours(x, k, on_progress)
    else:
        neighbours = approximate_neighbours(x, k, on_progress)
        cosines = _row_cosines(x, neighbours)
    a = np.repeat(np.arange(len(rows)), neighbours.shape[1])
    b, cosine = neighbours.ravel(), cosines.ravel()
    keep = (b >= 0) & (b != a) & (cosine >= min_cosine)
    a, b, cosine = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep]), cosine[keep]
    pairs, first = np.unique(a * len(rows) + b, return_index=True)
    return rows[pairs // len(rows)], rows[pairs % len(rows)], cosine[first]


def exact_neighbours(x: np.ndarray, k: int, on_progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest other rows by inner product, computed block by block: (n, k) indexes and
    their cosines."""
    n = len(x)
    out = np.empty((n, k), np.int64)
    cosines = np.empty((n, k), np.float32)
    for start in range(0, n, _BLOCK):
        sims = x[start:start + _BLOCK] @ x.T
        block = np.arange(start, min(start + _BLOCK, n))
        sims[block - start, block] = -np.inf  # a photo is not its own neighbour
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < n else np.argsort(-sims, axis=1)[:, :k]
        out[block] = top
        cosines[block] = np.take_along_axis(sims, top, axis=1)
        if on_progress:
            on_progress("neighbours", min(start + _BLOCK, n), n)
    return out, cosines


def approximate_neighbours(x: np.ndarray, k: int, on_progress: Progress | None = None) -> np.ndarray:
    """Each row's ``_OVERSAMPLE * k`` approximate nearest neighbours (PCA + usearch HNSW): indexes, -1 where
    fewer were found."""
    from usearch.index import Index

    projected = project(x, PCA_DIMS)
    index = Index(ndim=projected.shape[1], metric="ip", dtype="f32", connectivity=_CONNECTIVITY,
                  expansion_add=_EXPANSION_ADD, expansion_search=_EXPANSION_SEARCH)
    keys = np.arange(len(x), dtype=np.uint64)
    index.add(keys, projected, threads=1)  # one thread: the graph, and so the groups, are the same every run
    if on_progress:
        on_progress("neighbours", len(x) // 2, len(x))
    matches = index.search(projected, _OVERSAMPLE * k + 1, threads=0)  # +1: the photo itself comes back too
    found = matches.keys.astype(np.int64)
    found[np.arange(found.shape[1])[None, :] >= matches.counts[:, None]] = -1
    if on_progress:
        on_progress("neighbours", len(x), len(x))
    return found


def project(x: np.ndarray, dims: int, sample: int = PCA_SAMPLE, seed: int = 0) -> np.ndarray:
    """Rows projected on the top ``dims`` principal axes of a sample, then scaled to unit length.

    The axes come from a randomised subspace iteration on the sample (a few products
    with a 1280 x 80 block): a full SVD of 10,000 rows took 23 s here, eigh of the
    covariance 3.6 s, this about 0.3 s. Only 80 x 80 problems go to LAPACK: OpenBLAS's
    threaded QR of the 1280 x 80 block took 2 s on a busy 2-core machine (15 ms on one thread)."""
    if x.shape[1] <= dims:
        return x
    rng = np.random.default_rng(seed)
    fit = x[np.sort(rng.choice(len(x), min(sample, len(x)), replace=False))]
    mean = fit.mean(axis=0)
    centred = fit - mean
    basis = rng.standard_normal((x.shape[1], dims + 16)).astype(np.float32)
    for _ in range(4):
        basis = _orthonormal(centred.T @ (centred @ basis))
    reduced = centred @ basis
    _, axes = np.linalg.eigh((reduced.T @ reduced).astype(np.float64))
    top = (basis @ axes[:, ::-1][:, :dims]).astype(np.float32)
    projected = x @ top - mean @ top
    return np.ascontiguousarray(projected / np.maximum(np.linalg.norm(projected, axis=1, keepdims=True), 1e-12),
                                dtype=np.float32)


def _orthonormal(block: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the block's columns, through the eigenvectors of its small Gram matrix."""
    values, vectors = np.linalg.eigh((block.T @ block).astype(np.float64))
    keep = values > values.max() * 1e-10
    return (block @ (vectors[:, keep] / np.sqrt(values[keep]))).astype(np.float32)


def _row_cosines(x: np.ndarray, neighbours: np.ndarray, chunk: int = 512) -> np.ndarray:
    """Exact cosine of each row with each of its neighbours (-1 where there is none), a chunk of rows at a
    time: gathering the neighbours' full vectors is what costs."""
    out = np.empty(neighbours.shape, np.float32)
    for start in range(0, len(x), chunk):
        s = slice(start, start + chunk)
        out[s] = np.matmul(x[np.maximum(neighbours[s], 0)], x[s, :, None])[..., 0]
    out[neighbours < 0] = -1.0
    return out


def pair_cosines(x: np.ndarray, a: np.ndarray, b: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """Cosines of the pairs (a[i], b[i]) of unit rows of ``x``, a chunk at a time."""
    out = np.empty(len(a), np.float32)
    for start in range(0, len(a), chunk):
        s = slice(start, start + chunk)
        out[s] = np.einsum("ij,ij->i", x[a[s]], x[b[s]])
    return out
