"""The shipped recommender: the TensorFlow item vectors blended with co-occurrence, repeat and popularity.

``fit_recommender`` is the one public fit function: it trains the TF model with early stopping on the
last 30 days of the given lines, tunes the blend weights per task on that same validation period,
and builds the serving tables from all lines. TensorFlow is imported only while training.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from goodsassoc.engine import peers
from goodsassoc.engine.data import (
    SPLIT_DAYS,
    TrainData,
    cooccurrence,
    encode,
    normalize_items,
    normalize_lines,
    rows_of,
    time_split,
)
from goodsassoc.engine.ranker import Ranker, RankerConfig, pair_context, pair_features, shortlist
from goodsassoc.engine.scoring import (
    RelatedCandidates,
    ServingTables,
    Weights,
    blend_shops,
    cart_scores,
    exact_top,
    log_share,
    lookup,
    rank,
    related_candidates,
    row_top,
    shop_components,
)
from goodsassoc.engine.stats import GroupLevel, cart_groups, group_candidates, group_levels, group_prior
from goodsassoc.engine.train import TrainConfig, TrainedEmbeddings, train_embeddings

Progress = Callable[[str, int, int], None]


@dataclass
class RecommenderConfig:
    """What ``fit_recommender`` needs besides the data."""

    k: int = 50  # neighbours kept per item
    train: TrainConfig = field(default_factory=lambda: TrainConfig(val_days=SPLIT_DAYS))
    tune: bool = True
    tune_sample: int = 20000  # validation anchors / carts (the protocol's test sample size: less tuning noise)
    repeat_items: int = 200
    taste_items: int = 100
    seed: int = 0
    ranker: RankerConfig | None = field(default_factory=RankerConfig)  # None: the blend orders related items


@dataclass
class Fitted:
    """A fitted recommender: serving tables plus what the artifact records."""

    tables: ServingTables
    embeddings: np.ndarray
    items: pd.DataFrame
    neighbour_evidence: dict[str, np.ndarray]  # aligned with tables.neighbours.data
    tuning: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)
    popular: pd.DataFrame = field(default_factory=pd.DataFrame)  # see popular_items


def untuned_weights(cfg: RecommenderConfig) -> Weights:
    """Default blend weights with the TF model's logit as this configuration trains it."""
    return Weights(tf_temperature=cfg.train.temperature, tf_log_q=cfg.train.log_q_weight)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)).astype(np.float32)


def user_vectors(user_items: sp.csr_matrix, emb: np.ndarray) -> np.ndarray:
    """A shopper is the normalised, log-count weighted sum of their items' vectors."""
    w = user_items.copy().astype(np.float32)
    w.data = np.log1p(w.data)
    return _unit(np.asarray(w @ emb))


def shop_vectors(item_shops: sp.csr_matrix, emb: np.ndarray) -> np.ndarray:
    w = item_shops.T.tocsr().astype(np.float32)
    w.data = np.log1p(w.data)
    return _unit(np.asarray(w @ emb))


def recent_popularity(data: TrainData, days: float = 30.0) -> np.ndarray:
    """Share of baskets holding each item, each basket weighted by exp(-age / ``days``) at the end of training."""
    age = (data.basket_time.max() - data.basket_time) / 86400.0
    w = np.exp(-age / days)
    x = (data.basket_items > 0).astype(np.float64)
    return (np.asarray(x.T @ w).ravel() / max(w.sum(), 1e-9)).astype(np.float32)


def _pop_score(counts: np.ndarray) -> np.ndarray:
    return (np.log1p(counts) / np.log1p(max(counts.max(), 1.0))).astype(np.float32)


REPEAT_DECAY_DAYS = 90.0  # the cart's recency term: exp(-days since the shopper last bought the item / this)


def related_batch(anchors: np.ndarray, cooc: sp.csr_matrix, counts: np.ndarray, emb: np.ndarray | None,
                  pop: np.ndarray, prior: np.ndarray, levels: list[GroupLevel]) -> RelatedCandidates:
    """Candidates of ``anchors`` with P(j | anchor) backed off through the anchor's attribute groups."""
    cands = related_candidates(anchors, cooc, counts, emb, pop, prior, extra=group_candidates(anchors, levels))
    cands.group_prior = group_prior(anchors, cands.cand, cands.prior, levels)
    return cands


