"""How the demo shop plugs into goodsassoc: the host contract in one dict.

Kept apart from settings so tests can switch goodsassoc to the demo shop with
``override_settings(GOODSASSOC=DEMO_GOODSASSOC)``.
"""

import os
from pathlib import Path

# A public default so the demo runs out of the box; set the variable for anything real.
_DEMO_PSEUDONYM_KEY = "demo-only-pseudonym-key-not-secret-set-GOODSASSOC_PSEUDONYM_KEY"

DEMO_GOODSASSOC = {
    "PRODUCT_MODEL": "shop_demo.Product",
    "SHOP_MODEL": "shop_demo.Store",
    "PRODUCT_ADAPTER": "shop_demo.adapters.DemoProductAdapter",
    "PRODUCT_ATTRIBUTES": {
        "title": "name",
        "category_path": "category_path",
        "brand": "brand__name",
        "manufacturer": "manufacturer__name",
        "price": "price",
        "available": "is_available",
        # "shop" is not set: a product is sold in every store.
    },
    "PSEUDONYM_KEY": os.environ.get("GOODSASSOC_PSEUDONYM_KEY", _DEMO_PSEUDONYM_KEY),
    "PRICE_FORMAT": "${:,.2f}",  # as the shop's own pages write prices
    "NEIGHBOURS": 30,  # related products kept per product (the widgets show up to 8)
    # Model artifacts: var/artifacts for the embedded demo, a volume in docker.
    "ARTIFACT_DIR": os.environ.get("GOODSASSOC_ARTIFACT_DIR",
                                   str(Path(__file__).resolve().parent.parent / "var" / "artifacts")),
    "SIGNALS": [
        {"signal": "shop_demo.signals.product_viewed", "kind": "view"},
        # goodsassoc turns a negative quantity into remove_from_cart.
        {"signal": "shop_demo.signals.cart_changed", "kind": "add_to_cart"},
        {
            "signal": "shop_demo.signals.order_placed",
            "kind": "purchase",
            "events": "goodsassoc.signal_events.order_lines",
            "options": {
                "lines": "lines.all",
                "product": "product",
                "quantity": "quantity",
                "price": "unit_price",
                "basket": "pk",
                "shop": "store",
                "user": "user",
            },
        },
    ],
}

# DEMO_AB_TEST=1: a third of the shoppers see only the popularity fallbacks, so the feedback
# dashboard has an A/B test to judge (run simulate_shoppers afterwards).
if os.environ.get("DEMO_AB_TEST") == "1":
    DEMO_GOODSASSOC["AB_TESTS"] = {
        "model-vs-popular": {"widgets": ["related", "cart"],
                             "arms": {"model": {"share": 2}, "popular": {"share": 1, "strategy": "popular"}}},
    }
