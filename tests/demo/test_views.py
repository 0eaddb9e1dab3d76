"""Shop pages, the session cart, checkout and login, with the signals they send."""

import pytest
from django.urls import reverse

from goodsassoc.models import Interaction
from goodsassoc.privacy import pseudonymise
from shop_demo import signals
from shop_demo.models import Order

pytestmark = pytest.mark.django_db


@pytest.fixture
def caught():
    """Collect what the shop's signals send."""
    sent = []

    def receiver(signal, sender, **kwargs):
        sent.append((signal, kwargs))

    for signal in (signals.product_viewed, signals.cart_changed, signals.order_placed):
        signal.connect(receiver, dispatch_uid="test-demo-caught")
    yield sent
    for signal in (signals.product_viewed, signals.cart_changed, signals.order_placed):
        signal.disconnect(dispatch_uid="test-demo-caught")


def add(client, product, quantity=1):
    return client.post(reverse("shop_demo:cart_add", args=[product.pk]), {"quantity": quantity})


def test_home_lists_departments_and_popular_products(client, catalogue, stores):
    response = client.get(reverse("shop_demo:home"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Grocery" in html and "Produce" in html
    assert "Bananas 40 lb" in html
    assert "goodsassoc widget slot" not in html  # the markers are template comments


def test_product_text_is_escaped(client, catalogue, stores):
    html = client.get(reverse("shop_demo:product", args=[catalogue[1].pk])).content.decode()
    assert "Salsa &lt;b&gt;Hot&lt;/b&gt;" in html
    assert "<b>Hot</b>" not in html


def test_department_and_category_listings(client, catalogue, stores):
    chips, salsa, bananas = catalogue
    html = client.get(reverse("shop_demo:department", args=[chips.department_id])).content.decode()
    assert chips.name in html and bananas.name not in html
    url = reverse("shop_demo:category", args=[chips.category_id])
    html = client.get(url, {"type": chips.product_type_id}).content.decode()
    assert chips.name in html and "Salsa" not in html
    assert client.get(url, {"page": "999"}).status_code == 200


def test_search_by_name(client, catalogue, stores):
    html = client.get(reverse("shop_demo:search"), {"q": "banana"}).content.decode()
    assert "Bananas 40 lb" in html and "Tortilla" not in html


def test_product_page_sends_product_viewed_and_goodsassoc_records_it(client, catalogue, stores, caught):
    response = client.get(reverse("shop_demo:product", args=[catalogue[0].pk]))
    assert response.status_code == 200
    assert [(s, kw["product"]) for s, kw in caught] == [(signals.product_viewed, catalogue[0])]
    row = Interaction.objects.get()
    assert (row.kind, row.product_key, row.user_pseudonym) == ("view", str(catalogue[0].pk), "")
    assert row.anonymous_id


def test_cart_add_change_remove_send_quantity_changes(client, catalogue, stores, caught):
    chips = catalogue[0]
    add(client, chips, 2)
    add(client, chips)
    client.post(reverse("shop_demo:cart_update", args=[chips.pk]), {"quantity": 1})
    html = client.get(reverse("shop_demo:cart")).content.decode()
    assert chips.name in html and "$2.50" in html
    client.post(reverse("shop_demo:cart_remove", args=[chips.pk]))
    assert [kw["quantity"] for _, kw in caught] == [2, 1, -2, -1]
    assert "Your cart is empty" in client.get(reverse("shop_demo:cart")).content.decode()
    kinds = list(Interaction.objects.order_by("timestamp", "pk").values_list("kind", flat=True))
    assert sorted(kinds) == sorted(["add_to_cart", "add_to_cart", "remove_from_cart", "remove_from_cart"])


def test_checkout_needs_a_login(client, catalogue, stores):
    add(client, catalogue[0])
    response = client.post(reverse("shop_demo:checkout"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("shop_demo:login"))
    assert not Order.objects.exists()


def test_checkout_creates_an_order_and_sends_order_placed(client, catalogue, stores, customer, caught):
    client.force_login(customer)
    client.post(reverse("shop_demo:choose_store"), {"store": stores[1].pk})
    add(client, catalogue[0], 2)
    add(client, catalogue[2])
    response = client.post(reverse("shop_demo:checkout"))
    order = Order.objects.get()
    assert response.status_code == 302 and response["Location"] == order.get_absolute_url()
    assert (order.user, order.store) == (customer, stores[1])
    assert sorted((line.product.code, line.quantity) for line in order.lines.all()) == [("1001", 2), ("1003", 1)]
    assert str(order.total) == "5.94"
    assert [kw["order"] for s, kw in caught if s is signals.order_placed] == [order]
    assert "Your cart is empty" in client.get(reverse("shop_demo:cart")).content.decode()

    purchases = Interaction.objects.filter(kind="purchase")
    assert purchases.count() == 2
    assert {p.basket_key for p in purchases} == {str(order.pk)}
    assert {p.shop_key for p in purchases} == {str(stores[1].pk)}
    assert {p.user_pseudonym for p in purchases} == {pseudonymise(customer.pk)}


def test_my_orders_shows_only_my_orders(client, catalogue, stores, customer, django_user_model):
    other = django_user_model.objects.create_user("household-2", password="demo")
    client.force_login(customer)
    add(client, catalogue[0])
    client.post(reverse("shop_demo:checkout"))
    mine = Order.objects.get()
    html = client.get(reverse("shop_demo:orders")).content.decode()
    assert f"#{mine.pk}" in html
    assert client.get(reverse("shop_demo:order", args=[mine.pk])).status_code == 200
    client.force_login(other)
    assert client.get(reverse("shop_demo:order", args=[mine.pk])).status_code == 404


def test_login_and_logout(client, catalogue, stores, customer):
    response = client.post(reverse("shop_demo:login"), {"username": "household-1", "password": "demo"})
    assert response.status_code == 302
    assert "household-1" in client.get(reverse("shop_demo:home")).content.decode()
    client.post(reverse("shop_demo:logout"))
    assert client.get(reverse("shop_demo:orders")).status_code == 302


def test_pages_work_with_an_empty_shop(client, db):
    assert client.get(reverse("shop_demo:home")).status_code == 200
    assert client.get(reverse("shop_demo:cart")).status_code == 200
