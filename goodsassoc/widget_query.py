"""The widget's one query: the branches a widget reads from goodsassoc's published tables (its
rows, the merchant's rules, the fallbacks, the product cards), run as a single UNION ALL.

Every branch yields the same columns: src, version, a, b, s, p, reason, evidence, rk, q (repeat
recency), ka, kb (product kinds), then the card of product b (title, price, url, shop, category,
available). The branches that read cards by key yield one row instead, their packed cards as a
JSON array in the evidence column. Branches read the served version, or an A/B arm's own
(``version_sql``).
"""

from __future__ import annotations

import contextvars
import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from operator import itemgetter
from types import MappingProxyType
from typing import Any

import orjson
from django.db import connection
from django.utils import timezone

from goodsassoc import cards, prepared
from goodsassoc.engine.limits import CART_DEPTH
from goodsassoc.models import (
    Interaction,
    MerchantRule,
    ModelVersion,
    PopularItem,
    ProductCard,
    RelatedHead,
    RelatedItem,
    ServingState,
    ShopperItem,
    ShopperShop,
)
from goodsassoc.privacy import Identity
from goodsassoc.reasons import parse_evidence

SERVED = f"(SELECT version_id FROM {ServingState._meta.db_table} WHERE id = 1)"
version_sql = contextvars.ContextVar("goodsassoc_version_sql", default=SERVED)


def served_sql() -> str:
    """The version the branches read: the served one, or an A/B arm's own (an integer literal)."""
    return version_sql.get()


NO_CARD = ("CAST(NULL AS TEXT), CAST(NULL AS DOUBLE PRECISION), CAST(NULL AS TEXT), CAST(NULL AS TEXT), "
           "CAST(NULL AS TEXT), CAST(NULL AS BOOLEAN)")
CARD = "c.title, c.price, c.url, c.shop_key, c.category, c.available"


@dataclass
class Rows:
    """The query's rows, sorted by source (and the cards that came with them, by product key)."""

    version: int | None = None
    related: dict[str, list[tuple]] = field(default_factory=lambda: defaultdict(list))
    shopper: list[tuple] = field(default_factory=list)
    popular: list[tuple] = field(default_factory=list)
    shops: list[tuple] = field(default_factory=list)
    rules: list[tuple] = field(default_factory=list)
    bought: set[str] = field(default_factory=set)
    weights: Mapping[str, Any] = field(default_factory=dict)
    cards: dict[str, cards.Card] = field(default_factory=dict)


# Each source's columns, in the order the selectors unpack them (numbers come typed from the
# database: double precision as float, integers as int).
_related = itemgetter(3, 4, 5, 6, 7, 8, 10, 11)  # b, score, popularity, reason, evidence, rank, kinds a and b
_popular = itemgetter(3, 4, 2, 8, 6, 5, 11)  # b, score, scope key, rank, scope, recent, kind
_shopper = itemgetter(3, 4, 5, 9, 11)  # b, repeat, taste, recency, kind
_shop = itemgetter(2, 3, 4, 6, 7, 8)  # shopper, shop, score, reason, evidence, rank
_rule = itemgetter(2, 3, 4, 6)  # anchor, target, factor, action


def placeholders(items: Sequence[Any]) -> str:
    return ", ".join(["%s"] * len(items))


def fetch(branches: Iterable[tuple[str, list]]) -> Rows:
    """Run the widget's branches as one UNION ALL query and sort the rows by source."""
    parts, params = [], []
    for sql, values in branches:
        parts.append(sql)
        params += values
    rows = Rows()
    related, card_of, version = rows.related, rows.cards, None
    for row in prepared.run(" UNION ALL ".join(parts), params):
        src = row[0]
        if src == "cards":  # fresh cards read by key (a cart's candidates, say), packed in one text
            if row[7]:
                card_of.update(cards.unpacked(row[7]))
            continue
        if row[17] is not None:  # a fresh card of product b, joined to its row
            card_of[row[3]] = _card(row)
        if src == "related":  # a related widget's rows, and a cart's without heads
            related[row[2]].append(_related(row))
        elif src == "head":  # a cart item's first neighbours, as related rows
            related[row[2]].extend(orjson.loads(row[7]))
        elif src == "popular":
            rows.popular.append(_popular(row))
        elif src == "shopper":
            rows.shopper.append(_shopper(row))
        elif src == "shop":
            rows.shops.append(_shop(row))
        elif src == "rule":
            rows.rules.append(_rule(row))
        elif src == "bought":
            rows.bought.add(row[3])
        elif src == "weights":
            rows.weights = _parsed_weights(row[7])
        if row[1]:  # the version a row was read from (rules and bought rows carry 0)
            version = row[1]
    rows.version = int(version) if version else None
    return rows


def _card(row: tuple) -> cards.Card:
    return cards.Card(row[12], row[13], row[14], row[15], row[16], bool(row[17]))


