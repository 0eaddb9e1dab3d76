"""The heads of the neighbours (one row per product, goodsassoc.related_heads): what the cart
reads from them is what it would read from the related rows, a version published before heads
existed gets them from the migrations, a cart reads its candidates' cards with them, and a deeper
cart reads the rows themselves."""

import importlib
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from goodsassoc import cart_completion
from goodsassoc.engine.limits import CART_DEPTH
from goodsassoc.models import ProductCard, RelatedHead, RelatedItem
from goodsassoc.selectors import cart_recommendations
from goodsassoc.widget_query import fetch, head_branch, related_branch
from tests.serving.factories import publish_version, shelf_of, tables

pytestmark = pytest.mark.django_db


def _rows(shelf):
    """Two anchors: one with 25 neighbours (scores with many digits, evidence of several kinds,
    product kinds), one with 3; a product with none."""
    rows = [(shelf[0], r, shelf[r], 1.0 / (r + 0.123456789), r / 7.0, "bought_together" if r % 2 else "similar_item",
             {"baskets_together": 40 - r} if r % 2 else {"text": "same category", "similarity": 0.5 + r / 97,
                                                         "same_category": True, "same_brand": False},
             7, 100 + r % 4) for r in range(1, 26)]
    rows += [(shelf[30], r, shelf[30 + r], 0.3 / r, 0.0, "popular", {"baskets": 9 - r}, -1, -1) for r in range(1, 4)]
    return rows


def _publish(shelf):
    rows = _rows(shelf)
    t = tables(related=[row[:7] for row in rows])
    t.related["product_kind"] = [row[7] for row in rows]
    t.related["related_kind"] = [row[8] for row in rows]
    return publish_version(t)


def _as_read(related):
    """Each anchor's neighbours by rank, evidence parsed (PostgreSQL stores it as jsonb, which
    writes its text in its own way)."""
    return {anchor: sorted(((*n[:4], json.loads(n[4]), *n[5:]) for n in neighbours), key=lambda n: n[5])
            for anchor, neighbours in related.items()}


def test_a_head_holds_the_first_neighbours_as_the_related_rows_give_them(sellers):
    shelf = shelf_of(sellers, lambda i: False)
    version = _publish(shelf)
    anchors = [shelf[0], shelf[30], shelf[59]]
    from_heads = fetch([head_branch(anchors)]).related
    from_rows = fetch([related_branch(anchors, with_cards=False, upto=None)]).related
    assert set(from_heads) == {shelf[0], shelf[30]}  # shelf[59] has no neighbours, so no head
    expected = {a: [n for n in neighbours if n[5] <= CART_DEPTH] for a, neighbours in _as_read(from_rows).items()}
    assert _as_read(from_heads) == expected  # same keys, numbers to the last digit, evidence, kinds
    assert len(from_heads[shelf[0]]) == CART_DEPTH and len(from_heads[shelf[30]]) == 3
    assert RelatedHead.objects.filter(version=version.pk).count() == 2


def test_the_migrations_write_the_heads_of_versions_published_before_them(sellers):
    shelf = shelf_of(sellers, lambda i: False)
    version = _publish(shelf)

    def written():
        return {key: (_as_read({key: json.loads(text)})[key], json.loads(keys)) for key, text, keys in
                RelatedHead.objects.filter(version=version.pk).values_list("product_key", "neighbours", "keys")}

    published = written()
    assert published[shelf[30]][1] == [shelf[31], shelf[32], shelf[33]]  # the keys, in rank order
    RelatedHead.objects.all().delete()
    heads_migration = importlib.import_module("goodsassoc.migrations.0006_related_heads")
    keys_migration = importlib.import_module("goodsassoc.migrations.0007_related_head_keys")
    assert heads_migration.backfill(RelatedItem, RelatedHead, batch=1) == 2
    with connection.cursor() as cursor:
        cursor.execute(keys_migration.FILL[connection.vendor])
    assert written() == published
    assert heads_migration.backfill(RelatedItem, RelatedHead) == 0  # a version that has them is left alone


def test_the_cart_reads_heads_where_they_hold_its_depth_and_rows_where_not(sellers):
    shelf = shelf_of(sellers, lambda i: False)
    _publish(shelf)
    shallow = cart_completion.branches([shelf[0]], 10)
    deep = cart_completion.branches([shelf[0]], CART_DEPTH + 5)
    assert any(sql.startswith("SELECT 'head'") for sql, _ in shallow)
    assert not any(sql.startswith("SELECT 'head'") for sql, _ in deep)
    assert len(fetch(deep).related[shelf[0]]) == CART_DEPTH + 5
    # Both ways give the cart the same ranking over the neighbours both read.
    assert [i.key for i in cart_recommendations([shelf[0]], limit=8)] == \
        [i.key for i in cart_recommendations([shelf[0]], limit=CART_DEPTH + 5)][:8]


def _shown(result):
    return [(i.key, i.title, i.price, i.url, i.score, i.reason, i.evidence, i.text) for i in result]


def test_a_cold_cart_reads_its_candidates_with_their_cards_in_one_query(sellers):
    shelf = shelf_of(sellers, lambda i: i in (2, 31))  # two neighbours out of stock
    _publish(shelf)
    cart = [shelf[0], shelf[30]]
    with CaptureQueriesContext(connection) as queries:
        from_heads = cart_recommendations(cart, limit=8)
    assert len(queries) == 1  # the cards of every candidate come with the heads
    assert "SELECT 'head'" in queries[0]["sql"] and ProductCard._meta.db_table in queries[0]["sql"]
    # The same items, cards and all, as the path that reads the related rows and then the cards.
    from_rows = cart_recommendations(cart, limit=CART_DEPTH + 5)
    assert _shown(from_heads) == _shown(from_rows)[:8]
    assert len(from_heads) == 8 and shelf[2] not in [i.key for i in from_heads]
    assert {i.title for i in from_heads} <= {f"Product {n}" for n in range(60)} and from_heads.items[0].price == 5.0


def test_a_stale_card_in_a_head_is_read_again(sellers):
    shelf = shelf_of(sellers, lambda i: False)
    _publish(shelf)
    stale = timezone.now() - timedelta(days=30)
    ProductCard.objects.filter(product_key=shelf[1]).update(title="Old title", synced_at=stale)
    result = cart_recommendations([shelf[0]], limit=3)
    assert result.items[0].key == shelf[1] and result.items[0].title == "Product 1"  # from the host, as before


def test_a_published_version_leaves_the_planner_its_statistics(sellers):
    """PostgreSQL plans the cart's query by its statistics of the heads (without them, its guess
    at a set-returning function's rows can make it compile the query on every request)."""
    _publish(shelf_of(sellers, lambda i: False))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT attname FROM pg_stats WHERE tablename = %s", [RelatedHead._meta.db_table])
            assert {"version", "product_key", "keys"} <= {row[0] for row in cursor.fetchall()}
        else:  # SQLite plans without them: nothing is written
            cursor.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
            assert cursor.fetchone()[0] == 0
