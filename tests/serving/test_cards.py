"""Product cards: written on save, delete, publish and sync; read by a cold widget in its one query."""

import importlib
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from goodsassoc import cards, tasks
from goodsassoc.models import ProductCard
from goodsassoc.privacy import Identity
from goodsassoc.selectors import cart_recommendations, related_products
from goodsassoc.widget_query import card_branch, fetch
from tests.conftest import clear_caches
from tests.serving.factories import publish_version, related_rows, tables
from tests.testapp.models import Article


@pytest.fixture
def served(articles):
    return publish_version(tables(
        related=related_rows("SKU-1", "SKU-2", "SKU-3", "SKU-4"),
        shopper_items=[("shopper-a", "SKU-4", 0.5, 0.1)],
        popular=[("all", "", 1, "SKU-2", 1.0, 30, 0.3), ("all", "", 2, "SKU-1", 0.8, 20, 0.2)],
    ))


def keys(result):
    return [item.key for item in result]


def test_a_saved_product_has_its_card_at_once(articles, sellers):
    card = ProductCard.objects.get(product_key="SKU-2")
    assert (card.title, card.price, card.category, card.available) == ("Whetstone", 19.0, "Home > Kitchen > Knives",
                                                                        True)
    assert card.shop_key == str(sellers[0].pk)
    articles[1].headline, articles[1].in_stock = "Whetstone 1000", False
    articles[1].save()
    card.refresh_from_db()
    assert (card.title, card.available) == ("Whetstone 1000", False)
    articles[1].delete()
    assert not ProductCard.objects.filter(product_key="SKU-2").exists()


def test_a_cold_widget_reads_its_cards_from_goodsassocs_tables(served, articles):
    """Related products: rows and cards in one query; a cart: its candidates (its items' heads)
    with their cards, also in one (never the host's products while their cards are fresh)."""
    card_table = ProductCard._meta.db_table
    for call, expected in ((lambda: related_products(articles[0], limit=3), 1),
                           (lambda: related_products("SKU-1", limit=3), 1),
                           (lambda: related_products("SKU-1", limit=3, same_shop=True, same_category=True), 1),
                           (lambda: cart_recommendations([articles[0]], identity=Identity(user_pseudonym="shopper-a")),
                            1)):
        clear_caches()
        with CaptureQueriesContext(connection) as queries:
            result = call()
        sql = [q["sql"] for q in queries]
        assert len(result) and len(sql) == expected, [q[:80] for q in sql]
        assert card_table in sql[-1] and not any("testapp" in q for q in sql)
    first = related_products(articles[0], limit=3).items[0]
    assert (first.key, first.title, first.price) == ("SKU-2", "Whetstone", 19.0)


def test_a_cart_reads_its_candidates_cards_packed_as_written(served, articles):
    """The cart's query reads its candidates' cards as one JSON text of packed cards: any title
    (quotes, commas, brackets, non-ASCII) comes back as the card holds it."""
    articles[1].headline, articles[1].cost = 'Whetstone "1000", [fine] – 日本', Decimal("7.25")
    articles[1].save()
    clear_caches()
    with CaptureQueriesContext(connection) as queries:
        result = cart_recommendations([articles[0]], limit=3)
    whetstone = next(item for item in result if item.key == "SKU-2")
    assert (whetstone.title, whetstone.price) == ('Whetstone "1000", [fine] – 日本', 7.25) and len(queries) == 1
    expected = {key: cards.Card(*fields) for key, *fields in ProductCard.objects.values_list(
        "product_key", "title", "price", "url", "shop_key", "category", "available")}
    assert fetch([card_branch(sorted(expected))]).cards == expected


def test_the_migration_packs_the_cards_already_written(articles):
    """Cards written before the packed form get it from the migration (on either database)."""
    fill = importlib.import_module("goodsassoc.migrations.0008_product_card_packed").fill_packed
    ProductCard.objects.filter(product_key="SKU-3").update(available=False)
    ProductCard.objects.update(packed="")
    with connection.cursor() as cursor:  # what the migration's schema editor runs it with
        fill(None, SimpleNamespace(connection=connection, execute=cursor.execute))
    columns = {key: cards.Card(*fields) for key, *fields in ProductCard.objects.values_list(
        "product_key", "title", "price", "url", "shop_key", "category", "available")}
    packed = cards.unpacked("[" + ",".join(ProductCard.objects.values_list("packed", flat=True)) + "]")
    assert packed == columns and not packed["SKU-3"].available and packed["SKU-1"].available


def test_old_or_missing_cards_are_read_from_the_host(served, articles, settings):
    ProductCard.objects.filter(product_key="SKU-2").update(synced_at=timezone.now() - timedelta(hours=2))
    ProductCard.objects.filter(product_key="SKU-3").delete()
    Article.objects.filter(sku="SKU-2").update(headline="Whetstone, renamed")  # no signal: its card is old anyway
    with CaptureQueriesContext(connection) as queries:
        result = related_products(articles[0], limit=3)
    assert keys(result) == ["SKU-2", "SKU-3", "SKU-4"] and len(queries) == 2
    assert result.items[0].title == "Whetstone, renamed"


def test_changes_without_signals_show_after_the_sync(served, articles):
    Article.objects.filter(sku="SKU-2").update(in_stock=False)  # QuerySet.update sends no signal
    assert "SKU-2" in keys(related_products(articles[0], limit=3))  # the card still says available
    assert tasks.sync_product_cards.apply().get() == {"cards": 4}
    clear_caches()
    assert keys(related_products(articles[0], limit=3)) == ["SKU-3", "SKU-4"]


