"""Fast bulk writes of DataFrames: COPY on PostgreSQL, batched inserts elsewhere."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
from django.db import connection

NULL = "\\N"


def _csv(frame: pd.DataFrame) -> str:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, na_rep=NULL, date_format="%Y-%m-%d %H:%M:%S.%f%z")
    return buffer.getvalue()


def _json_columns(frame: pd.DataFrame, json_columns: Sequence[str]) -> pd.DataFrame:
    if not json_columns:
        return frame
    frame = frame.copy()
    for column in json_columns:
        frame[column] = frame[column].map(json_text)
    return frame


def json_text(value: Any) -> str:
    """A JSON column's value as it is written (compact; numpy scalars as plain numbers)."""
    return json.dumps(value, separators=(",", ":"), default=_plain)


def _plain(value: Any) -> Any:
    """numpy scalars in evidence dicts become plain numbers."""
    return value.item() if hasattr(value, "item") else str(value)


def copy_into(cursor: Any, table: str, frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """PostgreSQL COPY of ``frame[columns]`` into ``table`` (text CSV; missing values as NULL)."""
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, NULL '{NULL}')") as copy:
        copy.write(_csv(frame[list(columns)]))


def _sqlite_value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def insert_frame(table: str, frame: pd.DataFrame, columns: Sequence[str], *, json_columns: Sequence[str] = (),
                 chunk_size: int = 100_000) -> int:
    """Append ``frame`` to ``table``; returns the number of rows written."""
    if frame.empty:
        return 0
    frame = _json_columns(frame, json_columns)
    with connection.cursor() as cursor:
        for start in range(0, len(frame), chunk_size):
            chunk = frame.iloc[start : start + chunk_size]
            if connection.vendor == "postgresql":
                copy_into(cursor, table, chunk, columns)
            else:
                marks = ", ".join(["%s"] * len(columns))
                rows = [tuple(_sqlite_value(v) for v in row)
                        for row in chunk[list(columns)].itertuples(index=False, name=None)]
                cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
    return len(frame)
