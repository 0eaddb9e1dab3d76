"""Publish small score tables by hand, to test serving apart from training."""

from decimal import Decimal

import pandas as pd

from goodsassoc import cards
from goodsassoc.models import ModelVersion
from goodsassoc.publishing import PublishTables, publish, write_version
from tests.testapp.models import Article


def tables(related=(), shopper_items=(), shopper_shops=(), popular=()) -> PublishTables:
    return PublishTables(
        related=pd.DataFrame(list(related), columns=["product_key", "rank", "related_key", "score", "popularity",
                                                     "reason", "evidence"]),
        shopper_items=pd.DataFrame(list(shopper_items), columns=["shopper_key", "product_key", "repeat", "taste"]),
        shopper_shops=pd.DataFrame(list(shopper_shops), columns=["shopper_key", "rank", "shop_key", "score",
                                                                 "reason", "evidence"]),
        popular=pd.DataFrame(list(popular), columns=["scope", "scope_key", "rank", "product_key", "score", "baskets",
                                                     "recent"][:len(popular[0]) if popular else 6]),
    )


def publish_version(t: PublishTables, weights=None) -> ModelVersion:
    version = ModelVersion.objects.create(params={"weights": weights or {}})
    write_version(version.pk, t)
    publish(version)
    return version


def related_rows(anchor, *targets, reason="bought_together"):
    return [(anchor, rank, target, 1.0 - (rank - 1) / 10, 0.5, reason, {"baskets_together": 11 - rank})
            for rank, target in enumerate(targets, start=1)]


def shelf_of(sellers, out_of_stock) -> list[str]:
    """60 products P-00..P-59 (those where ``out_of_stock(i)`` holds not in stock) with their cards
    written; their keys."""
    products = [Article.objects.create(sku=f"P-{i:02d}", headline=f"Product {i}", seller=sellers[i % 2],
                                       section="Home > Kitchen", cost=Decimal("5.00"), in_stock=not out_of_stock(i))
                for i in range(60)]
    cards.sync()
    return [p.sku for p in products]
