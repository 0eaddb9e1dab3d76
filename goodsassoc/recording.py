"""The one way interactions get stored: validate everything, then store all or nothing.

The Python API, the signal receivers and the events endpoint all call
:func:`record_events`; the historical import shares its field rules in bulk form.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from goodsassoc import hosts
from goodsassoc.abstract_models import InteractionKind, InteractionSource
from goodsassoc.conf import ga_settings
from goodsassoc.privacy import Identity, identity_for_request, identity_for_user, is_anonymous_id, pseudonymise

FEEDBACK_FIELDS = ("request_id", "widget", "position", "strategy", "model_version", "arm", "anchor")
EVENT_FIELDS = {
    "event_id", "kind", "product", "shop", "quantity", "value", "basket", "timestamp", "user", "anonymous_id",
    *FEEDBACK_FIELDS,
}
WIDGETS = ("related", "cart", "shops")
MAX_POSITION = 1000
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
KINDS = frozenset(InteractionKind.values)
MAX_QUANTITY = Decimal("999999999")
MAX_VALUE = Decimal("999999999999")


@dataclass(frozen=True)
class EventError:
    """One reason an event was refused: which event, which field, why."""

    index: int
    field: str
    message: str
    event_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = {"index": self.index, "field": self.field, "message": self.message}
        if self.event_id:
            data["event_id"] = self.event_id
        return data


class RecordingError(ValueError):
    """Some events were invalid; nothing was stored."""

    def __init__(self, errors: Sequence[EventError]) -> None:
        self.errors = list(errors)
        first = self.errors[0]
        super().__init__(f"{len(self.errors)} invalid event field(s); first: event {first.index}, "
                         f"{first.field}: {first.message}")


@dataclass
class RecordResult:
    stored: int = 0
    duplicates: int = 0
    event_ids: list[uuid.UUID] = field(default_factory=list)


@dataclass
class _Clean:
    event_id: uuid.UUID
    kind: str
    product_key: str
    shop_key: str
    quantity: Decimal
    value: Decimal | None
    basket_key: str
    timestamp: datetime
    user_pseudonym: str
    anonymous_id: str
    # Feedback on a recommendation (impression and click events only).
    request_id: str = ""
    widget: str = ""
    position: int = 0
    strategy: str = ""
    model_version: int | None = None
    arm: str = ""
    anchor: str = ""

    @property
    def item_key(self) -> str:
        """What was shown or clicked: a product, or a shop in the shops widget."""
        return self.shop_key if self.widget == "shops" else self.product_key


class _Checker:
    """Collects errors for one event while parsing its fields."""

    def __init__(self, index: int, raw: Mapping[str, Any], errors: list[EventError]) -> None:
        self.index, self.raw, self.errors = index, raw, errors
        event_id = raw.get("event_id")
        self.event_id = str(event_id) if event_id not in (None, "") else None

    def fail(self, name: str, message: str) -> None:
        self.errors.append(EventError(self.index, name, message, self.event_id))

    def text(self, name: str, *, required: bool = False, max_length: int = 64) -> str:
        value = self.raw.get(name)
        if value is None or value == "":
            if required:
                self.fail(name, "This field is required.")
            return ""
        if hasattr(value, "pk"):  # a host model instance
            value = value.pk
        if isinstance(value, bool) or not isinstance(value, (str, int, uuid.UUID)):
            self.fail(name, f"Expected a string or an integer, got {type(value).__name__}.")
            return ""
        value = str(value)
        if len(value) > max_length:
            self.fail(name, f"At most {max_length} characters.")
            return ""
        return value

    def decimal(self, name: str, *, default: Decimal | None, positive: bool, limit: Decimal) -> Decimal | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
            self.fail(name, f"Expected a number, got {type(value).__name__}.")
            return default
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            self.fail(name, f"{value!r} is not a number.")
            return default
        if not number.is_finite():
            self.fail(name, "Must be a finite number.")
        elif positive and number <= 0:
            self.fail(name, "Must be greater than zero.")
        elif number < 0:
            self.fail(name, "Must not be negative.")
        elif number > limit:
            self.fail(name, f"Must be at most {limit}.")
        elif positive and number.quantize(Decimal("0.001"), ROUND_HALF_UP) <= 0:
            self.fail(name, "Must be at least 0.001.")
        else:
            return number.quantize(Decimal("0.001") if positive else Decimal("0.01"), ROUND_HALF_UP)
        return default

    def integer(self, name: str, *, required: bool, low: int, high: int) -> int | None:
        value = self.raw.get(name)
        if value is None or value == "":
            if required:
                self.fail(name, "This field is required.")
            return None
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(name, f"Expected an integer, got {type(value).__name__}.")
            return None
        if not low <= value <= high:
            self.fail(name, f"Must be between {low} and {high}.")
            return None
        return value

    def feedback(self, kind: Any) -> dict[str, Any]:
        """The fields that tie an impression or a click to the widget response it came from."""
        if kind not in ("impression", "click"):
            for name in FEEDBACK_FIELDS:
                if self.raw.get(name) not in (None, ""):
                    self.fail(name, "Only impression and click events carry this field.")
            return {}
        request_id = self.text("request_id", required=True)
        if request_id and not REQUEST_ID_RE.match(request_id):
            self.fail("request_id", "Letters, digits, '-' and '_' only (the widget's request_id).")
        widget = self.raw.get("widget")
        if widget in (None, ""):
            self.fail("widget", "This field is required.")
        elif widget not in WIDGETS:
            self.fail("widget", f"Unknown widget {widget!r}; expected one of: {', '.join(WIDGETS)}.")
            widget = ""
        return {
            "request_id": request_id, "widget": widget or "",
            "position": self.integer("position", required=True, low=1, high=MAX_POSITION) or 0,
            "strategy": self.text("strategy", max_length=32),
            "model_version": self.integer("model_version", required=False, low=1, high=2**62),
            "arm": self.text("arm"), "anchor": self.text("anchor"),
        }

    def timestamp(self, now: datetime) -> datetime:
        value = self.raw.get("timestamp")
        if value is None or value == "":
            return now
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value)
            except ValueError:
                parsed = None
            if parsed is None:
                self.fail("timestamp", "Expected an ISO 8601 date-time such as 2026-01-31T12:00:00Z.")
                return now
            value = parsed
        if not isinstance(value, datetime):
            self.fail("timestamp", f"Expected an ISO 8601 date-time, got {type(value).__name__}.")
            return now
        if timezone.is_naive(value):
            self.fail("timestamp", "Must include a time zone (e.g. a trailing Z for UTC).")
            return now
        if value > now + timedelta(seconds=ga_settings.EVENTS_MAX_CLOCK_SKEW_SECONDS):
            self.fail("timestamp", "Must not lie in the future.")
            return now
        return value


def _parse(index: int, raw: Any, identity: Identity, trusted: bool, require_event_id: bool, now: datetime,
           errors: list[EventError]) -> _Clean | None:
    if not isinstance(raw, Mapping):
        errors.append(EventError(index, "non_field_errors", f"Expected an object, got {type(raw).__name__}."))
        return None
    check = _Checker(index, raw, errors)
    for name in sorted(set(raw) - EVENT_FIELDS):
        check.fail(name, f"Unknown field; expected some of: {', '.join(sorted(EVENT_FIELDS))}.")
    event_id = uuid.uuid4()
    if check.event_id is None and require_event_id:
        check.fail("event_id", "This field is required: a UUID chosen by the client, so that a retried batch "
                               "is stored once.")
    if check.event_id is not None:
        try:
            event_id = raw["event_id"] if isinstance(raw["event_id"], uuid.UUID) else uuid.UUID(str(raw["event_id"]))
        except ValueError:
            check.fail("event_id", "Must be a UUID.")
    kind = raw.get("kind")
    if kind is None or kind == "":
        check.fail("kind", "This field is required.")
    elif not isinstance(kind, str) or kind not in KINDS:
        check.fail("kind", f"Unknown kind {kind!r}; expected one of: {', '.join(sorted(KINDS))}.")
    feedback = check.feedback(kind)
    shops_widget = feedback.get("widget") == "shops"  # its items are shops, not products
    product = check.text("product", required=not shops_widget)
    shop = check.text("shop", required=shops_widget)
    quantity = check.decimal("quantity", default=Decimal(1), positive=True, limit=MAX_QUANTITY)
    value = check.decimal("value", default=None, positive=False, limit=MAX_VALUE)
    basket = check.text("basket")
    when = check.timestamp(now)
    pseudonym, anonymous_id = identity.user_pseudonym, identity.anonymous_id
    user = check.text("user", max_length=255)
    if user:
        if trusted:  # a service recording for a shopper: the caller's own cookie is not the shopper's
            pseudonym, anonymous_id = pseudonymise(user), ""
        else:
            check.fail("user", "Only trusted callers may name a user; the requesting shopper is used.")
    raw_anon = raw.get("anonymous_id")
    if raw_anon not in (None, ""):
        if not trusted:  # an id chosen by the caller could credit events to another shopper
            check.fail("anonymous_id", "Only trusted callers may name an anonymous id; the cookie's is used.")
        elif is_anonymous_id(raw_anon):
            anonymous_id = raw_anon
        else:
            check.fail("anonymous_id", "Must be a version-4 UUID in lower case.")
    return _Clean(event_id, kind, product, shop, quantity, value, basket, when, pseudonym, anonymous_id, **feedback)


def validate_events(events: Sequence[Any], *, identity: Identity | None = None, trusted: bool = False,
                    require_event_id: bool = False) -> list[_Clean]:
    """Parse and check every event; raise :class:`RecordingError` listing every problem."""
    identity = identity or Identity()
    now = timezone.now()
    errors: list[EventError] = []
    clean = [_parse(i, raw, identity, trusted, require_event_id, now, errors) for i, raw in enumerate(events)]
    parsed = [event for event in clean if event is not None]
    known_products = hosts.existing_product_keys(e.product_key for e in parsed if e.product_key)
    known_shops = hosts.existing_shop_keys(e.shop_key for e in parsed if e.shop_key)
    has_shop_model = hosts.shop_model() is not None
    for index, event in enumerate(clean):
        if event is None:
            continue
        raw_id = str(event.event_id)
        if event.product_key and event.product_key not in known_products:
            errors.append(EventError(index, "product", f"Unknown product {event.product_key!r}.", raw_id))
        event.product_key = known_products.get(event.product_key, event.product_key)
        if event.shop_key and has_shop_model and event.shop_key not in known_shops:
            errors.append(EventError(index, "shop", f"Unknown shop {event.shop_key!r}.", raw_id))
        elif event.shop_key and not has_shop_model:
            errors.append(EventError(index, "shop", "No SHOP_MODEL is configured, so no shop may be given.", raw_id))
        event.shop_key = known_shops.get(event.shop_key, event.shop_key)
    if errors:
        raise RecordingError(sorted(errors, key=lambda e: (e.index, e.field)))
    _fill_shops(parsed)
    _fill_linked_pseudonyms(parsed)
    return parsed


def _fill_shops(events: list[_Clean]) -> None:
    """Events without a shop take the product's own shop, where the host has one."""
    missing = {e.product_key for e in events if not e.shop_key}
    shops = hosts.product_shops(missing) if missing else {}
    for event in events:
        if not event.shop_key:
            event.shop_key = shops.get(event.product_key, "")


