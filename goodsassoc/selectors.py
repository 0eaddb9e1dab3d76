"""The one read API behind the template tags and the JSON endpoints.

Each widget costs one query on goodsassoc's published tables (the served version, its rows,
the merchant's rules, the fallbacks and the product cards, in a single UNION built by
goodsassoc.widget_query). "Complete your cart" reads the head of every cart item's neighbours
with their cards (its query's branches and their blend: goodsassoc.cart_completion), and a
second query only for what those cannot hold (rows the rules lift, cards of the shopper's own
items, popular items to pad a short list). The host's products are read only where a card
is missing or too old (goodsassoc.cards), and the shops widget reads the host's shops. A warm
cache costs no query. A recommendation problem never breaks a page: errors are logged and an
empty list is returned.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django.db import models
from django.utils.translation import get_language

from goodsassoc import cards, cart_completion, experiments, hosts, reasons, rules
from goodsassoc.conf import ga_settings
from goodsassoc.engine.limits import cart_depth
from goodsassoc.privacy import Identity, shopper_key
from goodsassoc.widget_cache import cached, new_request_id
from goodsassoc.widget_query import (
    SERVED,
    Rows,
    card_branch,
    fetch,
    lifted_branch,
    popular_branch,
    related_branch,
    rules_branch,
    shops_branch,
    version_sql,
)

logger = logging.getLogger("goodsassoc")


@dataclass(frozen=True)
class Recommendation:
    key: str  # product key, or shop key for the shops widget
    score: float
    reason: str
    evidence: dict
    position: int = 0
    text: str = ""
    title: str = ""
    price: float | None = None
    url: str = ""


@dataclass(frozen=True)
class Recommendations:
    """A widget's result and what feedback tracking needs about it."""

    widget: str
    items: tuple[Recommendation, ...] = ()
    strategy: str = "none"
    model_version: int | None = None
    request_id: str = field(default_factory=new_request_id)
    arm: str = ""  # "test:arm" when the shopper is in an A/B test (goodsassoc.experiments)
    anchor: str = ""  # the product whose page shows the widget (related), for feedback

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


# --- caching ---------------------------------------------------------------------------------


def _with_arm(arm: experiments.Arm, compute: Callable[[], Recommendations]) -> Callable[[], Recommendations]:
    """Compute as the arm says (its own model version), and label the result with the arm."""
    def run() -> Recommendations:
        token = version_sql.set(str(int(arm.model_version)) if arm.model_version else SERVED)
        try:
            result = compute()
        finally:
            version_sql.reset(token)
        return replace(result, arm=arm.label) if arm.label else result
    return run


def _never_breaks(widget: str) -> Callable:
    """A widget's problem is logged and gives an empty list, never an error on the host's page."""
    def wrap(func: Callable[..., Recommendations]) -> Callable[..., Recommendations]:
        @functools.wraps(func)
        def guarded(*args: Any, **kwargs: Any) -> Recommendations:
            try:
                return func(*args, **kwargs)
            except Exception:
                logger.exception("goodsassoc: the %s widget failed", widget)
                return Recommendations(widget=widget, strategy="error")
        return guarded
    return wrap


# --- the widgets -----------------------------------------------------------------------------

UNKNOWN_PRODUCT = "unknown_product"


