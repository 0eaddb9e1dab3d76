"""Widgets as thin inclusion tags over the selectors (override the templates to restyle).

    {% load goodsassoc_tags %}
    {% related_products product limit=6 %}
    {% cart_recommendations cart_products limit=4 %}
    {% shops_you_may_like limit=4 %}
"""

from __future__ import annotations

from typing import Any

from django import template

from goodsassoc import selectors
from goodsassoc.privacy import identity_for_request

register = template.Library()


def _context(context: template.Context, result: selectors.Recommendations, title: str) -> dict[str, Any]:
    return {"widget": result, "items": result.items, "title": title, "request": context.get("request")}


@register.inclusion_tag("goodsassoc/widgets/related.html", takes_context=True)
def related_products(context: template.Context, product: Any, limit: int = 6, same_shop: bool = False,
                     same_category: bool = False, title: str = "Related products") -> dict[str, Any]:
    result = selectors.related_products(product, limit=limit, same_shop=same_shop, same_category=same_category)
    return _context(context, result, title)


@register.inclusion_tag("goodsassoc/widgets/cart.html", takes_context=True)
def cart_recommendations(context: template.Context, cart: Any, limit: int = 4,
                         title: str = "Complete your cart") -> dict[str, Any]:
    request = context.get("request")
    identity = identity_for_request(request) if request is not None else None
    result = selectors.cart_recommendations(cart or (), identity=identity, limit=limit)
    return _context(context, result, title)


@register.inclusion_tag("goodsassoc/widgets/shops.html", takes_context=True)
def shops_you_may_like(context: template.Context, limit: int = 4, title: str = "Shops you may like") -> dict[str, Any]:
    request = context.get("request")
    identity = identity_for_request(request) if request is not None else None
    return _context(context, selectors.shops_for_shopper(identity, limit=limit), title)