def test_the_sync_removes_cards_of_products_the_host_no_longer_has(articles):
    ProductCard.objects.create(product_key="SKU-gone", title="Gone", synced_at=timezone.now())
    assert cards.sync(["SKU-gone", "SKU-1"]) == 1
    assert not ProductCard.objects.filter(product_key="SKU-gone").exists()
    ProductCard.objects.create(product_key="SKU-gone", title="Gone", synced_at=timezone.now())
    call_command("goodsassoc_sync_cards", "--no-progress")
    assert sorted(ProductCard.objects.values_list("product_key", flat=True)) == ["SKU-1", "SKU-2", "SKU-3", "SKU-4"]
    ProductCard.objects.all().delete()
    progress = []
    assert cards.sync(batch=3, on_progress=lambda done, total: progress.append((done, total))) == 4
    assert progress == [(3, 4), (4, 4)] and ProductCard.objects.count() == 4


def test_cards_switched_off(served, articles, settings):
    settings.GOODSASSOC = {**settings.GOODSASSOC, "PRODUCT_CARDS": False}
    ProductCard.objects.all().delete()
    articles[1].save()
    assert not ProductCard.objects.exists()  # not written ...
    with CaptureQueriesContext(connection) as queries:
        result = related_products(articles[0], limit=3)
    assert keys(result) == ["SKU-2", "SKU-3", "SKU-4"] and len(queries) == 2  # ... and the host is read


def test_migrate_creates_the_card_sync_schedule(db):
    from django_celery_beat.models import PeriodicTask

    from goodsassoc.receivers import ensure_retrain_schedule

    PeriodicTask.objects.filter(task__startswith="goodsassoc.").delete()
    ensure_retrain_schedule(sender=None)
    schedule = PeriodicTask.objects.get(task="goodsassoc.sync_product_cards")
    assert (schedule.crontab.minute, schedule.crontab.hour) == ("*/10", "*") and schedule.enabled


@pytest.mark.parametrize("filters", [{"same_shop": True}, {"same_category": True}, {}])
@pytest.mark.parametrize("anchor_card", ["fresh", "old", "none"])
def test_cards_and_the_host_give_the_same_widget(served, articles, settings, filters, anchor_card):
    if anchor_card == "old":
        ProductCard.objects.filter(product_key="SKU-1").update(synced_at=timezone.now() - timedelta(days=1))
    elif anchor_card == "none":
        ProductCard.objects.filter(product_key="SKU-1").delete()
    with_cards = [(i.key, i.title, i.price, i.url) for i in related_products("SKU-1", limit=3, **filters)]
    settings.GOODSASSOC = {**settings.GOODSASSOC, "PRODUCT_CARDS": False}
    clear_caches()
    from_host = [(i.key, i.title, i.price, i.url) for i in related_products("SKU-1", limit=3, **filters)]
    assert with_cards == from_host and with_cards


def test_a_deleted_anchor_with_published_rows_is_unknown(served, articles):
    articles[0].delete()
    assert related_products("SKU-1", limit=3).strategy == "unknown_product"


def test_a_card_read_earlier_never_replaces_a_later_one(articles):
    newer = ProductCard.objects.get(product_key="SKU-2")
    stale = cards.Card("Old title", 1.0, "", "", "", False)
    earlier = connection.ops.adapt_datetimefield_value(newer.synced_at - timedelta(seconds=5))
    cards._write([cards._row("SKU-2", stale, earlier)])
    newer.refresh_from_db()
    assert (newer.title, newer.available) == ("Whetstone", True)


def test_the_host_save_survives_a_card_problem_and_a_rollback_undoes_the_card(articles, monkeypatch):
    def broken(rows):
        raise RuntimeError("card table unavailable")

    monkeypatch.setattr(cards, "_write", broken)
    articles[1].headline = "Whetstone 1000"
    articles[1].save()  # no error for the host
    assert Article.objects.get(sku="SKU-2").headline == "Whetstone 1000"
    monkeypatch.undo()
    with pytest.raises(RuntimeError), transaction.atomic():
        articles[2].headline = "Board, renamed"
        articles[2].save()
        assert ProductCard.objects.get(product_key="SKU-3").title == "Board, renamed"
        raise RuntimeError("the host's transaction fails")
    assert ProductCard.objects.get(product_key="SKU-3").title == "Cutting board"


def test_a_save_of_fields_no_card_shows_leaves_the_card_alone(articles, settings):
    attributes = {**settings.GOODSASSOC["PRODUCT_ATTRIBUTES"], "manufacturer": None}  # "maker" not read
    settings.GOODSASSOC = {**settings.GOODSASSOC, "PRODUCT_ATTRIBUTES": attributes}

    def card_queries(fields):
        with CaptureQueriesContext(connection) as queries:
            articles[1].save(update_fields=fields)
        return [q for q in queries if "goodsassoc_product_card" in q["sql"]]

    assert card_queries(["maker"]) == []  # e.g. a counter: no card work on each save
    assert card_queries(["in_stock"])


def test_a_failed_card_sync_leaves_the_published_run_succeeded(db, monkeypatch):
    from goodsassoc import pipeline
    from goodsassoc.models import TrainingRun

    def broken(**kwargs):
        raise RuntimeError("host adapter broken")

    monkeypatch.setattr(cards, "sync", broken)
    run = TrainingRun.objects.create(kind="refresh")
    pipeline._sync_cards(run, pipeline._Reporter(run, None))
    assert "host adapter broken" in run.counts["cards_error"] and "cards" in run.timings
