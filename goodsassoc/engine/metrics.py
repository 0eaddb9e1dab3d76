"""Ranking metrics of the evaluation protocol (binary relevance, ranking against the full catalogue)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

_DISCOUNT = 1.0 / np.log2(np.arange(2, 1002))


def hit_rate(ranked: Sequence[int], relevant: Iterable[int], k: int) -> float:
    """1 if any relevant item is in the top ``k``."""
    rel = set(relevant)
    return float(any(r in rel for r in ranked[:k]))


def ndcg(ranked: Sequence[int], relevant: Iterable[int], k: int) -> float:
    """Binary NDCG@k; the ideal DCG is over min(k, |relevant|) items."""
    rel = set(relevant)
    if not rel:
        return 0.0
    dcg = sum(_DISCOUNT[pos] for pos, r in enumerate(ranked[:k]) if r in rel)
    ideal = _DISCOUNT[: min(k, len(rel))].sum()
    return float(dcg / ideal)


def mean_ndcg(tops: Sequence[Sequence[int]], relevant: Sequence[Iterable[int]], k: int = 10) -> float:
    """NDCG@k averaged over queries (0 for none)."""
    return float(np.mean([ndcg(t, r, k) for t, r in zip(tops, relevant, strict=True)])) if len(relevant) else 0.0


def recall(ranked: Sequence[int], relevant: Iterable[int], k: int) -> float:
    """Hits in the top ``k`` over |relevant|."""
    rel = set(relevant)
    if not rel:
        return 0.0
    return sum(1 for r in ranked[:k] if r in rel) / len(rel)


def mrr(ranked: Sequence[int], relevant: Iterable[int], k: int) -> float:
    """Reciprocal rank of the first relevant item within the top ``k`` (0 if none)."""
    rel = set(relevant)
    for pos, r in enumerate(ranked[:k]):
        if r in rel:
            return 1.0 / (pos + 1)
    return 0.0


def coverage(top_lists: Iterable[Sequence[int]], n_items: int, k: int = 10) -> float:
    """Share of catalogue items that appear in at least one top-``k`` list."""
    seen: set[int] = set()
    for ranked in top_lists:
        seen.update(int(r) for r in ranked[:k])
    return len(seen) / n_items if n_items else 0.0


def top_k(scores: np.ndarray, k: int, exclude: list[np.ndarray] | None = None) -> np.ndarray:
    """Row-wise indices of the ``k`` best scores, best first; ``exclude[r]`` indices never appear.

    Ties are broken by the lower index so that rankings are deterministic.
    """
    scores = np.array(scores, dtype=np.float64, copy=True)
    if exclude is not None:
        for r, ex in enumerate(exclude):
            if len(ex):
                scores[r, ex] = -np.inf
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    rows = np.arange(scores.shape[0])[:, None]
    vals = scores[rows, part]
    order = np.lexsort((part, -vals), axis=1)
    return part[rows, order]
