"""Product cards: what a widget shows of a host product, copied into goodsassoc's own table.

A widget then reads its recommendations and their cards in one query, instead of a second
query that builds the host's model instances (most of a cold widget's time). Cards are written
when a version is published (every product), when a product is saved or deleted (signals), and
by the scheduled full sync (task ``goodsassoc.sync_product_cards``), which catches changes made
without signals, such as ``QuerySet.update()`` or a change to a related model; a host can also
call :func:`sync` with the keys it changed. A card older than ``PRODUCT_CARD_MAX_AGE`` seconds
is not used: the widget reads that product from the host, as it does with cards switched off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.db import transaction
from django.utils import timezone

from goodsassoc import hosts
from goodsassoc.conf import ga_settings
from goodsassoc.models import ProductCard

logger = logging.getLogger("goodsassoc")
WRITTEN = ("title", "price", "url", "shop_key", "category", "available", "synced_at")


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


def fresh_since() -> datetime:
    """Cards synced before this moment are not used."""
    return timezone.now() - timedelta(seconds=ga_settings.PRODUCT_CARD_MAX_AGE)


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


def _row(key: str, card: Card, synced_at: datetime) -> ProductCard:
    return ProductCard(product_key=key, title=card.title[:500], price=card.price, url=card.url[:500],
                       shop_key=card.shop[:64], category=card.category[:500], available=card.available,
                       synced_at=synced_at)


def load(keys: Iterable[str], *, category: bool = False) -> dict[str, Card]:
    """The cards of these products read from the host now (one query), by key."""
    adapter = hosts.get_adapter()
    products = adapter.get_queryset(full=category).filter(pk__in=_primary_keys(keys)).order_by()
    return {str(p.pk): card_of(adapter, p, category=category) for p in products}


def _primary_keys(keys: Iterable[str]) -> list[Any]:
    """The keys that can be primary keys of the host's products (others name no product)."""
    field = hosts.product_model()._meta.pk
    values = []
    for key in keys:
        try:
            value = field.to_python(key)
        except Exception:
            continue
        if not isinstance(value, int) or -(2**63) <= value < 2**63:  # beyond any integer column: no product
            values.append(value)
    return values


def _write(cards: list[ProductCard]) -> int:
    if cards:
        ProductCard.objects.bulk_create(cards, update_conflicts=True, unique_fields=["product_key"],
                                        update_fields=list(WRITTEN))
    return len(cards)


def sync(keys: Iterable[Any] | None = None, *, batch: int = 2000,
         on_progress: Callable[[int, int], None] | None = None) -> int:
    """Write the cards of the products ``keys`` (every product when None) as the host shows them
    now; a product the host no longer has (or whose adapter leaves it out) loses its card.
    Returns how many cards were written. Products are read in chunks of ``batch`` keys."""
    adapter = hosts.get_adapter()
    started = timezone.now()
    products = adapter.get_queryset(full=True).order_by()
    if keys is None:
        wanted: list[str] = []
        found = list(products.order_by("pk").values_list("pk", flat=True))
    else:
        wanted = sorted({hosts.to_key(k) for k in keys})
        found = _primary_keys(wanted)
    written = 0
    for start in range(0, len(found), batch):
        chunk = products.filter(pk__in=found[start : start + batch])
        written += _write([_row(str(p.pk), card_of(adapter, p), started) for p in chunk])
        if on_progress:
            on_progress(min(start + batch, len(found)), len(found))
    old = ProductCard.objects.filter(synced_at__lt=started)  # not written now: the product is gone
    if keys is None:
        old.delete()
    for start in range(0, len(wanted), batch):
        old.filter(product_key__in=wanted[start : start + batch]).delete()
    return written


def product_saved(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    """A saved product's card follows at once (in the host's transaction: a rollback undoes both)."""
    if raw or not enabled():
        return
    try:
        with transaction.atomic():
            sync([instance.pk])
    except Exception:  # a recommendation problem never breaks the host's save
        logger.exception("goodsassoc: writing the card of product %s failed", instance.pk)


def product_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    try:
        with transaction.atomic():
            ProductCard.objects.filter(product_key=str(instance.pk)).delete()
    except Exception:
        logger.exception("goodsassoc: removing the card of product %s failed", instance.pk)


_followed: list[Any] = []


def connect() -> None:
    """Follow the host's product saves and deletes (the model named in settings; a wrong name is
    reported by the system checks, not here)."""
    from django.db.models.signals import post_delete, post_save

    while _followed:
        model = _followed.pop()
        post_save.disconnect(sender=model, dispatch_uid="goodsassoc.cards.saved")
        post_delete.disconnect(sender=model, dispatch_uid="goodsassoc.cards.deleted")
    try:
        model = hosts.product_model()
    except Exception:
        return
    post_save.connect(product_saved, sender=model, dispatch_uid="goodsassoc.cards.saved")
    post_delete.connect(product_deleted, sender=model, dispatch_uid="goodsassoc.cards.deleted")
    _followed.append(model)