@_never_breaks("related")
def related_products(product: Any, *, limit: int = 10, same_shop: bool = False, same_category: bool = False,
                     exclude: Iterable[Any] = (), identity: Identity | None = None) -> Recommendations:
    """Products to show on ``product``'s page (an instance or a key), best first, with their reasons.

    ``identity`` only matters while an A/B test runs on this widget (it picks the shopper's arm).
    """
    key = hosts.to_key(product)
    arm = experiments.arm_for("related", identity)
    excluded = sorted({hosts.to_key(x) for x in exclude} | {key})
    given = product if isinstance(product, models.Model) else None

    enough = limit * 2

    def compute(whole: bool = same_shop or same_category, padded: bool = False) -> Recommendations:
        # Given a key, the product is loaded with the recommended ones (one query), unless the
        # fallback needs its category first. The popular items that pad a short list come only
        # where the model has fewer rows than the padding threshold (most products have more); a
        # further query fetches them if rules or exclusions thin a long list out that far (or the
        # one that reads every neighbour again, ``padded``). Unless a filter narrows the list
        # (``whole``), only the head of the neighbours is read (ranked ``enough`` or better, and
        # what the rules lift): every neighbour again where the head cannot settle the list.
        anchor = given
        scopes = _category_scopes(anchor) if anchor is not None else [("all", "")]
        branches = [rules_branch("related", [key])]
        if arm.strategy != "popular":
            branches += [related_branch([key], upto=None if whole else enough),
                         popular_branch(scopes, limit * 3, unless_related=None if padded else (key, enough))]
        else:
            branches.append(popular_branch(scopes, limit * 3))
        if anchor is None and cards.enabled():
            branches.append(card_branch([key]))
        rows = fetch(branches)
        related = rows.related.get(key, [])
        popular_left_out = any(r[5] >= enough for r in related)  # r[5]: rank
        model = [(r[0], r[1], r[3], r[4]) for r in related]  # r[4]: evidence, JSON text
        if anchor is None and not model:
            anchor = _load_product(key)
            if anchor is None:
                return Recommendations("related", strategy=UNKNOWN_PRODUCT)
            scopes = _category_scopes(anchor)
            if len(scopes) > 1:
                _read_popular(rows, scopes, limit * 3)
        ranked = rules.apply(model, rows.rules, anchors=[key], exclude=set(excluded))
        cut = not whole and popular_left_out  # the head is full: neighbours ranked below it were not read
        if cut and len(ranked) < enough:
            return compute(whole=True, padded=True)
        if len(ranked) < enough and popular_left_out and not padded:
            _read_popular(rows, scopes, limit * 3)
        popular, scope = _most_specific(rows.popular, scopes)
        strategy = "model" if model else ("popular_in_category" if scope != "all" else "popular")
        if len(ranked) < enough:  # too few (a new or rare product): pad with what is popular around it
            seen = {c[0] for c in ranked}
            ranked += rules.apply(popular, rows.rules, anchors=[key], exclude=set(excluded) | seen,
                                  pins=not ranked)
        result = Recommendations("related", (), strategy, rows.version, anchor=key)
        result = _finish(result, ranked, limit, rows.cards, anchor=anchor, anchor_key=key, same_shop=same_shop,
                         same_category=same_category)
        if cut and not _settled(result, limit, min((r[1] for r in related if r[5] <= enough), default=0.0)):
            return compute(whole=True, padded=True)
        return result

    parts = [key, limit, excluded, same_shop, same_category, arm.label]
    return cached("related", parts, _with_arm(arm, compute), pinned=bool(arm.model_version))


@_never_breaks("cart")
def cart_recommendations(cart: Iterable[Any], *, identity: Identity | None = None, limit: int = 10,
                         exclude_recent_purchases: bool | None = None) -> Recommendations:
    """Products that complete ``cart`` for this shopper, best first, with their reasons."""
    keys = sorted({hosts.to_key(x) for x in cart})
    shopper = shopper_key(identity)
    recent = ga_settings.RECENTLY_BOUGHT_DAYS if exclude_recent_purchases is not False else 0
    if exclude_recent_purchases is None and not ga_settings.EXCLUDE_RECENTLY_BOUGHT:
        recent = 0
    arm = experiments.arm_for("cart", identity)
    model_arm = arm.strategy != "popular"

    def compute() -> Recommendations:
        # The first query reads the candidates (with heads, one row per cart item, and the cards
        # of its neighbours), the rules and the weights. Where needed, a second one reads the rows
        # below the heads that the rules can lift, the popular items where the first candidates
        # run short (where the served blend gives popularity no weight, they only pad a short
        # list: the first query leaves them out, unless the candidates cannot fill the list
        # whatever the rows hold, ``too_few``, when it reads them with their cards), and the
        # cards it lacks of what can be shown.
        # Where unavailable products thin the list out that far, the popular items are read
        # afterwards (rare).
        looked_at = products_loaded(limit)
        few = cart_completion.too_few(keys, limit, looked_at, identity=identity, model=model_arm)
        unless = None if few else cart_completion.popular_left_out()
        rows = fetch(cart_completion.branches(keys, limit, identity=identity, recent_days=recent, model=model_arm,
                                              popular_unless=unless, few=few))
        padded = cart_completion.popular_read(rows, unless)
        strategy = "model" if keys and rows.related or rows.shopper else "popular"
        ranked = cart_completion.rank(rows, keys)
        lifted = cart_completion.lifted_targets(rows, limit)
        # A list the candidates fill needs no popular items now: should unavailable products thin
        # it out, they are read afterwards (below). With a second query due anyway (``lifted``),
        # they come in it where the first ``looked_at`` candidates run short.
        short = not padded and cart_completion.needs_popular(rows, ranked, looked_at if lifted else limit)
        if lifted or short:  # one query more, which also reads the cards of what can be shown
            shown = [c[0] for c in ranked[:looked_at]] + lifted  # the rows read can move up only these
            _read_more(rows, cart_depth(limit), lifted=lifted, popular=short, limit=limit * 3, with_cards_of=shown)
            ranked, padded = cart_completion.rank(rows, keys), padded or short
        result = _finish(Recommendations("cart", (), strategy, rows.version), ranked, limit, rows.cards,
                         read_cards=True)
        if not padded and not _settled(result, limit, 0.0):  # thinned out down to unscored candidates
            _read_popular(rows, cart_completion.ALL, limit * 3)
            result = _finish(result, cart_completion.rank(rows, keys), limit, rows.cards, read_cards=True)
        return result

    parts = [keys, shopper, limit, recent, arm.label]
    return cached("cart", parts, _with_arm(arm, compute), pinned=bool(arm.model_version))


