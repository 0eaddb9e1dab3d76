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


# --- Learning and serving -------------------------------------------------------------------


class VersionStatus(models.TextChoices):
    TRAINED = "trained", _("Trained")
    PUBLISHED = "published", _("Published (served)")
    RETIRED = "retired", _("Retired")
    REJECTED = "rejected", _("Rejected by the quality gate")


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    REJECTED = "rejected", _("Rejected by the quality gate")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped: another run held the lock")


class AbstractModelVersion(models.Model):
    """One trained model: its artifact, what it was trained on and how good it was."""

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    status = models.CharField(_("status"), max_length=16, choices=VersionStatus.choices, default=VersionStatus.TRAINED)
    artifact_path = models.CharField(_("artifact"), max_length=500, blank=True)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    counts = models.JSONField(_("training data counts"), default=dict, blank=True)
    metrics = models.JSONField(_("offline metrics"), default=dict, blank=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        abstract = True
        verbose_name = _("model version")
        verbose_name_plural = _("model versions")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"v{self.pk} ({self.get_status_display()})"


class AbstractTrainingRun(models.Model):
    """One run of the pipeline (retrain or refresh), with its progress while it runs."""

    class Kind(models.TextChoices):
        RETRAIN = "retrain", _("Retrain and publish")
        REFRESH = "refresh", _("Refresh scores with the current model")

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.RETRAIN)
    status = models.CharField(_("status"), max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    trigger = models.CharField(_("trigger"), max_length=32, blank=True, help_text=_("schedule, admin, command ..."))
    task_id = models.CharField(_("task id"), max_length=64, blank=True)
    stage = models.CharField(_("stage"), max_length=32, blank=True)
    progress = models.FloatField(_("progress"), default=0.0)
    created_at = models.DateTimeField(_("queued at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    timings = models.JSONField(_("seconds per stage"), default=dict, blank=True)
    counts = models.JSONField(_("data counts"), default=dict, blank=True)
    metrics = models.JSONField(_("metrics"), default=dict, blank=True)
    error = models.TextField(_("error or reason"), blank=True)
    model_version = models.ForeignKey("goodsassoc.ModelVersion", on_delete=models.SET_NULL, null=True, blank=True,
                                      related_name="runs", verbose_name=_("model version"))

    class Meta:
        abstract = True
        verbose_name = _("training run")
        verbose_name_plural = _("training runs")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}: {self.get_status_display()}"


class AbstractServingState(models.Model):
    """A single row naming the served version: publishing flips it in one transaction."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    version = models.ForeignKey("goodsassoc.ModelVersion", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        verbose_name = _("serving state")


# Published score tables: rows belong to a version (a plain integer, so pruning an old
# version is one DELETE), readers filter by the served version and never see a mix.


class AbstractRelatedItem(models.Model):
    version = models.BigIntegerField()
    product_key = models.CharField(max_length=64)
    rank = models.PositiveSmallIntegerField()
    related_key = models.CharField(max_length=64)
    score = models.FloatField()
    popularity = models.FloatField(default=0.0, help_text=_(
        "The related item's recent share of baskets: the popularity term of cart completion."))
    reason = models.CharField(max_length=32)
    evidence = models.JSONField(default=dict)
    product_kind = models.IntegerField(default=-1, help_text=_(
        "The product's type as numbered in this version (-1: none), for the cart's same-kind factor."))
    related_kind = models.IntegerField(default=-1, help_text=_("The related item's type, numbered likewise."))

    class Meta:
        abstract = True
        verbose_name = _("related item")
        indexes = [models.Index(fields=["version", "product_key", "rank"], name="ga_related_lookup")]


class AbstractRelatedHead(models.Model):
    """A product's first ``CART_DEPTH`` neighbours as one row, for "complete your cart": a cart
    reads one small row per item instead of ten rows of the large related table."""

    version = models.BigIntegerField()
    product_key = models.CharField(max_length=64)
    neighbours = models.TextField(help_text=_(
        "JSON: the related rows ranked 1 to CART_DEPTH, each as [related key, score, popularity, reason, "
        "evidence (JSON text), rank, product kind, related kind]."))
    keys = models.TextField(default="[]", help_text=_(
        "JSON: the neighbours' product keys in rank order, by which the cart's query reads their cards."))

    class Meta:
        abstract = True
        verbose_name = _("related head")
        indexes = [models.Index(fields=["version", "product_key"], name="ga_related_head_lookup")]


class AbstractShopperItem(models.Model):
    """What a shopper buys again (repeat share) and likes (taste), for cart completion."""

    version = models.BigIntegerField()
    shopper_key = models.CharField(max_length=64)
    product_key = models.CharField(max_length=64)
    repeat = models.FloatField(default=0.0, help_text=_("Share of the shopper's baskets that hold the product."))
    taste = models.FloatField(default=0.0)
    recency = models.FloatField(default=0.0, help_text=_("How recently they last bought it (1: today, decaying)."))
    kind = models.IntegerField(default=-1, help_text=_("The product's type as numbered in this version (-1: none)."))

    class Meta:
        abstract = True
        verbose_name = _("shopper item")
        indexes = [models.Index(fields=["version", "shopper_key"], name="ga_shopper_item_lookup")]


class AbstractShopperShop(models.Model):
    version = models.BigIntegerField()
    shopper_key = models.CharField(max_length=64)
    rank = models.PositiveSmallIntegerField()
    shop_key = models.CharField(max_length=64)
    score = models.FloatField()
    reason = models.CharField(max_length=32)
    evidence = models.JSONField(default=dict)

    class Meta:
        abstract = True
        verbose_name = _("shopper shop")
        indexes = [models.Index(fields=["version", "shopper_key", "rank"], name="ga_shopper_shop_lookup")]


class AbstractPopularItem(models.Model):
    """Fallbacks: popular items overall, per category and per shop."""

    class Scope(models.TextChoices):
        ALL = "all", _("Everything")
        CATEGORY = "category", _("Category")
        SHOP = "shop", _("Shop")

    version = models.BigIntegerField()
    scope = models.CharField(max_length=16, choices=Scope.choices)
    scope_key = models.CharField(max_length=200, blank=True)
    rank = models.PositiveSmallIntegerField()
    product_key = models.CharField(max_length=64)
    score = models.FloatField()
    baskets = models.PositiveIntegerField(default=0)
    recent = models.FloatField(default=0.0, help_text=_("Recent share of baskets: cart completion's popularity term."))
    kind = models.IntegerField(default=-1, help_text=_("The product's type as numbered in this version (-1: none)."))

    class Meta:
        abstract = True
        verbose_name = _("popular item")
        indexes = [models.Index(fields=["version", "scope", "scope_key", "rank"], name="ga_popular_lookup")]


class AbstractProductCard(models.Model):
    """What a widget shows of a host product, kept beside the published rows (goodsassoc.cards),
    so that a widget reads its recommendations and their cards in one query."""

    product_key = models.CharField(max_length=64, primary_key=True)
    title = models.CharField(max_length=500, blank=True)
    price = models.FloatField(null=True, blank=True)
    url = models.CharField(max_length=500, blank=True)
    shop_key = models.CharField(max_length=64, blank=True)
    category = models.CharField(max_length=500, blank=True, help_text=_("The category path, levels joined by ' > '."))
    available = models.BooleanField(default=True)
    synced_at = models.DateTimeField(db_index=True)
    packed = models.TextField(blank=True, default="", editable=False,
                              help_text=_("The card as the widgets' query reads it (JSON: key, title, price, url, "
                                          "shop, category, available)."))

    class Meta:
        abstract = True
        verbose_name = _("product card")

    def __str__(self) -> str:
        return f"{self.product_key}: {self.title}"


class AbstractMerchantRule(models.Model):
    """A merchant's override: pin, boost or block a product, for one anchor product or everywhere."""

    class Action(models.TextChoices):
        PIN = "pin", _("Pin (always show first)")
        BOOST = "boost", _("Boost (multiply the score)")
        BLOCK = "block", _("Block (never show)")

    class Widget(models.TextChoices):
        ALL = "all", _("All widgets")
        RELATED = "related", _("Related products")
        CART = "cart", _("Complete your cart")

    action = models.CharField(_("action"), max_length=8, choices=Action.choices)
    widget = models.CharField(_("widget"), max_length=8, choices=Widget.choices, default=Widget.ALL)
    anchor_key = models.CharField(_("on the page of product"), max_length=64, blank=True,
                                  help_text=_("Empty: on every page."))
    target_key = models.CharField(_("product shown"), max_length=64)
    factor = models.FloatField(_("boost factor"), default=1.5)
    active = models.BooleanField(_("active"), default=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        verbose_name = _("merchant rule")
        verbose_name_plural = _("merchant rules")
        indexes = [models.Index(fields=["active", "anchor_key"], name="ga_rule_lookup")]

    def __str__(self) -> str:
        where = f"on {self.anchor_key}" if self.anchor_key else "everywhere"
        return f"{self.get_action_display()}: {self.target_key} {where}"


# --- Feedback on recommendations --------------------------------------------------------------
# Kept apart from interactions: impressions are many and never train the model directly, and
# the dashboard reads daily summaries (FeedbackDaily, FeedbackItemDaily) rather than these rows.


class FeedbackWidget(models.TextChoices):
    RELATED = "related", _("Related products")
    CART = "cart", _("Complete your cart")
    SHOPS = "shops", _("Shops you may like")


class AbstractImpressionSet(models.Model):
    """One widget as shown to a shopper: what, where, from which model and experiment arm."""

    id = models.BigAutoField(primary_key=True)
    request_id = models.CharField(_("request id"), max_length=64, unique=True,
                                  help_text=_("De-duplication key: a widget's impressions are stored once."))
    widget = models.CharField(_("widget"), max_length=16, choices=FeedbackWidget.choices)
    strategy = models.CharField(_("strategy"), max_length=32, blank=True)
    model_version = models.BigIntegerField(_("model version"), null=True, blank=True)
    arm = models.CharField(_("A/B arm"), max_length=64, blank=True, help_text=_("test:arm, or empty"))
    anchor_key = models.CharField(_("anchor product"), max_length=64, blank=True)
    items = models.JSONField(_("shown keys, in position order"), default=list)
    user_pseudonym = models.CharField(_("user pseudonym"), max_length=64, blank=True, default="")
    anonymous_id = models.CharField(_("anonymous id"), max_length=36, blank=True, default="")
    shown_at = models.DateTimeField(_("shown at"), default=timezone.now)

    class Meta:
        abstract = True
        verbose_name = _("impression set")
        verbose_name_plural = _("impression sets")
        ordering = ["-shown_at"]
        indexes = [models.Index(fields=["shown_at"], name="ga_impr_ts")]

    def __str__(self) -> str:
        return f"{self.widget} {self.request_id[:12]} ({len(self.items or [])} shown)"


class AbstractRecommendationClick(models.Model):
    """A click on a shown recommendation."""

    id = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField(_("event id"), unique=True)
    request_id = models.CharField(_("request id"), max_length=64, db_index=True)
    widget = models.CharField(_("widget"), max_length=16, choices=FeedbackWidget.choices)
    strategy = models.CharField(_("strategy"), max_length=32, blank=True)
    model_version = models.BigIntegerField(_("model version"), null=True, blank=True)
    arm = models.CharField(_("A/B arm"), max_length=64, blank=True)
    anchor_key = models.CharField(_("anchor product"), max_length=64, blank=True)
    product_key = models.CharField(_("clicked"), max_length=64)
    position = models.PositiveSmallIntegerField(_("position"))
    user_pseudonym = models.CharField(_("user pseudonym"), max_length=64, blank=True, default="")
    anonymous_id = models.CharField(_("anonymous id"), max_length=36, blank=True, default="")
    timestamp = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        abstract = True
        verbose_name = _("recommendation click")
        verbose_name_plural = _("recommendation clicks")
        ordering = ["-timestamp"]
        indexes = [models.Index(fields=["timestamp"], name="ga_click_ts"),
                   models.Index(fields=["product_key", "timestamp"], name="ga_click_product_ts")]

    def __str__(self) -> str:
        return f"click on {self.product_key} at {self.position} ({self.widget})"


class AbstractAttributedConversion(models.Model):
    """An add-to-cart or purchase credited to a clicked recommendation within the window."""

    id = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField(_("interaction event id"), unique=True,
                                help_text=_("The credited interaction; credited once."))
    kind = models.CharField(_("kind"), max_length=24, choices=InteractionKind.choices)
    click_event_id = models.UUIDField(_("click event id"))
    request_id = models.CharField(_("request id"), max_length=64, db_index=True)
    widget = models.CharField(_("widget"), max_length=16, choices=FeedbackWidget.choices)
    strategy = models.CharField(_("strategy"), max_length=32, blank=True)
    model_version = models.BigIntegerField(_("model version"), null=True, blank=True)
    arm = models.CharField(_("A/B arm"), max_length=64, blank=True)
    anchor_key = models.CharField(_("anchor product"), max_length=64, blank=True)
    product_key = models.CharField(_("product"), max_length=64)
    position = models.PositiveSmallIntegerField(_("position"))
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=2, null=True, blank=True)
    timestamp = models.DateTimeField(_("time"))
    clicked_at = models.DateTimeField(_("clicked at"))

    class Meta:
        abstract = True
        verbose_name = _("attributed conversion")
        verbose_name_plural = _("attributed conversions")
        ordering = ["-timestamp"]
        indexes = [models.Index(fields=["timestamp"], name="ga_conv_ts")]

    def __str__(self) -> str:
        return f"{self.kind} of {self.product_key} via {self.widget}"


class AbstractFeedbackDaily(models.Model):
    """Per day, widget, strategy, model version and arm: the dashboard's figures."""

    id = models.BigAutoField(primary_key=True)
    day = models.DateField(_("day"))
    widget = models.CharField(_("widget"), max_length=16, choices=FeedbackWidget.choices)
    strategy = models.CharField(_("strategy"), max_length=32, blank=True)
    model_version = models.BigIntegerField(_("model version"), default=0, help_text=_("0: none"))
    arm = models.CharField(_("A/B arm"), max_length=64, blank=True)
    impressions = models.BigIntegerField(_("widgets shown"), default=0)
    items_shown = models.BigIntegerField(_("items shown"), default=0)
    clicks = models.BigIntegerField(_("clicks"), default=0)
    clicked_sets = models.BigIntegerField(_("widgets clicked"), default=0)
    add_to_carts = models.BigIntegerField(_("attributed add-to-carts"), default=0)
    purchases = models.BigIntegerField(_("attributed purchases"), default=0)
    revenue = models.DecimalField(_("attributed revenue"), max_digits=16, decimal_places=2, default=0)

    class Meta:
        abstract = True
        verbose_name = _("feedback dashboard")
        verbose_name_plural = _("feedback dashboard")
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["day", "widget", "strategy", "model_version", "arm"],
                                               name="ga_feedback_daily_key")]


class AbstractFeedbackItemDaily(models.Model):
    """Per day, widget, anchor and recommended product: for top pairs and catalogue coverage."""

    id = models.BigAutoField(primary_key=True)
    day = models.DateField(_("day"))
    widget = models.CharField(_("widget"), max_length=16, choices=FeedbackWidget.choices)
    anchor_key = models.CharField(_("anchor product"), max_length=64, blank=True)
    product_key = models.CharField(_("recommended"), max_length=64)
    shown = models.BigIntegerField(default=0)
    clicks = models.BigIntegerField(default=0)
    add_to_carts = models.BigIntegerField(default=0)
    purchases = models.BigIntegerField(default=0)
    revenue = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    class Meta:
        abstract = True
        verbose_name = _("recommended pair per day")
        indexes = [models.Index(fields=["day", "widget"], name="ga_fb_item_day"),
                   # Top pairs read only the pairs that were clicked.
                   models.Index(fields=["day", "widget"], name="ga_fb_item_clicked", condition=models.Q(clicks__gt=0))]
