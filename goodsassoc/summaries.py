"""The dashboard's daily summaries, rebuilt from the feedback rows by a periodic task.

The admin never aggregates the raw feedback tables (millions of rows): it reads
``FeedbackDaily`` (per day, widget, strategy, model version, arm) and ``FeedbackItemDaily``
(per day, widget, anchor and recommended product). A refresh re-aggregates whole UTC days
in the database (GROUP BY; impression sets are expanded with the database's JSON functions;
the per-pair rows are written by INSERT ... SELECT) and swaps them in one transaction, so it
is idempotent and a reader never sees half a day.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from goodsassoc.models import (
    AttributedConversion,
    FeedbackDaily,
    FeedbackItemDaily,
    ImpressionSet,
    RecommendationClick,
)

CONVERSION_SUMS = ("SUM(CASE WHEN kind = 'add_to_cart' THEN 1 ELSE 0 END), "
                   "SUM(CASE WHEN kind = 'purchase' THEN 1 ELSE 0 END), "
                   "SUM(CASE WHEN kind = 'purchase' THEN COALESCE(value, 0) ELSE 0 END)")


def _day(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"(({column}) AT TIME ZONE 'UTC')::date"
    return f"date({column})"


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _rows(sql: str, params: list[Any]) -> list[tuple]:
    if connection.vendor == "sqlite":  # stored as naive UTC text: compare like with like
        params = [p.astimezone(UTC).replace(tzinfo=None).isoformat(" ") if isinstance(p, datetime) else p
                  for p in params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _daily(start: datetime) -> list[FeedbackDaily]:
    imp, clk, conv = (m._meta.db_table for m in (ImpressionSet, RecommendationClick, AttributedConversion))
    length = "jsonb_array_length(items)" if connection.vendor == "postgresql" else "json_array_length(items)"
    group = "widget, strategy, COALESCE(model_version, 0), arm"
    merged: dict[tuple, dict[str, Any]] = defaultdict(dict)
    for *key, sets, shown in _rows(
            f"SELECT {_day('shown_at')}, {group}, COUNT(*), SUM({length}) FROM {imp} WHERE shown_at >= %s "
            f"GROUP BY {_day('shown_at')}, {group}", [start]):
        merged[tuple(key)].update(impressions=sets, items_shown=shown or 0)
    for *key, clicks, clicked in _rows(
            f"SELECT {_day('timestamp')}, {group}, COUNT(*), COUNT(DISTINCT request_id) FROM {clk} "
            f"WHERE timestamp >= %s GROUP BY {_day('timestamp')}, {group}", [start]):
        merged[tuple(key)].update(clicks=clicks, clicked_sets=clicked)
    for *key, carts, purchases, revenue in _rows(
            f"SELECT {_day('timestamp')}, {group}, {CONVERSION_SUMS} FROM {conv} "
            f"WHERE timestamp >= %s GROUP BY {_day('timestamp')}, {group}", [start]):
        merged[tuple(key)].update(add_to_carts=carts or 0, purchases=purchases or 0,
                                  revenue=Decimal(str(revenue or 0)).quantize(Decimal("0.01")))
    return [FeedbackDaily(day=_as_date(day), widget=w, strategy=s, model_version=v, arm=a, **figures)
            for (day, w, s, v, a), figures in merged.items()]


def _insert_items(start: datetime) -> int:
    """Rebuild the per-pair rows in the database itself (INSERT ... SELECT): there can be millions."""
    imp, clk, conv, out = (m._meta.db_table for m in (ImpressionSet, RecommendationClick, AttributedConversion,
                                                       FeedbackItemDaily))
    if connection.vendor == "postgresql":
        expand = "CROSS JOIN LATERAL jsonb_array_elements_text(i.items) AS j(value)"
    else:
        expand = ", json_each(i.items) AS j"
    sql = (
        f"INSERT INTO {out} (day, widget, anchor_key, product_key, shown, clicks, add_to_carts, purchases, revenue) "
        f"SELECT day, widget, anchor_key, product_key, SUM(shown), SUM(clicks), SUM(carts), SUM(bought), SUM(money) "
        f"FROM ("
        f"SELECT {_day('i.shown_at')} AS day, i.widget AS widget, i.anchor_key AS anchor_key, j.value AS product_key, "
        f"1 AS shown, 0 AS clicks, 0 AS carts, 0 AS bought, 0 AS money FROM {imp} i {expand} WHERE i.shown_at >= %s "
        f"UNION ALL SELECT {_day('timestamp')}, widget, anchor_key, product_key, 0, 1, 0, 0, 0 FROM {clk} "
        f"WHERE timestamp >= %s "
        f"UNION ALL SELECT {_day('timestamp')}, widget, anchor_key, product_key, 0, 0, "
        f"CASE WHEN kind = 'add_to_cart' THEN 1 ELSE 0 END, CASE WHEN kind = 'purchase' THEN 1 ELSE 0 END, "
        f"CASE WHEN kind = 'purchase' THEN COALESCE(value, 0) ELSE 0 END FROM {conv} WHERE timestamp >= %s"
        f") feedback GROUP BY day, widget, anchor_key, product_key"
    )
    params = [start, start, start]
    if connection.vendor == "sqlite":
        params = [p.astimezone(UTC).replace(tzinfo=None).isoformat(" ") for p in params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def first_day() -> date | None:
    """The oldest day with any feedback (three index reads)."""
    days = [m.objects.aggregate(first=Min(column))["first"] for m, column in
            ((ImpressionSet, "shown_at"), (RecommendationClick, "timestamp"), (AttributedConversion, "timestamp"))]
    days = [d for d in days if d is not None]
    return min(days).astimezone(UTC).date() if days else None


def refresh(days: int | None = None) -> dict[str, Any]:
    """Rebuild the summaries of the last ``days`` UTC days up to today (None: all of them)."""
    today = timezone.now().astimezone(UTC).date()
    start_day = today - timedelta(days=days - 1) if days else first_day()
    if start_day is None:
        return {"days": 0, "daily_rows": 0, "item_rows": 0}
    start = datetime.combine(start_day, datetime.min.time(), tzinfo=UTC)
    daily = _daily(start)
    with transaction.atomic():
        FeedbackDaily.objects.filter(day__gte=start_day).delete()
        FeedbackItemDaily.objects.filter(day__gte=start_day).delete()
        FeedbackDaily.objects.bulk_create(daily, batch_size=1000)
        items = _insert_items(start)
    return {"since": start_day.isoformat(), "days": (today - start_day).days + 1, "daily_rows": len(daily),
            "item_rows": items}
