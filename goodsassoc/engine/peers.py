"""The peers of the evaluation protocol: popularity, item-kNN, association rules, EASE, implicit ALS.

Every model (these and the shipped recommender) has the same small interface, so the evaluation
runs them side by side: ``fit(data)``, then dense score matrices for ``related(anchors)``,
``cart(carts, users)`` and ``shops(users)``. Parameters that only change scoring live in
``params[task]`` and are tuned on validation; ``fit_grid`` lists parameters that need a refit.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from goodsassoc.engine.data import TrainData, binary_baskets, cooccurrence, row_normalized

TASKS = ("related", "cart", "shops")


class Model:
    """Base of every model the evaluation compares."""

    name = "model"
    fit_grid: list[dict] = [{}]
    grids: dict[str, list[dict]] = {}

    def __init__(self, **fit_params) -> None:
        self.fit_params = fit_params
        self.params: dict[str, dict] = {t: dict(g[0]) if (g := self.grids.get(t)) else {} for t in TASKS}

    def fit(self, data: TrainData) -> Model:
        self.data = data
        self._fit(data)
        return self

    def _fit(self, data: TrainData) -> None:  # pragma: no cover - overridden
        pass

    def related(self, anchors: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def cart(self, carts: sp.csr_matrix, users: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def shops(self, users: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # helpers shared by peers -------------------------------------------------------------
    def _tiebreak(self) -> np.ndarray:
        pop = self.data.item_popularity
        return (pop / (pop.max() + 1.0) * 1e-3).astype(np.float32)

    def _history(self, users: np.ndarray) -> sp.csr_matrix:
        """Users' training histories, rows scaled to max 1; anonymous users get an empty row."""
        if "H" not in self.data.cache:
            self.data.cache["H"] = row_normalized(self.data.user_items)
        h = self.data.cache["H"]
        safe = np.where(users >= 0, users, 0)
        rows = h[safe]
        return sp.diags((users >= 0).astype(np.float32)) @ rows

    def _shop_history(self, users: np.ndarray) -> sp.csr_matrix:
        h = row_normalized(self.data.user_shops, "sum")
        safe = np.where(users >= 0, users, 0)
        return sp.diags((users >= 0).astype(np.float32)) @ h[safe]

    def _profile(self, carts: sp.csr_matrix, users: np.ndarray, beta: float) -> sp.csr_matrix:
        prof = carts.astype(np.float32)
        if beta:
            prof = prof + beta * self._history(users)
        return prof.tocsr()

    def _linear_cart(self, carts: sp.csr_matrix, users: np.ndarray, beta: float, key, sim) -> np.ndarray:
        """cart @ sim + beta * history @ sim, the history part cached densely for all users."""
        scores = np.asarray((carts.astype(np.float32) @ sim).todense() if sp.issparse(sim) else carts @ sim)
        if beta:
            cache = self.data.cache.setdefault("user_part", {})
            if key not in cache:
                h = self._history(np.arange(self.data.n_users))
                if not sp.issparse(sim):
                    h = h[:, self.keep]
                part = np.zeros((h.shape[0], sim.shape[1]), np.float32)
                for s in range(0, h.shape[0], 256):
                    blk = h[s : s + 256] @ sim
                    part[s : s + 256] = blk.toarray() if sp.issparse(blk) else blk
                cache.clear()
                cache[key] = part
            known = users >= 0
            scores[known] += beta * cache[key][users[known]]
        return scores.astype(np.float32)


def _shop_popularity(data: TrainData) -> np.ndarray:
    return np.asarray(data.user_shops.sum(axis=0)).ravel().astype(np.float32)


