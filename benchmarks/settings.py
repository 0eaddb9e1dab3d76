"""The demo shop on the benchmark PostgreSQL database, as in production: DEBUG off, no throttling."""

import os

os.environ.setdefault("GOODSASSOC_DB", "postgres")
os.environ.setdefault("PGDATABASE", "goodsassoc_bench")

from shop_demo.settings import *  # noqa: E402,F403
from shop_demo.settings import GOODSASSOC  # noqa: E402

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
GOODSASSOC = {**GOODSASSOC, "EVENTS_THROTTLE_RATE": None}


def _ensure_database() -> None:
    import psycopg

    name = os.environ["PGDATABASE"]
    with psycopg.connect(host=os.environ.get("PGHOST", "127.0.0.1"), user=os.environ.get("PGUSER", "postgres"),
                         dbname="postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


_ensure_database()
