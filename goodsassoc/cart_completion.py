"""The "complete your cart" widget's query branches, and the blend of what they read.

The blend is the engine's cart completion (``goodsassoc.engine.scoring.complete_cart``) over the
published rows, so that a cart is ranked at request time with no TensorFlow and no artifact.
"""

from __future__ import annotations

from collections.abc import Sequence

from goodsassoc import cards, related_heads, rules
from goodsassoc.engine.limits import cart_depth
from goodsassoc.privacy import Identity, shopper_key
from goodsassoc.widget_query import (
    Rows,
    bought_branch,
    head_branch,
    head_cards_branch,
    popular_branch,
    related_branch,
    rules_branch,
    shopper_branch,
    weights_branch,
)

# The last version read whose blend gives recent popularity no weight (``cart_pop`` 0, as tuning
# chose on Complete Journey): there the popular items only pad a short list, so this process
# leaves them out of its query while that version is read (see ``branches``).
_padding_only: int | None = None

ALL = [("all", "")]


def popular_left_out() -> int | None:
    """The version whose popular items the cart's query leaves out (see ``branches``), if any."""
    return _padding_only


def branches(keys: Sequence[str], limit: int, *, identity: Identity | None = None, recent_days: int = 0,
             model: bool = True, popular_unless: int | None = None, few: bool = False) -> list[tuple[str, list]]:
    """The branches of the cart widget's query: its candidates (each cart item's neighbours, the
    shopper's own items, the popular ones), the rules, the blend's weights and what the shopper
    bought recently. Of each cart item's neighbours only the head is read, as the engine's cart
    completion reads them (``CART_DEPTH``, or the limit where that is more): one row per item
    where the published heads hold that many (``goodsassoc.related_heads``), the related rows
    otherwise, with any further down that the rules boost or pin (with heads, those are read
    afterwards, only where the rules read name any: ``lifted_targets``). The cards of the
    heads' neighbours come with them (a few more than are shown, in the same query); other
    candidates' cards are read afterwards, for the ones shown, instead of joined to every row.

    ``popular_unless``: a version whose popular items only pad (``popular_left_out``); they are
    left out if that version is the one read (``popular_read`` tells), and read with the cards
    where the list is short (``needs_popular``). ``few``: the candidates cannot fill the list
    (``too_few``), so the popular items that pad it come in this query, with their cards."""
    shopper = shopper_key(identity)
    with_candidates = bool(keys or shopper) and model
    popular = popular_branch(ALL, limit * 3, with_cards=few,
                             unless_version=popular_unless if with_candidates and not few else None)
    parts = [popular, rules_branch("cart", keys), weights_branch()]
    if keys and model:
        depth = cart_depth(limit)
        if related_heads.covers(depth):  # one row per cart item (what the rules lift: ``lifted_targets``)
            parts.append(head_branch(keys))
            if cards.enabled():
                parts.append(head_cards_branch(keys))
        else:
            parts.append(related_branch(keys, with_cards=False, upto=depth, widget="cart"))
    if shopper and model:
        parts.append(shopper_branch(shopper, with_cards=False))
    if recent_days and shopper:
        parts.append(bought_branch(identity, recent_days))
    return parts


def too_few(keys: Sequence[str], limit: int, looked_at: int, *, identity: Identity | None = None,
            model: bool = True) -> bool:
    """Whether a cart's candidates cannot reach the ``looked_at`` that the widget looks at first,
    whatever the published rows hold: at most ``cart_depth`` neighbours per cart item and nothing
    else for a shopper without a key (an anonymous shopper's cart of one item, or an empty one),
    none where the model is not read. Such a list needs popular items as soon as one candidate
    is unavailable or a head holds fewer neighbours (an empty one always), so they are read
    with the candidates rather than in a likely second query. (Rows that the rules lift can
    add a few: reading the popular items then costs some work, never another result.)"""
    return not model or (not shopper_key(identity) and len(keys) * cart_depth(limit) < looked_at)


def lifted_targets(rows: Rows, limit: int) -> list[str]:
    """The products that the rules read with the heads boost or pin: their rows below the heads
    (``lifted_branch``) can lift them into the list, so they are read before the list is final.
    None where the query read the related rows themselves (with those lifted) or no heads."""
    if not rows.related or not related_heads.covers(cart_depth(limit)):
        return []
    return sorted({target for _, target, _, action in rows.rules if action in ("boost", "pin")})