@functools.lru_cache(maxsize=64)
def _parsed_weights(params: str) -> Mapping[str, Any]:
    """A version's blend weights from its parameters (JSON text): the same text on every cold
    cart of that version, so it is parsed once (read-only, as it is shared)."""
    return MappingProxyType(parse_evidence(params).get("weights", {}))


def card_join(key_column: str, joined: bool = True) -> tuple[str, str, list]:
    """The card columns of a branch's product, and the join that brings its fresh card (none
    where ``joined`` is False: the widget reads the cards of the products it shows afterwards)."""
    if not joined or not cards.enabled():
        return NO_CARD, "", []
    join = f" LEFT JOIN {ProductCard._meta.db_table} c ON c.product_key = {key_column} AND c.synced_at >= %s"
    return CARD, join, [cards.fresh_since()]


def related_branch(anchors: Sequence[str], with_cards: bool = True, upto: int | None = None,
                   widget: str = "related") -> tuple[str, list]:
    """The anchors' published neighbours; with ``upto``, only those ranked ``upto`` or better, and
    any further down that the merchant's rules for ``widget`` boost or pin (they can lift those).

    The head is a range of the lookup index; the lifted rows come from the rules' side (none
    without such rules), so that the rows below the head are never read."""
    t = RelatedItem._meta.db_table
    card, join, card_params = card_join("r.related_key", with_cards)
    columns = _related_columns(card)
    mine = f"r.version = {served_sql()} AND r.product_key IN ({placeholders(anchors)})"
    if upto is None:
        return f"{columns}{t} r{join} WHERE {mine}", [*card_params, *anchors]
    lifted, lifted_params = lifted_branch(anchors, upto, widget, with_cards)
    return f"{columns}{t} r{join} WHERE {mine} AND r.rank <= %s UNION ALL {lifted}", \
        [*card_params, *anchors, upto, *lifted_params]


def lifted_branch(anchors: Sequence[str], below: int, widget: str, with_cards: bool = False) -> tuple[str, list]:
    """The anchors' neighbours ranked below ``below`` that the merchant's rules for ``widget``
    boost or pin (they can lift those into a list read from the head): none without such rules."""
    t = RelatedItem._meta.db_table
    card, join, card_params = card_join("r.related_key", with_cards)
    lifted = (f"(SELECT DISTINCT target_key FROM {MerchantRule._meta.db_table} WHERE active = %s AND action IN "
              f"('boost', 'pin') AND widget IN ('all', %s) AND anchor_key IN ('', {placeholders(anchors)}))")
    return (f"{_related_columns(card)}{lifted} m JOIN {t} r ON r.related_key = m.target_key{join} WHERE r.version = "
            f"{served_sql()} AND r.product_key IN ({placeholders(anchors)}) AND r.rank > %s",
            [True, widget, *anchors, *card_params, *anchors, below])


def _related_columns(card: str) -> str:
    """A related row's columns (``r``: the related table), up to its ``FROM``."""
    return (f"SELECT 'related', r.version, r.product_key, r.related_key, r.score, r.popularity, r.reason, "
            f"CAST(r.evidence AS TEXT), r.rank, 0, r.product_kind, r.related_kind, {card} FROM ")


def head_branch(anchors: Sequence[str]) -> tuple[str, list]:
    """The anchors' heads of neighbours (``goodsassoc.related_heads``), one row each: the
    neighbours as JSON text in the evidence column, read as related rows by ``fetch``."""
    t = RelatedHead._meta.db_table
    return (f"SELECT 'head', h.version, h.product_key, '', 0, 0, '', h.neighbours, 0, 0, -1, -1, {NO_CARD} "
            f"FROM {t} h WHERE h.version = {served_sql()} AND h.product_key IN ({placeholders(anchors)})",
            list(anchors))


def head_cards_branch(anchors: Sequence[str]) -> tuple[str, list]:
    """The fresh cards of the neighbours in the anchors' heads: a cart's candidates, whose cards
    then come with them (a few more than it shows, in the same query) instead of a second query."""
    heads = RelatedHead._meta.db_table
    if connection.vendor == "postgresql":
        # A head holds at most CART_DEPTH keys; saying so keeps PostgreSQL's estimate of the
        # keys (100 for any set-returning function) from passing ``jit_above_cost`` where its
        # statistics are missing: compiling the query costs a cold cart many times its time.
        keys = (f"SELECT n.k FROM {heads} h CROSS JOIN LATERAL (SELECT k FROM json_array_elements_text("
                f"CAST(h.keys AS json)) k LIMIT {CART_DEPTH}) n")
    else:  # SQLite's table-valued JSON function
        keys = f"SELECT n.value FROM {heads} h, json_each(h.keys) n"
    return _cards_of(f"{keys} WHERE h.version = {served_sql()} AND h.product_key IN ({placeholders(anchors)})",
                     list(anchors))


