"""Shop pages: catalogue, product page, search, session cart, checkout, orders.

The views send the shop's signals (``shop_demo.signals``); goodsassoc listens
to them through ``GOODSASSOC["SIGNALS"]`` like it would in any host shop.
"""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Page, Paginator
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from shop_demo import cart as session_cart
from shop_demo.models import Category, Department, Order, OrderLine, Product, Store
from shop_demo.signals import cart_changed, order_placed, product_viewed

PAGE_SIZE = 24
POPULAR_COUNT = 8


def _catalogue(queryset: QuerySet[Product]) -> QuerySet[Product]:
    """Products as listings show them (one query, related names loaded)."""
    return queryset.select_related("department", "category", "brand")


def _page(request: HttpRequest, queryset: QuerySet) -> Page:
    """The requested page of a listing; bad page numbers fall back sanely."""
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _back(request: HttpRequest, default: str) -> str:
    """Where to return after a POST: a safe ``next`` or the default."""
    target = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


def _quantity(request: HttpRequest, default: int = 1) -> int:
    """The posted quantity, tolerant of junk."""
    try:
        return int(request.POST.get("quantity", default))
    except (TypeError, ValueError):
        return default


def home(request: HttpRequest) -> HttpResponse:
    """Departments and the most popular products."""
    context = {
        "departments": Department.objects.all(),
        "popular": _catalogue(Product.objects.filter(is_available=True))[:POPULAR_COUNT],
    }
    return render(request, "shop_demo/home.html", context)


def department(request: HttpRequest, pk: int) -> HttpResponse:
    """A department's categories and its products, paginated."""
    dept = get_object_or_404(Department, pk=pk)
    context = {
        "department": dept,
        "categories": dept.categories.all(),
        "page": _page(request, _catalogue(dept.products.all())),
    }
    return render(request, "shop_demo/department.html", context)


def category(request: HttpRequest, pk: int) -> HttpResponse:
    """A category's products, optionally narrowed to one product type."""
    cat = get_object_or_404(Category.objects.select_related("department"), pk=pk)
    products = cat.products.all()
    product_type = None
    type_id = request.GET.get("type", "")
    if type_id.isdigit():
        product_type = cat.product_types.filter(pk=int(type_id)).first()
        if product_type:
            products = products.filter(product_type=product_type)
    context = {
        "category": cat,
        "product_types": cat.product_types.all(),
        "product_type": product_type,
        "page": _page(request, _catalogue(products)),
        "query_prefix": f"type={product_type.pk}&" if product_type else "",
    }
    return render(request, "shop_demo/category.html", context)


def product_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A product page; tells goodsassoc (via product_viewed) it was seen."""
    product = get_object_or_404(
        Product.objects.select_related("department", "category", "product_type", "brand", "manufacturer"), pk=pk
    )
    product_viewed.send(sender=Product, request=request, product=product)
    return render(request, "shop_demo/product.html", {"product": product})


def search(request: HttpRequest) -> HttpResponse:
    """Products whose name contains the query."""
    query = request.GET.get("q", "").strip()[:100]
    products = _catalogue(Product.objects.filter(name__icontains=query)) if query else Product.objects.none()
    context = {"query": query, "page": _page(request, products), "query_prefix": urlencode({"q": query}) + "&"}
    return render(request, "shop_demo/search.html", context)


@require_POST
def choose_store(request: HttpRequest) -> HttpResponse:
    """Remember the store picked in the header."""
    store_id = request.POST.get("store", "")
    if store_id.isdigit():
        store = Store.objects.filter(pk=int(store_id)).first()
        if store:
            session_cart.set_store(request, store)
    return redirect(_back(request, reverse("shop_demo:home")))


def cart(request: HttpRequest) -> HttpResponse:
    """The cart page with totals and the checkout button."""
    lines = session_cart.cart_lines(request)
    total = sum((line.line_value for line in lines), Decimal("0.00"))
    return render(request, "shop_demo/cart.html",
                  {"lines": lines, "total": total, "cart_products": [line.product for line in lines]})


def _change(request: HttpRequest, product: Product, quantity: int) -> None:
    """Set a cart quantity and send cart_changed with the change, if any."""
    delta = session_cart.set_quantity(request, product, quantity)
    if delta:
        cart_changed.send(sender=Product, request=request, product=product, quantity=delta)


@require_POST
def cart_add(request: HttpRequest, pk: int) -> HttpResponse:
    """Add some of a product to the cart."""
    product = get_object_or_404(Product, pk=pk, is_available=True)
    current = session_cart.get_cart(request).get(str(product.pk), 0)
    _change(request, product, current + max(1, _quantity(request)))
    return redirect(_back(request, reverse("shop_demo:cart")))


@require_POST
def cart_update(request: HttpRequest, pk: int) -> HttpResponse:
    """Set a cart line's quantity (0 removes it)."""
    product = get_object_or_404(Product, pk=pk)
    _change(request, product, _quantity(request, default=0))
    return redirect(reverse("shop_demo:cart"))


@require_POST
def cart_remove(request: HttpRequest, pk: int) -> HttpResponse:
    """Remove a product from the cart."""
    product = get_object_or_404(Product, pk=pk)
    _change(request, product, 0)
    return redirect(reverse("shop_demo:cart"))


@require_POST
def checkout(request: HttpRequest) -> HttpResponse:
    """Turn the cart into an order, then send order_placed once it is committed."""
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("shop_demo:cart"), reverse("shop_demo:login"))
    lines = [line for line in session_cart.cart_lines(request) if line.product.is_available]
    store = session_cart.current_store(request)
    if not lines or store is None:
        return redirect(reverse("shop_demo:cart"))
    with transaction.atomic():
        order = Order.objects.create(
            user=request.user,
            store=store,
            created_at=timezone.now(),
            total=sum((line.line_value for line in lines), Decimal("0.00")),
        )
        OrderLine.objects.bulk_create(
            OrderLine(
                order=order,
                product=line.product,
                quantity=line.quantity,
                unit_price=line.product.price,
                line_value=line.line_value,
            )
            for line in lines
        )
    session_cart.clear_cart(request)
    order_placed.send(sender=Order, request=request, order=order)
    return redirect(order.get_absolute_url())


@login_required(login_url="shop_demo:login")
def my_orders(request: HttpRequest) -> HttpResponse:
    """The logged-in customer's orders, newest first."""
    orders = Order.objects.filter(user=request.user).select_related("store")
    return render(request, "shop_demo/orders.html", {"page": _page(request, orders)})


@login_required(login_url="shop_demo:login")
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One of the customer's orders with its lines."""
    order = get_object_or_404(Order.objects.select_related("store"), pk=pk, user=request.user)
    lines = order.lines.select_related("product")
    return render(request, "shop_demo/order.html", {"order": order, "lines": lines})
