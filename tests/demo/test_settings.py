"""The demo's settings: database from the environment, goodsassoc wired in like a host."""

import pytest

from shop_demo import settings


def test_database_url_postgres():
    db = settings._database_from_url("postgres://shop:s%40cret@db.example:5433/demo")
    assert db == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "demo",
        "USER": "shop",
        "PASSWORD": "s@cret",
        "HOST": "db.example",
        "PORT": "5433",
    }


def test_database_url_sqlite_and_unknown():
    assert settings._database_from_url("sqlite:////tmp/demo.sqlite3")["NAME"] == "/tmp/demo.sqlite3"
    assert settings._database_from_url("sqlite:///var/demo.sqlite3")["NAME"] == "var/demo.sqlite3"
    assert settings._database_from_url("sqlite://")["NAME"] == ":memory:"
    with pytest.raises(ValueError):
        settings._database_from_url("mysql://x@y/z")


def test_goodsassoc_is_wired_in_like_a_host():
    assert {"rest_framework", "goodsassoc"} <= set(settings.INSTALLED_APPS)
    middleware = settings.MIDDLEWARE
    auth = middleware.index("django.contrib.auth.middleware.AuthenticationMiddleware")
    assert middleware.index("goodsassoc.middleware.AnonymousIdMiddleware") > auth
    assert settings.GOODSASSOC["PRODUCT_MODEL"] == "shop_demo.Product"
    assert len(settings.GOODSASSOC["PSEUDONYM_KEY"]) >= 32
    assert settings.CELERY_TASK_ALWAYS_EAGER is True
