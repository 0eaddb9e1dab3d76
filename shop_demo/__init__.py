"""The demo shop: a host of goodsassoc like any other."""

from shop_demo.celery import app as celery_app

__all__ = ["celery_app"]
