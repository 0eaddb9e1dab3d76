"""Each product's head of neighbours as one published row (``RelatedHead``), for "complete your
cart": a cart of five items then reads five small rows, not fifty rows of the related table,
whose served version is several times larger than what PostgreSQL keeps in memory by default.

A head holds the related rows ranked 1 to ``CART_DEPTH``, as the cart reads them (its limit
decides how deep: ``cart_depth``), and their keys apart, by which the same query reads their
cards; a cart that needs more reads the related rows themselves. Each entry holds a related
row's fields as the widget's query reads them (goodsassoc.widget_query): related key, score,
popularity, reason, evidence, rank, kinds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import orjson

from goodsassoc.engine.limits import CART_DEPTH

if TYPE_CHECKING:  # (the request path imports this module: no pandas there)
    import pandas as pd


def covers(depth: int) -> bool:
    """Whether the heads hold a cart's ``depth`` neighbours per item."""
    return depth <= CART_DEPTH


def heads(rows: Iterable[Iterable]) -> Iterator[tuple[str, str, str]]:
    """(product key, its head as JSON text, its neighbours' keys as JSON text) from related rows
    (product key, related key, score, popularity, reason, evidence as JSON text, rank, product
    kind, related kind), sorted by product key and rank; rows ranked below ``CART_DEPTH`` are
    left out."""
    key, entries = None, []
    for anchor, *entry in rows:
        if entry[5] > CART_DEPTH:  # [5]: rank
            continue
        if anchor != key:
            if entries:
                yield key, orjson.dumps(entries).decode(), keys_of(entries)
            key, entries = anchor, []
        entries.append(entry)
    if entries:
        yield key, orjson.dumps(entries).decode(), keys_of(entries)


def keys_of(entries: list) -> str:
    """A head's neighbour keys, in rank order, as JSON text (the ``keys`` column)."""
    return orjson.dumps([entry[0] for entry in entries]).decode()


def frame(related: pd.DataFrame) -> pd.DataFrame:
    """The heads of a version's related rows (a frame with the related table's columns; kinds optional),
    with the values the related table stores: numbers as written, evidence as its JSON text."""
    import pandas as pd

    from goodsassoc.bulk import json_text

    if related.empty:
        return pd.DataFrame(columns=["product_key", "neighbours", "keys"])
    top = related[related["rank"] <= CART_DEPTH].sort_values(["product_key", "rank"], kind="stable")
    columns = [
        top["product_key"].astype(str).tolist(), top["related_key"].astype(str).tolist(),
        top["score"].astype(float).tolist(), _optional(top, "popularity", 0.0, float),
        top["reason"].astype(str).tolist(), top["evidence"].map(json_text).tolist(), top["rank"].astype(int).tolist(),
        _optional(top, "product_kind", -1, int), _optional(top, "related_kind", -1, int),
    ]
    found = list(heads(zip(*columns, strict=True)))
    return pd.DataFrame(found, columns=["product_key", "neighbours", "keys"])


def _optional(frame: pd.DataFrame, column: str, default: float, kind: type) -> list:
    """A column the related frame may leave out (the table's default then)."""
    return frame[column].astype(kind).tolist() if column in frame else [default] * len(frame)
