"""The read API: reasons, rules, fallbacks, availability, the query budget and caching."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from goodsassoc import cart_completion
from goodsassoc.engine.limits import CART_DEPTH
from goodsassoc.models import MerchantRule
from goodsassoc.privacy import Identity
from goodsassoc.selectors import cart_recommendations, related_products, shops_for_shopper
from goodsassoc.widget_query import fetch
from tests.conftest import clear_caches
from tests.serving.factories import publish_version, related_rows, shelf_of, tables


@pytest.fixture
def served(articles, sellers):
    return publish_version(tables(
        related=related_rows("SKU-1", "SKU-2", "SKU-3", "SKU-4") + related_rows("SKU-3", "SKU-4"),
        shopper_items=[("shopper-a", "SKU-4", 0.5, 0.1)],
        shopper_shops=[("shopper-a", 1, str(sellers[1].pk), 0.9, "shoppers_like_you", {}),
                       ("", 1, str(sellers[0].pk), 0.7, "popular_shop", {})],
        popular=[("all", "", 1, "SKU-2", 1.0, 30, 0.3), ("all", "", 2, "SKU-1", 0.8, 20, 0.2),
                 ("category_2", "Kitchen", 1, "SKU-2", 1.0, 12, 0.3),
                 ("category_2", "Kitchen", 2, "SKU-3", 0.5, 6, 0.1),
                 ("category_1", "Home", 1, "SKU-4", 0.9, 20, 0.2)],
    ), weights={"cart_repeat": 1.0, "cart_taste": 0.01, "cart_pop": 0.01})


def keys(result):
    return [item.key for item in result]


def test_related_products_with_reasons_and_tracking_data(served, articles):
    result = related_products(articles[0], limit=3)
    assert keys(result) == ["SKU-2", "SKU-3", "SKU-4"]
    assert [i.position for i in result] == [1, 2, 3]
    assert result.items[0].text == "Bought together 10 times"
    assert (result.items[0].title, result.items[0].price) == ("Whetstone", 19.0)
    assert result.model_version == served.pk and result.strategy == "model"
    assert len(result.request_id) == 32


def test_published_evidence_is_read_once_and_each_result_owns_its_copy(served, articles):
    from goodsassoc import reasons

    first = related_products(articles[0], limit=3)
    first.items[0].evidence["baskets_together"] = -1  # a host that changes what it was given
    clear_caches()
    again = related_products(articles[0], limit=3)
    assert again.items[0].evidence["baskets_together"] == 10 and again.items[0].text == "Bought together 10 times"
    evidence, words = reasons.read("bought_together", '{"baskets_together": 3}', "en")
    assert (evidence, words) == ({"baskets_together": 3}, "Bought together 3 times")
    assert reasons.read("popular", "not json", "en") == ({}, "Popular with other shoppers")
    assert reasons.read("popular", {"scope": "Soup"}, "en") == ({"scope": "Soup"}, "Popular in Soup")


def test_unavailable_products_are_left_out(served, articles):
    articles[1].in_stock = False
    articles[1].save()
    assert keys(related_products(articles[0], limit=3)) == ["SKU-3", "SKU-4"]


def test_same_shop_and_same_category_filters(served, articles):
    assert keys(related_products(articles[0], limit=3, same_shop=True)) == ["SKU-2"]
    assert keys(related_products(articles[0], limit=3, same_category=True)) == ["SKU-2"]


def test_merchant_rules_pin_boost_block(served, articles):
    MerchantRule.objects.create(action="block", anchor_key="SKU-1", target_key="SKU-2")
    MerchantRule.objects.create(action="pin", target_key="SKU-4")
    MerchantRule.objects.create(action="block", widget="cart", target_key="SKU-3")  # other widget
    result = related_products(articles[0], limit=3)
    assert keys(result) == ["SKU-4", "SKU-3"]
    assert result.items[0].reason == "merchant_pick"


def test_a_product_without_neighbours_gets_popular_items_of_its_category(served, articles):
    result = related_products(articles[1], limit=3)  # SKU-2 has no neighbours
    assert result.strategy == "popular_in_category"
    assert keys(result) == ["SKU-3"]  # the most specific level (Kitchen) that has popular items; never itself
    assert result.items[0].text == "Popular in Kitchen"


def test_cart_recommendations_blend_cart_and_shopper(served, articles):
    result = cart_recommendations([articles[0]], identity=Identity(user_pseudonym="shopper-a"), limit=3)
    # SKU-4: bought with SKU-1 (0.8) plus the shopper's own repeat share (0.5) beats SKU-2 (1.0 + popularity)
    assert keys(result) == ["SKU-4", "SKU-2", "SKU-3"]
    assert result.items[0].reason == "bought_together"
    stranger = cart_recommendations([articles[0]], identity=None, limit=3)
    assert keys(stranger) == ["SKU-2", "SKU-3", "SKU-4"]
    # A cart whose item has no neighbours: the shopper's own habit leads.
    alone = cart_recommendations([articles[1]], identity=Identity(user_pseudonym="shopper-a"), limit=3)
    assert keys(alone)[0] == "SKU-4"
    assert alone.items[0].reason == "bought_before"
    assert "SKU-2" not in keys(alone)  # never what is already in the cart


@pytest.mark.parametrize("same_kind, first", [(0.0, "SKU-2"), (1.0, "SKU-3")])
def test_cart_favours_a_product_type_already_in_the_cart_as_tuned(articles, same_kind, first):
    # SKU-1 and SKU-3 are of one product type (7), SKU-2 of another: the engine's same-kind factor
    # (1 + weight) lifts SKU-3 (0.9 * 2) above SKU-2 (1.0) when validation tuned it on.
    t = tables(related=related_rows("SKU-1", "SKU-2", "SKU-3"))
    t.related = t.related.assign(product_kind=7, related_kind=[3, 7])
    publish_version(t, weights={"cart_repeat": 1.0, "cart_taste": 0.0, "cart_pop": 0.0, "cart_same_kind": same_kind})
    result = cart_recommendations([articles[0]], identity=None, limit=2)
    assert keys(result)[0] == first
    assert result.items[0].score == pytest.approx({"SKU-2": 1.0, "SKU-3": 1.8}[first])


def test_empty_cart_for_a_stranger_gets_popular_items(served):
    result = cart_recommendations([], identity=None, limit=2)
    assert keys(result) == ["SKU-2", "SKU-1"] and result.strategy == "popular"


def test_shops_for_known_and_unknown_shoppers(served, sellers):
    assert keys(shops_for_shopper(Identity(user_pseudonym="shopper-a"))) == [str(sellers[1].pk)]
    stranger = shops_for_shopper(Identity(anonymous_id="0c4f2b8e-92f6-4d3b-8f47-8f6a4a1d5e01"))
    assert keys(stranger) == [str(sellers[0].pk)] and stranger.strategy == "popular"


def test_nothing_published_yet_gives_empty_widgets(articles):
    assert keys(related_products(articles[0])) == []
    assert keys(cart_recommendations([articles[0]])) == []


@pytest.mark.parametrize("widget", ["related", "related by key", "cart", "shops"])
def test_query_budget_two_cold_none_warm(served, articles, widget):
    call = {
        "related": lambda: related_products(articles[0], limit=3),
        "related by key": lambda: related_products("SKU-1", limit=3, same_shop=True),
        "cart": lambda: cart_recommendations([articles[0]], identity=Identity(user_pseudonym="shopper-a")),
        "shops": lambda: shops_for_shopper(Identity(user_pseudonym="shopper-a")),
    }[widget]
    clear_caches()
    with CaptureQueriesContext(connection) as cold:
        first = call()
    assert len(first) and len(cold) <= 2, [q["sql"][:80] for q in cold]
    with CaptureQueriesContext(connection) as warm:
        second = call()
    assert keys(second) == keys(first)
    assert second.request_id != first.request_id
    assert len(warm) == 0


def test_publishing_invalidates_cached_widgets(served, articles):
    assert keys(related_products(articles[0], limit=3))[0] == "SKU-2"
    publish_version(tables(related=related_rows("SKU-1", "SKU-3", "SKU-2")))
    assert keys(related_products(articles[0], limit=3)) == ["SKU-3", "SKU-2"]


def test_a_broken_cache_does_not_break_widgets(served, articles, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                                   "LOCATION": "127.0.0.1:1"}}
    assert keys(related_products(articles[0], limit=3)) == ["SKU-2", "SKU-3", "SKU-4"]


def test_boosts_reorder_and_recent_purchases_can_be_left_out(served, articles, settings):
    MerchantRule.objects.create(action="boost", anchor_key="SKU-1", target_key="SKU-4", factor=3.0)
    assert keys(related_products(articles[0], limit=3))[0] == "SKU-4"  # 0.8 * 3 beats 1.0
    from goodsassoc.recording import record_events

    shopper = Identity(user_pseudonym="shopper-a")
    record_events([{"kind": "purchase", "product": "SKU-2", "basket": "o-9"}], identity=shopper)
    clear_caches()
    assert "SKU-2" in keys(cart_recommendations([articles[0]], identity=shopper, limit=3))
    clear_caches()
    left_out = cart_recommendations([articles[0]], identity=shopper, limit=3, exclude_recent_purchases=True)
    assert "SKU-2" not in keys(left_out)
    settings.GOODSASSOC = {**settings.GOODSASSOC, "EXCLUDE_RECENTLY_BOUGHT": True}
    clear_caches()
    assert "SKU-2" not in keys(cart_recommendations([articles[0]], identity=shopper, limit=3))


def test_a_wrong_argument_gives_an_empty_widget_not_an_error(served):
    result = cart_recommendations(42, limit=3)  # not a list of products: a host's mistake
    assert result.strategy == "error" and len(result) == 0


def test_widgets_load_only_the_relations_they_show(db, settings):
    """The demo's adapter walks department, category and type for training, not for a widget."""
    from goodsassoc.hosts import get_adapter
    from shop_demo.goodsassoc_config import DEMO_GOODSASSOC

    settings.GOODSASSOC = DEMO_GOODSASSOC
    lean, full = get_adapter().get_queryset(), get_adapter().get_queryset(full=True)
    assert set(lean.query.select_related or {}) == set()  # title, price, availability are columns
    assert set(full.query.select_related) == {"brand", "manufacturer", "department", "category", "product_type"}


