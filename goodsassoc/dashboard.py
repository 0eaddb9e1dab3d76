"""What the feedback dashboard shows, read from the daily summaries only (bounded queries).

Rates are per widget shown: click-through rate = widgets with a click / widgets shown;
add-to-cart and conversion rates = credited add-to-carts or purchases / widgets shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Sum

from goodsassoc import experiments, hosts
from goodsassoc.conf import ga_settings
from goodsassoc.models import FeedbackDaily, FeedbackItemDaily

SUMS = ("impressions", "items_shown", "clicks", "clicked_sets", "add_to_carts", "purchases", "revenue")
TOP_PAIRS = 20
MAX_DAYS = 366


@dataclass
class Figures:
    """Summed counts of one group and the rates derived from them."""

    label: str
    impressions: int = 0
    items_shown: int = 0
    clicks: int = 0
    clicked_sets: int = 0
    add_to_carts: int = 0
    purchases: int = 0
    revenue: Decimal = Decimal(0)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ctr(self) -> float:
        return self.clicked_sets / self.impressions if self.impressions else 0.0

    @property
    def add_to_cart_rate(self) -> float:
        return self.add_to_carts / self.impressions if self.impressions else 0.0

    @property
    def conversion_rate(self) -> float:
        return self.purchases / self.impressions if self.impressions else 0.0


def _figures(label: str, row: dict[str, Any]) -> Figures:
    return Figures(label, **{name: row.get(name) or 0 for name in SUMS})


def date_range(start: str | None, end: str | None, today: date) -> tuple[date, date, list[str]]:
    """The requested range (default: the last 30 days), with what was wrong in the request."""
    errors = []

    def parse(value: str | None, default: date, name: str) -> date:
        if not value:
            return default
        try:
            return date.fromisoformat(value)
        except ValueError:
            errors.append(f"{name}: {value!r} is not a date like 2026-01-31; the default is used.")
            return default

    end_day = parse(end, today, "end")
    start_day = parse(start, end_day - timedelta(days=29), "start")
    if start_day > end_day:
        errors.append("start is after end; the two were swapped.")
        start_day, end_day = end_day, start_day
    if (end_day - start_day).days >= MAX_DAYS:
        errors.append(f"At most {MAX_DAYS} days at once; the range was shortened.")
        start_day = end_day - timedelta(days=MAX_DAYS - 1)
    return start_day, end_day, errors


def _grouped(rows: Any, by: str) -> list[dict[str, Any]]:
    return list(rows.values(by).annotate(**{name: Sum(name) for name in SUMS}).order_by(by))


def build(start: date, end: date, widget: str = "") -> dict[str, Any]:
    """Everything the dashboard page shows for a date range (and optionally one widget)."""
    rows = FeedbackDaily.objects.filter(day__gte=start, day__lte=end)
    if widget:
        rows = rows.filter(widget=widget)
    total = _figures("All widgets", rows.aggregate(**{name: Sum(name) for name in SUMS}))
    per_widget = [_figures(r["widget"], r) for r in _grouped(rows, "widget")]
    per_version = [_figures(f"v{r['model_version']}" if r["model_version"] else "none", r)
                   for r in _grouped(rows, "model_version")]
    by_day = {r["day"]: _figures(r["day"].isoformat(), r) for r in _grouped(rows, "day")}
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    daily = [by_day.get(d, Figures(d.isoformat())) for d in days]
    active = [f for f in reversed(daily) if f.impressions or f.clicks or f.add_to_carts or f.purchases]
    return {"total": total, "per_widget": per_widget, "per_version": per_version, "daily": daily, "active_days": active,
            "pairs": top_pairs(start, end, widget), "coverage": coverage(start, end, widget),
            "experiments": experiment_results(rows)}


def top_pairs(start: date, end: date, widget: str = "") -> list[Figures]:
    """The most clicked (anchor, recommended) pairs with how they performed (pairs never clicked are left out:
    there can be millions)."""
    items = FeedbackItemDaily.objects.filter(day__gte=start, day__lte=end, clicks__gt=0)  # a partial index
    items = items.filter(widget=widget) if widget else items.filter(widget="related")
    grouped = (items.values("anchor_key", "product_key")
               .annotate(shown=Sum("shown"), clicks=Sum("clicks"), add_to_carts=Sum("add_to_carts"),
                         purchases=Sum("purchases"), revenue=Sum("revenue"))
               .order_by("-clicks", "-purchases", "-shown")[:TOP_PAIRS])
    out = []
    for row in grouped:
        figures = Figures(f"{row['anchor_key'] or '(cart)'} → {row['product_key']}", impressions=row["shown"] or 0,
                          clicked_sets=row["clicks"] or 0, clicks=row["clicks"] or 0,
                          add_to_carts=row["add_to_carts"] or 0, purchases=row["purchases"] or 0,
                          revenue=row["revenue"] or Decimal(0))
        figures.extra = {"anchor": row["anchor_key"], "product": row["product_key"]}
        out.append(figures)
    if widget != "shops":  # shops-widget pairs hold shop keys, not products
        _titles(out)
    else:
        for pair in out:
            pair.extra.update(anchor_title=pair.extra["anchor"], product_title=pair.extra["product"])
    return out


def _titles(pairs: list[Figures]) -> None:
    keys = {k for p in pairs for k in (p.extra["anchor"], p.extra["product"]) if k}
    if not keys:
        return
    adapter = hosts.get_adapter()
    try:
        titles = {str(p.pk): adapter.get_title(p) for p in adapter.get_queryset().filter(pk__in=list(keys))}
    except (ValueError, TypeError):  # keys that are not of the product's key type
        titles = {}
    for pair in pairs:
        pair.extra["anchor_title"] = titles.get(pair.extra["anchor"], pair.extra["anchor"])
        pair.extra["product_title"] = titles.get(pair.extra["product"], pair.extra["product"])


def coverage(start: date, end: date, widget: str = "") -> dict[str, Any]:
    """How much of the catalogue (of the shops, for the shops widget) was recommended at least once."""
    items = FeedbackItemDaily.objects.filter(day__gte=start, day__lte=end, shown__gt=0)
    items = items.filter(widget=widget) if widget else items.exclude(widget="shops")
    shown = items.values("product_key").distinct().count()  # a hashed DISTINCT: several times a COUNT(DISTINCT)
    shops = hosts.shop_model() if widget == "shops" else None
    catalogue = shops._default_manager.count() if shops else hosts.get_adapter().get_queryset().count()
    return {"shown": shown, "catalogue": catalogue, "share": shown / catalogue if catalogue else 0.0}


def experiment_results(rows: Any) -> list[dict[str, Any]]:
    """Per configured A/B test: each arm's figures with 95% intervals and a verdict against the first arm."""
    results = []
    for name, test in (ga_settings.AB_TESTS or {}).items():
        found = {r["arm"]: r for r in _grouped(rows.filter(arm__startswith=f"{name}:"), "arm")}
        arms = [_figures(arm, found.get(f"{name}:{arm}", {})) for arm in test.get("arms", {})]
        if not arms:
            continue
        control = arms[0]
        for arm in arms:
            arm.extra = {"ctr_ci": experiments.wilson(arm.clicked_sets, arm.impressions),
                         "conversion_ci": experiments.wilson(arm.purchases, arm.impressions)}
        verdicts = [experiments.verdict("click-through rate", control.label, arm.label,
                                        (control.clicked_sets, control.impressions),
                                        (arm.clicked_sets, arm.impressions)) for arm in arms[1:]]
        verdicts += [experiments.verdict("conversion rate", control.label, arm.label,
                                         (control.purchases, control.impressions),
                                         (arm.purchases, arm.impressions)) for arm in arms[1:]]
        results.append({"name": name, "active": test.get("active", True), "widgets": test.get("widgets", "all"),
                        "arms": arms, "verdicts": verdicts})
    return results