class Popularity(Model):
    """Global popularity; for CART and SHOPS the shopper's own frequency, padded with popularity."""

    name = "popularity / own frequency"

    def related(self, anchors: np.ndarray) -> np.ndarray:
        pop = self.data.item_popularity.astype(np.float32)
        return np.broadcast_to(pop, (len(anchors), len(pop))).copy()

    def cart(self, carts: sp.csr_matrix, users: np.ndarray) -> np.ndarray:
        safe = np.where(users >= 0, users, 0)
        own = self.data.user_items[safe].toarray() * (users >= 0)[:, None]
        pop = self.data.item_popularity
        return (own + pop / (pop.max() + 1.0)).astype(np.float32)

    def shops(self, users: np.ndarray) -> np.ndarray:
        safe = np.where(users >= 0, users, 0)
        own = self.data.user_shops[safe].toarray() * (users >= 0)[:, None]
        pop = _shop_popularity(self.data)
        return (own + pop / (pop.max() + 1.0)).astype(np.float32)


def _knn_matrix(c: sp.csr_matrix, counts: np.ndarray, alpha: float, shrink: float = 0.0) -> sp.csr_matrix:
    """sim(i, j) = c_ij / (n_i^(1 - alpha) * n_j^alpha + shrink).

    alpha 0.5 is cosine, 0 conditional probability P(j | i); ``shrink`` damps pairs of rare items.
    """
    n = np.maximum(counts, 1.0)
    c = c.tocoo()
    denom = n[c.row] ** (1.0 - alpha) * n[c.col] ** alpha + shrink
    return sp.csr_matrix(((c.data / denom).astype(np.float32), (c.row, c.col)), shape=c.shape)


class ItemKNN(Model):
    """Item-kNN on basket co-occurrence; ``alpha`` 0.5 is cosine, lower leans to conditional probability."""

    name = "item-kNN"
    grids = {
        "related": [{"alpha": a, "shrink": s} for a in (0.5, 0.3, 0.15, 0.0)
                    for s in (0.0, 50.0, 300.0, 1000.0, 3000.0)],
        "cart": [{"alpha": a, "shrink": s, "beta": b} for a in (0.5, 0.2, 0.0) for s in (0.0, 20.0)
                 for b in (0.0, 0.1, 0.5)],
        "shops": [{"alpha": a, "shrink": 0.0} for a in (0.5, 0.3, 0.0)],
    }

    def __init__(self, fixed_alpha: float | None = None, name: str | None = None) -> None:
        super().__init__()
        if fixed_alpha is not None:
            self.grids = {t: [g for g in grid if g["alpha"] == fixed_alpha] for t, grid in self.grids.items()}
            self.params = {t: dict(self.grids[t][0]) for t in TASKS}
        if name:
            self.name = name
        self._sims: dict[tuple, sp.csr_matrix] = {}

    def _sim(self, kind: str, alpha: float, shrink: float = 0.0) -> sp.csr_matrix:
        key = (kind, alpha, shrink)
        if key not in self._sims:
            if len(self._sims) > 2:
                self._sims.clear()
            if kind == "items":
                self._sims[key] = _knn_matrix(cooccurrence(self.data), self.data.item_popularity, alpha, shrink)
            else:
                b = self.data.user_shops.copy()
                b.data[:] = 1.0
                c = (b.T @ b).tocsr()
                self._sims[key] = _knn_matrix(c, np.asarray(b.sum(axis=0)).ravel(), alpha, shrink)
        return self._sims[key]

    def _fit(self, data: TrainData) -> None:
        self._sims = {}
        cooccurrence(data)

    def related(self, anchors: np.ndarray) -> np.ndarray:
        p = self.params["related"]
        s = self._sim("items", p["alpha"], p["shrink"])
        return s[anchors].toarray() + self._tiebreak()

    def cart(self, carts: sp.csr_matrix, users: np.ndarray) -> np.ndarray:
        p = self.params["cart"]
        sim = self._sim("items", p["alpha"], p["shrink"])
        return self._linear_cart(carts, users, p["beta"], ("knn", p["alpha"], p["shrink"]), sim) + self._tiebreak()

    def shops(self, users: np.ndarray) -> np.ndarray:
        s = self._sim("shops", self.params["shops"]["alpha"])
        s = s + sp.eye(s.shape[0], dtype=np.float32)
        pop = _shop_popularity(self.data)
        return (self._shop_history(users) @ s).toarray() + 1e-6 * pop / pop.max()


