"""load_demo on a small real slice of Complete Journey: counts, prices, names, idempotence."""

import io
from datetime import timedelta

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from goodsassoc.models import Interaction
from shop_demo import cj_data
from shop_demo.models import Order, OrderLine, Product, Store

pytestmark = pytest.mark.django_db


def load(**options):
    out = io.StringIO()
    call_command("load_demo", verbosity=1, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def counts():
    users = get_user_model().objects.filter(username__startswith="household-")
    return {
        "products": Product.objects.count(),
        "stores": Store.objects.count(),
        "customers": users.count(),
        "orders": Order.objects.count(),
        "lines": OrderLine.objects.count(),
        "history": Interaction.objects.filter(kind="purchase").count(),
    }


def test_load_a_few_households_then_reload_without_duplicates():
    output = load(households=5, seed=7)
    expected = cj_data.load(5, 7)
    first = counts()
    assert first == {
        "products": expected.products["code"].nunique(),
        "stores": len(expected.stores),
        "customers": 5,
        "orders": len(expected.baskets),
        "lines": len(expected.lines),
        "history": len(expected.lines),
    }
    assert "rejected 0" in output

    line = OrderLine.objects.select_related("order__user", "product").first()
    assert line.order.user.username.startswith("household-")
    assert line.product.price > 0 and line.product.name
    assert authenticate(username=line.order.user.username, password="demo") is not None
    latest = Order.objects.latest("created_at").created_at
    assert latest.date() == timezone.now().date() - timedelta(days=1)

    product_pks = set(Product.objects.values_list("pk", flat=True))
    output = load(households=5, seed=7)
    assert counts() == first
    assert set(Product.objects.values_list("pk", flat=True)) == product_pks
    assert f"already stored {first['history']}" in output


def test_keep_dates_and_skip_import():
    load(households=2, seed=1, keep_dates=True, skip_import=True)
    assert Order.objects.exists()
    assert {d.year for d in Order.objects.dates("created_at", "year")} <= {2017, 2018}
    assert not Interaction.objects.exists()


def test_product_names_are_readable():
    products = cj_data.read_products({26190, 26081})
    names = dict(zip(products["code"], products["name"], strict=True))
    assert names[26190] == "Apple Sauce 50 oz"
    assert names[26081] == "Miscellaneous"  # no category nor type: the department
    assert cj_data.titlecase("KIDS' CEREAL") == "Kids' Cereal"


def test_rejects_a_household_count_below_one():
    with pytest.raises(CommandError):
        load(households=0)
