"""python manage.py goodsassoc_sync_cards [--no-progress]"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from goodsassoc import cards


class Command(BaseCommand):
    help = ("Re-read every product's card (title, price, link, shop, category, availability) from the host, "
            "as the scheduled task does: for changes made without signals, such as QuerySet.update().")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        show = not options["no_progress"] and options["verbosity"] > 0
        with tqdm(disable=not show, desc="product cards", unit="card") as bar:
            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            written = cards.sync(on_progress=progress)
        self.stdout.write(self.style.SUCCESS(f"{written} product cards written."))
