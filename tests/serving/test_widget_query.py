"""The widget's one query: prepared on PostgreSQL, and padding read only where it is needed."""

import logging

import psycopg
import pytest
from django.db import OperationalError, connection, transaction
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


def test_the_prepared_query_keeps_one_cursor_per_database_connection(served):
    related_products("SKU-1", limit=1)
    first = getattr(connection, "_goodsassoc_cursor", None)
    clear_caches()
    assert keys(cart_recommendations(["SKU-1"], limit=1)) == ["SKU-2"]  # another widget, the same cursor
    if connection.vendor != "postgresql":
        assert first is None  # nothing is prepared, Django's own cursors run the query
        return
    assert first is not None and connection._goodsassoc_cursor is first and not first.closed
    connection.close()  # a new database connection gets a cursor of its own
    clear_caches()
    assert keys(related_products("SKU-1", limit=1)) == ["SKU-2"]
    kept = connection._goodsassoc_cursor
    assert kept is not first and kept.connection is connection.connection


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


@pytest.fixture
def health_checked(served):
    """The test's connection as a request finds it with ``CONN_HEALTH_CHECKS``: kept from an
    earlier request, its check due. Counts Django's checks (``is_usable``) and yields the counts."""
    original = connection.settings_dict
    connection.settings_dict = {**original, "CONN_HEALTH_CHECKS": True, "CONN_MAX_AGE": None}
    connection.close()
    connection.ensure_connection()
    checks = []
    usable = connection.is_usable
    connection.is_usable = lambda: checks.append(1) or usable()

    def next_request():
        checks.clear()
        connection.close_if_unusable_or_obsolete()  # what Django does when a request starts
        assert connection.connection is not None
        if connection.vendor == "postgresql":
            assert connection.health_check_done is False

    yield next_request, checks
    del connection.is_usable
    connection.settings_dict = original
    connection.close()


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_the_widget_query_stands_in_for_the_health_check_on_postgresql(health_checked):
    next_request, checks = health_checked
    next_request()
    assert keys(related_products("SKU-1", limit=1)) == ["SKU-2"]
    if connection.vendor == "postgresql":
        assert checks == []  # no SELECT 1 before the widget's query
        assert connection.health_check_done  # the rest of the request does not check again
    else:  # other databases are checked as Django does
        assert not prepared.stands_in()


def test_a_connection_that_died_while_idle_is_replaced_and_the_widget_still_answers(health_checked, settings):
    next_request, _ = health_checked
    if connection.vendor != "postgresql":  # nothing stands in: Django's own check runs
        next_request()
        assert not prepared.stands_in() and keys(related_products("SKU-1", limit=1)) == ["SKU-2"]
        return
    dead = backend_pid()
    database = settings.DATABASES["default"]
    with psycopg.connect(host=database["HOST"] or None, port=database["PORT"] or None, user=database["USER"],
                         password=database["PASSWORD"] or None, dbname=connection.settings_dict["NAME"],
                         autocommit=True) as other:  # e.g. the database restarted between requests
        other.execute("SELECT pg_terminate_backend(%s)", [dead])
    clear_caches()
    next_request()
    result = related_products("SKU-1", limit=1)
    assert keys(result) == ["SKU-2"] and result.strategy == "model"
    assert backend_pid() != dead


def test_an_error_on_a_live_connection_is_not_retried(health_checked):
    next_request, _ = health_checked
    if connection.vendor != "postgresql":
        next_request()
        with pytest.raises(OperationalError, match="no such table"):
            prepared.run("SELECT * FROM no_such_table", [])
        return
    next_request()
    pid = backend_pid()
    next_request()
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 1")
    next_request()
    try:
        with pytest.raises(OperationalError, match="statement timeout"):
            prepared.run("SELECT pg_sleep(0.2)", [])
        assert backend_pid() == pid
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET statement_timeout")