def _fill_linked_pseudonyms(events: list[_Clean]) -> None:
    """An anonymous id that once logged in keeps counting for that shopper."""
    from goodsassoc.models import IdentityLink

    anonymous = {e.anonymous_id for e in events if e.anonymous_id and not e.user_pseudonym}
    if not anonymous:
        return
    links = dict(IdentityLink.objects.filter(anonymous_id__in=anonymous).values_list("anonymous_id", "user_pseudonym"))
    for event in events:
        if not event.user_pseudonym and event.anonymous_id in links:
            event.user_pseudonym = links[event.anonymous_id]


def record_events(events: Sequence[Any], *, identity: Identity | None = None, source: str = InteractionSource.PYTHON,
                  trusted: bool = False, require_event_id: bool = False) -> RecordResult:
    """Validate and store a batch: all events or none; an event id seen before is skipped."""
    from goodsassoc import feedback
    from goodsassoc.models import Interaction

    clean = validate_events(events, identity=identity, trusted=trusted, require_event_id=require_event_id)
    result = RecordResult(event_ids=[event.event_id for event in clean])
    unique: dict[uuid.UUID, _Clean] = {}
    for event in clean:
        unique.setdefault(event.event_id, event)
    impressions = [e for e in unique.values() if e.kind == "impression"]
    clicks = [e for e in unique.values() if e.kind == "click"]
    # Impressions live only in impression sets; a click on a shop has no product interaction.
    stored_as_interaction = [e for e in unique.values() if e.kind != "impression" and e.product_key]
    with transaction.atomic():
        seen = set(Interaction.objects.filter(event_id__in=[e.event_id for e in stored_as_interaction])
                   .values_list("event_id", flat=True))
        rows = [
            Interaction(
                event_id=e.event_id, kind=e.kind, product_key=e.product_key, shop_key=e.shop_key,
                quantity=e.quantity, value=e.value, basket_key=e.basket_key, timestamp=e.timestamp,
                user_pseudonym=e.user_pseudonym, anonymous_id=e.anonymous_id, source=source,
            )
            for e in stored_as_interaction if e.event_id not in seen
        ]
        Interaction.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
        shown, _ = feedback.store_impressions(impressions)
        new_clicks = feedback.store_clicks(clicks)
        feedback.attribute(rows)
    new_shop_clicks = new_clicks - sum(1 for r in rows if r.kind == "click")
    result.stored = len(rows) + shown + max(new_shop_clicks, 0)
    result.duplicates = len(clean) - result.stored
    return result


def record(who: Any, product: Any, kind: str, *, quantity: Any = 1, value: Any = None, basket: Any = None,
           shop: Any = None, event_id: Any = None, timestamp: datetime | None = None) -> RecordResult:
    """Record one interaction from host code.

    ``who`` is a request (logged-in user or anonymous cookie), a user, or None.
    Example: ``record(request, product, "view")``.
    """
    if who is None:
        identity = Identity()
    elif hasattr(who, "COOKIES") and hasattr(who, "META"):
        identity = identity_for_request(who)
    else:
        identity = identity_for_user(who)
    event = {
        "kind": kind, "product": product, "quantity": quantity, "value": value, "basket": basket,
        "shop": shop, "event_id": event_id, "timestamp": timestamp,
    }
    return record_events([event], identity=identity, source=InteractionSource.PYTHON)