@_never_breaks("shops")
def shops_for_shopper(identity: Identity | None, *, limit: int = 5) -> Recommendations:
    """Shops this shopper may like, including shops they have not used yet."""
    arm = experiments.arm_for("shops", identity)
    shopper = shopper_key(identity) if arm.strategy != "popular" else ""

    def compute() -> Recommendations:
        rows = fetch([shops_branch(shopper, limit)])
        own = [r for r in rows.shops if shopper and r[0] == shopper]
        chosen = own or [r for r in rows.shops if r[0] == ""]
        strategy = "model" if own else "popular"
        ranked = sorted(chosen, key=lambda r: r[5])
        model = hosts.shop_model()
        if model is None or not ranked:
            return Recommendations("shops", (), strategy, rows.version)
        objects = {str(s.pk): s for s in model._default_manager.filter(pk__in=[r[1] for r in ranked])}
        kept = []
        for _, key, score, reason, evidence, _ in ranked:
            if key in objects:
                evidence, words = reasons.read(reason, evidence)
                kept.append(Recommendation(key, score, reason, evidence, position=len(kept) + 1,
                                           text=words, title=str(objects[key]),
                                           url=cards.url_of(objects[key])))
        return Recommendations("shops", tuple(kept), strategy, rows.version)

    parts = [shopper, limit, arm.label]
    return cached("shops", parts, _with_arm(arm, compute), pinned=bool(arm.model_version))


# --- shared steps -----------------------------------------------------------------------------


def _read_popular(rows: Rows, scopes: list[tuple[str, str]], limit: int) -> None:
    """Replace the popular rows the widget's query brought (if any) by those of ``scopes``, with
    their cards."""
    again = fetch([popular_branch(scopes, limit)])
    rows.popular = again.popular
    rows.cards.update(again.cards)


def _read_more(rows: Rows, depth: int, *, lifted: Sequence[str], popular: bool, limit: int,
               with_cards_of: Sequence[str]) -> None:
    """The cart's second query, of the version its first one read: the rows below the heads of
    the products the rules lift (``lifted``), the popular items (``popular``: ``limit`` of them,
    replacing any read) and the fresh cards of products ``with_cards_of`` that ``rows`` lacks
    (the heads brought those of their neighbours)."""
    branches = [lifted_branch(list(rows.related), depth, "cart")] if lifted else []
    if popular:
        branches.append(popular_branch(cart_completion.ALL, limit))
    missing = [key for key in with_cards_of if key not in rows.cards]
    if missing and cards.enabled():
        branches.append(card_branch(missing))
    token = version_sql.set(str(int(rows.version))) if rows.version else None
    try:
        again = fetch(branches)
    finally:
        if token is not None:
            version_sql.reset(token)
    for anchor, neighbours in again.related.items():
        rows.related[anchor].extend(neighbours)
    if popular:
        rows.popular = again.popular
    rows.cards.update(again.cards)


def _load_product(key: str) -> Any:
    pks = list(hosts.primary_keys(hosts.product_model(), [key]))
    return hosts.get_adapter().get_queryset(full=True).filter(pk__in=pks).order_by().first() if pks else None


