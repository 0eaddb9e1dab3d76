"""Item features for the TensorFlow item tower, as plain integer arrays (no TensorFlow here).

An item is described by its id (only when it has enough history, so rare and new items are
represented by their attributes alone), category levels, brand, manufacturer, price bucket,
main shop and title tokens. Index 0 of every vocabulary means "missing / unknown".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from goodsassoc.engine.data import TrainData, cooccurrence

CATEGORICAL = ("category_1", "category_2", "category_3", "brand", "manufacturer", "price_bucket", "shop")
MAX_TOKENS = 8
PRICE_BUCKETS = 16


@dataclass
class ItemFeatures:
    """Per item integer codes; ``vocab`` keeps the value of each code for the artifact."""

    ids: np.ndarray  # (n_items,) id code, 0 for items with too little history
    categorical: dict[str, np.ndarray]  # name -> (n_items,) codes
    tokens: np.ndarray  # (n_items, MAX_TOKENS) token codes, 0 = padding
    vocab: dict[str, list[str]]
    id_init: np.ndarray | None = None  # (id vocabulary, dim) warm start of the id embedding

    def sizes(self) -> dict[str, int]:
        return {"id": int(self.ids.max()) + 1, **{k: int(v.max()) + 1 for k, v in self.categorical.items()},
                "tokens": int(self.tokens.max()) + 1}


def _codes(values: pd.Series, min_count: int = 1) -> tuple[np.ndarray, list[str]]:
    s = values.astype("string")
    counts = s.value_counts()
    keep = sorted(counts[counts >= min_count].index.tolist())
    lookup = {v: i + 1 for i, v in enumerate(keep)}
    return s.map(lookup).fillna(0).to_numpy(np.int64), keep


def tokenize(title: str | None) -> list[str]:
    return re.findall(r"[a-z0-9]+", str(title).lower()) if isinstance(title, str) else []


def item_features(data: TrainData, min_id_baskets: int = 3) -> ItemFeatures:
    """Encode ``data.items`` (aligned with ``data.item_ids``) into the tower's integer inputs."""
    items = data.items
    pop = data.item_popularity
    id_codes = np.zeros(data.n_items, np.int64)
    known = np.flatnonzero(pop >= min_id_baskets)
    id_codes[known] = np.arange(1, len(known) + 1)
    cats, vocab = {}, {"id": [str(x) for x in data.item_ids[known]]}
    for col in ("category_1", "category_2", "category_3", "brand", "manufacturer"):
        cats[col], vocab[col] = _codes(items[col], 2)
    price = pd.to_numeric(items["price"], errors="coerce").to_numpy(np.float64)
    logp = np.log1p(np.clip(np.nan_to_num(price, nan=-1.0), -1.0, None))
    valid = np.isfinite(price) & (price > 0)
    edges = np.quantile(logp[valid], np.linspace(0, 1, PRICE_BUCKETS + 1)[1:-1]) if valid.any() else np.zeros(0)
    cats["price_bucket"] = np.where(valid, np.searchsorted(edges, logp) + 1, 0).astype(np.int64)
    vocab["price_bucket"] = [f"{e:.3f}" for e in edges]
    if items["shop_id"].notna().any():
        shop = items["shop_id"]
    elif data.item_shops.shape[1] == 0:  # a shop without shops (no marketplace, no stores)
        shop = pd.Series([None] * len(items), dtype="string")
    else:  # the shop that sells the item most often
        main = np.asarray(data.item_shops.argmax(axis=1)).ravel()
        has = np.asarray(data.item_shops.sum(axis=1)).ravel() > 0
        shop = pd.Series(np.where(has, data.shop_ids[main].astype(str), None), dtype="string")
    cats["shop"], vocab["shop"] = _codes(shop, 2)
    toks = [tokenize(t) for t in items["title"].tolist()]
    counts = pd.Series([w for ts in toks for w in set(ts)]).value_counts() if toks else pd.Series(dtype=int)
    keep = sorted(counts[counts >= 2].index.tolist())
    lookup = {w: i + 1 for i, w in enumerate(keep)}
    tokens = np.zeros((data.n_items, MAX_TOKENS), np.int64)
    for r, ts in enumerate(toks):
        codes = [lookup[w] for w in ts if w in lookup][:MAX_TOKENS]
        tokens[r, : len(codes)] = codes
    vocab["tokens"] = keep
    return ItemFeatures(ids=id_codes, categorical=cats, tokens=tokens, vocab=vocab)


def cooccurrence_vectors(data: TrainData, ids: np.ndarray, dim: int, seed: int = 0, power_iters: int = 3
                         ) -> np.ndarray:
    """Spectral vectors of the items' positive PMI co-occurrence (randomised SVD), one row per id code.

    They warm-start the id embedding so that a few training epochs on 2 cores are enough;
    row 0 (items without an id) is zero.
    """
    c = cooccurrence(data).tocoo()
    n = np.maximum(data.item_popularity, 1.0)
    total = float(data.basket_items.shape[0])
    keep = (ids[c.row] > 0) & (ids[c.col] > 0)
    r, k, v = ids[c.row[keep]] , ids[c.col[keep]], c.data[keep]
    pmi = np.log(v * total / (n[c.row[keep]] * n[c.col[keep]]))
    pos = pmi > 0
    size = int(ids.max()) + 1
    m = sp.csr_matrix((pmi[pos].astype(np.float32), (r[pos], k[pos])), shape=(size, size))
    rng = np.random.default_rng(seed)
    q = np.linalg.qr(m @ rng.standard_normal((size, dim + 8)).astype(np.float32))[0]
    for _ in range(power_iters):
        q = np.linalg.qr(m @ np.linalg.qr(m.T @ q)[0])[0]
    u, s, _ = np.linalg.svd(np.asarray(q.T @ (m @ q)), full_matrices=False)
    vec = (q @ u[:, :dim]) * np.sqrt(s[:dim])[None, :]
    vec /= np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-9)
    vec[0] = 0.0
    return vec.astype(np.float32)