def test_hot_widgets_are_kept_in_process_memory_in_front_of_the_shared_cache(served, articles, settings):
    first = related_products(articles[0], limit=3)
    cache.clear()  # the shared cache only: this process still holds its copy
    with CaptureQueriesContext(connection) as warm:
        again = related_products(articles[0], limit=3)
    assert len(warm) == 0 and keys(again) == keys(first) and again.request_id != first.request_id
    settings.GOODSASSOC = {**settings.GOODSASSOC, "WIDGET_LOCAL_CACHE_SIZE": 0}
    cache.clear()
    with CaptureQueriesContext(connection) as off:
        related_products(articles[0], limit=3)
    assert len(off) >= 1


def test_the_local_copy_is_bounded_and_expires():
    import time

    from goodsassoc.widget_cache import LocalCache

    local = LocalCache()
    for n in range(5):
        local.set(f"k{n}", n, seconds=60, size=3)
    assert len(local) == 3 and local.get("k0") is None and local.get("k4") == 4
    local.get("k2")  # recently used: kept when the next one comes in
    local.set("k5", 5, seconds=60, size=3)
    assert local.get("k2") == 2 and local.get("k3") is None
    local.set("brief", 1, seconds=0.05, size=3)
    time.sleep(0.1)
    assert local.get("brief") is None