def neighbour_table(data: TrainData, emb: np.ndarray, w: Weights, k: int, rows: np.ndarray | None = None,
                    batch: int = 2048, on_progress: Progress | None = None,
                    ranker: Ranker | None = None) -> tuple[sp.csr_matrix, dict]:
    """Top-``k`` neighbours of ``rows`` (all items by default) as a CSR, plus the evidence per entry.

    Ordered by the blend, or, with a ``ranker``, by the ranker over the blend's shortlist.
    """
    counts = data.item_popularity
    cooc = cooccurrence(data)
    pop = _pop_score(counts)
    prior = recent_popularity(data)
    levels = group_levels(data.items, cooc, counts)
    ctx = pair_context(data.items, counts, levels) if ranker is not None else None
    rows = np.arange(data.n_items) if rows is None else rows
    r_all, c_all, s_all, t_all, f_all = [], [], [], [], []
    for s in range(0, len(rows), batch):
        a = rows[s : s + batch]
        cands = related_batch(a, cooc, counts, emb, pop, prior, levels)
        if ranker is None:
            score = cands.score(w, counts)
        else:
            cands, blend = shortlist(cands, w, counts, max(ranker.depth, k))  # never fewer than k neighbours
            # The ranker reorders the shortlist and shares out the blend's mass over it, so an anchor's
            # row keeps the blend's scale (a weakly linked cart item weighs less in a cart's mean).
            mass = np.where(cands.cand >= 0, np.maximum(blend, 0.0), 0.0).sum(axis=1, keepdims=True)
            feats = pair_features(cands, ctx, w, blend, ranker.signed_price)
            score = ranker.scores(feats, cands.cand >= 0) * mass
        top, score, idx = rank(cands.cand, score, k, with_positions=True)
        ok = top >= 0
        rr = np.repeat(a[:, None], top.shape[1], axis=1)[ok]
        r_all.append(rr)
        c_all.append(top[ok])
        s_all.append(score[ok])
        t_all.append(np.take_along_axis(cands.together, idx, 1)[ok])
        f_all.append(np.take_along_axis(cands.tf, idx, 1)[ok])
        if on_progress:
            on_progress("neighbours", min(s + batch, len(rows)), len(rows))
    r, c = np.concatenate(r_all), np.concatenate(c_all)
    order = np.lexsort((c, r))
    m = sp.csr_matrix((np.concatenate(s_all)[order].astype(np.float32), (r[order], c[order])),
                      shape=(data.n_items, data.n_items))
    evidence = {"baskets_together": np.concatenate(t_all)[order].astype(np.int64),
                "similarity": np.concatenate(f_all)[order].astype(np.float32)}
    return m, evidence


def build_tables(data: TrainData, emb: np.ndarray, w: Weights, cfg: RecommenderConfig,
                 rows: np.ndarray | None = None, on_progress: Progress | None = None,
                 ranker: Ranker | dict | None = None) -> tuple[ServingTables, dict]:
    """Everything the request path needs, from training data, item vectors, blend weights and the ranker."""
    if isinstance(ranker, dict):  # as stored in ``ServingTables.ranker`` / the artifact
        ranker = Ranker.from_arrays(ranker)
    w = replace(w, related_ranker=1.0 if ranker is not None else 0.0)  # what ordered these tables
    nb, evidence = neighbour_table(data, emb, w, cfg.k, rows, on_progress=on_progress, ranker=ranker)
    n_u = np.bincount(data.basket_user[data.basket_user >= 0], minlength=data.n_users).astype(np.float32)
    ub = data.user_items.copy()
    ub.data = np.minimum(ub.data, 1e9)
    rep = (sp.diags(1.0 / np.maximum(n_u, 1.0)) @ ub).tocsr()
    rep = _keep_top(rep, cfg.repeat_items)
    last = lookup(data.user_item_last, np.arange(data.n_users), _pattern(rep))
    days = (data.basket_time.max() - (last - 1.0)) / 86400.0
    rec = _from_pattern(rep, np.where(last > 0, np.exp(-days / REPEAT_DECAY_DAYS), 0.0))
    uv = user_vectors(data.user_items, emb)
    idx, sims = exact_top(emb, uv, cfg.taste_items)
    taste_rows = np.repeat(np.arange(data.n_users), idx.shape[1])
    taste = sp.csr_matrix((np.maximum(sims, 0).ravel(), (taste_rows, idx.ravel())), shape=(data.n_users, data.n_items))
    comp = shop_components(data.user_shops, uv, shop_vectors(data.item_shops, emb))
    tables = ServingTables(
        item_ids=data.item_ids, user_ids=data.user_ids, shop_ids=data.shop_ids, neighbours=nb,
        item_baskets=data.item_popularity.astype(np.int64), repeat=rep, taste=taste.tocsr(),
        shop_affinity=blend_shops(comp, w).astype(np.float32),
        shop_baskets=np.asarray(data.user_shops.sum(axis=0)).ravel().astype(np.int64),
        shop_used=data.user_shops.tocsr(), weights=w, item_recent=recent_popularity(data), repeat_recent=rec,
        item_kind=cart_groups(data.items), ranker=ranker.to_arrays() if ranker is not None else None,
    )
    return tables, evidence


