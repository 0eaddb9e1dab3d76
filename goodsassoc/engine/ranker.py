"""The second stage of related items: a small learned ranker over the blend's candidates.

Stage one (``scoring.related_candidates`` with the attribute back-off of ``stats``) proposes
candidates per anchor and the tuned blend orders them; stage two rescores the blend's top
``depth`` candidates of each anchor with a small MLP over pair features (co-occurrence counts,
smoothed and backed-off P(j | anchor), reverse P(anchor | j), popularity, attribute matches,
signed log price ratio, the TF cosine). The MLP is trained with TensorFlow on the validation
period, with a listwise softmax loss over each anchor's candidate list, exactly like the blend
weights are tuned; its weights are then applied in numpy while the neighbour tables are built,
so neither serving nor a rescore needs TensorFlow.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from goodsassoc.engine import metrics
from goodsassoc.engine.scoring import RelatedCandidates, Weights, lookup, rank
from goodsassoc.engine.stats import GroupLevel, attribute_codes

FEATURES = (
    "log_together", "log_p_smoothed", "log_p_backoff", "log_p_type", "log_p_category", "log_recent_pop",
    "log_p_reverse", "log_anchor_baskets", "log_cand_baskets", "cosine_counts", "tf_cosine", "same_title",
    "same_category_3", "same_category_2", "same_brand", "same_manufacturer", "log_price_ratio", "price_missing",
    "blend_score",
)
MATCH_COLUMNS = ("title", "category_3", "category_2", "brand", "manufacturer")
EPS = 1e-6


@dataclass
class RankerConfig:
    """Size and training of the ranker (fixed defaults; the ranker itself is trained and then
    kept or dropped on the validation period)."""

    depth: int = 100  # blend's top candidates per anchor that the ranker rescores
    hidden: tuple[int, ...] = (32, 16)
    epochs: int = 6
    batch: int = 64  # anchors per step
    learning_rate: float = 3e-3
    holdout: float = 0.25  # latest share of validation anchors kept to check the ranker against the blend
    seed: int = 0
    threads: int = 2
    min_anchors: int = 50  # fewer training anchors with a co-bought item among their candidates: no ranker
    min_gain: float = 0.01  # relative NDCG@10 gain over the blend required on every period's holdout
    earlier_anchors: int = 10000  # anchors of the period before validation, trained and checked on too (0: none)


@dataclass
class PairContext:
    """Per-item arrays the pair features need (computed once per data set)."""

    counts: np.ndarray
    codes: dict[str, np.ndarray]
    log_price: np.ndarray
    levels: list[GroupLevel]


def pair_context(items: pd.DataFrame, counts: np.ndarray, levels: list[GroupLevel]) -> PairContext:
    """Attribute codes, prices and counts of every item, for ``pair_features``."""
    price = pd.to_numeric(items["price"], errors="coerce").to_numpy(np.float64) if "price" in items else None
    if price is None:
        price = np.full(len(items), np.nan)
    log_price = np.log(np.where(price > 0, price, np.nan)).astype(np.float32)
    return PairContext(counts, {c: attribute_codes(items, c) for c in MATCH_COLUMNS}, log_price, levels)


def _level_p(lv: GroupLevel, anchors: np.ndarray, cand: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Raw P(candidate | anchor's group) at one attribute level; ``fallback`` where the anchor has no group."""
    code = lv.codes[anchors]
    safe = np.maximum(code, 0)
    est = lookup(lv.cooc, safe, cand) / np.maximum(lv.baskets[safe][:, None], 1.0)
    return np.where((code >= 0)[:, None], est, fallback)


