"""goodsassoc's settings: one ``GOODSASSOC`` dict in the host's settings, read lazily.

Modelled on DRF's ``api_settings``: every key has a documented default (see
``docs/configuration.md``), values are read on first access and re-read when the
test-suite changes settings, and import strings are resolved on access.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

SETTINGS_NAME = "GOODSASSOC"

DEFAULTS: dict[str, Any] = {
    # The host's product model, "app_label.Model". Required.
    "PRODUCT_MODEL": None,
    # The host's shop/seller model for marketplaces, "app_label.Model", or None.
    "SHOP_MODEL": None,
    # How goodsassoc reads a product: an adapter class (import string) ...
    "PRODUCT_ADAPTER": "goodsassoc.adapters.AttributeProductAdapter",
    # ... which by default follows these attribute paths ("__" traverses relations;
    # a callable at the end of a path is called). None means "not available".
    "PRODUCT_ATTRIBUTES": {
        "title": "name",
        "category_path": None,
        "brand": None,
        "manufacturer": None,
        "price": "price",
        "shop": None,
        "available": None,
    },
    # Attribute of the user object whose value is pseudonymised (never stored raw).
    "USER_ID_ATTRIBUTE": "pk",
    # Secret for the keyed user pseudonyms. None derives one from SECRET_KEY (warned
    # about by check goodsassoc.W001, because rotating SECRET_KEY then splits histories).
    "PSEUDONYM_KEY": None,
    # goodsassoc's own cookie that carries an anonymous shopper id.
    "ANONYMOUS_COOKIE_NAME": "goodsassoc_aid",
    "ANONYMOUS_COOKIE_AGE": 60 * 60 * 24 * 365,
    "ANONYMOUS_COOKIE_SECURE": None,  # None follows SESSION_COOKIE_SECURE
    "ANONYMOUS_COOKIE_SAMESITE": "Lax",
    # Host signals turned into interactions; see docs/configuration.md.
    "SIGNALS": [],
    # Weights of interaction kinds in training.
    "KIND_WEIGHTS": {
        "view": 0.2,
        "add_to_cart": 0.6,
        "remove_from_cart": 0.0,
        "purchase": 1.0,
        "impression": 0.0,
        "click": 0.3,
    },
    # The events endpoint.
    "EVENTS_MAX_BATCH": 500,
    "EVENTS_THROTTLE_RATE": "600/min",
    "EVENTS_MAX_CLOCK_SKEW_SECONDS": 300,
    # Extra permission that lets a caller of the events endpoint name users itself
    # (server-to-server ingestion). Others only record for the requesting shopper.
    "EVENTS_TRUSTED_PERMISSION": "goodsassoc.add_interaction",
    # Historical import.
    "IMPORT_CHUNK_SIZE": 50_000,
    # Serving: how long processes may keep using a cached served-version id after a publish
    # elsewhere (the publishing process updates the shared cache at once).
    "SERVED_VERSION_CACHE_SECONDS": 60,
    # How long a widget's result is cached (per served version, so publishing invalidates it).
    "WIDGET_CACHE_SECONDS": 300,
    # Each process also keeps this many hot widget results in memory for this many seconds,
    # saving the shared cache's round trip (0 switches it off; off anyway with DummyCache).
    "WIDGET_LOCAL_CACHE_SIZE": 2000,
    "WIDGET_LOCAL_CACHE_SECONDS": 60,
    # On PostgreSQL (psycopg 3), run the widget's query as a prepared statement on each connection,
    # which saves PostgreSQL planning it on every cache miss. Set False behind a pooler that cannot
    # keep prepared statements (PgBouncer in transaction mode before 1.21, without
    # max_prepared_statements); a process that meets a lost statement also turns it off by itself.
    "WIDGET_PREPARED_QUERY": True,
    # Product cards (goodsassoc.cards): what widgets show of a product (title, price, link, shop,
    # category, availability), copied into goodsassoc's table so that a widget needs one query.
    # Written at publish, when a product is saved or deleted, and by the scheduled sync; a card
    # older than PRODUCT_CARD_MAX_AGE seconds is not used (the product is read from the host).
    "PRODUCT_CARDS": True,
    "PRODUCT_CARD_MAX_AGE": 3600,
    "PRODUCT_CARDS_CRONTAB": "*/10 * * * *",  # default schedule of the full sync; None: none
    # How widget templates show a price: a str.format pattern for the number, e.g. "${:,.2f}" or
    # "{:.2f} €" (the JSON endpoints return the plain number).
    "PRICE_FORMAT": "{:.2f}",
    # Leave out of "complete your cart" what the shopper bought in the last RECENTLY_BOUGHT_DAYS.
    "EXCLUDE_RECENTLY_BOUGHT": False,
    "RECENTLY_BOUGHT_DAYS": 30,
    # Training and publishing.
    "ARTIFACT_DIR": None,  # None: "goodsassoc-artifacts" under the project's working directory
    "TRAINING_WINDOW_DAYS": 365,  # train on this many days up to the newest interaction
    "NEIGHBOURS": 50,  # related items kept per product
    "TRAINING_OPTIONS": {},  # engine settings, e.g. {"epochs": 4, "dim": 64}; see docs/engine.md
    "HOLDOUT_DAYS": 30,  # the quality gate evaluates on the last days of the data
    "QUALITY_GATE_TOLERANCE": 0.05,  # a new model may be this much worse than the served one, relatively
    "QUALITY_GATE_MIN_QUERIES": 200,  # with fewer holdout queries the gate cannot judge and lets the model pass
    "KEEP_VERSIONS": 3,  # model versions (artifacts) kept besides the served one
    "RETRAIN_CRONTAB": "30 3 * * *",  # default schedule created at migrate (editable in the admin); None: none
    "TASK_SOFT_TIME_LIMIT": 3600,
    # Feedback on recommendations (docs/feedback.md).
    "FEEDBACK_TRACKING": True,  # widgets post their impressions and clicks from the browser (a small script)
    "ATTRIBUTION_WINDOW_HOURS": 24,  # an add-to-cart or purchase this soon after a click is credited to it
    "FEEDBACK_WEIGHT": 0.5,  # extra training weight of an add-to-cart or purchase credited to a recommendation
    "FEEDBACK_SUMMARY_CRONTAB": "*/15 * * * *",  # default schedule of the dashboard's summary refresh; None: none
    "FEEDBACK_SUMMARY_DAYS": 2,  # days (up to today) each scheduled refresh re-aggregates
    "INTERACTION_EXPORT_MAX_ROWS": 100_000,  # CSV export of the interaction browser stops here
    # A/B tests: {"name": {"arms": {"model": {"share": 50}, "popular": {"share": 50, "strategy": "popular"}},
    #                       "widgets": ["related"], "active": True}}; see docs/feedback.md.
    "AB_TESTS": {},
}

IMPORT_STRINGS = {"PRODUCT_ADAPTER"}


class GoodsassocSettings:
    """Attribute access to the merged settings, with import strings resolved."""

    def __init__(self, defaults: dict[str, Any] | None = None) -> None:
        self.defaults = defaults or DEFAULTS
        self._cached: set[str] = set()
        self._user: dict[str, Any] | None = None

    @property
    def user_settings(self) -> dict[str, Any]:
        if self._user is None:
            value = getattr(settings, SETTINGS_NAME, {})
            self._user = value if isinstance(value, dict) else {}
        return self._user

    def __getattr__(self, attr: str) -> Any:
        if attr not in self.defaults:
            raise AttributeError(f"Invalid goodsassoc setting: {attr!r}")
        value = self.user_settings.get(attr, self.defaults[attr])
        if attr == "PRODUCT_ATTRIBUTES":
            value = {**self.defaults[attr], **(value or {})}
        if attr == "KIND_WEIGHTS":
            value = {**self.defaults[attr], **(value or {})}
        if attr in IMPORT_STRINGS and isinstance(value, str):
            value = import_string(value)
        self._cached.add(attr)
        setattr(self, attr, value)
        return value

    def reload(self) -> None:
        for attr in self._cached:
            delattr(self, attr)
        self._cached.clear()
        self._user = None


ga_settings = GoodsassocSettings()


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting in (SETTINGS_NAME, "SECRET_KEY", "SESSION_COOKIE_SECURE"):
        ga_settings.reload()
        from goodsassoc import hosts

        hosts.clear_caches()


setting_changed.connect(_reload)
