"""The interaction table in the protocol format, its time split, and its encoded training form.

Every engine stage speaks this format, so a shop's own export, the Complete Journey export and
the Django layer's export are all handled the same way (see ``docs/engine.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

LINE_COLUMNS = ("user_id", "basket_id", "item_id", "shop_id", "ts", "quantity", "price", "weight")
ATTRIBUTE_COLUMNS = ("title", "category_1", "category_2", "category_3", "brand", "manufacturer", "price", "shop_id")
# Interaction kinds the host may send instead of a numeric weight (view < add-to-cart < purchase).
KIND_WEIGHTS = {"view": 0.2, "click": 0.2, "add_to_cart": 0.5, "cart": 0.5, "purchase": 1.0, "order": 1.0}
SPLIT_DAYS = 30


def _read(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return source.copy()
    path = Path(source)
    if path.suffix in {".parquet", ".pq"}:
        return pd.read_parquet(path)
    return pd.read_csv(path)


def _ids(col: pd.Series) -> pd.Series:
    """IDs are strings whatever the host uses (int, UUID, SKU); missing stays missing."""
    out = col.astype("string")
    return out.where(col.notna(), pd.NA)


def normalize_lines(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Load lines in the protocol format and coerce types; drop lines with quantity <= 0."""
    df = _read(source)
    missing = {"basket_id", "item_id", "ts"} - set(df.columns)
    if missing:
        raise ValueError(f"interaction table lacks columns {sorted(missing)}")
    out = pd.DataFrame(
        {
            "user_id": _ids(df["user_id"]) if "user_id" in df else pd.Series(pd.NA, index=df.index, dtype="string"),
            "basket_id": _ids(df["basket_id"]),
            "item_id": _ids(df["item_id"]),
            "shop_id": _ids(df["shop_id"]) if "shop_id" in df else pd.Series(pd.NA, index=df.index, dtype="string"),
            "ts": pd.to_datetime(df["ts"], utc=False),
            "quantity": pd.to_numeric(df["quantity"], errors="coerce").fillna(1.0) if "quantity" in df else 1.0,
            "price": pd.to_numeric(df["price"], errors="coerce") if "price" in df else np.nan,
        }
    )
    if "weight" in df:
        out["weight"] = pd.to_numeric(df["weight"], errors="coerce").fillna(1.0)
    elif "kind" in df:
        out["weight"] = df["kind"].astype(str).str.lower().map(KIND_WEIGHTS).fillna(1.0)
    else:
        out["weight"] = 1.0
    if getattr(out["ts"].dt, "tz", None) is not None:
        out["ts"] = out["ts"].dt.tz_convert(None)
    out = out[(out["quantity"] > 0) & out["basket_id"].notna() & out["item_id"].notna()]
    return out.reset_index(drop=True)


def normalize_items(source: str | Path | pd.DataFrame | None, item_ids: pd.Series | None = None) -> pd.DataFrame:
    """Item table with every attribute column present (missing ones empty), one row per item."""
    df = _read(source) if source is not None else pd.DataFrame({"item_id": pd.Series([], dtype="string")})
    out = pd.DataFrame({"item_id": _ids(df["item_id"])})
    for col in ATTRIBUTE_COLUMNS:
        if col == "price":
            out[col] = pd.to_numeric(df[col], errors="coerce") if col in df else np.nan
        else:
            out[col] = df[col].astype("string") if col in df else pd.Series(pd.NA, index=df.index, dtype="string")
    out = out.drop_duplicates("item_id")
    if item_ids is not None:
        extra = pd.DataFrame({"item_id": pd.Series(item_ids.unique()).astype("string")})
        out = extra.merge(out, on="item_id", how="left")
    return out.reset_index(drop=True)


@dataclass(frozen=True)
class Split:
    """Train / test lines split by basket time (a basket's earliest line), never splitting a basket."""

    train: pd.DataFrame
    test: pd.DataFrame
    cutoff: pd.Timestamp


