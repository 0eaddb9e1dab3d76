"""Fixtures for the demo shop: goodsassoc switched to it, a tiny catalogue, a customer."""

from decimal import Decimal

import pytest
from django.test import override_settings

from shop_demo.goodsassoc_config import DEMO_GOODSASSOC
from shop_demo.models import Brand, Category, Department, Manufacturer, Product, ProductType, Store


@pytest.fixture(autouse=True)
def demo_goodsassoc():
    """goodsassoc pointed at the demo shop, and the demo's URLs, as in a real host."""
    with override_settings(GOODSASSOC=DEMO_GOODSASSOC, ROOT_URLCONF="shop_demo.urls"):
        yield


@pytest.fixture
def stores(db):
    return [Store.objects.create(code=str(code), name=f"Store {code}") for code in (330, 406)]


@pytest.fixture
def catalogue(db):
    """Three grocery products: two in one category, one in another department."""
    grocery = Department.objects.create(name="Grocery")
    produce = Department.objects.create(name="Produce")
    snacks = Category.objects.create(department=grocery, name="Bag Snacks")
    chips = ProductType.objects.create(category=snacks, name="Tortilla/Nacho Chips")
    fruit = Category.objects.create(department=produce, name="Tropical Fruit")
    national = Brand.objects.create(name="National")
    maker = Manufacturer.objects.create(code="69", name="Manufacturer 69")
    rows = [
        ("1001", "Tortilla/Nacho Chips 11.5 oz", grocery, snacks, chips, "2.50"),
        ("1002", "Salsa <b>Hot</b> 16 oz", grocery, snacks, None, "3.20"),
        ("1003", "Bananas 40 lb", produce, fruit, None, "0.94"),
    ]
    return [
        Product.objects.create(
            code=code,
            name=name,
            department=dept,
            category=cat,
            product_type=ptype,
            brand=national,
            manufacturer=maker,
            package_size="",
            price=Decimal(price),
            popularity=10 - i,
        )
        for i, (code, name, dept, cat, ptype, price) in enumerate(rows)
    ]


@pytest.fixture
def customer(django_user_model):
    return django_user_model.objects.create_user("household-1", password="demo")
