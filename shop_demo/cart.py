"""Session cart and current store: small helpers the views share."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.http import HttpRequest

from shop_demo.models import Product, Store

CART_KEY = "shop_demo_cart"
STORE_KEY = "shop_demo_store"
MAX_QUANTITY = 99


@dataclass
class CartLine:
    """A product in the cart with its quantity."""

    product: Product
    quantity: int

    @property
    def line_value(self) -> Decimal:
        return self.product.price * self.quantity


def get_cart(request: HttpRequest) -> dict[str, int]:
    """The raw cart: product pk (as str, JSON keys) -> quantity."""
    return dict(request.session.get(CART_KEY, {}))


def set_quantity(request: HttpRequest, product: Product, quantity: int) -> int:
    """Set a product's quantity (0 removes it); returns the change made."""
    cart = get_cart(request)
    key = str(product.pk)
    old = cart.get(key, 0)
    quantity = max(0, min(MAX_QUANTITY, quantity))
    if quantity:
        cart[key] = quantity
    else:
        cart.pop(key, None)
    request.session[CART_KEY] = cart
    return quantity - old


def cart_lines(request: HttpRequest) -> list[CartLine]:
    """Cart contents with products loaded; unknown products are dropped."""
    cart = get_cart(request)
    products = Product.objects.in_bulk([int(pk) for pk in cart if pk.isdigit()])
    return [CartLine(products[int(pk)], qty) for pk, qty in cart.items() if pk.isdigit() and int(pk) in products]


def cart_count(request: HttpRequest) -> int:
    """Number of items in the cart, for the header."""
    return sum(get_cart(request).values())


def clear_cart(request: HttpRequest) -> None:
    """Empty the cart after checkout."""
    request.session[CART_KEY] = {}


def current_store(request: HttpRequest) -> Store | None:
    """The store picked in the header (kept in session); defaults to the first."""
    store_id = request.session.get(STORE_KEY)
    store = Store.objects.filter(pk=store_id).first() if store_id else None
    return store or Store.objects.order_by("pk").first()


def set_store(request: HttpRequest, store: Store) -> None:
    """Remember the shopper's store."""
    request.session[STORE_KEY] = store.pk
