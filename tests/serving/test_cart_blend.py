"""'Complete your cart' ranks as the documented blend of the cart items' published rows would.

The reference here reads the head of each cart item's published rows (``cart_depth``:
``CART_DEPTH`` or the limit, where that is more, and any a merchant's rule lifts) through the ORM
and blends them in plain Python, as docs/engine.md writes the engine's cart completion, then
applies the merchant's rules and the products' availability; the widget must agree with it on
random carts, shoppers, limits and rules (a boost, a demotion, a block and a pin).
"""

import random

import pandas as pd
import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from goodsassoc import cards, cart_completion, rules
from goodsassoc.engine.limits import cart_depth
from goodsassoc.models import MerchantRule, PopularItem, RelatedItem, ShopperItem
from goodsassoc.privacy import Identity
from goodsassoc.publishing import PublishTables
from goodsassoc.selectors import cart_recommendations, products_loaded
from tests.conftest import clear_caches
from tests.serving.factories import publish_version, shelf_of
from tests.testapp.models import Article

WEIGHTS = {"cart_repeat": 0.7, "cart_recent": 0.2, "cart_taste": 0.05, "cart_pop": 0.3, "cart_same_kind": 0.5}
# As tuning chose on Complete Journey: popularity has no weight, so popular items only pad a list.
PADDING_ONLY = {**WEIGHTS, "cart_pop": 0.0}
SHOPPERS = ("shopper-a", "shopper-b")


@pytest.fixture
def shelf(sellers):
    """60 products, every seventh out of stock, with their cards written."""
    return shelf_of(sellers, lambda i: i % 7 == 3)


@pytest.fixture(params=[WEIGHTS, PADDING_ONLY], ids=["popularity-weighed", "popular-pads"])
def weights(request):
    return request.param


@pytest.fixture
def version(shelf, weights):
    rng = random.Random(3)
    kind = {key: rng.choice([-1, 0, 1, 2, 3]) for key in shelf}
    recent = {key: round(rng.random(), 3) for key in shelf}  # a product's recent popularity
    related = []
    for anchor in shelf:
        for rank, target in enumerate(rng.sample([k for k in shelf if k != anchor], 12), start=1):
            related.append((anchor, rank, target, round(rng.random(), 2), recent[target],
                            rng.choice(["bought_together", "similar_items"]), {"baskets_together": rank},
                            kind[anchor], kind[target]))
    own = [(s, key, rng.choice([0.0, round(rng.random(), 2)]), round(rng.random() / 10, 3), round(rng.random(), 2),
            kind[key]) for s in SHOPPERS for key in rng.sample(shelf, 15)]
    popular = [("all", "", rank, key, 1.0 / rank, 10, recent[key], kind[key])
               for rank, key in enumerate(rng.sample(shelf, 40), start=1)]
    return publish_version(PublishTables(
        related=pd.DataFrame(related, columns=["product_key", "rank", "related_key", "score", "popularity", "reason",
                                               "evidence", "product_kind", "related_kind"]),
        shopper_items=pd.DataFrame(own, columns=["shopper_key", "product_key", "repeat", "taste", "recency", "kind"]),
        shopper_shops=pd.DataFrame([], columns=["shopper_key", "rank", "shop_key", "score", "reason", "evidence"]),
        popular=pd.DataFrame(popular, columns=["scope", "scope_key", "rank", "product_key", "score", "baskets",
                                               "recent", "kind"]),
    ), weights=weights)


def reference(version, cart, shopper, limit):
    """The cart items' published rows as the engine reads them, blended and ranked in plain
    Python, then the rules and the products' availability: (key, score, reason) of what the
    widget should show."""
    lifted = MerchantRule.objects.filter(active=True, action__in=["boost", "pin"], widget__in=["all", "cart"],
                                         anchor_key__in=["", *cart]).values_list("target_key", flat=True)
    related = list(RelatedItem.objects.filter(Q(rank__lte=cart_depth(limit)) | Q(related_key__in=list(lifted)),
                                              version=version.pk, product_key__in=cart))
    anchors = {r.product_key for r in related}
    together, best, recent, kind = {}, {}, {}, {}
    for r in sorted(related, key=lambda r: r.product_key):
        together[r.related_key] = together.get(r.related_key, 0.0) + r.score / len(anchors)
        if r.related_key not in best or r.score > best[r.related_key].score:
            best[r.related_key] = r
        recent[r.related_key], kind[r.related_key] = r.popularity, r.related_kind
    own = {r.product_key: r for r in ShopperItem.objects.filter(version=version.pk, shopper_key=shopper)}
    for r in own.values():
        kind.setdefault(r.product_key, r.kind)
    for r in PopularItem.objects.filter(version=version.pk, scope="all", rank__lte=limit * 3):
        recent.setdefault(r.product_key, r.recent)
        kind.setdefault(r.product_key, r.kind)
    cart_kinds = {r.product_kind for r in related} - {-1}
    w = version.params["weights"]
    candidates = []
    for key in (together.keys() | own.keys() | recent.keys()) - set(cart):
        mine = own.get(key)
        repeat, taste, recency = (mine.repeat, mine.taste, mine.recency) if mine else (0.0, 0.0, 0.0)
        along = together.get(key, 0.0)
        score = along + w["cart_repeat"] * repeat + w["cart_recent"] * recency + w["cart_taste"] * taste \
            + w["cart_pop"] * recent.get(key, 0.0)
        if kind.get(key, -1) in cart_kinds:
            score *= 1.0 + w["cart_same_kind"]
        if repeat > 0 and w["cart_repeat"] * repeat >= along:
            reason = "bought_before"
        elif along > 0:
            reason = best[key].reason
        elif taste > 0:
            reason = "matches_your_taste"
        else:
            reason = "popular"
        candidates.append((key, score, reason, {}))
    merchant = [(r.anchor_key, r.target_key, r.factor, r.action)
                for r in MerchantRule.objects.filter(active=True, widget__in=["all", "cart"])]
    available = set(Article.objects.filter(in_stock=True).values_list("sku", flat=True))
    ranked = rules.apply(candidates, merchant, anchors=cart, exclude=set(cart))
    return [(key, score, reason) for key, score, reason, _ in ranked if key in available][:limit]


