"""The training extract: protocol columns, weights per kind, sessions for events without a basket."""

from datetime import timedelta

import pandas as pd
from django.utils import timezone

from goodsassoc.extract import interactions_frame, items_frame
from goodsassoc.privacy import Identity
from goodsassoc.recording import record_events


def test_interactions_frame(articles, shopper):
    # Browsing sessions are per shopper and calendar day: the two browsing events lie yesterday
    # at noon, so that a run near midnight does not split them.
    noon = (timezone.now() - timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    anon = Identity(anonymous_id="0c4f2b8e-92f6-4d3b-8f47-8f6a4a1d5e01")
    record_events([{"kind": "view", "product": "SKU-1", "timestamp": noon - timedelta(minutes=5)},
                   {"kind": "add_to_cart", "product": "SKU-2", "timestamp": noon - timedelta(minutes=4)},
                   {"kind": "remove_from_cart", "product": "SKU-2"}], identity=anon)
    record_events([{"kind": "purchase", "product": "SKU-3", "basket": "o-1", "quantity": 2, "value": "51.00"}],
                  identity=Identity(user_pseudonym="p" * 32))
    record_events([{"kind": "view", "product": "SKU-4"}])
    frame = interactions_frame()
    assert list(frame.columns) == ["user_id", "basket_id", "item_id", "shop_id", "ts", "quantity", "price",
                                   "weight", "kind"]
    assert len(frame) == 4  # the removal weighs nothing
    by_item = frame.set_index("item_id")
    assert by_item.loc["SKU-1", "basket_id"] == by_item.loc["SKU-2", "basket_id"]  # one browsing session
    assert by_item.loc["SKU-1", "user_id"] == anon.anonymous_id
    assert by_item.loc["SKU-3", "basket_id"] == "o-1" and by_item.loc["SKU-3", "price"] == 25.5
    assert by_item.loc["SKU-3", "weight"] == 1.0 and by_item.loc["SKU-1", "weight"] == 0.2
    assert pd.isna(by_item.loc["SKU-4", "user_id"]) and by_item.loc["SKU-4", "basket_id"].startswith("e:")
    assert by_item.loc["SKU-1", "shop_id"] == str(articles[0].seller_id)
    assert len(interactions_frame(since=noon - timedelta(minutes=4, seconds=30))) == 3


def test_items_frame(articles):
    frame = items_frame().set_index("item_id")
    assert frame.loc["SKU-1", "title"] == "Chef knife"
    assert list(frame.loc["SKU-1", ["category_1", "category_2", "category_3"]]) == ["Home", "Kitchen", "Knives"]
    assert frame.loc["SKU-3", "manufacturer"] == "Oakline" and frame.loc["SKU-3", "price"] == 25.5
