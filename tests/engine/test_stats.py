"""The attribute back-off of P(j | anchor) and the cart's same-kind signal, on hand-made tables."""

import numpy as np
import pandas as pd
import scipy.sparse as sp

from goodsassoc.engine.scoring import same_kind
from goodsassoc.engine.stats import cart_groups, group_candidates, group_levels, group_prior


def _items() -> pd.DataFrame:
    return pd.DataFrame({"item_id": list("abcd"), "category_2": ["x", "x", "y", None],
                         "title": ["soup", "soup", "bread", None]})


def test_rare_item_inherits_its_groups_cooccurrences():
    # a and b are soups; b co-occurred with c 4 times, a has no history at all.
    cooc = sp.csr_matrix(np.array([[0, 0, 0, 0], [0, 0, 4, 0], [0, 4, 0, 0], [0, 0, 0, 0]], np.float32))
    counts = np.array([0.0, 5.0, 6.0, 1.0])
    levels = group_levels(_items(), cooc, counts)
    assert [lv.column for lv in levels] == ["category_2", "title"]
    prior = np.full((1, 4), 0.25, np.float32)
    cand = np.array([[1, 2, 3, -1]])
    p = group_prior(np.array([0]), cand, prior[:, :4], levels)
    assert p[0, 1] > 0.25 > p[0, 2]  # item c (column 1) is boosted through the soup group, item d (column 2) is not
    assert group_candidates(np.array([0, 3]), levels, 2)[0, 0] == 2  # the soups' partner first
    assert (group_candidates(np.array([3]), levels, 2) == -1).all()  # no title: no group candidates


def test_same_kind_marks_items_of_a_kind_in_the_cart():
    kinds = cart_groups(pd.DataFrame({"title": ["soup", "soup", "bread", "bread", None]}))
    carts = sp.csr_matrix(np.array([[1, 0, 0, 0, 0], [0, 0, 0, 0, 1]], np.float32))
    same = same_kind(carts, kinds)
    assert same[0].tolist() == [1, 1, 0, 0, 0]
    assert same[1].sum() == 0
