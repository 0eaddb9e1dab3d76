"""Product cards: what a widget shows of a host product, copied into goodsassoc's own table.

A widget then reads its recommendations and their cards from goodsassoc's tables (related
products in one query; a cart its candidates with the cards of its items' first neighbours),
instead of a query that builds the host's model instances (most of a cold widget's time). Cards are written
when a version is published (every product), when a product is saved or deleted (signals), and
by the scheduled full sync (task ``goodsassoc.sync_product_cards``), which catches changes made
without signals, such as ``QuerySet.update()`` or a change to a related model; a host can also
call :func:`sync` with the keys it changed. A card older than ``PRODUCT_CARD_MAX_AGE`` seconds
is not used: the widget reads that product from the host, as it does with cards switched off.

Each card carries the time its product was read; a write never replaces a card read later
(a save during a long full sync keeps its newer card).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, NamedTuple

import orjson
from django.db import connection, transaction
from django.utils import timezone

from goodsassoc import hosts, locks
from goodsassoc.conf import ga_settings
from goodsassoc.models import ProductCard

logger = logging.getLogger("goodsassoc")
COLUMNS = ("product_key", "title", "price", "url", "shop_key", "category", "available", "synced_at", "packed")


class Card(NamedTuple):
    """A product as a widget shows it (from the card table, or read from the host)."""

    title: str
    price: float | None
    url: str
    shop: str
    category: str
    available: bool


def enabled() -> bool:
    return bool(ga_settings.PRODUCT_CARDS)


_since: tuple[float, int, Any] = (0.0, 0, None)  # (until, max age, moment)


def fresh_since() -> Any:
    """Cards read before this moment are not used (a parameter for raw SQL, as the ORM would pass it).

    Worked out at most once a second per process (a widget's query asks for it in several
    branches): the moment then lags by under a second, against a maximum age of hours."""
    global _since
    max_age, now = ga_settings.PRODUCT_CARD_MAX_AGE, time.monotonic()
    until, age, moment = _since
    if until <= now or age != max_age:
        moment = connection.ops.adapt_datetimefield_value(timezone.now() - timedelta(seconds=max_age))
        _since = (now + 1.0, max_age, moment)
    return moment


def url_of(obj: Any) -> str:
    return obj.get_absolute_url() if hasattr(obj, "get_absolute_url") else ""


def category_of(adapter: Any, product: Any) -> str:
    """A product's category path as one string, as cards store it and filters compare it."""
    return " > ".join(adapter.get_category_path(product)) if product is not None else ""


def card_of(adapter: Any, product: Any, *, category: bool = True) -> Card:
    """The card of a host product (``category`` False skips the path, which may need relations)."""
    return Card(adapter.get_title(product), adapter.get_price(product), url_of(product),
                adapter.get_shop(product) or "", category_of(adapter, product) if category else "",
                bool(adapter.is_available(product)))


def _row(key: str, card: Card, read_at: Any) -> tuple:
    price = None if card.price is None else float(card.price)
    fields = (key, str(card.title or "")[:500], price, str(card.url or "")[:500], str(card.shop or "")[:64],
              str(card.category or "")[:500], bool(card.available))
    return (*fields, read_at, packed(fields))


def packed(fields: tuple) -> str:
    """A card's fields (key, title, price, url, shop, category, available) as one JSON text: the
    cart's query reads its candidates' cards as one text of these (``widget_query``), which
    costs PostgreSQL and the widget less than a row per card."""
    return orjson.dumps(fields).decode()


def unpacked(text: str) -> dict[str, Card]:
    """Cards by product key from a JSON array of packed cards (see ``packed``)."""
    return {key: Card(title, price, url, shop, category, bool(available))
            for key, title, price, url, shop, category, available in orjson.loads(text)}


def load(keys: Iterable[str], *, category: bool = False) -> dict[str, Card]:
    """The cards of these products read from the host now (one query), by key."""
    adapter = hosts.get_adapter()
    products = adapter.get_queryset(full=category).filter(pk__in=_primary_keys(keys)).order_by()
    return {str(p.pk): card_of(adapter, p, category=category) for p in products}


def _primary_keys(keys: Iterable[str]) -> list[Any]:
    return list(hosts.primary_keys(hosts.product_model(), keys))


