"""App config for the demo shop."""

from django.apps import AppConfig


class ShopDemoConfig(AppConfig):
    """The demo shop: a small grocery catalogue built from Complete Journey."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "shop_demo"
    verbose_name = "Demo shop"
