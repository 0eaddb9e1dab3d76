"""Export what the engine trains on: interactions and product attributes as DataFrames in the
evaluation protocol's table format (see docs/engine.md)."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime

import numpy as np
import pandas as pd
from django.db import connection

from goodsassoc import hosts
from goodsassoc.conf import ga_settings
from goodsassoc.models import AttributedConversion, Interaction

Progress = Callable[[str, int, int], None]
SELECT = ("user_pseudonym, anonymous_id, basket_key, product_key, shop_key, timestamp, quantity, value, kind, "
          "event_id")
COLUMNS = [c.strip() for c in SELECT.split(",")] + ["credited"]


def _credited_sql() -> str:
    """1 for an add-to-cart or purchase credited to a recommendation (it weighs FEEDBACK_WEIGHT more)."""
    table = AttributedConversion._meta.db_table
    return f"CASE WHEN EXISTS (SELECT 1 FROM {table} c WHERE c.event_id = i.event_id) THEN 1 ELSE 0 END AS credited"


def _read_interactions(since: datetime | None) -> pd.DataFrame:
    table = Interaction._meta.db_table
    weights = {k: w for k, w in ga_settings.KIND_WEIGHTS.items() if w > 0}
    kinds = ", ".join(f"'{k}'" for k in weights)  # fixed identifiers from our own choices
    where = f"kind IN ({kinds})" + (" AND timestamp >= %s" if since else "")
    params = [since] if since else []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            buffer = io.BytesIO()
            # COPY takes no parameters; ``since`` is a datetime we made, so its ISO form is a safe literal.
            literal = where.replace("%s", f"'{since.isoformat()}'::timestamptz") if since else where
            sql = f"SELECT {SELECT}, {_credited_sql()} FROM {table} i WHERE {literal} ORDER BY timestamp"
            with cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)") as copy:
                for data in copy:
                    buffer.write(data)
            buffer.seek(0)
            frame = pd.read_csv(buffer, dtype=str, keep_default_na=False)
        else:
            sql = f"SELECT {SELECT}, {_credited_sql()} FROM {table} i WHERE {where} ORDER BY timestamp"
            cursor.execute(sql, params)
            frame = pd.DataFrame(cursor.fetchall(), columns=COLUMNS, dtype=object)
    return frame


def interactions_frame(since: datetime | None = None) -> pd.DataFrame:
    """One row per interaction with a training weight > 0, in the protocol's columns.

    A shopper is the user pseudonym, else the anonymous id. Events without a basket (views,
    cart changes from the endpoint) are grouped per shopper and day, as a browsing session;
    an event with neither basket nor shopper stands alone. An add-to-cart or purchase credited to a
    clicked recommendation weighs FEEDBACK_WEIGHT more; clicks weigh KIND_WEIGHTS["click"].
    """
    raw = _read_interactions(since)
    if raw.empty:
        return pd.DataFrame(columns=["user_id", "basket_id", "item_id", "shop_id", "ts", "quantity", "price",
                                     "weight", "kind"])
    user = raw["user_pseudonym"].where(raw["user_pseudonym"] != "", raw["anonymous_id"]).astype(str)
    ts = pd.to_datetime(raw["timestamp"], utc=True, format="mixed")
    day = ts.dt.strftime("%Y-%m-%d")
    basket = raw["basket_key"].astype(str)
    session = "s:" + user + ":" + day
    basket = basket.where(basket != "", session.where(user != "", "e:" + raw["event_id"].astype(str)))
    quantity = pd.to_numeric(raw["quantity"], errors="coerce").fillna(1.0)
    value = pd.to_numeric(raw["value"].replace("", None), errors="coerce")
    weights = ga_settings.KIND_WEIGHTS
    return pd.DataFrame({
        "user_id": user.replace("", pd.NA), "basket_id": basket, "item_id": raw["product_key"].astype(str),
        "shop_id": raw["shop_key"].astype(str).replace("", pd.NA), "ts": ts.dt.tz_localize(None),
        "quantity": quantity, "price": (value / quantity).replace([np.inf, -np.inf], np.nan),
        "weight": raw["kind"].map(weights).astype(float)
        + ga_settings.FEEDBACK_WEIGHT * pd.to_numeric(raw["credited"], errors="coerce").fillna(0).astype(float),
        "kind": raw["kind"],
    })


def items_frame(on_progress: Progress | None = None, chunk_size: int = 2000) -> pd.DataFrame:
    """Every product of the host catalogue with the attributes the model uses."""
    adapter = hosts.get_adapter()
    queryset = adapter.get_queryset(full=True).order_by("pk")
    total = queryset.count()
    rows = []
    for number, product in enumerate(queryset.iterator(chunk_size=chunk_size), start=1):
        info = adapter.describe(product)
        path = list(info.category_path) + [None, None, None]
        rows.append((info.key, info.title, path[0], path[1], path[2], info.brand, info.manufacturer, info.price,
                     info.shop, info.available))
        if on_progress and number % 10_000 == 0:
            on_progress("items", number, total)
    return pd.DataFrame(rows, columns=["item_id", "title", "category_1", "category_2", "category_3", "brand",
                                       "manufacturer", "price", "shop_id", "available"])
