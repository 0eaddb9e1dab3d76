"""The protocol's metrics on toy rankings, against values computed by hand."""

import math

import numpy as np
import pytest

from goodsassoc.engine import metrics


def test_hit_rate():
    assert metrics.hit_rate([5, 3, 9], {9}, 3) == 1.0
    assert metrics.hit_rate([5, 3, 9], {9}, 2) == 0.0


def test_ndcg_single_relevant_at_rank_3():
    # DCG = 1/log2(4) = 0.5; ideal DCG over min(10, 1) item = 1
    assert metrics.ndcg([1, 2, 3], {3}, 10) == pytest.approx(0.5)


def test_ndcg_ideal_uses_min_k_relevant():
    # relevant {1, 4}: hits at ranks 1 and 3 -> 1 + 0.5; ideal = 1 + 1/log2(3)
    expected = 1.5 / (1 + 1 / math.log2(3))
    assert metrics.ndcg([1, 2, 4, 7], {1, 4}, 10) == pytest.approx(expected)
    # 12 relevant, k = 10: the ideal is over 10 items only, so a perfect list scores 1
    assert metrics.ndcg(list(range(10)), set(range(12)), 10) == pytest.approx(1.0)


def test_recall_and_mrr():
    assert metrics.recall([1, 2, 3, 4], {2, 4, 8, 9}, 2) == pytest.approx(0.25)
    assert metrics.recall([1, 2, 3, 4], {2, 4, 8, 9}, 20) == pytest.approx(0.5)
    assert metrics.mrr([7, 8, 9], {9}, 10) == pytest.approx(1 / 3)
    assert metrics.mrr([7, 8, 9], {1}, 10) == 0.0


def test_coverage():
    assert metrics.coverage([[0, 1], [1, 2]], 10, 10) == pytest.approx(0.3)


def test_top_k_excludes_and_breaks_ties_by_index():
    scores = np.array([[0.5, 0.9, 0.9, 0.1], [1.0, 0.0, 0.0, 0.0]])
    top = metrics.top_k(scores, 3, [np.array([1]), np.array([0])])
    assert top[0].tolist() == [2, 0, 3]
    assert top[1].tolist() == [1, 2, 3]