def time_split(lines: pd.DataFrame, days: int = SPLIT_DAYS) -> Split:
    """Test = baskets whose time is after max(ts) - ``days``; train = all earlier baskets."""
    basket_time = lines.groupby("basket_id", sort=False)["ts"].transform("min")
    cutoff = lines["ts"].max() - pd.Timedelta(days=days)
    is_test = basket_time > cutoff
    return Split(lines[~is_test].reset_index(drop=True), lines[is_test].reset_index(drop=True), cutoff)


@dataclass
class TrainData:
    """Integer-encoded training lines: vocabularies, sparse matrices and item attributes.

    Index ``i`` of every item array is the item ``item_ids[i]``; the same for users and shops.
    Matrices hold weighted basket counts (a line of weight 1 in a basket counts once).
    """

    item_ids: np.ndarray
    user_ids: np.ndarray
    shop_ids: np.ndarray
    basket_items: sp.csr_matrix  # baskets x items, max line weight per basket and item
    basket_user: np.ndarray  # user index per basket, -1 if anonymous
    basket_shop: np.ndarray  # shop index per basket, -1 if unknown
    basket_time: np.ndarray  # seconds since epoch, per basket
    user_items: sp.csr_matrix  # users x items, weighted number of baskets
    user_shops: sp.csr_matrix  # users x shops, number of baskets
    item_shops: sp.csr_matrix  # items x shops, weighted number of baskets
    items: pd.DataFrame  # attributes aligned with item_ids
    n_lines: int = 0
    user_last_time: np.ndarray = field(default_factory=lambda: np.zeros(0))
    user_item_last: sp.csr_matrix | None = None  # users x items, last purchase time (seconds, offset by 1)
    cache: dict = field(default_factory=dict, repr=False)  # derived matrices shared by models
    lines: pd.DataFrame | None = field(default=None, repr=False)  # the encoded lines (for validation carving)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_shops(self) -> int:
        return len(self.shop_ids)

    @property
    def item_popularity(self) -> np.ndarray:
        """Number of training baskets containing each item (binary)."""
        return np.asarray((self.basket_items > 0).sum(axis=0)).ravel().astype(np.float64)

    def index_of(self, kind: str) -> dict[str, int]:
        ids = {"item": self.item_ids, "user": self.user_ids, "shop": self.shop_ids}[kind]
        return {v: i for i, v in enumerate(ids)}


