"""Widgets as thin inclusion tags over the selectors (override the templates to restyle).

    {% load goodsassoc_tags %}
    {% related_products product limit=6 %}
    {% cart_recommendations cart_products limit=4 %}
    {% shops_you_may_like limit=4 %}
    {{ item.price|goodsassoc_price }}
"""

from __future__ import annotations

import functools
import time
from typing import Any

from django import template
from django.conf import settings
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse

from goodsassoc import selectors
from goodsassoc.conf import ga_settings
from goodsassoc.feedback import event_id
from goodsassoc.privacy import identity_for_request

register = template.Library()


@register.filter
def goodsassoc_price(value: Any) -> str:
    """A widget item's price as ``PRICE_FORMAT`` writes it ("" for none)."""
    if value is None or value == "":
        return ""
    try:
        return ga_settings.PRICE_FORMAT.format(float(value))
    except (TypeError, ValueError, IndexError, KeyError):
        return str(value)


def _events_url() -> str:
    return _events_url_in(get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())


@functools.lru_cache(maxsize=16)
def _events_url_in(urlconf: Any, prefix: str) -> str:
    """Resolved once per URLconf: reversing on every widget render would cost more than the widget."""
    try:
        return reverse("goodsassoc:events", urlconf=urlconf)
    except NoReverseMatch:  # the host did not mount goodsassoc's API: no tracking
        return ""


def _identity(context: template.Context) -> Any:
    """The shopper of the page, without creating an anonymous id; None if it cannot be told."""
    request = context.get("request")
    if request is None:
        return None
    try:
        return identity_for_request(request, create=False)
    except Exception:  # e.g. a wrong USER_ID_ATTRIBUTE: the widget still renders, for nobody in particular
        selectors.logger.exception("goodsassoc: cannot tell the shopper of this page")
        return None


def _context(context: template.Context, result: selectors.Recommendations, title: str) -> dict[str, Any]:
    """What the widget template needs, plus the feedback script's data when tracking is on.

    The script posts after the page has rendered, so recording never delays the page; the
    event ids are deterministic, so a retried or repeated post is stored once.
    """
    endpoint = _events_url() if ga_settings.FEEDBACK_TRACKING and result.items else ""
    rows = [(item, event_id(result.request_id, item.position, "impression"),
             event_id(result.request_id, item.position, "click")) if endpoint else (item, "", "")
            for item in result.items]
    return {"widget": result, "items": result.items, "rows": rows, "title": title, "request": context.get("request"),
            "tracking_endpoint": endpoint, "csrf_token": context.get("csrf_token"), "now_ms": int(time.time() * 1000)}


@register.inclusion_tag("goodsassoc/widgets/related.html", takes_context=True)
def related_products(context: template.Context, product: Any, limit: int = 6, same_shop: bool = False,
                     same_category: bool = False, title: str = "Related products") -> dict[str, Any]:
    identity = _identity(context) if ga_settings.AB_TESTS else None
    result = selectors.related_products(product, limit=limit, same_shop=same_shop, same_category=same_category,
                                        identity=identity)
    return _context(context, result, title)


@register.inclusion_tag("goodsassoc/widgets/cart.html", takes_context=True)
def cart_recommendations(context: template.Context, cart: Any, limit: int = 4,
                         title: str = "Complete your cart") -> dict[str, Any]:
    result = selectors.cart_recommendations(cart or (), identity=_identity(context), limit=limit)
    return _context(context, result, title)


@register.inclusion_tag("goodsassoc/widgets/shops.html", takes_context=True)
def shops_you_may_like(context: template.Context, limit: int = 4, title: str = "Shops you may like") -> dict[str, Any]:
    return _context(context, selectors.shops_for_shopper(_identity(context), limit=limit), title)
