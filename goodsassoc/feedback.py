"""Storing feedback on recommendations: impression sets, clicks, and credited conversions.

Called by :func:`goodsassoc.recording.record_events` inside its transaction, after validation,
so every capture path (template-tag widgets' script, the events endpoint, Python) shares it.
Everything is at-least-once safe: an impression set is keyed by its request id, a click and a
conversion by their event ids, and a repeat is skipped.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from django.db.models import Q

from goodsassoc.conf import ga_settings
from goodsassoc.models import AttributedConversion, ImpressionSet, Interaction, RecommendationClick

FEEDBACK_KINDS = frozenset({"impression", "click"})
CONVERSION_KINDS = frozenset({"add_to_cart", "purchase"})
NAMESPACE = uuid.UUID("6f1d8c3e-2b1a-5c1e-9e0e-6d1c6f0a9b7d")


def event_id(request_id: str, position: int, kind: str) -> uuid.UUID:
    """The deterministic event id of a widget item's impression or click: retries and double
    clicks on the same shown item are stored once."""
    return uuid.uuid5(NAMESPACE, f"{request_id}:{position}:{kind}")


def store_impressions(events: Sequence[Any]) -> tuple[int, int]:
    """One impression set per request id; returns (events stored, events already stored)."""
    if not events:
        return 0, 0
    by_request: dict[str, list[Any]] = defaultdict(list)
    for event in events:
        by_request[event.request_id].append(event)
    existing = set(ImpressionSet.objects.filter(request_id__in=list(by_request)).values_list("request_id", flat=True))
    rows, stored = [], 0
    for request_id, group in by_request.items():
        if request_id in existing:
            continue
        shown: dict[int, str] = {}
        for event in group:
            shown.setdefault(event.position, event.item_key)
        first = group[0]
        rows.append(ImpressionSet(
            request_id=request_id, widget=first.widget, strategy=first.strategy, model_version=first.model_version,
            arm=first.arm, anchor_key=first.anchor, items=[shown[p] for p in sorted(shown)],
            user_pseudonym=first.user_pseudonym, anonymous_id=first.anonymous_id,
            shown_at=min(e.timestamp for e in group)))
        stored += len(group)
    ImpressionSet.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
    return stored, len(events) - stored


def store_clicks(events: Sequence[Any]) -> int:
    """Clicks not stored before; returns how many were new."""
    if not events:
        return 0
    seen = set(RecommendationClick.objects.filter(event_id__in=[e.event_id for e in events])
               .values_list("event_id", flat=True))
    rows = [RecommendationClick(
        event_id=e.event_id, request_id=e.request_id, widget=e.widget, strategy=e.strategy,
        model_version=e.model_version, arm=e.arm, anchor_key=e.anchor, product_key=e.item_key, position=e.position,
        user_pseudonym=e.user_pseudonym, anonymous_id=e.anonymous_id, timestamp=e.timestamp)
        for e in events if e.event_id not in seen]
    RecommendationClick.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
    return len(rows)


def attribute(interactions: Iterable[Interaction]) -> int:
    """Credit add-to-carts and purchases to the shopper's latest click on that product within
    ATTRIBUTION_WINDOW_HOURS before them (last click wins). Returns how many were credited."""
    candidates = [i for i in interactions if i.kind in CONVERSION_KINDS and (i.user_pseudonym or i.anonymous_id)]
    if not candidates:
        return 0
    window = timedelta(hours=ga_settings.ATTRIBUTION_WINDOW_HOURS)
    pseudonyms = {i.user_pseudonym for i in candidates if i.user_pseudonym}
    anonymous = {i.anonymous_id for i in candidates if i.anonymous_id}
    who = Q(user_pseudonym__in=pseudonyms) | Q(anonymous_id__in=anonymous)
    clicks = list(RecommendationClick.objects.filter(
        who, product_key__in={i.product_key for i in candidates},
        timestamp__gte=min(i.timestamp for i in candidates) - window,
        timestamp__lte=max(i.timestamp for i in candidates),
    ).order_by("-timestamp")[:5000])
    rows = []
    for item in candidates:
        for click in clicks:
            same_shopper = ((item.user_pseudonym and click.user_pseudonym == item.user_pseudonym)
                            or (item.anonymous_id and click.anonymous_id == item.anonymous_id))
            if (click.product_key == item.product_key and same_shopper
                    and item.timestamp - window <= click.timestamp <= item.timestamp):
                rows.append(AttributedConversion(
                    event_id=item.event_id, kind=item.kind, click_event_id=click.event_id,
                    request_id=click.request_id, widget=click.widget, strategy=click.strategy,
                    model_version=click.model_version, arm=click.arm, anchor_key=click.anchor_key,
                    product_key=item.product_key, position=click.position, value=item.value,
                    timestamp=item.timestamp, clicked_at=click.timestamp))
                break
    AttributedConversion.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
    return len(rows)
