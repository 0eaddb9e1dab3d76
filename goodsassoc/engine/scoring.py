"""Serving-side scoring: neighbour tables, cart completion, shop affinity and reasons.

numpy / scipy / faiss only: no TensorFlow, so a web request or a forked Celery worker can use it.
Everything the request path needs is in :class:`ServingTables`; ``complete_cart`` is the
request-time function.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from goodsassoc.engine.limits import CART_DEPTH, cart_depth

# Reason codes carried by every recommendation (the evidence dict says why in numbers).
BOUGHT_TOGETHER = "bought_together"
SIMILAR_ITEM = "similar_item"
POPULAR = "popular"
BOUGHT_BEFORE = "bought_before"
YOUR_TASTE = "matches_your_taste"
SHOP_USED = "shop_you_use"
SHOP_SIMILAR = "shoppers_like_you"
SHOP_POPULAR = "popular_shop"
MIN_TOGETHER = 2  # baskets together before "bought together" is claimed


@dataclass
class Weights:
    """Blend weights per task, tuned on validation (see ``recommender.py``)."""

    related_smooth: float = 30.0  # pseudo-baskets of the popularity prior in P(j | i)
    related_tf: float = 0.2  # the TF model's share of P(j | anchor) for an anchor without history (see score)
    related_pop: float = 0.0
    related_ranker: float = 0.0  # 1 when the learned ranker (``ranker.py``) ordered the neighbour table
    cart_repeat: float = 1.0
    cart_recent: float = 0.1
    cart_taste: float = 0.0
    cart_pop: float = 0.0
    cart_same_kind: float = 0.0  # relative boost of items of a kind (product type) already in the cart
    shop_knn: float = 0.3
    shop_ease: float = 0.0
    shop_tf: float = 0.0
    shop_pop: float = 0.1
    shop_new: float = 0.0  # extra weight of the EASE term on shops the shopper has not used yet
    # How the TF model's cosine becomes its logit (from its training, not tuned): cosine / temperature
    # plus the share of log popularity that its partial log-Q correction left out of the cosine.
    tf_temperature: float = 0.1
    tf_log_q: float = 0.5


@dataclass
class ServingTables:
    """All a host needs at request time (plain arrays; see ``docs/engine.md`` for their published form)."""

    item_ids: np.ndarray
    user_ids: np.ndarray
    shop_ids: np.ndarray
    neighbours: sp.csr_matrix  # items x items: blended related score of the top-K neighbours per item
    item_baskets: np.ndarray  # training baskets per item
    repeat: sp.csr_matrix  # users x items: share of the user's baskets holding the item
    taste: sp.csr_matrix  # users x items: model affinity of the user's top items (TF vectors, precomputed)
    shop_affinity: np.ndarray  # users x shops, blended affinity (float32)
    shop_baskets: np.ndarray  # training baskets per shop
    shop_used: sp.csr_matrix | None = None  # users x shops: the user's training baskets per shop
    item_recent: np.ndarray | None = None  # recency-weighted share of baskets holding the item (30-day decay)
    repeat_recent: sp.csr_matrix | None = None  # users x items: exp(-days since the user last bought it / 90)
    item_kind: np.ndarray | None = None  # per item a code of its kind (product type), -1 = none
    ranker: dict[str, np.ndarray] | None = None  # the learned related-items ranker's parameters (rescoring)
    weights: Weights = field(default_factory=Weights)
    _index: dict = field(default_factory=dict, repr=False)  # lookups and tables derived on first use

    @property
    def pop_score(self) -> np.ndarray:
        """Popularity on a 0..1 log scale (the blend's popularity component)."""
        n = self.item_baskets.astype(np.float64)
        return (np.log1p(n) / np.log1p(max(n.max(), 1.0))).astype(np.float32)

    def cart_neighbours(self, depth: int = CART_DEPTH) -> sp.csr_matrix:
        """The neighbour table as cart completion reads it: each item's top ``depth`` neighbours."""
        key = ("cart_neighbours", depth)
        if key not in self._index:
            self._index[key] = top_per_row(self.neighbours, depth)
        return self._index[key]

    def index(self, kind: str) -> dict[str, int]:
        if kind not in self._index:
            ids = {"item": self.item_ids, "user": self.user_ids, "shop": self.shop_ids}[kind]
            self._index[kind] = {str(v): i for i, v in enumerate(ids)}
        return self._index[kind]


# --- generic helpers ---------------------------------------------------------------------------


def lookup(m: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Values m[rows[r], cols[r, c]] for a (n, M) candidate matrix; 0 where absent or col < 0."""
    sub = m[rows].tocsr()
    sub.sort_indices()
    n_cols = m.shape[1]
    keys = np.repeat(np.arange(sub.shape[0], dtype=np.int64), np.diff(sub.indptr)) * n_cols + sub.indices
    q = np.arange(len(rows), dtype=np.int64)[:, None] * n_cols + np.maximum(cols, 0)
    pos = np.searchsorted(keys, q)
    pos = np.minimum(pos, max(len(keys) - 1, 0))
    found = (keys[pos] == q) & (cols >= 0) if len(keys) else np.zeros(cols.shape, bool)
    out = np.zeros(cols.shape, np.float32)
    out[found] = sub.data[pos[found]]
    return out


def top_per_row(m: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """``m`` with only each row's ``k`` largest values kept, ties to the lower column (the
    order of the published rank)."""
    m = m.tocsr()
    row = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    order = np.lexsort((m.indices, -m.data, row))
    keep = order[np.arange(m.nnz) - m.indptr[row[order]] < k]
    keep.sort()
    return sp.csr_matrix((m.data[keep], m.indices[keep], np.searchsorted(keep, m.indptr)), shape=m.shape)


def row_top(m: sp.csr_matrix, k: int) -> np.ndarray:
    """(n, k) column indices of each row's ``k`` largest stored values, -1 padded."""
    m = m.tocsr()
    n = m.shape[0]
    out = np.full((n, k), -1, np.int64)
    lens = np.diff(m.indptr)
    if m.nnz == 0 or k == 0:
        return out
    row = np.repeat(np.arange(n), lens)
    order = np.lexsort((-m.data, row))
    rank = np.arange(m.nnz) - m.indptr[row[order]]
    keep = rank < k
    out[row[order][keep], rank[keep]] = m.indices[order][keep]
    return out


def dedupe(cand: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
    """Row-wise sorted candidates with duplicates (and ``exclude[r]``) replaced by -1."""
    cand = np.sort(cand, axis=1)
    dup = np.zeros(cand.shape, bool)
    dup[:, 1:] = cand[:, 1:] == cand[:, :-1]
    cand[dup] = -1
    if exclude is not None:
        cand[cand == exclude[:, None]] = -1
    return cand


def rank(cand: np.ndarray, score: np.ndarray, k: int, with_positions: bool = False):
    """Top ``k`` candidates per row by score (ties: lower item index first); -1 padded.

    Returns (items, scores), plus the candidate columns they came from if ``with_positions``.
    """
    score = np.where(cand >= 0, score, -np.inf)
    k = min(k, cand.shape[1])
    part = np.argpartition(-score, k - 1, axis=1)[:, :k]
    rows = np.arange(cand.shape[0])[:, None]
    s, c = score[rows, part], cand[rows, part]
    order = np.lexsort((c, -s), axis=1)
    s, c = s[rows, order], c[rows, order]
    c = np.where(np.isfinite(s), c, -1)
    return (c, s, part[rows, order]) if with_positions else (c, s)


def exact_top(emb: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product top-k with faiss (about 2x a numpy matmul here), numpy as fallback."""
    k = min(k, len(emb))
    try:
        # faiss logs each CPU-specific build it fails to find before the one it loads: noise at
        # INFO, unless the host has set that logger's level itself.
        loader = logging.getLogger("faiss.loader")
        if loader.level == logging.NOTSET:
            loader.setLevel(logging.WARNING)
        import faiss

        faiss.omp_set_num_threads(2)
        index = faiss.IndexFlatIP(emb.shape[1])
        index.add(np.ascontiguousarray(emb, np.float32))
        sims, idx = index.search(np.ascontiguousarray(queries, np.float32), k)
        return idx.astype(np.int64), sims
    except ImportError:  # pragma: no cover
        s = queries @ emb.T
        idx = np.argpartition(-s, k - 1, axis=1)[:, :k]
        return idx, np.take_along_axis(s, idx, 1)


# --- RELATED -----------------------------------------------------------------------------------


@dataclass
class RelatedCandidates:
    """Candidates of a batch of anchors with the raw blend components (for tuning and table building)."""

    anchors: np.ndarray
    cand: np.ndarray  # (n, M) item indices, -1 = none
    together: np.ndarray  # baskets holding anchor and candidate
    tf: np.ndarray  # cosine of the TF vectors
    pop: np.ndarray  # popularity component of the candidate (log scale)
    prior: np.ndarray  # recent popularity share of the candidate
    group_prior: np.ndarray | None = None  # P(candidate | anchor's attribute groups), see ``stats.group_prior``
    log_q: np.ndarray | None = None  # log popularity share of the candidate (``log_share``)

    def tf_prob(self, w: Weights) -> np.ndarray:
        """The TF model's own P(candidate | anchor), a softmax of its logit over the candidates.

        Its cosine alone ranks against popularity (training removed half of log popularity from it),
        so the logit adds that half back, as the model was trained to score.
        """
        valid = self.cand >= 0
        z = self.tf / w.tf_temperature + (0.0 if self.log_q is None else w.tf_log_q * self.log_q)
        z = z - np.max(z, axis=1, keepdims=True, initial=-1e30, where=valid)
        e = np.where(valid, np.exp(np.minimum(z, 0.0)), 0.0)
        return e / np.maximum(e.sum(axis=1, keepdims=True), 1e-30)

    def score(self, w: Weights, counts: np.ndarray) -> np.ndarray:
        """A mixture of two estimates of P(j | anchor): the co-occurrence counts (smoothed toward the
        attribute groups' and recent popularity) and the TF model's, plus a popularity term.

        The TF model's share is ``related_tf`` for an anchor without history, falling as s / (n + s)
        with the anchor's n baskets: the counts speak where there is evidence, the model's attribute
        and neighbourhood knowledge where there is little.
        """
        s = w.related_smooth
        n = counts[self.anchors][:, None]
        prior = self.prior if self.group_prior is None else self.group_prior
        co = (self.together + s * prior) / (n + s)
        if not w.related_tf:
            return co + w.related_pop * self.pop
        # An anchor without a vector (a product new since training, in a rescore) has only zero
        # cosines: the model knows nothing of it, and its "estimate" would be popularity alone.
        known = np.abs(self.tf).max(axis=1, keepdims=True, initial=0.0) > 0
        share = np.clip(w.related_tf * s / (n + s), 0.0, 1.0) * known
        return (1.0 - share) * co + share * self.tf_prob(w) + w.related_pop * self.pop


def log_share(counts: np.ndarray) -> np.ndarray:
    """log of each item's share of basket memberships (``counts``: baskets holding it), add-one
    smoothed: the TF model's log-Q term."""
    c = np.asarray(counts, np.float64)
    return np.log((c + 1.0) / (c.sum() + len(c))).astype(np.float32)


def related_candidates(
    anchors: np.ndarray, cooc: sp.csr_matrix, counts: np.ndarray, emb: np.ndarray | None, pop: np.ndarray,
    prior: np.ndarray, n_co: int = 100, n_tf: int = 100, n_pop: int = 50, extra: np.ndarray | None = None,
) -> RelatedCandidates:
    """Union of the anchor's top co-occurring items (by count and by cosine), TF neighbours and popular items."""
    sub = cooc[anchors].tocsr().astype(np.float32)
    cos = sp.diags(1.0 / np.sqrt(counts[anchors] + 1.0)) @ sub @ sp.diags(1.0 / np.sqrt(counts + 1.0))
    parts = [row_top(sub, n_co), row_top(cos.tocsr(), n_co)]
    if emb is not None and n_tf:
        parts.append(exact_top(emb, emb[anchors], n_tf)[0])
    parts.append(np.broadcast_to(np.argsort(-prior, kind="stable")[:n_pop], (len(anchors), min(n_pop, len(pop)))))
    if extra is not None:
        parts.append(extra)
    cand = dedupe(np.concatenate(parts, axis=1), anchors)
    together = lookup(cooc, anchors, cand)
    if emb is not None:
        tf = np.einsum("nd,nmd->nm", emb[anchors], emb[np.maximum(cand, 0)])
    else:
        tf = np.zeros(cand.shape, np.float32)
    safe = np.maximum(cand, 0)
    return RelatedCandidates(anchors, cand, together, tf.astype(np.float32), pop[safe], prior[safe],
                             log_q=log_share(counts)[safe])


# --- CART --------------------------------------------------------------------------------------


def kind_matrix(kinds: np.ndarray) -> sp.csr_matrix:
    """Items x kinds membership (kind -1 = none)."""
    ok = kinds >= 0
    return sp.csr_matrix((np.ones(ok.sum(), np.float32), (np.flatnonzero(ok), kinds[ok])),
                         shape=(len(kinds), int(kinds.max(initial=-1)) + 1))


def cart_kinds(carts: sp.csr_matrix, kinds: np.ndarray) -> sp.csr_matrix:
    """Carts x kinds: 1.0 where the cart holds an item of that kind."""
    return ((carts.astype(np.float32) @ kind_matrix(kinds)) > 0).astype(np.float32).tocsr()


def same_kind(carts: sp.csr_matrix, kinds: np.ndarray | None) -> np.ndarray:
    """Dense (carts x items): 1.0 where an item of the item's kind is already in the cart."""
    if kinds is None or not (kinds >= 0).any():
        return np.zeros(carts.shape, np.float32)
    return np.asarray((cart_kinds(carts, kinds) @ kind_matrix(kinds).T).todense(), dtype=np.float32)


def cart_scores(t: ServingTables, carts: sp.csr_matrix, users: np.ndarray, depth: int = CART_DEPTH) -> np.ndarray:
    """Dense cart-completion scores for a batch (cart items are not excluded here); each cart item
    lends its top ``depth`` neighbours."""
    w = t.weights
    size = np.maximum(np.asarray(carts.sum(axis=1)).ravel(), 1.0)
    scores = np.asarray((sp.diags(1.0 / size) @ carts.astype(np.float32) @ t.cart_neighbours(depth)).todense())
    known = users >= 0
    if known.any():
        u = users[known]
        scores[known] += (w.cart_repeat * t.repeat[u].toarray() + w.cart_recent * t.repeat_recent[u].toarray()
                          + w.cart_taste * t.taste[u].toarray())
    scores += w.cart_pop * t.item_recent
    if w.cart_same_kind:
        scores *= 1.0 + w.cart_same_kind * same_kind(carts, t.item_kind)
    return scores


def complete_cart(t: ServingTables, cart_item_ids: list[str], user_id: str | None = None, k: int = 10,
                  depth: int | None = None) -> list[tuple[str, float, str, dict]]:
    """Request-time cart completion: (item_id, score, reason code, evidence), best first, no TF
    needed. Each cart item lends its top ``depth`` neighbours (by default ``CART_DEPTH``, or ``k``
    where that is more, as the cart widget reads the published rows)."""
    items = t.index("item")
    cart = [items[i] for i in map(str, cart_item_ids) if i in items]
    u = t.index("user").get(str(user_id), -1) if user_id is not None else -1
    w = t.weights
    table = t.cart_neighbours(depth or cart_depth(k))
    together = table[cart].sum(axis=0).A1 / len(cart) if cart else np.zeros(len(t.item_ids), np.float32)
    parts = {"together": together}
    score = parts["together"] + w.cart_pop * t.item_recent
    rep = np.zeros(len(t.item_ids), np.float32)
    if u >= 0:
        rep = t.repeat[u].toarray().ravel()
        rec = t.repeat_recent[u].toarray().ravel()
        score = score + w.cart_repeat * rep + w.cart_recent * rec + w.cart_taste * t.taste[u].toarray().ravel()
    if w.cart_same_kind and t.item_kind is not None and cart:
        in_cart = np.zeros(int(t.item_kind.max()) + 2, bool)
        in_cart[t.item_kind[cart]] = True
        in_cart[-1] = False  # kind -1 (none) indexes the last slot
        score = score * (1.0 + w.cart_same_kind * in_cart[t.item_kind])
    score[cart] = -np.inf
    top = np.argpartition(-score, min(k, len(score) - 1))[:k]
    top = top[np.lexsort((top, -score[top]))]
    out = []
    for j in top:
        if rep[j] > 0 and w.cart_repeat * rep[j] >= parts["together"][j]:
            reason = (BOUGHT_BEFORE, {"share_of_your_baskets": round(float(rep[j]), 3),
                                      "text": f"you bought it in {rep[j]:.0%} of your baskets"})
        elif parts["together"][j] > w.cart_pop * t.item_recent[j] + 1e-6:
            reason = (BOUGHT_TOGETHER, {"text": "often bought with items in your cart"})
        elif u >= 0 and t.taste[u, j] > 0:
            reason = (YOUR_TASTE, {"text": "matches what you usually buy"})
        else:
            reason = (POPULAR, {"baskets": int(t.item_baskets[j]), "text": "popular with other shoppers"})
        out.append((str(t.item_ids[j]), float(score[j]), *reason))
    return out


# --- SHOPS -------------------------------------------------------------------------------------


def shop_components(user_shops: sp.csr_matrix, user_emb: np.ndarray | None, shop_emb: np.ndarray | None
                    ) -> dict[str, np.ndarray]:
    """Dense users x shops components: own share, co-visitation (cosine) from it, TF affinity, popularity."""
    own = user_shops.toarray().astype(np.float32)
    total = own.sum(axis=1, keepdims=True)
    own = own / np.maximum(total, 1.0)
    b = (user_shops > 0).astype(np.float32)
    c = (b.T @ b).toarray()
    n = np.sqrt(np.maximum(np.diag(c), 1.0))
    cos = c / n[:, None] / n[None, :]
    np.fill_diagonal(cos, 0.0)
    knn = own @ cos
    tf = user_emb @ shop_emb.T if user_emb is not None and shop_emb is not None else np.zeros_like(own)
    pop = np.asarray(user_shops.sum(axis=0)).ravel()
    pop = np.broadcast_to((pop / max(pop.sum(), 1.0)).astype(np.float32), own.shape)
    # EASE (Steck 2019) over shops: which shops a shopper's other shops predict.
    logc = user_shops.astype(np.float64).copy()
    logc.data = np.log1p(logc.data)
    g = (logc.T @ logc).toarray()
    g[np.diag_indices_from(g)] += 20.0
    p = np.linalg.inv(g)
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    ease = np.asarray(logc @ b)
    return {"own": own, "knn": knn.astype(np.float32), "ease": ease.astype(np.float32), "tf": tf.astype(np.float32),
            "pop": pop}


def blend_shops(comp: dict[str, np.ndarray], w: Weights) -> np.ndarray:
    out = (comp["own"] + w.shop_knn * comp["knn"] + w.shop_ease * comp["ease"] + w.shop_tf * comp["tf"]
           + w.shop_pop * comp["pop"])
    if w.shop_new:  # shops the shopper has not used yet, ranked among themselves by EASE
        out = out + w.shop_new * (comp["own"] == 0) * np.maximum(comp["ease"], 0.0)
    return out


def shops_for_user(t: ServingTables, user_id: str | None, k: int = 5) -> list[tuple[str, float, str, dict]]:
    """Shops ranked for a shopper (unknown shoppers get popular shops), with reasons."""
    u = t.index("user").get(str(user_id), -1) if user_id is not None else -1
    score = t.shop_affinity[u] if u >= 0 else t.shop_baskets / max(t.shop_baskets.sum(), 1.0)
    top = np.argsort(-score, kind="stable")[:k]
    out = []
    for s in top:
        out.append((str(t.shop_ids[s]), float(score[s]), *shop_reason(t, u, s)))
    return out


def shop_reason(t: ServingTables, u: int, s: int) -> tuple[str, dict]:
    if u >= 0 and t.shop_used is not None and t.shop_used[u, s] > 0:
        n = int(t.shop_used[u, s])
        return SHOP_USED, {"your_baskets": n, "text": f"you shopped here {n} times"}
    if u >= 0:
        return SHOP_SIMILAR, {"text": "shoppers who use your shops also shop here"}
    return SHOP_POPULAR, {"baskets": int(t.shop_baskets[s]), "text": "popular shop"}
