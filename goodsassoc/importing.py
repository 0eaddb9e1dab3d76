"""Bulk import of historical order lines (the table format of the evaluation protocol).

Columns: ``user_id, basket_id, item_id, shop_id, ts, quantity, price`` (user_id,
shop_id and price may be empty). Every line is checked with the same rules as live
events; rejected lines are reported with their reason, never stored. Each line gets
an event id derived from its content, so importing the same file again stores nothing
twice. PostgreSQL is written with COPY; other databases with batched inserts.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.utils import timezone

from goodsassoc import hosts
from goodsassoc.abstract_models import InteractionKind, InteractionSource
from goodsassoc.bulk import copy_into
from goodsassoc.privacy import pseudonymise
from goodsassoc.recording import MAX_QUANTITY, MAX_VALUE

REQUIRED_COLUMNS = ("basket_id", "item_id", "ts", "quantity")
OPTIONAL_COLUMNS = ("user_id", "shop_id", "price")
MAX_KEY = hosts.MAX_KEY_LENGTH
WRITE_COLUMNS = ("event_id", "kind", "product_key", "shop_key", "quantity", "value", "basket_key", "timestamp",
                 "user_pseudonym", "anonymous_id", "source", "created_at")


class ImportFormatError(ValueError):
    """The file cannot be imported at all (wrong format or missing columns)."""


@dataclass
class ImportReport:
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    reasons: Counter = field(default_factory=Counter)
    examples: list[tuple[int, str]] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def lines_per_second(self) -> float:
        return self.read / self.seconds if self.seconds else 0.0


def read_table(path: str | Path, file_format: str | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file of order lines, every column as text or numbers."""
    path = Path(path)
    file_format = file_format or path.suffix.lstrip(".").lower()
    if file_format in ("parquet", "pq"):
        frame = pd.read_parquet(path)
    elif file_format == "csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    else:
        raise ImportFormatError(f"Unknown format {file_format!r}: use csv or parquet.")
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ImportFormatError(f"Missing column(s): {', '.join(missing)}; expected "
                                f"{', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}.")
    return frame


def _as_key(series: pd.Series) -> pd.Series:
    """Text keys from text, integer or nullable-integer columns ("" for missing)."""
    if pd.api.types.is_float_dtype(series):
        whole = series.dropna()
        if (whole == np.floor(whole)).all():
            series = series.astype("Int64")
    text = series.astype("string").fillna("").str.strip()
    return text.astype(object)


