"""Business rules on a ranked list: the merchant's pins, boosts and blocks, and exclusions.

Rules come from :class:`goodsassoc.models.MerchantRule` (editable in the admin). A rule on
an anchor product applies on that product's page (and to carts holding it); a rule without
an anchor applies everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import itemgetter

Candidate = tuple[str, float, str, dict]


def apply(candidates: Iterable[Candidate], rules: Sequence[tuple[str, str, float, str]], *,
          anchors: Sequence[str] = (), exclude: set[str] = frozenset(), pins: bool = True) -> list[Candidate]:
    """Rank candidates best first after rules; ``rules`` rows are (anchor, target, factor, action).

    ``pins=False`` ranks a padding list: blocks and boosts apply, pins were placed already.
    """
    anchors = set(anchors)
    relevant = [r for r in rules if not r[0] or r[0] in anchors]
    blocked = {target for _, target, _, action in relevant if action == "block"}
    boosts: dict[str, float] = {}
    for _, target, factor, action in relevant:
        if action == "boost":
            boosts[target] = boosts.get(target, 1.0) * factor
    pinned = [target for _, target, _, action in sorted(relevant, key=lambda r: (r[0] == "", r[1]))
              if action == "pin" and pins]
    by_key: dict[str, Candidate] = {}
    left_out = exclude | blocked if blocked else exclude
    for candidate in candidates:  # the first of a key counts (a cart's lists can repeat one)
        key = candidate[0]
        if key not in left_out and key not in by_key:
            by_key[key] = candidate
    for key, factor in boosts.items():
        if key in by_key:
            found = by_key[key]
            by_key[key] = (key, found[1] * factor, found[2], found[3])
    # Best first, ties by key: two stable sorts in C instead of a key tuple per candidate.
    ranked = sorted(by_key.values(), key=itemgetter(0))
    ranked.sort(key=itemgetter(1), reverse=True)
    head = []
    for target in dict.fromkeys(pinned):
        if target in exclude or target in blocked:
            continue
        found = by_key.get(target)
        head.append((target, found[1] if found else 0.0, "merchant_pick", {}))
    pinned_keys = {c[0] for c in head}
    return head + [c for c in ranked if c[0] not in pinned_keys]
