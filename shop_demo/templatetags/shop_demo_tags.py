"""Header tag: store picker, cart count and login state.

A tag rather than a context processor so the pages render the same under any
host settings (the test settings do not list the demo's processors).
"""

from django import template

from shop_demo import cart as session_cart
from shop_demo.models import Store

register = template.Library()


@register.inclusion_tag("shop_demo/_header.html", takes_context=True)
def shop_header(context: template.Context) -> dict:
    """Context for the page header."""
    request = context.request
    return {
        "request": request,
        "user": request.user,
        "stores": Store.objects.only("pk", "name"),
        "current_store": session_cart.current_store(request),
        "cart_count": session_cart.cart_count(request),
        "csrf_token": context.get("csrf_token"),
    }
