"""Turn a host signal's keyword arguments into events for :func:`record_events`.

Each extractor takes the signal's entry from ``GOODSASSOC['SIGNALS']`` and the
signal's ``sender`` and kwargs, and returns a :class:`SignalEvents`. Hosts whose
signals look different write their own extractor and name it in ``"events"``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from goodsassoc.adapters import resolve_path

# Stable event ids for order lines, so a signal sent twice stores each line once.
ORDER_LINE_NAMESPACE = uuid.UUID("9b7a3c1e-5d0f-4b8e-a6c2-1f0e8d7c6b5a")


@dataclass
class SignalEvents:
    events: list[dict[str, Any]] = field(default_factory=list)
    request: Any = None
    user: Any = None


def from_kwargs(spec: dict[str, Any], sender: Any, **kwargs: Any) -> SignalEvents:
    """One event from ``product`` (plus optional quantity, value, basket, shop) in kwargs.

    A negative quantity on an add-to-cart signal is a removal from the cart.
    """
    kind = spec["kind"]
    quantity = kwargs.get("quantity", 1)
    if quantity is not None and kind == "add_to_cart" and Decimal(str(quantity)) < 0:
        kind, quantity = "remove_from_cart", -Decimal(str(quantity))
    event = {
        "kind": kind, "product": kwargs.get("product"), "quantity": quantity, "value": kwargs.get("value"),
        "basket": kwargs.get("basket"), "shop": kwargs.get("shop"),
    }
    if kind in ("impression", "click"):  # feedback on a widget: request_id, widget, position, ...
        from goodsassoc.recording import FEEDBACK_FIELDS

        event.update({name: kwargs[name] for name in FEEDBACK_FIELDS if name in kwargs})
    return SignalEvents([event], request=kwargs.get("request"), user=kwargs.get("user"))


def order_lines(spec: dict[str, Any], sender: Any, **kwargs: Any) -> SignalEvents:
    """One purchase event per line of ``kwargs['order']``; paths come from ``spec['options']``
    (``shop``, ``basket`` and ``user`` on the order; ``product``, ``quantity``, ``price`` and
    ``line_shop`` on each line)."""
    options = {"order": "order", "lines": "lines.all", "product": "product", "quantity": "quantity",
               "price": "price", "basket": "pk", "shop": None, "line_shop": None, "user": "user",
               **spec.get("options", {})}
    order = kwargs.get(options["order"])
    if order is None:
        return SignalEvents(request=kwargs.get("request"))
    lines_path = options["lines"].replace(".", "__")
    basket = resolve_path(order, options["basket"])
    shop = resolve_path(order, options["shop"]) if options["shop"] else None
    events = []
    for position, line in enumerate(resolve_path(order, lines_path) or ()):
        quantity = resolve_path(line, options["quantity"])
        price = resolve_path(line, options["price"]) if options["price"] else None
        value = None if price is None or quantity is None else Decimal(str(price)) * Decimal(str(quantity))
        line_id = getattr(line, "pk", None) or position
        # Stable per signal, kind, order and line; without an order reference there is nothing stable.
        name = f"{spec.get('signal')}:{spec.get('kind', 'purchase')}:{basket}:{line_id}"
        events.append({
            "event_id": uuid.uuid5(ORDER_LINE_NAMESPACE, name) if basket not in (None, "") else None,
            "kind": spec.get("kind", "purchase"),
            "product": resolve_path(line, options["product"]),
            "quantity": quantity, "value": value, "basket": basket,
            # A marketplace order may hold several sellers' products: the line's own shop first.
            "shop": (resolve_path(line, options["line_shop"]) if options["line_shop"] else None) or shop,
        })
    user = resolve_path(order, options["user"]) if options["user"] else None
    return SignalEvents(events, request=kwargs.get("request"), user=user)