def pair_features(c: RelatedCandidates, ctx: PairContext, w: Weights, blend: np.ndarray | None = None,
                  signed_price: bool = True) -> np.ndarray:
    """(anchors, candidates, len(FEATURES)) float32 features of every (anchor, candidate) pair.

    ``blend``: the blend's scores of these candidates when the caller has them (``shortlist``).
    """
    a, cand = c.anchors, c.cand
    safe = np.maximum(cand, 0)
    n_a = ctx.counts[a][:, None].astype(np.float32)
    n_j = ctx.counts[safe].astype(np.float32)
    s = w.related_smooth
    backoff = c.group_prior if c.group_prior is not None else c.prior
    p_smooth = (c.together + s * backoff) / (n_a + s)
    by_level = {lv.column: _level_p(lv, a, cand, c.prior) for lv in ctx.levels}
    p_type = by_level.get("title", backoff)
    p_cat = by_level.get("category_2", backoff)
    same = []
    for col in MATCH_COLUMNS:
        codes = ctx.codes[col]
        same.append(((codes[a][:, None] == codes[safe]) & (codes[safe] >= 0)).astype(np.float32))
    ratio = ctx.log_price[safe] - ctx.log_price[a][:, None]
    missing = ~np.isfinite(ratio)
    feats = [
        np.log1p(c.together), np.log(p_smooth + EPS), np.log(backoff + EPS), np.log(p_type + EPS), np.log(p_cat + EPS),
        np.log(c.prior + EPS), np.log(c.together / (n_j + 1.0) + 1e-4), np.broadcast_to(np.log1p(n_a), cand.shape),
        np.log1p(n_j), c.together / np.sqrt((n_a + 1.0) * (n_j + 1.0)), c.tf, *same,
        np.where(missing, 0.0, ratio if signed_price else np.abs(ratio)), missing.astype(np.float32),
        c.score(w, ctx.counts) if blend is None else np.where(cand >= 0, blend, 0.0),
    ]
    return np.stack(feats, axis=-1).astype(np.float32)


def shortlist(c: RelatedCandidates, w: Weights, counts: np.ndarray, depth: int) -> tuple[RelatedCandidates, np.ndarray]:
    """The blend's top ``depth`` candidates per anchor (stage one), with their blend scores."""
    top, score, idx = rank(c.cand, c.score(w, counts), depth, with_positions=True)
    take = lambda x: None if x is None else np.take_along_axis(x, idx, 1)  # noqa: E731
    sub = RelatedCandidates(c.anchors, top, take(c.together), take(c.tf), take(c.pop), take(c.prior),
                            take(c.group_prior), take(c.log_q))
    return sub, score