def shown(result):
    return [(item.key, item.score, item.reason) for item in result]


def same(got, want):
    assert [g[0] for g in got] == [w[0] for w in want]
    assert [g[2] for g in got] == [w[2] for w in want]
    assert [g[1] for g in got] == pytest.approx([w[1] for w in want], rel=1e-9)


def test_the_widget_ranks_as_the_blend_of_the_published_rows(shelf, version):
    rng = random.Random(11)
    MerchantRule.objects.create(target_key=shelf[5], action="boost", factor=4.0, widget="cart")
    MerchantRule.objects.create(target_key=shelf[8], action="boost", factor=0.01)
    MerchantRule.objects.create(anchor_key=shelf[1], target_key=shelf[9], action="block")
    MerchantRule.objects.create(anchor_key=shelf[2], target_key=shelf[20], action="pin")
    for _ in range(40):
        cart = sorted(rng.sample(shelf, rng.randint(0, 5)))
        if rng.random() < 0.3:
            cart.append(shelf[rng.choice([1, 2])])
        shopper = rng.choice(("",) + SHOPPERS)
        limit = rng.choice([3, 10, 25])
        clear_caches()
        result = cart_recommendations(cart, identity=Identity(user_pseudonym=shopper) if shopper else None,
                                      limit=limit)
        same(shown(result), reference(version, sorted(set(cart)), shopper, limit))


@pytest.mark.parametrize("weights", [PADDING_ONLY], indirect=True)
def test_where_popularity_has_no_weight_popular_items_are_read_only_to_pad(shelf, version, monkeypatch):
    """Once a process has read a version whose blend gives popularity no weight, its carts read
    no popular rows unless their list runs short: one query (the candidates with their cards),
    two where the popular items pad the list; one again where the candidates could never fill
    it (an anonymous shopper's empty cart, or one item whose neighbours are fewer than the list
    looks at): the popular items come with the candidates, and their cards with them."""
    blended = []
    blend = cart_completion.blend
    monkeypatch.setattr(cart_completion, "blend", lambda rows, cart: blended.append(len(rows.popular)) or
                        blend(rows, cart))
    cart_recommendations(shelf[:3], limit=3)
    assert cart_completion.popular_left_out() == version.pk
    for cart, limit, pads, queried in ((shelf[:3], 3, False, 1), (["new-product"], 3, True, 2), ([], 3, True, 1),
                                       (shelf[:1], 10, True, 1)):
        clear_caches()
        blended.clear()
        with CaptureQueriesContext(connection) as queries:
            result = cart_recommendations(cart, limit=limit)
        assert len(queries) == queried
        assert (blended[-1] > 0) is pads
        same(shown(result), reference(version, cart, "", limit))


@pytest.mark.parametrize("weights", [PADDING_ONLY], indirect=True)
def test_a_cart_list_thinned_out_by_unavailable_products_is_padded_as_the_full_blend_would(shelf, version):
    """Where unavailable products thin a list out down to the unscored candidates, the popular
    items left out of the query are read afterwards, and the list is the full blend's."""
    Article.objects.filter(sku__in=shelf[::2]).update(in_stock=False)
    cards.sync()
    cart_recommendations(shelf[:1], limit=3)  # this process learns the version's weights
    rng = random.Random(5)
    for _ in range(30):
        cart = sorted(rng.sample(shelf, rng.randint(1, 3)))
        clear_caches()
        same(shown(cart_recommendations(cart, limit=10)), reference(version, cart, "", 10))


@pytest.mark.parametrize("weights", [PADDING_ONLY], indirect=True)
def test_a_short_cart_whose_candidates_fill_the_list_reads_no_popular_items(shelf, version, monkeypatch):
    """A cart with fewer candidates than the widget looks at first (half as many again as the
    limit), but enough available ones to fill the list, is shown from them in one query: the
    popular items, which would rank after every one of them, are not read."""
    blended = []
    blend = cart_completion.blend
    monkeypatch.setattr(cart_completion, "blend", lambda rows, cart: blended.append(len(rows.popular)) or
                        blend(rows, cart))
    cart_recommendations(shelf[:3], limit=3)  # this process learns the version's weights
    available = set(Article.objects.filter(in_stock=True).values_list("sku", flat=True))
    looked_at = products_loaded(10)
    for i in range(0, 12, 2):
        cart = sorted(shelf[i : i + 2])
        candidates = sorted(set(RelatedItem.objects.filter(version=version.pk, product_key__in=cart, rank__lte=10)
                                .values_list("related_key", flat=True)) - set(cart))
        # The merchant blocks some for carts holding the first item: fewer are left than the
        # widget looks at first, but more available ones than the list shows.
        left = [k for k in candidates if k in available][:12] + [k for k in candidates if k not in available][:1]
        assert len(left) < looked_at
        for key in set(candidates) - set(left):
            MerchantRule.objects.create(anchor_key=cart[0], target_key=key, action="block", widget="cart")
        clear_caches()
        blended.clear()
        with CaptureQueriesContext(connection) as queries:
            result = cart_recommendations(cart, limit=10)
        assert len(queries) == 1 and blended == [0]
        assert len(result) == 10
        same(shown(result), reference(version, cart, "", 10))
