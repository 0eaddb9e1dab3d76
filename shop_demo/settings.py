"""Settings of the demo shop, a host of goodsassoc like any other.

SQLite under ``var/`` by default; PostgreSQL with ``GOODSASSOC_DB=postgres``
(``PG*`` variables) or a ``DATABASE_URL`` such as
``postgres://user:pass@host:5432/name`` or ``sqlite:////absolute/path.sqlite3``.
"""

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from shop_demo.goodsassoc_config import DEMO_GOODSASSOC

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "demo-only-insecure-secret-key-change-me")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") not in ("0", "false", "False")
# localhost stays allowed so that the container's own health check gets through.
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",") if h.strip()]
ALLOWED_HOSTS += ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "shop_demo",
    "rest_framework",
    "django_celery_beat",
    "goodsassoc",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "goodsassoc.middleware.AnonymousIdMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "shop_demo.urls"
WSGI_APPLICATION = "shop_demo.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database_from_url(url: str) -> dict:
    """Parse a DATABASE_URL by hand to stay dependency-free."""
    parts = urlparse(url)
    if parts.scheme == "sqlite":
        # sqlite:///relative/path, sqlite:////absolute/path, sqlite:// for in-memory
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": unquote(parts.path)[1:] or ":memory:"}
    if parts.scheme in ("postgres", "postgresql", "pgsql"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
        }
    raise ValueError(f"Unsupported DATABASE_URL scheme: {parts.scheme!r}")


if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": _database_from_url(os.environ["DATABASE_URL"])}
elif os.environ.get("GOODSASSOC_DB") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("PGDATABASE", "goodsassoc_demo"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "PASSWORD": os.environ.get("PGPASSWORD", ""),
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "demo.sqlite3",
            "OPTIONS": {"timeout": 30},
        }
    }

# Keep each worker's database connection between requests, as production Django sites do:
# opening a PostgreSQL connection per request costs more than a widget's two queries.
DATABASES["default"].setdefault("CONN_MAX_AGE", int(os.environ.get("DB_CONN_MAX_AGE", "60")))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

AUTH_PASSWORD_VALIDATORS = []
LOGIN_URL = "shop_demo:login"
LOGIN_REDIRECT_URL = "shop_demo:home"
LOGOUT_REDIRECT_URL = "shop_demo:home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Tasks run in-process so the demo needs no broker; set a broker to go async.
CELERY_TASK_ALWAYS_EAGER = os.environ.get("CELERY_TASK_ALWAYS_EAGER", "1") != "0"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # one long training task at a time per worker process
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# Redis in production (widget results, throttling); local memory for the embedded demo.
if os.environ.get("REDIS_URL"):
    # django-redis keeps its Redis client between calls; Django's own backend builds one per call,
    # which costs more than a cached widget's whole lookup.
    CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache",
                          "LOCATION": os.environ["REDIS_URL"], "TIMEOUT": 300}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
                    if not DEBUG else "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

GOODSASSOC = DEMO_GOODSASSOC