def _write(rows: list[tuple]) -> int:
    """Upsert cards, except over a card read later than this one (same SQL on PostgreSQL and SQLite)."""
    table = ProductCard._meta.db_table
    updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
    per_statement = (connection.features.max_query_params or 10_000) // len(COLUMNS)  # SQLite: 999 parameters
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            values = ", ".join(["(" + ", ".join(["%s"] * len(COLUMNS)) + ")"] * len(chunk))
            cursor.execute(f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES {values} ON CONFLICT (product_key) "
                           f"DO UPDATE SET {updates} WHERE {table}.synced_at <= excluded.synced_at",
                           [value for row in chunk for value in row])
    return len(rows)


def _read(products: Any, adapter: Any) -> list[tuple]:
    """Card rows of these products, stamped with the time they were read; a product whose card
    cannot be made (its adapter or link fails) is logged and left out, not the whole sync."""
    read_at = connection.ops.adapt_datetimefield_value(timezone.now())
    rows = []
    for product in products:
        try:
            rows.append(_row(str(product.pk), card_of(adapter, product), read_at))
        except Exception:
            logger.exception("goodsassoc: the card of product %s cannot be made", product.pk)
    return rows


def sync(keys: Iterable[Any] | None = None, *, batch: int = 500,
         on_progress: Callable[[int, int], None] | None = None) -> int:
    """Write the cards of the products ``keys`` (every product when None) as the host shows them
    now; a product the host no longer has (or whose adapter leaves it out) loses its card.
    Returns how many cards were written. Products are read in chunks of ``batch`` keys; a full
    sync while another one runs does nothing and returns 0."""
    if keys is None:
        with locks.exclusive("cards") as held:
            return _sync(None, batch, on_progress) if held else 0
    return _sync(sorted({hosts.to_key(k) for k in keys}), batch, on_progress)


def _sync(wanted: list[str] | None, batch: int, on_progress: Callable[[int, int], None] | None) -> int:
    adapter = hosts.get_adapter()
    started = timezone.now()
    products = adapter.get_queryset(full=True).order_by()
    found = list(products.order_by("pk").values_list("pk", flat=True)) if wanted is None else _primary_keys(wanted)
    written: set[str] = set()
    for start in range(0, len(found), batch):
        rows = _read(products.filter(pk__in=found[start : start + batch]), adapter)
        _write(rows)
        written.update(row[0] for row in rows)
        if on_progress:
            on_progress(min(start + batch, len(found)), len(found))
    old = ProductCard.objects.filter(synced_at__lt=started)  # not written now: the product is gone
    if wanted is None:
        old.delete()
    else:  # a product's own save finds it: no delete then
        gone = [key for key in wanted if key not in written]
        for start in range(0, len(gone), batch):
            old.filter(product_key__in=gone[start : start + batch]).delete()
    return len(written)


def _touches_card(update_fields: Any) -> bool:
    """Whether a save with ``update_fields`` may change a card: always, unless the default adapter
    reads attribute paths none of which starts at one of these fields (e.g. a view counter)."""
    from goodsassoc.adapters import AttributeProductAdapter

    if update_fields is None or type(hosts.get_adapter()) is not AttributeProductAdapter:
        return True
    starts = {path.split("__")[0] for path in ga_settings.PRODUCT_ATTRIBUTES.values() if isinstance(path, str)}
    return bool(starts & set(update_fields))


def product_saved(sender: Any, instance: Any, raw: bool = False, update_fields: Any = None, **kwargs: Any) -> None:
    """A saved product's card follows at once, in the host's transaction (a rollback undoes both)."""
    if raw or not enabled() or not _is_product(instance) or not _touches_card(update_fields):
        return
    try:
        with transaction.atomic():
            sync([instance.pk])
    except Exception:  # a recommendation problem never breaks the host's save
        logger.exception("goodsassoc: writing the card of product %s failed", instance.pk)


def product_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    if not _is_product(instance):
        return
    try:
        with transaction.atomic():
            ProductCard.objects.filter(product_key=str(instance.pk)).delete()
    except Exception:
        logger.exception("goodsassoc: removing the card of product %s failed", instance.pk)


def _is_product(instance: Any) -> bool:
    """The host's product model, or a proxy or child of it (whose saves send their own sender)."""
    try:
        return isinstance(instance, hosts.product_model())
    except Exception:
        return False


def connect() -> None:
    """Follow saves and deletes of the host's products (any sender: proxies and child models too)."""
    from django.db.models.signals import post_delete, post_save

    post_save.connect(product_saved, dispatch_uid="goodsassoc.cards.saved")
    post_delete.connect(product_deleted, dispatch_uid="goodsassoc.cards.deleted")
