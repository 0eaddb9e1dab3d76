"""Related products read only the head of a product's neighbours, and show what all of them give.

The reference reads every published row of the anchor through the ORM and ranks them in plain
Python (the merchant's rules, padding with popular items where fewer than twice the limit are
left, then availability and exclusions). The widget must agree with it on random anchors, limits,
exclusions and rules (boosts that lift a neighbour from far down, a demotion, blocks, pins), with
many ties in score and a third of the products out of stock, so that both of its paths run: the
head alone (one query) and every neighbour read again (a second query).
"""

import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from goodsassoc import cards, rules
from goodsassoc.models import MerchantRule, PopularItem, RelatedItem
from goodsassoc.selectors import related_products
from tests.conftest import clear_caches
from tests.serving.factories import publish_version, shelf_of, tables
from tests.testapp.models import Article

NEIGHBOURS = 30


@pytest.fixture
def shelf(sellers):
    """60 products, every third out of stock, with their cards written."""
    return shelf_of(sellers, lambda i: i % 3 == 1)


@pytest.fixture
def version(shelf):
    """Each product's 30 neighbours, ranked by score as publishing ranks them (scores in tenths:
    many ties), and the popular items that pad a short list."""
    rng = random.Random(5)
    related = []
    for anchor in shelf:
        targets = rng.sample([k for k in shelf if k != anchor], NEIGHBOURS)
        scores = sorted((round(rng.random(), 1) for _ in targets), reverse=True)
        related += [(anchor, rank, target, score, 0.5, "bought_together", {"baskets_together": rank})
                    for rank, (target, score) in enumerate(zip(targets, scores, strict=True), start=1)]
    popular = [("all", "", rank, key, 1.0 / rank, 10) for rank, key in enumerate(rng.sample(shelf, 40), start=1)]
    return publish_version(tables(related=related, popular=popular))


def reference(version, anchor, limit, exclude):
    """(key, score, reason) of what the widget should show, from every published row."""
    model = [(r.related_key, r.score, r.reason, {})
             for r in RelatedItem.objects.filter(version=version.pk, product_key=anchor).order_by("rank")]
    merchant = [(r.anchor_key, r.target_key, r.factor, r.action)
                for r in MerchantRule.objects.filter(active=True, widget__in=["all", "related"])]
    left_out = set(exclude) | {anchor}
    ranked = rules.apply(model, merchant, anchors=[anchor], exclude=left_out)
    if len(ranked) < limit * 2:
        popular = [(r.product_key, r.score, "popular", {}) for r in
                   PopularItem.objects.filter(version=version.pk, scope="all", rank__lte=limit * 3).order_by("rank")]
        ranked += rules.apply(popular, merchant, anchors=[anchor], exclude=left_out | {c[0] for c in ranked},
                              pins=not ranked)
    available = set(Article.objects.filter(in_stock=True).values_list("sku", flat=True))
    return [(key, score, reason) for key, score, reason, _ in ranked if key in available][:limit]


def test_the_head_of_the_neighbours_gives_what_all_of_them_give(shelf, version):
    rng = random.Random(17)
    deep = {}  # neighbours ranked far below any head: boosts and pins must still lift them
    for row in RelatedItem.objects.filter(version=version.pk, rank__gt=25):
        deep.setdefault(row.product_key, row.related_key)
    MerchantRule.objects.create(target_key=deep[shelf[4]], action="boost", factor=50.0)
    MerchantRule.objects.create(anchor_key=shelf[6], target_key=deep[shelf[6]], action="boost", factor=30.0,
                                widget="related")
    MerchantRule.objects.create(anchor_key=shelf[8], target_key=deep[shelf[8]], action="pin")
    MerchantRule.objects.create(target_key=shelf[10], action="boost", factor=0.01)
    MerchantRule.objects.create(target_key=shelf[12], action="block")
    MerchantRule.objects.create(anchor_key=shelf[14], target_key=deep[shelf[14]], action="boost", factor=40.0,
                                widget="cart")  # another widget's rule changes nothing here
    queries = set()
    for _ in range(120):
        anchor = shelf[rng.choice([4, 6, 8, 14, rng.randrange(60)])]
        limit = rng.choice([1, 3, 5, 10, 12])
        exclude = rng.sample(shelf, rng.choice([0, 0, 5, 20]))
        clear_caches()
        with CaptureQueriesContext(connection) as read:
            result = related_products(anchor, limit=limit, exclude=exclude)
        queries.add(len(read))
        got = [(item.key, item.score, item.reason) for item in result]
        want = reference(version, anchor, limit, exclude)
        assert [g[0] for g in got] == [w[0] for w in want], (anchor, limit, exclude)
        assert [g[2] for g in got] == [w[2] for w in want]
        assert [g[1] for g in got] == pytest.approx([w[1] for w in want], rel=1e-9)
    assert queries == {1, 2}  # the head alone mostly; every neighbour again where it could not settle


def test_a_boosted_neighbour_from_far_down_comes_with_the_head(shelf, version):
    far = RelatedItem.objects.filter(version=version.pk, product_key=shelf[0], rank__gt=20,
                                     score__gt=0).order_by("-rank")[0].related_key
    MerchantRule.objects.create(anchor_key=shelf[0], target_key=far, action="boost", factor=1000.0)
    Article.objects.filter(sku=far).update(in_stock=True)
    cards.sync()
    with CaptureQueriesContext(connection) as read:
        result = related_products(shelf[0], limit=5)
    assert result.items[0].key == far and len(read) == 1