def _prepare(frame: pd.DataFrame, offset: int, known_products: set[str], known_shops: set[str] | None,
             now: pd.Timestamp, product_shops: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Clean a chunk; return (good rows in write form, rejected rows with a reason)."""
    n = len(frame)
    reason = np.full(n, "", dtype=object)

    def reject(mask: np.ndarray | pd.Series, why: str) -> None:
        mask = np.asarray(mask, dtype=bool) & (reason == "")
        reason[mask] = why

    item = _as_key(frame["item_id"])
    basket = _as_key(frame["basket_id"])
    user = _as_key(frame["user_id"]) if "user_id" in frame else pd.Series([""] * n, dtype=object)
    shop = _as_key(frame["shop_id"]) if "shop_id" in frame and known_shops is not None else \
        pd.Series([""] * n, dtype=object, index=frame.index)
    if product_shops:  # a marketplace: a line without a shop takes its product's, as live events do
        shop = shop.mask(shop == "", item.map(product_shops).fillna("")).astype(object)
    reject(item == "", "item_id: missing")
    reject(item.str.len() > MAX_KEY, f"item_id: longer than {MAX_KEY} characters")
    reject(~item.isin(known_products), "item_id: unknown product")
    reject(basket == "", "basket_id: missing")
    reject(basket.str.len() > MAX_KEY, f"basket_id: longer than {MAX_KEY} characters")
    if known_shops is not None:
        reject((shop != "") & ~shop.isin(known_shops), "shop_id: unknown shop")
    ts_raw = frame["ts"]
    if pd.api.types.is_datetime64_any_dtype(ts_raw):
        ts = ts_raw
    else:
        ts = pd.to_datetime(ts_raw.replace("", None), errors="coerce", utc=True, format="mixed")
    ts = ts.dt.tz_localize("UTC") if ts.dt.tz is None else ts.dt.tz_convert("UTC")
    ts = ts.dt.as_unit("us")  # one resolution whatever the source, so event ids match across formats
    reject(ts.isna(), "ts: not a date-time")
    reject(ts > now, "ts: in the future")
    quantity = pd.to_numeric(frame["quantity"], errors="coerce")
    reject(quantity.isna() | ~np.isfinite(quantity.fillna(0)), "quantity: not a number")
    reject(quantity <= 0, "quantity: must be greater than zero")
    reject(quantity.round(3) <= 0, "quantity: at least 0.001")
    reject(quantity > float(MAX_QUANTITY), f"quantity: at most {MAX_QUANTITY}")
    if "price" in frame:
        price_raw = frame["price"].replace("", None) if frame["price"].dtype == object else frame["price"]
        price = pd.to_numeric(price_raw, errors="coerce")
        reject((price_raw.notna() & price.isna()) | np.isinf(price), "price: not a number")
        reject(price < 0, "price: must not be negative")
        reject(price * quantity > float(MAX_VALUE), f"price: the line's value exceeds {MAX_VALUE}")
    else:
        price = pd.Series(np.nan, index=frame.index)
    bad = reason != ""
    rejected = frame.loc[bad].copy()
    rejected.insert(0, "line", np.flatnonzero(bad) + offset + 2)  # 1-based, after a header line
    rejected["reason"] = reason[bad]
    good = ~bad
    quantity = quantity[good].astype(float).round(3)
    value = (price[good] * quantity).round(2)
    out = pd.DataFrame({
        "product_key": item[good], "shop_key": shop[good], "quantity": quantity, "value": value,
        "basket_key": basket[good], "timestamp": ts[good], "user_id": user[good],
    })
    return out, rejected


def _event_ids(rows: pd.DataFrame, pseudonyms: pd.Series, seen: Counter) -> list[str]:
    """Ids from each line's content plus its occurrence number in the file.

    Importing the same file again yields the same ids, so nothing is stored twice,
    while identical lines within one file stay distinct events. The shopper enters as
    the keyed pseudonym, never the raw id, so an id cannot be traced back to a user.
    """
    content = (rows["basket_key"] + "|" + rows["product_key"] + "|" + rows["shop_key"] + "|" + pseudonyms
               + "|" + rows["timestamp"].astype("int64").astype(str) + "|" + rows["quantity"].astype(str)
               + "|" + rows["value"].astype(str))
    ids = []
    for key in content.tolist():
        seen[key] += 1
        digest = hashlib.blake2b(f"{key}#{seen[key]}".encode(), digest_size=16).digest()
        ids.append(str(uuid.UUID(bytes=digest)))
    return ids


def _write_rows(rows: pd.DataFrame, event_ids: list[str], user_pseudonyms: pd.Series, now: pd.Timestamp) -> int:
    """Insert rows, skipping event ids already stored; return how many were new."""
    from goodsassoc.models import Interaction

    if rows.empty:
        return 0
    table = pd.DataFrame({
        "event_id": event_ids,
        "kind": InteractionKind.PURCHASE.value,
        "product_key": rows["product_key"], "shop_key": rows["shop_key"],
        "quantity": rows["quantity"], "value": rows["value"], "basket_key": rows["basket_key"],
        "timestamp": rows["timestamp"],
        "user_pseudonym": user_pseudonyms,
        "anonymous_id": "", "source": InteractionSource.IMPORT.value, "created_at": now,
    })
    name = Interaction._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            return copy_rows_postgresql(cursor, name, table)
        columns = ", ".join(WRITE_COLUMNS)
        marks = ", ".join(["%s"] * len(WRITE_COLUMNS))
        sql = f"INSERT INTO {name} ({columns}) VALUES ({marks}) ON CONFLICT (event_id) DO NOTHING"
        table["event_id"] = table["event_id"].str.replace("-", "")  # Django stores UUIDs as hex on SQLite
        table["timestamp"] = table["timestamp"].dt.strftime("%Y-%m-%d %H:%M:%S.%f")
        table["created_at"] = now.strftime("%Y-%m-%d %H:%M:%S.%f")
        table["quantity"] = table["quantity"].astype(str)
        table["value"] = table["value"].map(lambda v: None if pd.isna(v) else f"{v:.2f}")
        values = list(table[list(WRITE_COLUMNS)].itertuples(index=False, name=None))
        before = connection.connection.total_changes
        cursor.executemany(sql, values)
        return connection.connection.total_changes - before


def copy_rows_postgresql(cursor: object, table_name: str, table: pd.DataFrame) -> int:
    """COPY into a temporary table, then insert what is new; returns rows inserted."""
    columns = ", ".join(WRITE_COLUMNS)
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS goodsassoc_import_stage ON COMMIT DELETE ROWS "
                   f"AS SELECT {columns} FROM {table_name} WITH NO DATA")
    copy_into(cursor, "goodsassoc_import_stage", table, WRITE_COLUMNS)
    cursor.execute(f"INSERT INTO {table_name} ({columns}) SELECT {columns} FROM goodsassoc_import_stage "
                   f"ON CONFLICT (event_id) DO NOTHING")
    inserted = cursor.rowcount
    cursor.execute("TRUNCATE goodsassoc_import_stage")
    return inserted


def import_lines(frame: pd.DataFrame, *, chunk_size: int = 50_000,
                 on_progress: Callable[[int, int], None] | None = None) -> tuple[ImportReport, pd.DataFrame]:
    """Check and store order lines; returns the report and the rejected lines (with reasons)."""
    started = time.perf_counter()
    report = ImportReport(read=len(frame))
    known_products = hosts.all_product_keys()
    known_shops = hosts.all_shop_keys() if hosts.shop_model() is not None else None
    product_shops = hosts.product_shops() if known_shops is not None else {}
    if known_shops is None and "shop_id" in frame and _as_key(frame["shop_id"]).ne("").any():
        report.notes.append("shop_id ignored: GOODSASSOC['SHOP_MODEL'] is not set.")
    now = pd.Timestamp(timezone.now())
    pseudonyms: dict[str, str] = {}
    seen: Counter = Counter()
    rejected_parts = []
    for offset in range(0, len(frame), chunk_size):
        chunk = frame.iloc[offset : offset + chunk_size]
        rows, rejected = _prepare(chunk, offset, known_products, known_shops, now, product_shops)
        for user in rows["user_id"].unique():
            if user and user not in pseudonyms:
                pseudonyms[user] = pseudonymise(user)
        user_pseudonyms = rows["user_id"].map(lambda u: pseudonyms.get(u, ""))
        stored = _write_rows(rows, _event_ids(rows, user_pseudonyms, seen), user_pseudonyms, now)
        report.stored += stored
        report.duplicates += len(rows) - stored
        if len(rejected):
            rejected_parts.append(rejected)
            report.reasons.update(rejected["reason"].tolist())
        if on_progress:
            on_progress(len(chunk), len(frame))
    rejected_all = pd.concat(rejected_parts) if rejected_parts else pd.DataFrame(columns=["line", "reason"])
    report.rejected = len(rejected_all)
    head = rejected_all.head(10)
    report.examples = list(zip(head["line"].tolist(), head["reason"].tolist(), strict=True))
    report.seconds = time.perf_counter() - started
    return report, rejected_all