def _category_scopes(product: Any) -> list[tuple[str, str]]:
    """The popular-item scopes around a product, most specific first: its category levels, then all."""
    path = list(hosts.get_adapter().get_category_path(product))[:2] if product is not None else []
    scopes = [(f"category_{level}", name) for level, name in reversed(list(enumerate(path, start=1)))]
    return [*scopes, ("all", "")]


def _most_specific(popular: list[tuple], scopes: list[tuple[str, str]]) -> tuple[list, str]:
    """The popular items of the most specific scope that has any, as ranking candidates."""
    for scope, value in scopes:
        chosen = sorted((r for r in popular if r[4] == scope and r[2] == value), key=lambda r: r[3])
        if chosen:
            evidence = {"scope": value} if value else {}
            return [(r[0], r[1], "popular", evidence) for r in chosen], scope
    return [], "all"


def _settled(result: Recommendations, limit: int, floor: float) -> bool:
    """Whether a related list ranked from the head of the neighbours is the one all of them would
    give: full, and its last item pinned or scored above ``floor``, the lowest score read in the
    head (neighbours are published ranked by score, so none below the head scores more)."""
    if result.strategy == UNKNOWN_PRODUCT:
        return True
    if len(result.items) < limit:
        return False
    last = result.items[-1]
    return last.reason == "merchant_pick" or last.score > floor


def products_loaded(limit: int, *, narrowed: bool = False) -> int:
    """How many of a widget's candidates ``_finish`` looks at first (see there)."""
    return limit * 6 if narrowed else limit + max(2, limit // 2)


def _finish(result: Recommendations, ranked: Sequence[rules.Candidate], limit: int, known: dict[str, cards.Card],
            *, anchor: Any = None, anchor_key: str = "", same_shop: bool = False, same_category: bool = False,
            read_cards: bool = False) -> Recommendations:
    """The result's items: the ranked candidates (key, score, reason, evidence as JSON text), best
    first, less unavailable products and those the request's filters leave out, with what
    rendering needs from the products' cards: those the widget's query brought (``known``), the
    others read from the host (one query, with the anchor if only its key is known and it has no
    card). Items are built only for the candidates kept. ``read_cards``: the query brought no
    cards, so the card table is read first (one query per chunk; the cards found are added to
    ``known``, so that a second pass over a re-ranked list reads them no more), the host only for
    what it lacks.

    Half as many again as the limit are looked at, which covers the usual share of unavailable
    products without reading host products that are not shown (building the host's model
    instances is most of a cold widget's time without cards); a list thinned out more than that
    (or narrowed by a filter) looks at the rest in a further step.
    """
    if not ranked:
        return result
    adapter = hosts.get_adapter()
    language = get_language()
    kept: list[Recommendation] = []
    need_anchor = anchor is None and bool(anchor_key)
    shop = adapter.get_shop(anchor) if same_shop and anchor is not None else None
    category = cards.category_of(adapter, anchor) if same_category and anchor is not None else ""
    start, batch = 0, products_loaded(limit, narrowed=same_shop or same_category)
    while len(kept) < limit and start < len(ranked):
        chunk = ranked[start : start + batch]
        missing = [c[0] for c in chunk if c[0] not in known]
        if need_anchor and anchor_key not in known:
            missing.append(anchor_key)
        if missing and read_cards and cards.enabled():
            known.update(fetch([card_branch(missing)]).cards)
            missing = [key for key in missing if key not in known]
        found = {**known, **cards.load(missing, category=same_category)} if missing else known
        if need_anchor:
            need_anchor = False
            card = found.get(anchor_key)
            if card is None:  # published rows for a product that has since been deleted
                return Recommendations(result.widget, strategy=UNKNOWN_PRODUCT)
            shop = (card.shop or None) if same_shop else None
            category = card.category if same_category else ""
        for key, score, reason, text in chunk:
            card = found.get(key)
            if card is None or not card.available:
                continue
            if shop and card.shop != shop:
                continue
            if category and card.category != category:
                continue
            evidence, words = reasons.read(reason, text, language)  # read only for what is shown
            kept.append(Recommendation(key, score, reason, evidence, position=len(kept) + 1,
                                       text=words, title=card.title, price=card.price,
                                       url=card.url))
            if len(kept) == limit:
                break
        start += batch
    return replace(result, items=tuple(kept))
