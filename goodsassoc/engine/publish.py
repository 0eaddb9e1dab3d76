"""Plain tables a host publishes (e.g. into PostgreSQL) from a fitted recommender or a loaded artifact.

No TensorFlow: these read the serving tables only. Column meanings are documented in ``docs/engine.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from goodsassoc.engine.scoring import (
    BOUGHT_TOGETHER,
    MIN_TOGETHER,
    POPULAR,
    SHOP_POPULAR,
    SHOP_SIMILAR,
    SHOP_USED,
    SIMILAR_ITEM,
    ServingTables,
)

MIN_BRANDS = 5  # a catalogue of BRAND_CHECK_ITEMS or more items with fewer distinct brands has labels
BRAND_CHECK_ITEMS = 50  # smaller catalogues keep whatever brands they have


def telling_brands(brand: pd.Series) -> np.ndarray:
    """Per item its brand where "same brand" tells a shopper something, else "" for all: a column
    with a handful of values over a large catalogue (Complete Journey's "National" / "Private")
    classes products rather than naming brands, and would make "same brand" half of every list."""
    b = brand.astype("string").fillna("")
    if len(b) >= BRAND_CHECK_ITEMS and b[b != ""].nunique() < MIN_BRANDS:
        b = pd.Series("", index=b.index, dtype="string")
    return b.to_numpy(dtype=object)


def neighbours_frame(t: ServingTables, evidence: dict[str, np.ndarray], items: pd.DataFrame) -> pd.DataFrame:
    """Per item its top-K related items: item_id, neighbour_id, rank, score, reason, evidence (dict)."""
    m = t.neighbours.tocsr()
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    cols, score = m.indices, m.data
    df = pd.DataFrame({"r": rows, "c": cols, "score": score, "together": evidence["baskets_together"],
                       "similarity": evidence["similarity"]})
    df = df.sort_values(["r", "score", "c"], ascending=[True, False, True], kind="stable")
    df["rank"] = df.groupby("r").cumcount() + 1
    cat = items["category_3"].astype("string").fillna("").to_numpy(dtype=object)
    brand = telling_brands(items["brand"])
    r, c = df["r"].to_numpy(), df["c"].to_numpy()
    same_cat = (cat[r] != "") & (cat[r] == cat[c])
    same_brand = (brand[r] != "") & (brand[r] == brand[c])
    together = df["together"].to_numpy().astype(np.int64)
    sim = df["similarity"].to_numpy()
    reason = np.where(together >= MIN_TOGETHER, BOUGHT_TOGETHER,
                      np.where(same_cat | same_brand | (sim >= 0.5), SIMILAR_ITEM, POPULAR))
    baskets = t.item_baskets[c]
    evid = []
    for code, tg, sc, sb, s, b in zip(reason, together, same_cat, same_brand, sim, baskets, strict=True):
        if code == BOUGHT_TOGETHER:
            evid.append({"baskets_together": int(tg), "text": f"bought together {int(tg)} times"})
        elif code == SIMILAR_ITEM:
            what = " and ".join(x for x, f in (("category", sc), ("brand", sb)) if f)
            evid.append({"same_category": bool(sc), "same_brand": bool(sb), "similarity": round(float(s), 3),
                         "text": f"same {what}" if what else "similar product"})
        else:
            evid.append({"baskets": int(b), "text": f"popular: in {int(b)} baskets"})
    return pd.DataFrame({"item_id": t.item_ids[r].astype(str), "neighbour_id": t.item_ids[c].astype(str),
                         "rank": df["rank"].to_numpy(), "score": df["score"].to_numpy(np.float32),
                         "reason": reason, "evidence": evid})


def _csr_frame(m: sp.csr_matrix, row_ids: np.ndarray, col_ids: np.ndarray, names: tuple[str, str, str]) -> pd.DataFrame:
    m = m.tocsr()
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    return pd.DataFrame({names[0]: row_ids[rows].astype(str), names[1]: col_ids[m.indices].astype(str),
                         names[2]: m.data.astype(np.float32)})


def repeat_frame(t: ServingTables) -> pd.DataFrame:
    """Per shopper the items they buy again: user_id, item_id, share (of their baskets), recency (0..1)."""
    frame = _csr_frame(t.repeat, t.user_ids, t.item_ids, ("user_id", "item_id", "share"))
    rec = t.repeat_recent.tocsr()
    frame["recency"] = rec.data.astype(np.float32) if rec.nnz == len(frame) else 0.0
    return frame


def taste_frame(t: ServingTables) -> pd.DataFrame:
    """Per shopper the items closest to their history in the TF space: user_id, item_id, affinity."""
    return _csr_frame(t.taste, t.user_ids, t.item_ids, ("user_id", "item_id", "affinity"))


def item_popularity_frame(t: ServingTables) -> pd.DataFrame:
    """item_id, baskets, pop_score (log scale), recent (recency-weighted basket share, used by the cart)."""
    return pd.DataFrame({"item_id": t.item_ids.astype(str), "baskets": t.item_baskets, "pop_score": t.pop_score,
                         "recent": t.item_recent})


def shop_affinity_frame(t: ServingTables, k: int = 10) -> pd.DataFrame:
    """Per shopper the top-``k`` shops, new ones included: user_id, shop_id, rank, score, reason, evidence."""
    k = min(k, len(t.shop_ids))
    if k == 0:  # a shop without shops
        return pd.DataFrame({name: pd.Series(dtype=object) for name in
                             ("user_id", "shop_id", "rank", "score", "reason", "new_to_user", "evidence")})
    top = np.argsort(-t.shop_affinity, axis=1, kind="stable")[:, :k]
    u = np.repeat(np.arange(len(t.user_ids)), k)
    s = top.ravel()
    used = np.asarray(t.shop_used[u, s]).ravel() if t.shop_used is not None else np.zeros(len(u))
    reason = np.where(used > 0, SHOP_USED, SHOP_SIMILAR)
    evid = [{"your_baskets": int(n), "text": f"you shopped here {int(n)} times"} if n > 0
            else {"text": "shoppers who use your shops also shop here"} for n in used]
    return pd.DataFrame({"user_id": t.user_ids[u].astype(str), "shop_id": t.shop_ids[s].astype(str),
                         "rank": np.tile(np.arange(1, k + 1), len(t.user_ids)),
                         "score": t.shop_affinity[u, s].astype(np.float32), "reason": reason,
                         "new_to_user": used == 0, "evidence": evid})


def popular_shops_frame(t: ServingTables) -> pd.DataFrame:
    """Shops for unknown shoppers: shop_id, rank, baskets, reason."""
    order = np.argsort(-t.shop_baskets, kind="stable")
    return pd.DataFrame({"shop_id": t.shop_ids[order].astype(str), "rank": np.arange(1, len(order) + 1),
                         "baskets": t.shop_baskets[order], "reason": SHOP_POPULAR})
