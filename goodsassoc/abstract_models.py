"""Abstract models with concrete defaults in ``models.py`` (django-oscar style).

Products and shops are stored as string keys of the host's rows, not foreign keys, so
goodsassoc's migrations never depend on a host app: any host, any primary-key type.
Shoppers are stored only as a keyed pseudonym or an anonymous id (see docs/privacy.md).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class InteractionKind(models.TextChoices):
    VIEW = "view", _("Product view")
    ADD_TO_CART = "add_to_cart", _("Add to cart")
    REMOVE_FROM_CART = "remove_from_cart", _("Remove from cart")
    PURCHASE = "purchase", _("Purchase")
    # Feedback on recommendations.
    IMPRESSION = "impression", _("Recommendation shown")
    CLICK = "click", _("Recommendation clicked")


class InteractionSource(models.TextChoices):
    PYTHON = "python", _("Python API")
    SIGNAL = "signal", _("Host signal")
    API = "api", _("Events endpoint")
    IMPORT = "import", _("Historical import")


class AbstractInteraction(models.Model):
    """One thing a shopper did with a product."""

    id = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField(
        _("event id"), unique=True, default=uuid.uuid4, editable=False,
        help_text=_("De-duplication key: an event recorded twice is stored once."),
    )
    kind = models.CharField(_("kind"), max_length=24, choices=InteractionKind.choices)
    product_key = models.CharField(_("product"), max_length=64)
    shop_key = models.CharField(_("shop"), max_length=64, blank=True, default="")
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=3, default=1)
    value = models.DecimalField(
        _("value"), max_digits=14, decimal_places=2, null=True, blank=True,
        help_text=_("Money value of the line (unit price x quantity)."),
    )
    basket_key = models.CharField(_("basket or order"), max_length=64, blank=True, default="")
    timestamp = models.DateTimeField(_("time"), default=timezone.now)
    user_pseudonym = models.CharField(
        _("user pseudonym"), max_length=64, blank=True, default="",
        help_text=_("Keyed HMAC of the user id; the raw id is never stored."),
    )
    anonymous_id = models.CharField(_("anonymous id"), max_length=36, blank=True, default="")
    source = models.CharField(_("source"), max_length=16, choices=InteractionSource.choices)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        abstract = True
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        ordering = ["-timestamp"]
        indexes = [
            # Training extract: a time window in order.
            models.Index(fields=["timestamp"], name="ga_inter_ts"),
            # Admin filters and the feedback loop.
            models.Index(fields=["kind", "timestamp"], name="ga_inter_kind_ts"),
            models.Index(fields=["product_key", "timestamp"], name="ga_inter_product_ts"),
            models.Index(fields=["user_pseudonym", "timestamp"], name="ga_inter_user_ts"),
            models.Index(fields=["anonymous_id"], name="ga_inter_anon"),
            models.Index(fields=["basket_key"], name="ga_inter_basket"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.product_key} at {self.timestamp:%Y-%m-%d %H:%M}"


class AbstractIdentityLink(models.Model):
    """An anonymous id that turned out to belong to a logged-in shopper."""

    anonymous_id = models.CharField(_("anonymous id"), max_length=36, unique=True)
    user_pseudonym = models.CharField(_("user pseudonym"), max_length=64, db_index=True)
    linked_at = models.DateTimeField(_("linked at"), auto_now=True)

    class Meta:
        abstract = True
        verbose_name = _("identity link")
        verbose_name_plural = _("identity links")

    def __str__(self) -> str:
        return f"{self.anonymous_id} -> {self.user_pseudonym[:12]}…"
