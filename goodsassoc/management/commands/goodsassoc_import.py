"""python manage.py goodsassoc_import lines.parquet [--rejects rejected.csv]"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from goodsassoc.conf import ga_settings
from goodsassoc.importing import ImportFormatError, import_lines, read_table


class Command(BaseCommand):
    help = ("Import historical order lines (columns user_id, basket_id, item_id, shop_id, ts, quantity, price) "
            "from CSV or Parquet as purchase interactions. Safe to run again: nothing is stored twice.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="A .csv or .parquet file.")
        parser.add_argument("--format", choices=["csv", "parquet"], help="Default: from the file's suffix.")
        parser.add_argument("--rejects", help="Write rejected lines with their reason to this CSV file.")
        parser.add_argument("--chunk-size", type=int, default=None, help="Lines per write (default from settings).")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            frame = read_table(options["path"], options["format"])
        except (ImportFormatError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        chunk_size = options["chunk_size"] or ga_settings.IMPORT_CHUNK_SIZE
        show = not options["no_progress"] and options["verbosity"] > 0
        with tqdm(total=len(frame), unit="line", unit_scale=True, disable=not show, desc="Importing") as bar:
            report, rejected = import_lines(frame, chunk_size=chunk_size,
                                            on_progress=lambda done, total: bar.update(done))
        for note in report.notes:
            self.stdout.write(self.style.WARNING(note))
        self.stdout.write(
            f"Read {report.read} lines: stored {report.stored}, already stored {report.duplicates}, "
            f"rejected {report.rejected} in {report.seconds:.1f} s ({report.lines_per_second:,.0f} lines/s)."
        )
        for reason, count in report.reasons.most_common():
            self.stdout.write(f"  rejected {count}: {reason}")
        for line, reason in report.examples:
            self.stdout.write(f"  e.g. line {line}: {reason}")
        if options["rejects"] and report.rejected:
            rejected.to_csv(options["rejects"], index=False)
            self.stdout.write(f"Rejected lines written to {options['rejects']}.")