@dataclass
class Ranker:
    """The trained MLP as numpy arrays: standardisation, then ReLU layers, then one linear output."""

    mean: np.ndarray
    std: np.ndarray
    layers: list[tuple[np.ndarray, np.ndarray]]
    depth: int = 100
    # log_price_ratio is log(candidate's price / anchor's): signed, so that cheaper and pricier
    # differ. Rankers stored before it was signed were trained on its absolute value.
    signed_price: bool = True

    def logits(self, feats: np.ndarray) -> np.ndarray:
        """Scores of (..., len(FEATURES)) pair features (numpy; no TensorFlow)."""
        x = (feats - self.mean) / self.std
        for n, (k, b) in enumerate(self.layers):
            x = x @ k + b
            if n < len(self.layers) - 1:
                x = np.maximum(x, 0.0)
        return x[..., 0]

    def scores(self, feats: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Softmax over each anchor's candidate list: positive and summing to 1 per anchor (the
        neighbour table scales it by the blend's mass over the shortlist)."""
        z = np.where(valid, self.logits(feats), -np.inf)
        z = z - np.max(z, axis=1, keepdims=True, initial=-1e30, where=valid)
        e = np.where(valid, np.exp(z), 0.0)
        return (e / np.maximum(e.sum(axis=1, keepdims=True), 1e-30)).astype(np.float32)

    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {"mean": self.mean, "std": self.std, "depth": np.asarray(self.depth),
               "signed_price": np.asarray(self.signed_price)}
        for n, (k, b) in enumerate(self.layers):
            out[f"kernel{n}"], out[f"bias{n}"] = k, b
        return out

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> Ranker:
        n = sum(1 for k in a if k.startswith("kernel"))
        return cls(a["mean"], a["std"], [(a[f"kernel{i}"], a[f"bias{i}"]) for i in range(n)], int(a["depth"]),
                   bool(a.get("signed_price", False)))


def _targets(cand: np.ndarray, relevant: list[np.ndarray]) -> np.ndarray:
    y = np.zeros(cand.shape, np.float32)
    for r, rel in enumerate(relevant):
        y[r] = np.isin(cand[r], rel) & (cand[r] >= 0)
    return y


def train_ranker(feats: np.ndarray, cand: np.ndarray, relevant: list[np.ndarray], cfg: RankerConfig) -> Ranker:
    """Fit the MLP with a listwise softmax loss (TensorFlow, imported here only)."""
    from goodsassoc.engine.train import _configure_tf

    _configure_tf(cfg.threads, cfg.seed)
    import keras

    y = _targets(cand, relevant)
    keep = np.flatnonzero(y.sum(axis=1) > 0)  # anchors whose co-bought items are among the candidates
    keep = keep[np.random.default_rng(cfg.seed).permutation(len(keep))]  # shuffled once, in the one copy
    xs, y, valid = feats[keep], y[keep], cand[keep] >= 0
    y = y / y.sum(axis=1, keepdims=True)
    flat = xs[valid]
    mean, std = flat.mean(axis=0), flat.std(axis=0) + 1e-6
    del flat
    xs -= mean  # in place: the training features are the largest arrays of the fit
    xs /= std
    xs[~valid] = 0.0
    mask = np.where(valid, 0.0, -1e9).astype(np.float32)
    init = keras.initializers.GlorotUniform(seed=cfg.seed)
    inp, m = keras.Input(shape=xs.shape[1:]), keras.Input(shape=mask.shape[1:])
    h = inp
    for units in cfg.hidden:
        h = keras.layers.Dense(units, activation="relu", kernel_initializer=init)(h)
    out = keras.layers.Dense(1, kernel_initializer=init)(h)
    logits = keras.layers.Add()([keras.layers.Reshape(mask.shape[1:])(out), m])
    model = keras.Model([inp, m], logits)
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    model.fit([xs, mask], y, batch_size=cfg.batch, epochs=cfg.epochs, shuffle=False, verbose=0)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    layers = [(np.asarray(d.kernel.numpy(), np.float32), np.asarray(d.bias.numpy(), np.float32)) for d in dense]
    return Ranker(mean.astype(np.float32), std.astype(np.float32), layers, cfg.depth)


@dataclass
class Period:
    """One period's related candidates (anchors in basket-time order), their targets and item context."""

    cands: RelatedCandidates
    relevant: list[np.ndarray]
    ctx: PairContext
    name: str = "validation"


def fit_ranker(periods: list[Period], w: Weights, cfg: RankerConfig | None = None) -> tuple[Ranker | None, dict]:
    """Train on the earlier anchors of every period; keep the ranker only if it beats the blend by
    ``min_gain`` on the later anchors of each (one period's gain can be that season's)."""
    cfg = cfg or RankerConfig()
    t0 = time.perf_counter()
    parts = []
    for p in periods:
        sub, blend = shortlist(p.cands, w, p.ctx.counts, cfg.depth)
        cut = int(len(sub.anchors) * (1.0 - cfg.holdout))
        parts.append((p.name, sub.cand, pair_features(sub, p.ctx, w, blend), p.relevant, cut))
    usable = sum(int((_targets(c[:cut], r[:cut]).sum(axis=1) > 0).sum()) for _, c, _, r, cut in parts)
    if usable < cfg.min_anchors:  # too little to learn from (a small shop): the blend orders related items
        return None, {"used": False, "train_anchors": usable, "reason": "too few training anchors"}
    ranker = train_ranker(np.concatenate([f[:cut] for _, _, f, _, cut in parts]),
                          np.concatenate([c[:cut] for _, c, _, _, cut in parts]),
                          [x for _, _, _, r, cut in parts for x in r[:cut]], cfg)
    checks = {name: {**compare(ranker, c[cut:], f[cut:], r[cut:]), "train_anchors": cut,
                     "holdout_anchors": len(c) - cut} for name, c, f, r, cut in parts}
    used = all(x["ranker"] > x["blend"] * (1.0 + cfg.min_gain) for x in checks.values())
    report = {"used": used, "holdout": checks, "depth": cfg.depth, "seconds": time.perf_counter() - t0}
    return (ranker if used else None), report


def compare(ranker: Ranker, cand: np.ndarray, feats: np.ndarray, relevant: list[np.ndarray]) -> dict[str, float]:
    """NDCG@10 of the blend's order (``cand`` is a shortlist, in blend order) and of the ranker's."""
    blend_top, _ = rank(cand, _positions(cand), 10)
    rank_top, _ = rank(cand, ranker.scores(feats, cand >= 0), 10)
    return {"blend": metrics.mean_ndcg(blend_top, relevant), "ranker": metrics.mean_ndcg(rank_top, relevant)}


def _positions(cand: np.ndarray) -> np.ndarray:
    """The shortlist is in blend order: a score that keeps that order."""
    return -np.broadcast_to(np.arange(cand.shape[1], dtype=np.float32), cand.shape)