def test_a_merchants_rule_change_shows_without_waiting_for_the_cache(served, articles):
    assert keys(related_products(articles[0], limit=3))[0] == "SKU-2"
    rule = MerchantRule.objects.create(action="block", anchor_key="SKU-1", target_key="SKU-2")
    assert "SKU-2" not in keys(related_products(articles[0], limit=3))
    rule.delete()
    assert keys(related_products(articles[0], limit=3))[0] == "SKU-2"


def test_a_cart_reads_the_head_of_each_items_neighbours_as_the_engine_does(sellers):
    # 30 neighbours of P-00; the cart widget reads the engine's CART_DEPTH of them (or its limit,
    # where that is more), and any further down that a merchant's rule for the cart boosts.
    shelf = shelf_of(sellers, lambda i: False)
    rows = [(shelf[0], r, shelf[r], 1.0 / r, 0.5, "bought_together", {"baskets_together": 40 - r})
            for r in range(1, 31)]
    publish_version(tables(related=rows), weights={"cart_repeat": 1.0, "cart_taste": 0.0, "cart_pop": 0.0})

    def read(limit):
        return [b for b, *_ in fetch(cart_completion.branches([shelf[0]], limit)).related[shelf[0]]]

    assert sorted(read(5), key=shelf.index) == shelf[1:CART_DEPTH + 1]
    assert len(read(CART_DEPTH + 5)) == CART_DEPTH + 5
    assert keys(cart_recommendations([shelf[0]], identity=None, limit=10)) == shelf[1:11]
    MerchantRule.objects.create(action="boost", widget="cart", target_key=shelf[25], factor=3.0)
    MerchantRule.objects.create(action="boost", widget="related", target_key=shelf[26], factor=3.0)
    assert set(read(CART_DEPTH + 5)) == set(shelf[1:CART_DEPTH + 6]) | {shelf[25]}  # lifted with the rows
    # With the heads, the rows below them that the cart's rules boost are read with the boosted
    # products' cards, in the second of two queries: shelf[25] (1/25, times 3) comes between the
    # 8th and the 9th.
    clear_caches()
    with CaptureQueriesContext(connection) as queries:
        boosted = keys(cart_recommendations([shelf[0]], identity=None, limit=10))
    assert boosted == [*shelf[1:9], shelf[25], shelf[9]]
    assert len(queries) == 2
