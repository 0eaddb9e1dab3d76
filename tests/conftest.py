from decimal import Decimal

import pytest

import tests.celery_app  # noqa: F401  (binds goodsassoc's shared tasks to the test app)
from tests.testapp.models import Article, Seller


@pytest.fixture
def sellers(db):
    return [Seller.objects.create(label=f"Seller {i}") for i in range(2)]


@pytest.fixture
def articles(sellers):
    rows = [
        ("SKU-1", "Chef knife", sellers[0], "Home > Kitchen > Knives", "Forge", "39.90"),
        ("SKU-2", "Whetstone", sellers[0], "Home > Kitchen > Knives", "Forge", "19.00"),
        ("SKU-3", "Cutting board", sellers[1], "Home > Kitchen", "Oakline", "25.50"),
        ("SKU-4", "Apron", sellers[1], "Home > Textiles", "Oakline", "12.00"),
    ]
    return [
        Article.objects.create(sku=sku, headline=title, seller=seller, section=section, maker=maker,
                               cost=Decimal(cost))
        for sku, title, seller, section, maker, cost in rows
    ]


@pytest.fixture
def shopper(django_user_model):
    return django_user_model.objects.create_user("alice", "alice@example.com", "pw-alice-123")


@pytest.fixture(autouse=True)
def _cold_caches():
    """Every test starts with empty caches."""
    clear_caches()
    yield
    clear_caches()


def clear_caches() -> None:
    """Django's cache, each process's copies of hot widgets and its served-version memo."""
    from django.core.cache import cache

    from goodsassoc import publishing, widget_cache

    cache.clear()
    widget_cache.clear_local()
    publishing._served.forget()
