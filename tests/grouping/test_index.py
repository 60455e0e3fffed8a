"""The neighbour index: the approximate search finds what the exact one does, the same way every run."""

from __future__ import annotations

import numpy as np

from photocull.grouping.index import candidate_pairs


def clustered(n: int = 3000, d: int = 1280, seed: int = 0) -> np.ndarray:
    """Non-negative unit vectors in clusters of 1-6 (like shots of one scene), clusters far apart."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 7, n)
    centres = np.abs(rng.normal(size=(len(sizes), d))) ** 3
    rows = np.repeat(centres, sizes, axis=0)[:n] * rng.lognormal(0, 0.3, (n, d))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def pairs(x: np.ndarray, exact_below: int) -> set[tuple[int, int]]:
    a, b, cosine = candidate_pairs(x, 8, 0.6, exact_below)
    assert np.all(cosine >= 0.6) and np.all(a < b)
    assert np.allclose(cosine, np.einsum("ij,ij->i", x[a], x[b]), atol=1e-5)  # exact cosines, whatever the search
    return set(zip(a.tolist(), b.tolist()))


def test_approximate_pairs_match_exact_and_repeat() -> None:
    x = clustered()
    exact = pairs(x, exact_below=10**9)
    approximate = pairs(x, exact_below=0)
    assert len(exact & approximate) / len(exact) >= 0.97
    assert pairs(x, exact_below=0) == approximate  # the graph is built on one thread: same pairs every run


def test_rows_without_embedding_have_no_pairs() -> None:
    x = clustered(200)
    x[:50] = 0
    a, b, _ = candidate_pairs(x, 8, 0.0, 10**9)
    assert len(a) and a.min() >= 50 and b.min() >= 50


def test_empty_library_and_library_without_embeddings() -> None:
    from photocull.config import GroupingSettings
    from photocull.grouping.build import find_groups
    from photocull.grouping.groups import GroupingInput, PhotoItem

    def item(name: str, content: str) -> PhotoItem:
        return PhotoItem(name, f"/x/{name}", content, 1, "JPEG", 1, 1, None, None, None, None, None, None, None,
                         None, None, None, None, False)

    assert find_groups(GroupingInput([], np.zeros((0, 0), np.float32)), GroupingSettings()) == []
    groups = find_groups(GroupingInput([item("a.jpg", "h"), item("b.jpg", "h"), item("c.jpg", "g")],
                                       np.zeros((3, 0), np.float32)), GroupingSettings())
    assert [(g.kind, g.members) for g in groups] == [("duplicates", [0, 1])]
