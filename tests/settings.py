"""Settings for goodsassoc's test-suite: a host app of its own (tests.testapp) plus the demo shop.

GOODSASSOC_TEST_DB=postgres runs the suite on the local PostgreSQL instead of SQLite.
"""

import os
import tempfile

SECRET_KEY = "goodsassoc-tests-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast tests

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_celery_beat",
    "goodsassoc",
    "tests.testapp",
    "shop_demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "goodsassoc.middleware.AnonymousIdMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
STATIC_URL = "/static/"

if os.environ.get("GOODSASSOC_TEST_DB") == "postgres":
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("PGDATABASE", "goodsassoc"),
        "USER": os.environ.get("PGUSER", "postgres"),
        "PASSWORD": os.environ.get("PGPASSWORD", ""),
        "HOST": os.environ.get("PGHOST", "127.0.0.1"),
        "PORT": os.environ.get("PGPORT", "5432"),
        # One test database per run, so that runs on the same server do not collide.
        "TEST": {"NAME": f"test_goodsassoc_{os.getpid()}"},
    }}
else:
    # A file, not memory, so that tests can share the database with a worker process.
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("GOODSASSOC_SQLITE_PATH", ":memory:"),
        "OPTIONS": {"timeout": 30},
        "TEST": {"NAME": os.path.join(tempfile.gettempdir(), f"goodsassoc-tests-{os.getpid()}.sqlite3")},
    }}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Tasks run in-process unless a test starts a real worker (tests/serving/test_celery.py).
CELERY_BROKER_URL = os.environ.get("GOODSASSOC_TEST_BROKER", "redis://127.0.0.1:6379/15")
CELERY_TASK_ALWAYS_EAGER = os.environ.get("CELERY_TASK_ALWAYS_EAGER", "1") != "0"
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("GOODSASSOC_TEST_QUEUE", "goodsassoc-tests")
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# Small but real: the engine trains briefly on a few dozen households of Complete Journey.
FAST_TRAINING = {"epochs": 2, "pairs_per_epoch": 60_000, "dim": 32, "tune_sample": 800}

GOODSASSOC = {
    "PRODUCT_MODEL": "testapp.Article",
    "SHOP_MODEL": "testapp.Seller",
    "PRODUCT_ATTRIBUTES": {
        "title": "headline",
        "category_path": "section",
        "manufacturer": "maker",
        "price": "cost",
        "shop": "seller",
        "available": "in_stock",
    },
    "PSEUDONYM_KEY": "test-pseudonym-key-0123456789abcdef0123456789",
    "TRAINING_OPTIONS": FAST_TRAINING,
    "ARTIFACT_DIR": os.environ.get("GOODSASSOC_ARTIFACT_DIR",
                                   os.path.join(tempfile.gettempdir(), f"goodsassoc-test-artifacts-{os.getpid()}")),
    "QUALITY_GATE_MIN_QUERIES": 50,
    "SIGNALS": [
        {"signal": "tests.testapp.signals.article_seen", "kind": "view"},
        {"signal": "tests.testapp.signals.basket_touched", "kind": "add_to_cart"},
        {"signal": "tests.testapp.signals.purchase_completed", "kind": "purchase",
         "events": "goodsassoc.signal_events.order_lines",
         "options": {"order": "purchase", "lines": "items.all", "product": "article", "quantity": "count",
                     "price": "each", "user": "buyer"}},
    ],
}