class AssociationRules(Model):
    """Pairwise association rules i -> j ranked by lift, kept when their support reaches ``min_support``."""

    name = "association rules (lift)"
    grids = {
        "related": [{"min_support": s} for s in (2, 5, 10, 20)],
        "cart": [{"min_support": s, "beta": b} for s in (5, 20) for b in (0.0, 0.5)],
        "shops": [{"min_support": s} for s in (2, 5, 20)],
    }

    def _lift(self, c: sp.csr_matrix, counts: np.ndarray, n: int, min_support: float) -> sp.csr_matrix:
        c = c.copy().astype(np.float32)
        c.data[c.data < min_support] = 0
        c.eliminate_zeros()
        nn = np.maximum(counts, 1.0)
        return (sp.diags(n / nn) @ c @ sp.diags(1.0 / nn)).astype(np.float32).tocsr()

    def _fit(self, data: TrainData) -> None:
        cooccurrence(data)

    def related(self, anchors: np.ndarray) -> np.ndarray:
        d = self.data
        c = cooccurrence(d)[anchors].tocsr().astype(np.float32)
        c.data[c.data < self.params["related"]["min_support"]] = 0
        c.eliminate_zeros()
        nn = np.maximum(d.item_popularity, 1.0)
        lift = sp.diags(d.basket_items.shape[0] / nn[anchors]) @ c @ sp.diags(1.0 / nn)
        return lift.toarray().astype(np.float32) + self._tiebreak()

    def cart(self, carts: sp.csr_matrix, users: np.ndarray) -> np.ndarray:
        d = self.data
        p = self.params["cart"]
        key = ("lift", p["min_support"])
        if key not in d.cache:
            d.cache[key] = self._lift(cooccurrence(d), d.item_popularity, d.basket_items.shape[0], p["min_support"])
        return self._linear_cart(carts, users, p["beta"], key, d.cache[key]) + self._tiebreak()

    def shops(self, users: np.ndarray) -> np.ndarray:
        b = self.data.user_shops.copy()
        b.data[:] = 1.0
        c = (b.T @ b).tocsr()
        c.setdiag(0)
        lift = self._lift(c, np.asarray(b.sum(axis=0)).ravel(), b.shape[0], self.params["shops"]["min_support"])
        pop = _shop_popularity(self.data)
        return (self._shop_history(users) @ lift).toarray() + 1e-6 * pop / pop.max()