def popular_items(data: TrainData, n: int = 50) -> pd.DataFrame:
    """Fallback lists: the ``n`` most bought items overall, per category level and per shop."""
    counts = data.item_popularity
    frames = []
    order = np.argsort(-counts, kind="stable")[:n]
    frames.append(pd.DataFrame({"scope": "all", "scope_value": "", "item_id": data.item_ids[order],
                                "rank": np.arange(1, len(order) + 1), "baskets": counts[order]}))
    for col in ("category_1", "category_2"):
        df = pd.DataFrame({"scope_value": data.items[col].astype(object), "i": np.arange(data.n_items), "b": counts})
        df = df.dropna().sort_values(["scope_value", "b", "i"], ascending=[True, False, True])
        df["rank"] = df.groupby("scope_value").cumcount() + 1
        df = df[df["rank"] <= n]
        frames.append(pd.DataFrame({"scope": col, "scope_value": df["scope_value"].astype(str),
                                    "item_id": data.item_ids[df["i"]], "rank": df["rank"], "baskets": df["b"]}))
    if data.n_shops:  # a shop without shops (no marketplace, no stores) has no per-shop lists
        top = row_top(data.item_shops.T.tocsr(), n)
        s_idx, r_idx = np.nonzero(top >= 0)
        frames.append(pd.DataFrame({"scope": "shop", "scope_value": data.shop_ids[s_idx].astype(str),
                                    "item_id": data.item_ids[top[s_idx, r_idx]], "rank": r_idx + 1,
                                    "baskets": np.asarray(data.item_shops[top[s_idx, r_idx], s_idx]).ravel()}))
    out = pd.concat(frames, ignore_index=True)
    out["item_id"] = out["item_id"].astype(str)
    out["baskets"] = out["baskets"].astype(np.int64)
    return out


def _pattern(m: sp.csr_matrix) -> np.ndarray:
    """(rows, max row length) column matrix of a CSR's stored entries, -1 padded."""
    width = max(int(np.diff(m.indptr).max(initial=0)), 1)
    return row_top(m, width)


def _from_pattern(m: sp.csr_matrix, values: np.ndarray) -> sp.csr_matrix:
    cols = _pattern(m)
    ok = cols >= 0
    rows = np.repeat(np.arange(m.shape[0]), cols.shape[1]).reshape(cols.shape)
    return sp.csr_matrix((values[ok].astype(np.float32), (rows[ok], cols[ok])), shape=m.shape)


def _keep_top(m: sp.csr_matrix, k: int) -> sp.csr_matrix:
    top = row_top(m, k)
    vals = lookup(m, np.arange(m.shape[0]), top)
    ok = top >= 0
    r = np.repeat(np.arange(m.shape[0]), top.shape[1]).reshape(top.shape)[ok]
    return sp.csr_matrix((vals[ok], (r, top[ok])), shape=m.shape)