def encode(lines: pd.DataFrame, items: pd.DataFrame | None = None) -> TrainData:
    """Encode training lines into vocabularies and matrices (the input of every model)."""
    item_cat = pd.Categorical(lines["item_id"])
    user_cat = pd.Categorical(lines["user_id"].dropna().unique())
    shop_cat = pd.Categorical(lines["shop_id"].dropna().unique())
    item_ids = np.asarray(item_cat.categories, dtype=object)
    user_ids = np.asarray(user_cat.categories, dtype=object)
    shop_ids = np.asarray(shop_cat.categories, dtype=object)
    item_idx = item_cat.codes.astype(np.int64)
    user_idx = pd.Categorical(lines["user_id"], categories=user_cat.categories).codes.astype(np.int64)
    shop_idx = pd.Categorical(lines["shop_id"], categories=shop_cat.categories).codes.astype(np.int64)
    basket_cat = pd.Categorical(lines["basket_id"])
    basket_idx = basket_cat.codes.astype(np.int64)
    n_b, n_i, n_u, n_s = len(basket_cat.categories), len(item_ids), len(user_ids), len(shop_ids)
    ts = lines["ts"].to_numpy("datetime64[s]").astype(np.int64)
    weight = lines["weight"].to_numpy(np.float64)

    frame = pd.DataFrame({"b": basket_idx, "i": item_idx, "w": weight})
    bi = frame.groupby(["b", "i"], sort=False)["w"].max().reset_index()
    basket_items = sp.csr_matrix((bi["w"].to_numpy(np.float32), (bi["b"], bi["i"])), shape=(n_b, n_i))

    per_basket = pd.DataFrame({"b": basket_idx, "u": user_idx, "s": shop_idx, "t": ts}).groupby("b")
    basket_user = per_basket["u"].max().reindex(range(n_b), fill_value=-1).to_numpy(np.int64)
    basket_shop = per_basket["s"].max().reindex(range(n_b), fill_value=-1).to_numpy(np.int64)
    basket_time = per_basket["t"].min().reindex(range(n_b), fill_value=0).to_numpy(np.int64)

    has_user = basket_user >= 0
    owner = sp.csr_matrix(
        (np.ones(has_user.sum(), np.float32), (basket_user[has_user], np.flatnonzero(has_user))), shape=(n_u, n_b)
    )
    user_items = (owner @ basket_items).tocsr()
    has_shop = basket_shop >= 0
    bs = sp.csr_matrix(
        (np.ones(has_shop.sum(), np.float32), (np.flatnonzero(has_shop), basket_shop[has_shop])), shape=(n_b, n_s)
    )
    user_shops = (owner @ bs).tocsr()
    item_shops = (basket_items.T @ bs).tocsr()
    # Last time each user bought each item (for recency-aware repeat scores).
    ui = pd.DataFrame({"u": basket_user[bi["b"]], "i": bi["i"], "t": basket_time[bi["b"]]})
    ui = ui[ui["u"] >= 0].groupby(["u", "i"])["t"].max().reset_index()
    user_item_last = sp.csr_matrix(
        (ui["t"].to_numpy(np.float64) + 1.0, (ui["u"], ui["i"])), shape=(n_u, n_i)
    )
    ul = ui.groupby("u")["t"].max().reindex(range(n_u), fill_value=0).to_numpy(np.float64)

    attrs = normalize_items(items, pd.Series(item_ids))
    attrs = attrs.set_index("item_id").reindex(pd.Index(item_ids.astype(str), dtype="string", name="item_id"))
    attrs = attrs.reset_index()
    line_price = pd.DataFrame({"i": item_idx, "p": lines["price"].to_numpy(np.float64)}).groupby("i")["p"].median()
    fallback_price = line_price.reindex(range(n_i)).to_numpy()
    attrs["price"] = attrs["price"].fillna(pd.Series(fallback_price))
    return TrainData(
        item_ids=item_ids,
        user_ids=user_ids,
        shop_ids=shop_ids,
        basket_items=basket_items,
        basket_user=basket_user,
        basket_shop=basket_shop,
        basket_time=basket_time,
        user_items=user_items,
        user_shops=user_shops,
        item_shops=item_shops,
        items=attrs,
        n_lines=len(lines),
        user_last_time=ul,
        user_item_last=user_item_last,
        lines=lines,
    )


def rows_of(ids: np.ndarray, subset: np.ndarray) -> np.ndarray:
    """Positions in ``ids`` of every id in ``subset`` (all of which ``ids`` holds): aligns rows of
    two encodings of overlapping data, e.g. item vectors across catalogues."""
    return pd.Series(np.arange(len(ids)), index=ids.astype(str)).reindex(subset.astype(str)).to_numpy()


def binary_baskets(data: TrainData) -> sp.csr_matrix:
    """Baskets x items, 1 where the item is in the basket (cached)."""
    if "X" not in data.cache:
        x = data.basket_items.copy()
        x.data[:] = 1.0
        data.cache["X"] = x
    return data.cache["X"]


def cooccurrence(data: TrainData) -> sp.csr_matrix:
    """Items x items: number of training baskets holding both items; zero diagonal (cached)."""
    if "C" not in data.cache:
        x = binary_baskets(data)
        c = (x.T.tocsr() @ x).tocsr()
        c.setdiag(0)
        c.eliminate_zeros()
        c.sort_indices()
        data.cache["C"] = c
    return data.cache["C"]


def row_normalized(m: sp.csr_matrix, how: str = "max") -> sp.csr_matrix:
    """Rows scaled so that their max (or sum) is 1; empty rows stay empty."""
    m = m.tocsr().astype(np.float32)
    agg = m.max(axis=1).toarray().ravel() if how == "max" else np.asarray(m.sum(axis=1)).ravel()
    agg[agg == 0] = 1.0
    return sp.diags(1.0 / agg).astype(np.float32) @ m
