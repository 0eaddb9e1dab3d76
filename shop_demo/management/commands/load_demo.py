"""``manage.py load_demo``: fill the demo shop from Dunnhumby's Complete Journey.

Loads a seeded subset of households (or all of them), upserting catalogue,
stores, customers and orders, then hands the order history to goodsassoc
through its own ``goodsassoc_import`` command, exactly as a host shop would.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from shop_demo import cj_data, loader
from shop_demo.models import Order

DEFAULT_HOUSEHOLDS = 300
DEMO_PASSWORD = "demo"


class Command(BaseCommand):
    help = "Load Dunnhumby's Complete Journey (CC0) into the demo shop and import its history into goodsassoc."

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_mutually_exclusive_group()
        group.add_argument(
            "--households",
            type=int,
            default=DEFAULT_HOUSEHOLDS,
            help=f"number of households to load (seeded sample; default {DEFAULT_HOUSEHOLDS})",
        )
        group.add_argument("--all", action="store_true", help="load every household and all 92k products")
        parser.add_argument("--seed", type=int, default=0, help="seed of the household sample (default 0)")
        parser.add_argument("--keep-dates", action="store_true", help="keep the original 2017 dates")
        parser.add_argument("--skip-import", action="store_true", help="do not call goodsassoc_import")

    def handle(self, *args: object, **options: object) -> None:
        households = None if options["all"] else int(options["households"])
        if households is not None and households < 1:
            raise CommandError("--households must be at least 1")
        self.verbosity = int(options["verbosity"])
        progress = self.verbosity > 0
        started = time.monotonic()

        # Reuse the date shift of an earlier load so re-runs on later days change nothing.
        anchor = Order.objects.filter(external_basket_id__isnull=False).values_list("external_basket_id", "created_at")
        data = cj_data.load(
            households, int(options["seed"]), keep_dates=bool(options["keep_dates"]), anchor=anchor.first()
        )
        self._say(f"Read Complete Journey: {len(data.households)} households, {len(data.lines)} order lines")
        # One hash for every demo customer: hashing per user would take minutes.
        result = loader.write(data, make_password(DEMO_PASSWORD), progress=progress)
        summary = ", ".join(f"{value} {name.replace('_', ' ')}" for name, value in result.counts.items())
        self._say(f"Loaded {summary} in {time.monotonic() - started:.1f}s")

        if not options["skip_import"]:
            with tempfile.TemporaryDirectory(prefix="load_demo_") as tmp:
                path = loader.export_history(data, result, Path(tmp) / "history.parquet")
                call_command(
                    "goodsassoc_import", str(path), format="parquet", verbosity=self.verbosity, stdout=self.stdout
                )
        self._say(f"Done in {time.monotonic() - started:.1f}s. Customers log in as household-<id> / {DEMO_PASSWORD}.")

    def _say(self, message: str) -> None:
        if self.verbosity > 0:
            self.stdout.write(message)
