"""The evaluation protocol (``eval-protocol.md``): build the RELATED / CART / SHOPS queries and score models.

Ranking is always against the full training catalogue, with fixed seeds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from goodsassoc.engine import metrics
from goodsassoc.engine.data import Split, TrainData

MAX_ANCHORS = 20_000
RARE_BASKETS = 2


@dataclass
class Queries:
    """All test queries of one split, in training indices."""

    anchors: np.ndarray
    anchor_relevant: list[np.ndarray]
    cold_anchors: np.ndarray
    cold_relevant: list[np.ndarray]
    carts: sp.csr_matrix
    cart_hidden: np.ndarray
    cart_users: np.ndarray
    shop_users: np.ndarray
    shop_relevant: list[np.ndarray]
    shop_known: list[np.ndarray]
    shop_new: list[np.ndarray]
    stats: dict = field(default_factory=dict)


def _sample(n: int, limit: int | None, rng: np.random.Generator) -> np.ndarray:
    if limit is None or n <= limit:
        return np.arange(n)
    return np.sort(rng.choice(n, size=limit, replace=False))


def build_queries(
    split: Split, data: TrainData, seed: int = 0, max_anchors: int | None = MAX_ANCHORS, max_carts: int | None = None
) -> Queries:
    """Turn the test lines of ``split`` into the protocol's queries against ``data``'s catalogue."""
    rng = np.random.default_rng(seed)
    test = split.test
    item_pos = pd.Series(np.arange(data.n_items), index=pd.Index(data.item_ids.astype(str)))
    idx = item_pos.reindex(test["item_id"].astype(str).to_numpy()).to_numpy()
    seen = ~np.isnan(idx)
    lines = pd.DataFrame({"basket_id": test["basket_id"].to_numpy()[seen], "i": idx[seen].astype(np.int64)})
    lines = lines.drop_duplicates()
    first = test.groupby("basket_id", sort=False).agg(ts=("ts", "min"), user_id=("user_id", "first"))
    groups = lines.groupby("basket_id", sort=True)["i"].apply(lambda s: np.sort(s.to_numpy()))
    groups = groups[groups.map(len) >= 2]
    # Baskets in time order, then id, so that the seeded choices do not depend on the input order.
    order = first.reindex(groups.index).reset_index().sort_values(["ts", "basket_id"]).index.to_numpy()
    groups = groups.iloc[order]
    user_pos = pd.Series(np.arange(data.n_users), index=pd.Index(data.user_ids.astype(str)))
    b_user = user_pos.reindex(first.loc[groups.index, "user_id"].astype(str).to_numpy()).fillna(-1).to_numpy(np.int64)

    anchors, relevant = [], []
    for items in groups:
        for a in items:
            anchors.append(a)
            relevant.append(items[items != a])
    anchors_arr = np.asarray(anchors, dtype=np.int64)
    pick = _sample(len(anchors_arr), max_anchors, rng)
    pop = data.item_popularity
    rare = np.flatnonzero(pop[anchors_arr] <= RARE_BASKETS)
    rare = rare[_sample(len(rare), max_anchors, rng)]

    hidden, rows, cols = [], [], []
    for b, items in enumerate(groups):
        h = items[rng.integers(len(items))]
        hidden.append(h)
        rest = items[items != h]
        rows.extend([b] * len(rest))
        cols.extend(rest.tolist())
    carts = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(groups), data.n_items))
    cart_pick = _sample(len(groups), max_carts, rng)

    # SHOPS: every test line counts; relevant = test shops seen in train.
    shop_pos = pd.Series(np.arange(data.n_shops), index=pd.Index(data.shop_ids.astype(str)))
    t = test.dropna(subset=["user_id", "shop_id"])
    s_idx = shop_pos.reindex(t["shop_id"].astype(str).to_numpy()).to_numpy()
    t = pd.DataFrame({"user_id": t["user_id"].astype(str).to_numpy(), "s": s_idx})
    t = t.dropna().drop_duplicates()
    shop_users, shop_rel, shop_known, shop_new = [], [], [], []
    for uid, grp in t.groupby("user_id", sort=True):
        rel = np.sort(grp["s"].to_numpy(np.int64))
        u = int(user_pos.get(uid, -1))
        used = data.user_shops[u].indices if u >= 0 else np.zeros(0, np.int64)
        shop_users.append(u)
        shop_rel.append(rel)
        shop_known.append(rel[np.isin(rel, used)])
        shop_new.append(rel[~np.isin(rel, used)])

    stats = {
        "test lines": len(test),
        "test lines dropped (item unseen in train)": f"{1 - seen.mean():.1%}",
        "test baskets (>= 2 items)": len(groups),
        "RELATED anchors": f"{len(pick)} of {len(anchors_arr)}",
        f"RELATED rare anchors (<= {RARE_BASKETS} train baskets)": len(rare),
        "CART baskets": len(cart_pick),
        "SHOPS users": len(shop_users),
    }
    return Queries(
        anchors=anchors_arr[pick],
        anchor_relevant=[relevant[i] for i in pick],
        cold_anchors=anchors_arr[rare],
        cold_relevant=[relevant[i] for i in rare],
        carts=carts[cart_pick],
        cart_hidden=np.asarray(hidden, dtype=np.int64)[cart_pick],
        cart_users=b_user[cart_pick],
        shop_users=np.asarray(shop_users, dtype=np.int64),
        shop_relevant=shop_rel,
        shop_known=shop_known,
        shop_new=shop_new,
        stats=stats,
    )


def _median_ms(fn, args_list) -> float:
    times = []
    for args in args_list:
        t0 = time.perf_counter()
        fn(*args)
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times)) if times else float("nan")


def _ranked_related(model, anchors: np.ndarray, k: int, batch: int) -> np.ndarray:
    out = []
    for s in range(0, len(anchors), batch):
        a = anchors[s : s + batch]
        out.append(metrics.top_k(model.related(a), k, [np.array([x]) for x in a]))
    return np.concatenate(out) if out else np.zeros((0, k), np.int64)


def eval_related(model, q: Queries, batch: int = 512, latency_queries: int = 30) -> dict:
    ranked = _ranked_related(model, q.anchors, 20, batch)
    rel = q.anchor_relevant
    res = {
        "HR@10": np.mean([metrics.hit_rate(r, s, 10) for r, s in zip(ranked, rel, strict=True)]),
        "NDCG@10": np.mean([metrics.ndcg(r, s, 10) for r, s in zip(ranked, rel, strict=True)]),
        "Recall@20": np.mean([metrics.recall(r, s, 20) for r, s in zip(ranked, rel, strict=True)]),
        "Coverage@10": metrics.coverage(ranked, model.data.n_items, 10),
    }
    if len(q.cold_anchors):
        cold = _ranked_related(model, q.cold_anchors, 10, batch)
        res["NDCG@10 rare"] = np.mean([metrics.ndcg(r, s, 10) for r, s in zip(cold, q.cold_relevant, strict=True)])
    else:
        res["NDCG@10 rare"] = float("nan")
    n = min(latency_queries, len(q.anchors))
    res["ms/query"] = _median_ms(model.related, [(q.anchors[i : i + 1],) for i in range(n)])
    return res


def eval_cart(model, q: Queries, batch: int = 512, latency_queries: int = 30) -> dict:
    order = np.argsort(q.cart_users, kind="stable")  # batches share users, which helps history caches
    if len(order) == 0:
        return {"HR@10": float("nan"), "NDCG@10": float("nan"), "MRR@10": float("nan"), "ms/query": float("nan")}
    hits, ndcgs, mrrs = np.zeros(len(order)), np.zeros(len(order)), np.zeros(len(order))
    for s in range(0, len(order), batch):
        sel = order[s : s + batch]
        carts = q.carts[sel]
        scores = model.cart(carts, q.cart_users[sel])
        ranked = metrics.top_k(scores, 10, [carts[r].indices for r in range(len(sel))])
        for r, qi in enumerate(sel):
            rel = [q.cart_hidden[qi]]
            hits[qi] = metrics.hit_rate(ranked[r], rel, 10)
            ndcgs[qi] = metrics.ndcg(ranked[r], rel, 10)
            mrrs[qi] = metrics.mrr(ranked[r], rel, 10)
    n = min(latency_queries, len(order))
    ms = _median_ms(model.cart, [(q.carts[i : i + 1], q.cart_users[i : i + 1]) for i in range(n)])
    return {"HR@10": hits.mean(), "NDCG@10": ndcgs.mean(), "MRR@10": mrrs.mean(), "ms/query": ms}


def eval_shops(model, q: Queries, latency_queries: int = 30) -> dict:
    scores = model.shops(q.shop_users)
    ranked = metrics.top_k(scores, 10)
    res = {}
    for label, rels in (("", q.shop_relevant), (" known", q.shop_known), (" new", q.shop_new)):
        pairs = [(r, s) for r, s in zip(ranked, rels, strict=True) if len(s)]
        res[f"Recall@5{label}"] = np.mean([metrics.recall(r, s, 5) for r, s in pairs]) if pairs else float("nan")
        res[f"NDCG@10{label}"] = np.mean([metrics.ndcg(r, s, 10) for r, s in pairs]) if pairs else float("nan")
    n = min(latency_queries, len(q.shop_users))
    res["ms/query"] = _median_ms(model.shops, [(q.shop_users[i : i + 1],) for i in range(n)])
    return res


EVALUATORS = {"related": eval_related, "cart": eval_cart, "shops": eval_shops}
