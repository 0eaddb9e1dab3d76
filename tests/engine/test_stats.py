"""The attribute back-off of P(j | anchor), the cart's same-kind signal and the depth it reads, on hand-made tables."""

import numpy as np
import pandas as pd
import scipy.sparse as sp

from goodsassoc.engine.scoring import ServingTables, Weights, complete_cart, same_kind, top_per_row
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


def test_cart_completion_reads_the_head_of_each_items_neighbours():
    # Row 0: four neighbours, two tied (columns 1 and 3 at 0.5): the lower column ranks first, as
    # in the published rank. Row 1: fewer neighbours than the depth keeps them all.
    m = sp.csr_matrix(np.array([[0, 0.5, 0.9, 0.5, 0.1], [0.2, 0, 0, 0, 0], [0, 0, 0, 0, 0],
                                [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]], np.float32))
    top = top_per_row(m, 2)
    np.testing.assert_array_equal(top.toarray()[0], np.array([0, 0.5, 0.9, 0, 0], np.float32))
    np.testing.assert_array_equal(top.toarray()[1], m.toarray()[1])
    assert top.nnz == 3 and top_per_row(m, 10).nnz == m.nnz
    t = ServingTables(item_ids=np.array(list("abcde")), user_ids=np.array([]), shop_ids=np.array([]), neighbours=m,
                      item_baskets=np.ones(5), repeat=sp.csr_matrix((0, 5)), taste=sp.csr_matrix((0, 5)),
                      shop_affinity=np.zeros((0, 0), np.float32), shop_baskets=np.zeros(0),
                      item_recent=np.zeros(5, np.float32), weights=Weights(cart_pop=0.0))
    assert [key for key, *_ in complete_cart(t, ["a"], k=3, depth=2)] == ["c", "b", "d"]  # d: 0 from the cart
    assert [round(s, 2) for _, s, *_ in complete_cart(t, ["a"], k=3, depth=4)] == [0.9, 0.5, 0.5]