def popular_read(rows: Rows, popular_unless: int | None) -> bool:
    """Whether the query's popular rows were read (see ``branches``); also notes for the next
    query whether the version read gives popularity any weight."""
    global _padding_only
    if rows.version is not None:
        if _weights(rows)[3] == 0:
            _padding_only = rows.version
        elif _padding_only == rows.version:
            _padding_only = None
    return popular_unless is None or rows.version != popular_unless


def needs_popular(rows: Rows, ranked: Sequence[rules.Candidate], needed: int) -> bool:
    """Whether a list ranked without the popular items needs them: where the blend weighs
    popularity (the version's weights are not what this process noted), or where its first
    ``needed`` candidates (the limit, or as many as the widget looks at first) reach those the
    popular items stand among (popular items score 0 in a blend without popularity, after every
    scored candidate): too few, or unscored ones."""
    if _weights(rows)[3] != 0:
        return True
    head = ranked[:needed]
    return len(head) < needed or head[-1][1] <= 0 and head[-1][2] != "merchant_pick"


def rank(rows: Rows, keys: Sequence[str]) -> list[rules.Candidate]:
    """The cart's candidates blended, steered by the merchant's rules and ranked, less the cart
    itself and what the shopper bought recently."""
    return rules.apply(blend(rows, keys), rows.rules, anchors=keys, exclude=set(keys) | rows.bought)


def blend(rows: Rows, cart: Sequence[str]) -> list[tuple[str, float, str, dict]]:
    """The engine's cart completion (``scoring.complete_cart``) over published rows, weighted as
    tuned on validation: the mean of the cart items' neighbour scores, the shopper's repeat
    purchases (share and recency) and taste, recent popularity, and a factor for items of a
    product type already in the cart.

    A cart's candidates are each cart item's head of neighbours (dozens of rows per request),
    hence the loop's plain style."""
    w_repeat, w_recent, w_taste, w_pop, w_kind = _weights(rows)
    known = [rows.related[anchor] for anchor in cart if rows.related.get(anchor)]  # the cart items the model knows
    n = len(known)
    cart_kinds = {neighbours[0][6] for neighbours in known} - {-1}  # [6]: the anchor's own kind
    # Each candidate's [mean neighbour score, strongest neighbour score, its reason, its evidence
    # (JSON text), recent popularity (None: not known yet), product kind], one lookup per row.
    seen: dict[str, list] = {}
    for neighbours in known:
        for b, s, p, reason, ev, _, _, kb in neighbours:
            entry = seen.get(b)
            if entry is None:
                seen[b] = [s / n, s, reason, ev, p, kb]
            else:
                entry[0] += s / n
                if s > entry[1]:
                    entry[1], entry[2], entry[3] = s, reason, ev
                entry[4], entry[5] = p, kb
    shopper: dict[str, tuple[float, float, float]] = {}
    for b, r, t, q, kb in rows.shopper:
        shopper[b] = (r, t, q)
        if b not in seen:
            seen[b] = [0.0, 0.0, "", "", None, kb]
    for b, _, _, _, _, p, kb in rows.popular:
        entry = seen.get(b)
        if entry is None:
            seen[b] = [0.0, 0.0, "", "", p, kb]
        elif entry[4] is None:
            entry[4] = p
    nothing = (0.0, 0.0, 0.0)
    out = []
    for item, (along, _, reason, ev, recent, kind) in seen.items():
        repeat, taste, recency = shopper.get(item, nothing) if shopper else nothing
        score = along + w_repeat * repeat + w_recent * recency + w_taste * taste + w_pop * (recent or 0.0)
        if w_kind and kind in cart_kinds:
            score *= 1.0 + w_kind
        if repeat > 0 and w_repeat * repeat >= along:
            out.append((item, score, "bought_before", {"share_of_your_baskets": round(repeat, 3)}))
        elif along > 0:
            out.append((item, score, reason, ev))
        elif taste > 0:
            out.append((item, score, "matches_your_taste", {}))
        else:
            out.append((item, score, "popular", {}))
    return out


def _weights(rows: Rows) -> tuple[float, float, float, float, float]:
    """The blend's weights (repeat, recent, taste, pop, same kind) as tuned, or the defaults."""
    w = {"cart_repeat": 1.0, "cart_recent": 0.0, "cart_taste": 0.01, "cart_pop": 0.01, "cart_same_kind": 0.0,
         **rows.weights}
    return w["cart_repeat"], w["cart_recent"], w["cart_taste"], w["cart_pop"], w["cart_same_kind"]
