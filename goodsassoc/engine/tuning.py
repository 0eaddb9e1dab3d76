"""Tuning on the validation period: the blend weights per task and the related-items ranker.

The validation period is the last 30 days of the training lines; statistics come from the lines
before it and the targets from its baskets, the same way the protocol scores the test period.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import scipy.sparse as sp

from goodsassoc.engine import metrics
from goodsassoc.engine.data import TrainData, cooccurrence, encode, time_split
from goodsassoc.engine.peers import ItemKNN
from goodsassoc.engine.protocol import Queries, build_queries
from goodsassoc.engine.ranker import Period, Ranker, fit_ranker, pair_context
from goodsassoc.engine.recommender import (
    RecommenderConfig,
    _pop_score,
    build_tables,
    recent_popularity,
    related_batch,
    shop_vectors,
    untuned_weights,
    user_vectors,
)
from goodsassoc.engine.scoring import (
    RelatedCandidates,
    Weights,
    blend_shops,
    cart_kinds,
    dedupe,
    lookup,
    rank,
    row_top,
    shop_components,
)
from goodsassoc.engine.stats import group_levels
from goodsassoc.engine.train import train_embeddings

REL_GRID = [(s, t, p) for s in (10.0, 30.0, 100.0) for t in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
            for p in (0.0, 0.002)]
REL_TOLERANCE = 0.002  # RELATED: relative NDCG@10 below the grid's best that still counts as a tie
CART_GRID = [(r, g, t, p, k) for r in (0.5, 1.0, 2.0) for g in (0.1, 0.3, 1.0) for t in (0.0, 0.01)
             for p in (0.0,) for k in (0.0, 0.25, 0.5, 0.75)]
SHOP_GRID = [(n, e, t, p, x) for n in (0.0, 0.1, 0.2, 0.3) for e in (0.0, 0.02, 0.05) for t in (0.0, 0.01, 0.05)
             for p in (0.1, 0.5) for x in (0.0, 0.02, 0.03, 0.05, 0.08)]


def related_in_chunks(anchors: np.ndarray, *args, chunk: int = 2048) -> RelatedCandidates:
    """``related_batch`` over chunks of anchors (row-wise, so the same result; all at once peaks at gigabytes)."""
    parts = [related_batch(anchors[s : s + chunk], *args) for s in range(0, len(anchors), chunk)]
    return RelatedCandidates(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(RelatedCandidates)))


def _best_second_above(scored: list[tuple[float, float, tuple]], floor: float) -> tuple[float, float, tuple]:
    """Of the (NDCG@10, second metric, weights) at or above ``floor`` in NDCG@10, the best on the
    second metric (then on NDCG@10)."""
    return max((s for s in scored if s[0] >= floor), key=lambda s: (s[1], s[0]))


def choose_related_weights(scored: list[tuple[float, float, tuple]], tolerance: float = REL_TOLERANCE
                           ) -> tuple[float, float, tuple]:
    """(NDCG@10, rare-anchor NDCG@10, weights): the best on rare anchors among the weights within
    ``tolerance`` of the best NDCG@10 (a related-products widget matters most where history is thin)."""
    return _best_second_above(scored, max(x[0] for x in scored) * (1.0 - tolerance))


SHOP_NDCG_MARGIN = 0.001  # SHOPS: NDCG@10 the chosen weights keep above item-kNN's on validation


def choose_shop_weights(scored: list[tuple[float, float, tuple]], reference_ndcg: float,
                        margin: float = SHOP_NDCG_MARGIN) -> tuple[float, float, tuple]:
    """(NDCG@10, new-shop Recall@5, weights) with the most new shops found among the weights that
    rank better than item-kNN over shops by ``margin``; the best-ranking weights if none does.

    Discovery is the widget's point; ranking may fall from the grid's best to item-kNN's level, not
    below it.
    """
    return _best_second_above(scored, min(reference_ndcg + margin, max(s[0] for s in scored)))


def shop_reference(val_data: TrainData, quality) -> tuple[float, float]:
    """(NDCG@10, new-shop Recall@5) of item-kNN over shops, its best variant on these queries: the floor."""
    if not val_data.n_shops or not val_data.user_shops.nnz:  # no shops, or no shopper used one
        return 0.0, 0.0
    knn = ItemKNN().fit(val_data)
    best = (0.0, 0.0)
    for params in knn.grids["shops"]:
        knn.params["shops"] = dict(params)
        best = max(best, quality(knn.shops(np.arange(val_data.n_users))))
    return best


def earlier_period(val_data: TrainData, cfg: RecommenderConfig) -> Period | None:
    """The ranker's second period: the days before validation, statistics from the lines before them.

    Its TF vectors are trained on those lines too (a third, shorter training): vectors that had
    seen this period would flatter the model's share of the blend and the ranker's TF inputs here.
    """
    if val_data.lines is None:
        return None
    split = time_split(val_data.lines, int(cfg.train.val_days))
    if split.train.empty or split.test.empty:
        return None
    data = encode(split.train, val_data.items)
    q = build_queries(split, data, cfg.seed, cfg.ranker.earlier_anchors, 1)
    if len(q.anchors) * cfg.ranker.holdout < cfg.ranker.min_anchors:  # a holdout too small to veto anything
        return None
    emb_e = train_embeddings(data, cfg.train).embeddings
    counts, cooc = data.item_popularity, cooccurrence(data)
    levels = group_levels(data.items, cooc, counts)
    cands = related_in_chunks(q.anchors, cooc, counts, emb_e, _pop_score(counts), recent_popularity(data), levels)
    return Period(cands, q.anchor_relevant, pair_context(data.items, counts, levels), "earlier")


def tune(val_data: TrainData, emb: np.ndarray, vq: Queries, cfg: RecommenderConfig
         ) -> tuple[Weights, dict, Ranker | None]:
    """Grid-search the blend weights per task and train the related-items ranker on the validation queries."""
    w, report = untuned_weights(cfg), {}
    counts = val_data.item_popularity
    cooc = cooccurrence(val_data)
    levels = group_levels(val_data.items, cooc, counts)
    stats = (cooc, counts, emb, _pop_score(counts), recent_popularity(val_data), levels)
    cands = related_in_chunks(vq.anchors, *stats)
    rare = related_in_chunks(vq.cold_anchors, *stats) if len(vq.cold_anchors) else None
    scored = []
    for a, t, p in REL_GRID:
        w.related_smooth, w.related_tf, w.related_pop = a, t, p
        top, _ = rank(cands.cand, cands.score(w, counts), 10)
        rare_nd = (metrics.mean_ndcg(rank(rare.cand, rare.score(w, counts), 10)[0], vq.cold_relevant)
                   if rare is not None else 0.0)
        scored.append((metrics.mean_ndcg(top, vq.anchor_relevant), rare_nd, (a, t, p)))
    nd, rare_nd, params = choose_related_weights(scored)
    (w.related_smooth, w.related_tf, w.related_pop), report["related"] = params, nd
    report["related_rare"], report["related_best_ndcg10"] = rare_nd, max(x[0] for x in scored)
    del rare
    ranker = None
    if cfg.ranker is not None:  # stage two: trained and checked on validation and on the period before it
        periods = [Period(cands, vq.anchor_relevant, pair_context(val_data.items, counts, levels))]
        earlier = earlier_period(val_data, cfg) if cfg.ranker.earlier_anchors else None
        ranker, report["ranker"] = fit_ranker(periods + ([earlier] if earlier else []), w, cfg.ranker)
        del periods, earlier
    del cands  # memory: the related candidates are not needed for the other tasks
    w.related_ranker = 1.0 if ranker is not None else 0.0
    # CART: the neighbour table of the cart items, the shopper's repeats and taste, popularity.
    # The table is the blend's: the ranker trained on these baskets' anchors, so rows it ordered
    # would flatter the neighbour term (it keeps the blend's mass per row, so the scale is alike).
    rows = np.unique(vq.carts.indices)
    tables, _ = build_tables(val_data, emb, w, cfg, rows, ranker=None)
    size = np.maximum(np.asarray(vq.carts.sum(axis=1)).ravel(), 1.0)
    parts = {"nb": (sp.diags(1.0 / size) @ vq.carts @ tables.cart_neighbours()).tocsr()}
    users = vq.cart_users
    safe = np.where(users >= 0, users, 0)
    mask = sp.diags((users >= 0).astype(np.float32))
    parts["rep"], parts["taste"] = (mask @ tables.repeat[safe]).tocsr(), (mask @ tables.taste[safe]).tocsr()
    parts["rec"] = (mask @ tables.repeat_recent[safe]).tocsr()
    union = sum(abs(m) for m in parts.values()).tocsr()
    union.data[:] = 1.0
    width = max(int(np.diff(union.indptr).max()), 1)
    cand = np.hstack([row_top(union, width), np.broadcast_to(np.argsort(-counts)[:50], (len(users), 50))])
    cand = dedupe(cand)
    cand[lookup(vq.carts, np.arange(len(users)), cand) > 0] = -1
    vals = {k: lookup(m, np.arange(len(users)), cand) for k, m in parts.items()}
    pop = recent_popularity(val_data)[np.maximum(cand, 0)]
    kinds = tables.item_kind if tables.item_kind is not None else np.full(val_data.n_items, -1)
    cand_kind = np.where(cand >= 0, kinds[np.maximum(cand, 0)], -1)
    same = lookup(cart_kinds(vq.carts, kinds), np.arange(len(users)), cand_kind) if (kinds >= 0).any() else 0.0
    rel = [[h] for h in vq.cart_hidden]
    best = (-1.0, None)
    for r, g, t, p, k in CART_GRID:
        score = (vals["nb"] + r * vals["rep"] + g * vals["rec"] + t * vals["taste"] + p * pop) * (1.0 + k * same)
        top, _ = rank(cand, score, 10)
        best = max(best, (metrics.mean_ndcg(top, rel), (r, g, t, p, k)), key=lambda x: x[0])
    (w.cart_repeat, w.cart_recent, w.cart_taste, w.cart_pop, w.cart_same_kind), report["cart"] = best[1], best[0]
    # SHOPS: all shops are ranked; see choose_shop_weights.
    uv = user_vectors(val_data.user_items, emb)
    comp = shop_components(val_data.user_shops, uv, shop_vectors(val_data.item_shops, emb))
    known = vq.shop_users >= 0
    su = vq.shop_users[known]
    rel = [r for r, k in zip(vq.shop_relevant, known, strict=True) if k]
    new = [r for r, k in zip(vq.shop_new, known, strict=True) if k]

    def shop_quality(score: np.ndarray) -> tuple[float, float]:
        top = metrics.top_k(score[su], 10)
        new_rec = np.mean([metrics.recall(r, s, 5) for r, s in zip(top, new, strict=True) if len(s)] or [0.0])
        return metrics.mean_ndcg(top, rel), float(new_rec)

    reference = shop_reference(val_data, shop_quality)
    scored = []
    for n, e, t, p, x in SHOP_GRID:
        w.shop_knn, w.shop_ease, w.shop_tf, w.shop_pop, w.shop_new = n, e, t, p, x
        scored.append((*shop_quality(blend_shops(comp, w)), (n, e, t, p, x)))
    report["shops_best_ndcg10"] = max(s[0] for s in scored)
    nd, new_rec, params = choose_shop_weights(scored, reference[0])
    (w.shop_knn, w.shop_ease, w.shop_tf, w.shop_pop, w.shop_new), report["shops"] = params, nd
    report["shops_new_recall5"] = new_rec
    report["shops_reference"] = {"ndcg10": reference[0], "new_recall5": reference[1]}
    return w, report, ranker


