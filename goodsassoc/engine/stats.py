"""Co-occurrence statistics backed off through item attributes (numpy / scipy only, no TensorFlow).

P(j | anchor) is smoothed toward P(j | the anchor's group) at each attribute level, coarse to fine
(e.g. category level 2, then product type / title), and the coarsest level toward recent popularity.
An item with little history so inherits the co-occurrences of its siblings: "bought with soups".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from goodsassoc.engine.scoring import lookup, row_top

# (attribute column, pseudo-baskets of the parent level's estimate), coarse to fine.
GROUP_LEVELS: tuple[tuple[str, float], ...] = (("category_2", 100.0), ("title", 300.0))
GROUP_TOP = 500  # co-occurring items kept per group (the rest back off to the parent level)
CART_GROUP_COLUMNS = ("title", "category_3")  # the first one that groups items at all marks "same kind"


@dataclass
class GroupLevel:
    """One attribute level: which group each item is in, and the group's co-occurrence counts."""

    column: str
    codes: np.ndarray  # per item, -1 = no value
    cooc: sp.csr_matrix  # groups x items: summed co-occurrence counts of the group's items
    baskets: np.ndarray  # per group: summed basket counts of its items
    smooth: float


def attribute_codes(items: pd.DataFrame, column: str) -> np.ndarray:
    """Integer code per item for ``column`` (-1 where missing or the column is absent)."""
    if column not in items.columns:
        return np.full(len(items), -1, np.int64)
    return pd.Categorical(items[column].astype(object)).codes.astype(np.int64)


def _membership(codes: np.ndarray) -> sp.csr_matrix:
    ok = codes >= 0
    n_groups = int(codes.max()) + 1 if ok.any() else 0
    return sp.csr_matrix((np.ones(ok.sum(), np.float32), (np.flatnonzero(ok), codes[ok])),
                         shape=(len(codes), n_groups))


def _keep_top(m: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Each row's ``k`` largest entries."""
    top = row_top(m, k)
    rows = np.repeat(np.arange(m.shape[0]), top.shape[1]).reshape(top.shape)
    ok = top >= 0
    vals = lookup(m, np.arange(m.shape[0]), top)
    return sp.csr_matrix((vals[ok], (rows[ok], top[ok])), shape=m.shape)


def group_levels(items: pd.DataFrame, cooc: sp.csr_matrix, counts: np.ndarray,
                 levels: tuple[tuple[str, float], ...] = GROUP_LEVELS) -> list[GroupLevel]:
    """The attribute levels present in ``items`` with their summed co-occurrence counts."""
    out = []
    for column, smooth in levels:
        codes = attribute_codes(items, column)
        if not (codes >= 0).any():
            continue
        m = _membership(codes)
        out.append(GroupLevel(column, codes, _keep_top((m.T @ cooc.astype(np.float32)).tocsr(), GROUP_TOP),
                              np.asarray(m.T @ counts.astype(np.float64)).ravel(), smooth))
    return out


def group_prior(anchors: np.ndarray, cand: np.ndarray, prior: np.ndarray, levels: list[GroupLevel]) -> np.ndarray:
    """P(candidate | anchor's group), backed off level by level down to ``prior`` (n, M) at the candidates."""
    p = prior.astype(np.float32)
    for lv in levels:
        code = lv.codes[anchors]
        safe = np.maximum(code, 0)
        est = (lookup(lv.cooc, safe, cand) + lv.smooth * p) / (lv.baskets[safe][:, None] + lv.smooth)
        p = np.where((code >= 0)[:, None], est, p).astype(np.float32)
    return p


def group_candidates(anchors: np.ndarray, levels: list[GroupLevel], k: int = 50) -> np.ndarray:
    """Top ``k`` items co-occurring with the anchor's finest group (-1 where the anchor has none)."""
    if not levels:
        return np.full((len(anchors), 0), -1, np.int64)
    lv = levels[-1]
    code = lv.codes[anchors]
    top = row_top(lv.cooc[np.maximum(code, 0)], k)
    top[code < 0] = -1
    return top


def cart_groups(items: pd.DataFrame) -> np.ndarray:
    """Per item the code of its kind (product type, else category level 3) for the cart's same-kind boost."""
    for column in CART_GROUP_COLUMNS:
        codes = attribute_codes(items, column)
        ok = codes >= 0
        if ok.any() and len(np.unique(codes[ok])) <= 0.5 * ok.sum():  # a column that groups items at all
            return codes
    return np.full(len(items), -1, np.int64)

