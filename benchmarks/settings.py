"""The demo shop on the benchmark PostgreSQL database, as in production: DEBUG off, no throttling."""

import os

os.environ.setdefault("GOODSASSOC_DB", "postgres")
os.environ.setdefault("PGDATABASE", "goodsassoc_bench")

from shop_demo.settings import *  # noqa: E402,F403
from shop_demo.settings import GOODSASSOC, VAR_DIR  # noqa: E402

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "benchmarks.urls"
GOODSASSOC = {**GOODSASSOC, "EVENTS_THROTTLE_RATE": None, "ARTIFACT_DIR": str(VAR_DIR / "bench-artifacts"),
              "PRODUCT_CARDS": os.environ.get("BENCH_CARDS", "on") != "off",  # off: widgets read the host's products
              "WIDGET_PREPARED_QUERY": os.environ.get("BENCH_PREPARED", "on") != "off"}

# The serving benchmark runs one server with Redis as the cache (warm) and one without (cold).
_cache = os.environ.get("BENCH_CACHE", "locmem")
if _cache == "redis":
    CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache",
                          "LOCATION": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")}}
elif _cache == "none":
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}


def _ensure_database() -> None:
    import psycopg

    name = os.environ["PGDATABASE"]
    with psycopg.connect(host=os.environ.get("PGHOST", "127.0.0.1"), user=os.environ.get("PGUSER", "postgres"),
                         dbname="postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


_ensure_database()