def fit_recommender(lines: pd.DataFrame | str, items: pd.DataFrame | str | None = None,
                    config: RecommenderConfig | None = None, on_progress: Progress | None = None,
                    data: TrainData | None = None) -> Fitted:
    """Fit the shipped recommender on interaction lines (protocol format) and item attributes."""
    cfg = config or RecommenderConfig()
    t0 = time.perf_counter()
    if data is None:
        lines = normalize_lines(lines)
        data = encode(lines, normalize_items(items) if items is not None else None)
    trained: TrainedEmbeddings = train_embeddings(data, cfg.train, on_progress)
    w, report, ranker = untuned_weights(cfg), {}, None
    if cfg.tune and data.lines is not None:
        if on_progress:
            on_progress("tune", 0, 1)
        from goodsassoc.engine.protocol import build_queries
        from goodsassoc.engine.tuning import tune

        split = time_split(data.lines, int(cfg.train.val_days))
        if len(split.train) and len(split.test):
            val_data = encode(split.train, data.items)
            vq = build_queries(split, val_data, cfg.seed, cfg.tune_sample, cfg.tune_sample)
            emb_v = trained.val_embeddings[rows_of(data.item_ids, val_data.item_ids)]
            w, report, ranker = tune(val_data, emb_v, vq, cfg)
            del split, val_data, vq, emb_v  # the validation statistics are not needed for the final tables
    tables, evidence = build_tables(data, trained.embeddings, w, cfg, on_progress=on_progress, ranker=ranker)
    training = {"history": trained.history, "best_epoch": trained.best_epoch, "tf_seconds": trained.seconds,
                "config": trained.config, "fit_seconds": time.perf_counter() - t0}
    counts = {"lines": int(data.n_lines), "baskets": int(data.basket_items.shape[0]), "items": data.n_items,
              "users": data.n_users, "shops": data.n_shops}
    return Fitted(tables, trained.embeddings, data.items, evidence, {"weights": w.__dict__, "validation": report},
                  training, counts, popular_items(data))


# --- the evaluation's view of it ---------------------------------------------------------------


class Recommender(peers.Model):
    """The shipped recommender behind the evaluation interface (it tunes itself on validation)."""

    name = "shipped recommender (TF + statistics blend)"
    self_tuning = True

    def __init__(self, config: RecommenderConfig | None = None, on_progress: Progress | None = None) -> None:
        super().__init__()
        self.config = config or RecommenderConfig()
        self.on_progress = on_progress

    def _fit(self, data: TrainData) -> None:
        self.fitted = fit_recommender(None, None, self.config, self.on_progress, data=data)
        data.cache["recommender"] = self.fitted
        self.t = self.fitted.tables

    def describe(self, task: str) -> str:
        """The weights tuned on validation for ``task`` (for the report)."""
        prefix = {"related": "related_", "cart": "cart_", "shops": "shop_"}[task]
        return ", ".join(f"{k[len(prefix):]}={v:g}" for k, v in self.t.weights.__dict__.items() if k.startswith(prefix))

    def related(self, anchors: np.ndarray) -> np.ndarray:
        out = np.broadcast_to(self.t.item_recent * 1e-3 - 10.0, (len(anchors), len(self.t.item_ids))).copy()
        rows = self.t.neighbours[anchors].tocoo()
        out[rows.row, rows.col] = rows.data
        return out

    def cart(self, carts: sp.csr_matrix, users: np.ndarray) -> np.ndarray:
        return cart_scores(self.t, carts, users)

    def shops(self, users: np.ndarray) -> np.ndarray:
        pop = self.t.shop_baskets / max(self.t.shop_baskets.sum(), 1)
        out = np.broadcast_to(pop.astype(np.float32), (len(users), len(pop))).copy()
        known = users >= 0
        out[known] = self.t.shop_affinity[users[known]]
        return out


class TFOnly(peers.Model):
    """The TensorFlow model alone: related items by its logit (the cosine of item vectors plus the
    share of log popularity that training left out of it); carts and shoppers as mean vectors,
    ranked by cosine."""

    name = "TF model alone"
    self_tuning = True

    def _fit(self, data: TrainData) -> None:
        fitted = data.cache.get("recommender") or fit_recommender(None, None, RecommenderConfig(tune=False), data=data)
        self.emb = fitted.embeddings
        self.w = fitted.tables.weights  # the model's logit: cosine / temperature + its share of log popularity
        self.bias = self.w.tf_log_q * log_share(data.item_popularity)
        self.uv = user_vectors(data.user_items, self.emb)
        self.sv = shop_vectors(data.item_shops, self.emb)

    def related(self, anchors: np.ndarray) -> np.ndarray:
        return self.emb[anchors] @ self.emb.T / self.w.tf_temperature + self.bias

    def cart(self, carts: sp.csr_matrix, users: np.ndarray) -> np.ndarray:
        q = _unit(np.asarray(carts.astype(np.float32) @ self.emb))
        known = users >= 0
        q[known] = _unit(q[known] + self.uv[users[known]])
        return q @ self.emb.T  # a mean of vectors is not a query the model was trained on: the cosine

    def shops(self, users: np.ndarray) -> np.ndarray:
        q = np.zeros((len(users), self.emb.shape[1]), np.float32)
        q[users >= 0] = self.uv[users[users >= 0]]
        return q @ self.sv.T