def popular_branch(scopes: Sequence[tuple[str, str]], limit: int, unless_related: tuple[str, int] | None = None,
                   with_cards: bool = True, unless_version: int | None = None) -> tuple[str, list]:
    """Popular items of several scopes, e.g. [("category_2", "Soup"), ("category_1", "Grocery"), ("all", "")];
    with ``unless_related=(key, rank)``, none if product ``key`` has a related row of that rank or lower;
    with ``unless_version``, none if that is the version read."""
    t = PopularItem._meta.db_table
    card, join, params = card_join("r.product_key", with_cards)
    where = " OR ".join("(r.scope = %s AND r.scope_key = %s)" for _ in scopes)
    params += [limit, *(value for pair in scopes for value in pair)]
    unless = ""
    if unless_related is not None:
        unless = (f" AND NOT EXISTS (SELECT 1 FROM {RelatedItem._meta.db_table} x WHERE x.version = {served_sql()} "
                  "AND x.product_key = %s AND x.rank >= %s)")
        params += list(unless_related)
    if unless_version is not None:
        unless += f" AND {served_sql()} <> %s"
        params.append(unless_version)
    return (f"SELECT 'popular', r.version, r.scope_key, r.product_key, r.score, r.recent, r.scope, '', r.rank, 0, "
            f"-1, r.kind, {card} FROM {t} r{join} WHERE r.version = {served_sql()} AND r.rank <= %s AND ({where})"
            f"{unless}", params)


def card_branch(keys: Sequence[str]) -> tuple[str, list]:
    """The fresh cards of these products themselves (e.g. the anchor given by its key)."""
    return _cards_of(placeholders(keys), list(keys))


def _cards_of(keys_sql: str, params: list) -> tuple[str, list]:
    """One row: the fresh cards whose product key is ``IN (keys_sql)``, as a JSON array of packed
    cards (``cards.packed``) in the evidence column; NULL where there are none."""
    t = ProductCard._meta.db_table
    joined = "string_agg(c.packed, ',')" if connection.vendor == "postgresql" else "group_concat(c.packed, ',')"
    return (f"SELECT 'cards', 0, '', '', 0, 0, '', '[' || {joined} || ']', 0, 0, -1, -1, {NO_CARD} FROM {t} c "
            f"WHERE c.product_key IN ({keys_sql}) AND c.synced_at >= %s AND c.packed <> ''",
            [*params, cards.fresh_since()])


def rules_branch(widget: str, anchors: Sequence[str]) -> tuple[str, list]:
    t = MerchantRule._meta.db_table
    anchor_sql = f" OR anchor_key IN ({placeholders(anchors)})" if anchors else ""
    return (f"SELECT 'rule', 0, anchor_key, target_key, factor, 0, action, widget, 0, 0, -1, -1, {NO_CARD} "
            f"FROM {t} WHERE active = %s AND widget IN ('all', %s) AND (anchor_key = ''{anchor_sql})",
            [True, widget, *anchors])


def shopper_branch(shopper_key: str, with_cards: bool = True) -> tuple[str, list]:
    t = ShopperItem._meta.db_table
    card, join, params = card_join("r.product_key", with_cards)
    return (f"SELECT 'shopper', r.version, r.shopper_key, r.product_key, r.repeat, r.taste, '', '', 0, r.recency, "
            f"-1, r.kind, {card} FROM {t} r{join} WHERE r.version = {served_sql()} AND r.shopper_key = %s",
            [*params, shopper_key])


def weights_branch() -> tuple[str, list]:
    t = ModelVersion._meta.db_table
    return (f"SELECT 'weights', id, '', '', 0, 0, '', CAST(params AS TEXT), 0, 0, -1, -1, {NO_CARD} FROM {t} "
            f"WHERE id = {served_sql()}", [])


def bought_branch(identity: Identity, days: int) -> tuple[str, list]:
    t = Interaction._meta.db_table
    column, value = ("user_pseudonym", identity.user_pseudonym) if identity.user_pseudonym else \
        ("anonymous_id", identity.anonymous_id)
    since = timezone.now() - timedelta(days=days)
    return (f"SELECT 'bought', 0, '', product_key, 0, 0, '', '', 0, 0, -1, -1, {NO_CARD} FROM {t} "
            f"WHERE {column} = %s AND kind = 'purchase' AND timestamp >= %s", [value, since])


def shops_branch(shopper_key: str, limit: int) -> tuple[str, list]:
    t = ShopperShop._meta.db_table
    return (f"SELECT 'shop', version, shopper_key, shop_key, score, 0, reason, CAST(evidence AS TEXT), rank, "
            f"0, -1, -1, {NO_CARD} FROM {t} WHERE version = {served_sql()} AND shopper_key IN (%s, '') AND rank <= %s",
            [shopper_key, limit])
