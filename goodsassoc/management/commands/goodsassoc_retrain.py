"""python manage.py goodsassoc_retrain [--refresh] [--enqueue]"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from goodsassoc import pipeline
from goodsassoc.models import RunStatus


class Command(BaseCommand):
    help = ("Train a new model on the recorded interactions, check it on a holdout against the served version "
            "and the popularity baseline, and publish it (the same pipeline the Celery tasks run).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--refresh", action="store_true",
                            help="Only re-score the current data with the served model (no training).")
        parser.add_argument("--enqueue", action="store_true", help="Hand the run to a Celery worker and return.")
        parser.add_argument("--quick", action="store_true",
                            help="For a shop's very first model only: a shorter training, published without the "
                                 "holdout check, so that the widgets fill fast. Later runs are full.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        kind = "refresh" if options["refresh"] else "retrain"
        run_id = pipeline.prepare_run(kind, trigger="command", params={"quick": options["quick"]})
        if options["enqueue"]:
            from goodsassoc import tasks

            task = tasks.refresh_scores if kind == "refresh" else tasks.retrain
            task.delay(run_id=run_id, trigger="command")
            self.stdout.write(f"Run #{run_id} queued; follow it in the admin under Training runs.")
            return
        show = not options["no_progress"] and options["verbosity"] > 0
        with tqdm(total=100, unit="%", disable=not show, desc=kind, bar_format="{l_bar}{bar}| {elapsed}") as bar:
            state = {"stage": ""}

            def progress(stage: str, done: int, total: int) -> None:
                low, high = pipeline.STAGES.get(stage, (0.0, 1.0))
                share = 100 * (low + (high - low) * (done / total if total else 0.0))
                if stage in pipeline.STAGES and stage != state["stage"]:
                    state["stage"] = stage
                    bar.set_description(f"{kind}: {stage}")
                bar.update(max(0.0, share - bar.n))

            result = pipeline.execute(run_id, on_progress=progress)
        timings = ", ".join(f"{k} {v:.0f}s" for k, v in result["timings"].items())
        if result["status"] == RunStatus.SUCCEEDED:
            self.stdout.write(self.style.SUCCESS(
                f"Run #{result['run']}: published model version {result['version']} ({timings})."))
        elif result["status"] == RunStatus.FAILED:
            raise CommandError(f"Run #{result['run']} failed: {result['error']}")
        else:
            self.stdout.write(self.style.WARNING(f"Run #{result['run']} {result['status']}: {result['error']}"))