def ease_weights(gram: np.ndarray, l2: float) -> np.ndarray:
    """EASE (Steck 2019): B = I - P diag(1/diag(P)), P = (G + l2 I)^-1, zero diagonal (float32)."""
    from scipy.linalg import lapack

    g = np.array(gram, dtype=np.float32, order="F", copy=True)
    g[np.diag_indices_from(g)] += l2
    chol, info = lapack.spotrf(g, lower=False, overwrite_a=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE Cholesky failed ({info})")
    p, info = lapack.spotri(chol, lower=False, overwrite_c=True)
    del chol
    p = np.triu(p) + np.triu(p, 1).T
    diag = np.diag(p).copy()
    p /= -diag[None, :]
    p[np.diag_indices_from(p)] = 0.0
    return np.ascontiguousarray(p, dtype=np.float32)


class EASE(Model):
    """EASE on baskets (items capped at the most frequent ``max_items``) and on shoppers x shops."""

    name = "EASE"
    fit_grid = [{"l2": v} for v in (20.0, 200.0, 2000.0, 20000.0)]
    grids = {"related": [{}], "cart": [{"beta": b} for b in (0.0, 0.1, 0.5)], "shops": [{}]}

    def __init__(self, l2: float = 200.0, max_items: int = 20000, shop_l2: float = 50.0) -> None:
        super().__init__(l2=l2)
        self.l2, self.max_items, self.shop_l2 = l2, max_items, shop_l2

    def _fit(self, data: TrainData) -> None:
        pop = data.item_popularity
        keep = np.sort(np.argsort(-pop, kind="stable")[: self.max_items])
        self.keep = keep
        key = ("gram", len(keep))
        if key not in data.cache:
            x = binary_baskets(data)[:, keep]
            data.cache[key] = (x.T @ x).toarray().astype(np.float32)
        self.b = ease_weights(data.cache[key], self.l2)
        us = data.user_shops.copy()
        us.data = np.log1p(us.data)
        self.shop_b = ease_weights((us.T @ us).toarray(), self.shop_l2)

    def _expand(self, small: np.ndarray) -> np.ndarray:
        out = np.zeros((small.shape[0], self.data.n_items), dtype=np.float32)
        out[:, self.keep] = small
        return out + self._tiebreak()

    def related(self, anchors: np.ndarray) -> np.ndarray:
        pos = np.full(self.data.n_items, -1)
        pos[self.keep] = np.arange(len(self.keep))
        rows = np.zeros((len(anchors), len(self.keep)), dtype=np.float32)
        known = pos[anchors] >= 0
        rows[known] = self.b[pos[anchors][known]]
        return self._expand(rows)

    def cart(self, carts: sp.csr_matrix, users: np.ndarray) -> np.ndarray:
        small = self._linear_cart(carts[:, self.keep], users, self.params["cart"]["beta"], ("ease", self.l2), self.b)
        return self._expand(small)

    def shops(self, users: np.ndarray) -> np.ndarray:
        safe = np.where(users >= 0, users, 0)
        us = self.data.user_shops[safe].toarray() * (users >= 0)[:, None]
        pop = _shop_popularity(self.data)
        return np.log1p(us) @ self.shop_b + 1e-6 * pop / pop.max()


class ALS(Model):
    """Implicit ALS (package ``implicit``): baskets x items for items, shoppers x shops for shops."""

    name = "implicit ALS"
    grids = {"related": [{}], "cart": [{"beta": b} for b in (0.0, 0.3, 1.0)], "shops": [{}]}

    def __init__(self, factors: int = 64, regularization: float = 0.05, iterations: int = 15, seed: int = 0) -> None:
        super().__init__()
        self.factors, self.reg, self.iterations, self.seed = factors, regularization, iterations, seed

    def _als(self, m: sp.csr_matrix, factors: int):
        from implicit.cpu.als import AlternatingLeastSquares

        model = AlternatingLeastSquares(
            factors=factors, regularization=self.reg, iterations=self.iterations, random_state=self.seed
        )
        model.fit(m.tocsr().astype(np.float32), show_progress=False)
        return model

    def _fit(self, data: TrainData) -> None:
        self.items_model = self._als(binary_baskets(data) * 10.0, self.factors)
        us = data.user_shops.copy()
        us.data = np.log1p(us.data) * 10.0
        self.shops_model = self._als(us, min(self.factors, 32))

    def related(self, anchors: np.ndarray) -> np.ndarray:
        y = self.items_model.item_factors
        return y[anchors] @ y.T + self._tiebreak()

    def cart(self, carts: sp.csr_matrix, users: np.ndarray) -> np.ndarray:
        prof = self._profile(carts, users, self.params["cart"]["beta"]) * 10.0
        u = self.items_model.recalculate_user(np.arange(prof.shape[0]), prof.tocsr())
        return np.asarray(u) @ self.items_model.item_factors.T + self._tiebreak()

    def shops(self, users: np.ndarray) -> np.ndarray:
        m = self.shops_model
        safe = np.where(users >= 0, users, 0)
        scores = m.user_factors[safe] @ m.item_factors.T
        pop = _shop_popularity(self.data)
        return np.where((users >= 0)[:, None], scores, 0.0) + 1e-6 * pop / pop.max()


def all_peers() -> list[Model]:
    """The protocol's peers, in table order."""
    return [
        Popularity(),
        ItemKNN(fixed_alpha=0.5, name="item-kNN cosine"),
        ItemKNN(name="item-kNN cond. prob. (alpha tuned)"),
        AssociationRules(),
        EASE(),
        ALS(),
    ]
