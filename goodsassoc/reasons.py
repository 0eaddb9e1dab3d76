"""Readable reasons: a reason code plus its evidence, in words a shopper and a merchant read."""

from __future__ import annotations

import functools
import json
from typing import Any

from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _


def describe(reason: str, evidence: dict, language: str | None = None) -> str:
    """The reason in ``language`` (default: the active one). A widget's items share few distinct
    reasons, so the words are remembered per language, reason and evidence (translation lookups
    cost more than the rest of a cold widget's Python)."""
    try:
        return _describe_in(language or get_language(), reason, tuple(sorted(evidence.items())))
    except (AttributeError, TypeError):  # evidence that is not a flat dict of plain values
        return _words(reason, evidence)


def read(reason: str, evidence: str | dict, language: str | None = None) -> tuple[dict, str]:
    """A recommendation's evidence as a dict (the caller's own) and its reason in words, from the
    evidence as published rows carry it (JSON text) or as a dict.

    Published evidence repeats: a full Complete Journey model has about two thousand distinct
    texts in two million rows. Both the parsed text and its words are remembered, so a cold
    widget parses no JSON and looks up no translation for most of its items."""
    if isinstance(evidence, str):
        parsed, words = _read_text(language or get_language(), reason, evidence)
        return dict(parsed), words
    evidence = evidence if isinstance(evidence, dict) else {}
    return evidence, describe(reason, evidence, language)


def parse_evidence(text: Any) -> dict:
    """JSON text (or a dict) as a dict; anything unreadable as an empty one."""
    if isinstance(text, dict):
        return text
    try:
        value = json.loads(text) if text else {}
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


@functools.lru_cache(maxsize=8192)
def _read_text(language: str | None, reason: str, text: str) -> tuple[dict, str]:
    evidence = parse_evidence(text)
    return evidence, describe(reason, evidence, language)


@functools.lru_cache(maxsize=4096)
def _describe_in(language: str | None, reason: str, evidence: tuple[tuple[str, Any], ...]) -> str:
    return _words(reason, dict(evidence))


def _words(reason: str, evidence: dict) -> str:
    if reason == "bought_together":
        n = evidence.get("baskets_together")
        if n:
            return ngettext("Bought together %(n)d time", "Bought together %(n)d times", n) % {"n": n}
        return _("Often bought with items in your cart")
    if reason == "similar_item":
        same = [w for w, flag in ((_("category"), evidence.get("same_category")),
                                  (_("brand"), evidence.get("same_brand"))) if flag]
        return _("Same %(what)s") % {"what": _(" and ").join(same)} if same else _("Similar product")
    if reason == "bought_before":
        return _("You buy this often")
    if reason == "matches_your_taste":
        return _("Matches what you usually buy")
    if reason == "merchant_pick":
        return _("Our pick")
    if reason == "popular":
        scope = evidence.get("scope")
        return _("Popular in %(scope)s") % {"scope": scope} if scope else _("Popular with other shoppers")
    if reason == "shop_you_use":
        n = evidence.get("your_baskets")
        return ngettext("You shopped here %(n)d time", "You shopped here %(n)d times", n or 0) % {"n": n or 0}
    if reason == "shoppers_like_you":
        return _("Shoppers like you shop here")
    if reason == "popular_shop":
        return _("A popular shop")
    return evidence.get("text", "") if isinstance(evidence, dict) else ""
