"""The widget's one query: prepared on PostgreSQL, and padding read only where it is needed."""

import logging

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from goodsassoc import prepared
from goodsassoc.models import MerchantRule
from goodsassoc.selectors import cart_recommendations, related_products
from tests.conftest import clear_caches
from tests.serving.factories import publish_version, related_rows, tables

# Outside a transaction, as Django serves requests by default (a test's transaction would keep
# the query unprepared, see goodsassoc.prepared).
pytestmark = pytest.mark.django_db(transaction=True)
POPULAR = [("all", "", 1, "SKU-4", 1.0, 30, 0.3), ("all", "", 2, "SKU-1", 0.8, 20, 0.2)]


@pytest.fixture
def served(articles):
    prepared.reset()
    yield publish_version(tables(related=related_rows("SKU-1", "SKU-2", "SKU-3"), popular=POPULAR))
    prepared.reset()


def keys(result):
    return [item.key for item in result]


def widget_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall() if "goodsassoc_related_item" in row[0]]


def test_the_widget_query_is_prepared_on_postgresql_only(served):
    first = related_products("SKU-1", limit=1)
    clear_caches()
    with CaptureQueriesContext(connection) as again:
        second = related_products("SKU-1", limit=1)
    assert keys(first) == keys(second) == ["SKU-2"]
    assert len(again) == 1  # Django still sees (and counts) the prepared query
    if connection.vendor == "postgresql":
        assert prepared.preparing()
        assert len(widget_statements()) == 1  # prepared once, run twice
    else:
        assert not prepared.preparing()


def test_preparing_can_be_switched_off(served, settings):
    settings.GOODSASSOC = {**settings.GOODSASSOC, "WIDGET_PREPARED_QUERY": False}
    assert not prepared.preparing()
    assert keys(related_products("SKU-1", limit=1)) == ["SKU-2"]
    if connection.vendor == "postgresql":
        assert widget_statements() == []


def test_a_transaction_or_a_transaction_pooler_keeps_the_query_unprepared(served):
    with transaction.atomic():
        assert not prepared.preparing()
    original = connection.settings_dict
    declared = ({"DISABLE_SERVER_SIDE_CURSORS": True},
                {"OPTIONS": {**original.get("OPTIONS", {}), "prepare_threshold": None}})
    try:
        for pooler in declared:
            connection.settings_dict = {**original, **pooler}
            assert not prepared.preparing()
    finally:
        connection.settings_dict = original


def test_a_statement_lost_by_a_pooler_turns_preparing_off_without_breaking_the_widget(served, caplog):
    assert keys(related_products("SKU-1", limit=1)) == ["SKU-2"]
    if connection.vendor == "postgresql":
        # What a transaction-mode pooler does: the statements vanish behind the client's back.
        connection.connection.pgconn.exec_(b"DEALLOCATE ALL")
    clear_caches()
    with caplog.at_level(logging.WARNING, logger="goodsassoc"):
        again = related_products("SKU-1", limit=1)
    assert keys(again) == ["SKU-2"] and again.strategy == "model"
    if connection.vendor == "postgresql":
        assert "lost a prepared statement" in caplog.text
        assert not prepared.preparing()
        cart = cart_recommendations(["SKU-1"], limit=1)  # and further widgets run unprepared
        assert keys(cart) == ["SKU-2"]
    else:
        assert caplog.text == ""


def test_a_long_list_reads_no_padding_and_a_thinned_one_still_gets_it(served, articles):
    with CaptureQueriesContext(connection) as long_list:
        assert keys(related_products("SKU-1", limit=1)) == ["SKU-2"]
    assert len(long_list) == 1

    # A rule leaves one model item (SKU-3), fewer than twice the limit, and SKU-3 is out of stock:
    # a second query brings the popular items, and the most popular one fills the slot.
    MerchantRule.objects.create(action="block", anchor_key="SKU-1", target_key="SKU-2")
    articles[2].in_stock = False
    articles[2].save()
    clear_caches()
    with CaptureQueriesContext(connection) as thinned:
        result = related_products("SKU-1", limit=1)
    assert keys(result) == ["SKU-4"] and result.items[0].reason == "popular"
    assert len(thinned) == 2
