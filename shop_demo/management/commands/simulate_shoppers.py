"""``manage.py simulate_shoppers``: a realistic stream of shoppers for the feedback dashboard.

Each simulated session replays a held-out Complete Journey basket (one of a household the
demo did not load) through the real widgets: the shopper views a product from the basket and
is shown related products, fills the cart and is shown cart recommendations, clicks a shown
recommendation when it is something the basket really holds (and, rarely, one it does not),
adds it and checks out. Every event goes through ``record_events``, the same path the widget
script and the events endpoint use, so impressions, clicks and credited conversions are real.
"""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

import pandas as pd
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from goodsassoc import selectors, summaries
from goodsassoc.feedback import event_id
from goodsassoc.privacy import Identity
from goodsassoc.recording import record_events
from shop_demo import cj_data
from shop_demo.models import Order, Product

STRAY_CLICK = 0.03  # chance of clicking a shown item the basket does not hold


def held_out_baskets(limit: int, seed: int) -> list[list[str]]:
    """Baskets (as demo product codes) of households the demo did not load, at least two known products each."""
    lines = pd.read_parquet(cj_data.data_dir() / "transactions.parquet",
                            columns=["household_id", "basket_id", "product_id", "quantity"])
    lines = lines[lines["quantity"] > 0]
    codes = set(Product.objects.filter(is_available=True).values_list("code", flat=True))
    loaded = set(Order.objects.exclude(external_basket_id=None).values_list("external_basket_id", flat=True))
    lines = lines[lines["product_id"].astype(str).isin(codes) & ~lines["basket_id"].astype(str).isin(loaded)]
    grouped = lines.groupby("basket_id")["product_id"].apply(lambda s: list(dict.fromkeys(s.astype(str))))
    grouped = grouped[grouped.map(len) >= 2]
    if grouped.empty:
        return []
    return grouped.sample(n=min(limit, len(grouped)), random_state=seed).tolist()


class Session:
    """One shopper's visit, recording exactly what the widget script would post."""

    def __init__(self, identity: Identity, when, rng: random.Random, by_code: dict[str, Product]) -> None:
        self.identity, self.when, self.rng, self.by_code = identity, when, rng, by_code
        self.counts = {"impressions": 0, "clicks": 0}
        self.prices = {str(p.pk): p.price for p in by_code.values()}

    def tick(self, minutes: float = 1.0) -> str:
        self.when += timedelta(minutes=minutes * self.rng.uniform(0.5, 1.5))
        return self.when.isoformat()

    def record(self, events: list[dict]) -> None:
        record_events(events, identity=self.identity)

    def show(self, result: selectors.Recommendations, wanted: set[str]) -> str | None:
        """Record the widget's impressions; maybe click one; return the clicked product key."""
        if not result.items:
            return None
        common = {"request_id": result.request_id, "widget": result.widget, "strategy": result.strategy,
                  "arm": result.arm, "anchor": result.anchor,
                  **({"model_version": result.model_version} if result.model_version else {})}
        at = self.tick(0.2)
        self.record([{**common, "event_id": str(event_id(result.request_id, item.position, "impression")),
                      "kind": "impression", "product": item.key, "position": item.position, "timestamp": at}
                     for item in result.items])
        self.counts["impressions"] += 1
        chosen = next((i for i in result.items if i.key in wanted), None)
        if chosen is None and self.rng.random() < STRAY_CLICK:
            chosen = self.rng.choice(result.items)
        if chosen is None:
            return None
        self.record([{**common, "event_id": str(event_id(result.request_id, chosen.position, "click")),
                      "kind": "click", "product": chosen.key, "position": chosen.position, "timestamp": self.tick()}])
        self.counts["clicks"] += 1
        return chosen.key

    def run(self, basket: list[str]) -> dict[str, int]:
        keys = [str(self.by_code[c].pk) for c in basket if c in self.by_code]
        wanted, cart = set(keys[1:]), [keys[0]]
        self.record([{"kind": "view", "product": keys[0], "timestamp": self.tick()}])
        clicked = self.show(selectors.related_products(keys[0], identity=self.identity, limit=6), wanted)
        self.record([{"kind": "add_to_cart", "product": keys[0], "timestamp": self.tick(0.3)}])
        for key in ([clicked] if clicked else []) + keys[1:]:
            if key in cart:
                continue
            self.record([{"kind": "view", "product": key, "timestamp": self.tick()},
                         {"kind": "add_to_cart", "product": key, "timestamp": self.tick(0.3)}])
            cart.append(key)
            if len(cart) == 2:  # the cart page, once there is something to complete
                extra = self.show(selectors.cart_recommendations(cart, identity=self.identity, limit=6),
                                  wanted - set(cart))
                if extra and extra not in cart:
                    self.record([{"kind": "add_to_cart", "product": extra, "timestamp": self.tick(0.3)}])
                    cart.append(extra)
        order = f"sim-{uuid.uuid4().hex[:12]}"
        at = self.tick(2)
        missing = [k for k in cart if k not in self.prices]  # clicked items from outside the basket
        self.prices.update({str(p.pk): p.price for p in Product.objects.filter(pk__in=missing)})
        self.record([{"kind": "purchase", "product": key, "basket": order, "timestamp": at,
                      "value": str(self.prices[key])} for key in cart])
        return self.counts


class Command(BaseCommand):
    help = "Replay held-out Complete Journey baskets as shoppers using the widgets, for the feedback dashboard."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sessions", type=int, default=200, help="shopper sessions to simulate (default 200)")
        parser.add_argument("--days", type=int, default=14, help="spread the sessions over the last DAYS days")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: object, **options: object) -> None:
        sessions, days = int(options["sessions"]), int(options["days"])
        if sessions < 1 or days < 1:
            raise CommandError("--sessions and --days must be at least 1")
        rng = random.Random(int(options["seed"]))
        baskets = held_out_baskets(sessions, int(options["seed"]))
        if not baskets:
            raise CommandError("No held-out baskets with known products: run load_demo first.")
        codes = {c for basket in baskets for c in basket}
        by_code = {p.code: p for p in Product.objects.filter(code__in=codes)}
        now = timezone.now()
        totals = {"sessions": 0, "impressions": 0, "clicks": 0}
        for basket in baskets:
            start = now - timedelta(days=rng.uniform(0, days), hours=1)
            identity = Identity(anonymous_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)))
            counts = Session(identity, start, rng, by_code).run(basket)
            totals["sessions"] += 1
            totals["impressions"] += counts["impressions"]
            totals["clicks"] += counts["clicks"]
        summary = summaries.refresh(days + 1)
        self.stdout.write(f"Simulated {totals['sessions']} shoppers: {totals['impressions']} widgets shown, "
                          f"{totals['clicks']} clicks; dashboard summaries rebuilt for {summary['days']} days.")
