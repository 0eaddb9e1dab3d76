"""Atomic publishing of score tables.

A new version's rows are written in full (COPY on PostgreSQL) before a single-row pointer
flips to it in one transaction; readers filter by the version they read from the pointer, so
they see the old version or the new one, never a mix and never an empty table. The previous
version is kept (readers that read the pointer just before the flip still find their rows);
older versions and the rows of runs that never published are pruned.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from goodsassoc import related_heads
from goodsassoc.bulk import insert_frame
from goodsassoc.conf import ga_settings
from goodsassoc.models import (
    ModelVersion,
    PopularItem,
    RelatedHead,
    RelatedItem,
    ServingState,
    ShopperItem,
    ShopperShop,
    VersionStatus,
)

logger = logging.getLogger("goodsassoc")
STATE_CACHE_KEY = "goodsassoc:served-version"

# table -> (model, columns, JSON columns)
TABLES = {
    "related": (RelatedItem, ("product_key", "rank", "related_key", "score", "popularity", "reason", "evidence",
                              "product_kind", "related_kind"), ("evidence",)),
    "related_heads": (RelatedHead, ("product_key", "neighbours", "keys"), ()),
    "shopper_items": (ShopperItem, ("shopper_key", "product_key", "repeat", "taste", "recency", "kind"), ()),
    "shopper_shops": (ShopperShop, ("shopper_key", "rank", "shop_key", "score", "reason", "evidence"),
                      ("evidence",)),
    "popular": (PopularItem, ("scope", "scope_key", "rank", "product_key", "score", "baskets", "recent", "kind"), ()),
}


@dataclass
class PublishTables:
    """What a model version serves, as DataFrames with the columns of ``TABLES``."""

    related: pd.DataFrame
    shopper_items: pd.DataFrame
    shopper_shops: pd.DataFrame
    popular: pd.DataFrame
    extra: dict = field(default_factory=dict)

    def frames(self) -> dict[str, pd.DataFrame]:
        """Each table's rows; the heads are those of the related rows (``goodsassoc.related_heads``)."""
        derived = {"related_heads": related_heads.frame(self.related)}
        return {name: derived[name] if name in derived else getattr(self, name) for name in TABLES}


def _defaults(model: Any, columns: tuple[str, ...], frame: pd.DataFrame) -> dict[str, Any]:
    """Model defaults for the optional columns a frame leaves out (e.g. product kinds)."""
    return {c: model._meta.get_field(c).get_default() for c in columns if c not in frame.columns}


def write_version(version_id: int, tables: PublishTables,
                  on_progress: Callable[[str, int, int], None] | None = None) -> dict[str, int]:
    """Write every table of a version in one transaction; nothing is served yet."""
    written: dict[str, int] = {}
    frames = tables.frames()
    with transaction.atomic():
        for number, (name, frame) in enumerate(frames.items()):
            model, columns, json_columns = TABLES[name]
            frame = frame.assign(version=version_id, **_defaults(model, columns, frame))
            written[name] = insert_frame(model._meta.db_table, frame, ("version", *columns),
                                         json_columns=json_columns)
            if on_progress:
                on_progress("publish", number + 1, len(frames))
    analyze()
    return written


def analyze() -> None:
    """Refresh PostgreSQL's statistics of the score tables, once a version is written in bulk:
    it plans the widgets' queries by them, and autovacuum may notice a bulk write late (or be
    off). Without them its estimates can be off many times over, enough to have it compile a
    widget's query (JIT), which costs far more than running it."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model, _, _ in TABLES.values():
            cursor.execute(f"ANALYZE {model._meta.db_table}")


def publish(version: ModelVersion) -> int | None:
    """Serve ``version`` from now on; returns the previously served version id."""
    with transaction.atomic():
        state, _ = ServingState.objects.select_for_update().get_or_create(id=1)
        previous = state.version_id
        state.version = version
        state.save()
        version.status = VersionStatus.PUBLISHED
        version.published_at = timezone.now()
        version.save(update_fields=["status", "published_at"])
        if previous and previous != version.pk:
            ModelVersion.objects.filter(pk=previous).update(status=VersionStatus.RETIRED)
    _remember_served(version.pk, authoritative=True)
    _served.forget()
    prune(keep={version.pk, previous} - {None})
    return previous


def prune(keep: set[int]) -> int:
    """Delete the rows of every version not in ``keep``; returns rows deleted."""
    if not keep:
        return 0
    deleted = 0
    marks = ", ".join(["%s"] * len(keep))
    with connection.cursor() as cursor:
        for model, _, _ in TABLES.values():
            cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE version NOT IN ({marks})", list(keep))
            deleted += max(cursor.rowcount, 0)
    return deleted


def _remember_served(version_id: int | None, *, authoritative: bool = False) -> None:
    """Publishing sets the cached id; a reader only fills a gap (``add``), so a value it read
    just before a publish cannot overwrite the new one."""
    try:
        store = cache.set if authoritative else cache.add
        store(STATE_CACHE_KEY, version_id or 0, ga_settings.SERVED_VERSION_CACHE_SECONDS)
    except Exception:  # a cache outage must not break publishing or pages
        logger.warning("goodsassoc: cache unavailable; the served version is read from the database")


# Each process remembers the cached served version for a moment: a warm widget then costs one
# cache round trip, not two. Another process's publish reaches this one within LOCAL_SECONDS.
LOCAL_SECONDS = 2.0


class BriefRead:
    """A value of the shared cache that each process keeps for ``LOCAL_SECONDS`` (a missing one
    too, as ``default``, unless ``remember_missing`` is off)."""

    def __init__(self, key: str, default: Any = None, *, remember_missing: bool = True) -> None:
        self.key, self.default, self.remember_missing = key, default, remember_missing
        self.value: Any = default
        self.until = 0.0

    def get(self) -> Any:
        now = time.monotonic()
        if self.until > now:
            return self.value
        try:
            value = cache.get(self.key)
        except Exception:
            value = None
        found = value is not None
        self.value = value if found else self.default
        self.until = now + LOCAL_SECONDS if found or self.remember_missing else 0.0
        return self.value

    def forget(self) -> None:
        self.until = 0.0


_served = BriefRead(STATE_CACHE_KEY, remember_missing=False)


def cached_served_version() -> int | None:
    """The served version as the shared cache knows it (None if it does not), memoised briefly."""
    return _served.get()


def served_version_id() -> int | None:
    """The served version: from the cache when possible, else one database query."""
    try:
        cached = cache.get(STATE_CACHE_KEY)
    except Exception:
        cached = None
    if cached is not None:
        return cached or None
    version_id = ServingState.objects.filter(id=1).values_list("version_id", flat=True).first()
    _remember_served(version_id)
    return version_id
