"""Celery tasks: thin, idempotent wrappers around the one pipeline (``goodsassoc.pipeline``).

Tasks take ids and primitives, acknowledge late (a task lost with its worker runs again),
retry transient database and broker errors with backoff, and stop at a time limit. The
pipeline's lock makes a second concurrent run a no-op that says so.
"""

from __future__ import annotations

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError

from goodsassoc.conf import ga_settings

TRANSIENT = (OperationalError, InterfaceError, ConnectionError, TimeoutError)
OPTIONS = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": TRANSIENT,
    "retry_backoff": 30,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 3,
}


class PipelineTask(Task):
    """Time limits read from settings when a task runs, not when the module is imported."""

    @property
    def soft_time_limit(self) -> int:
        return ga_settings.TASK_SOFT_TIME_LIMIT

    @property
    def time_limit(self) -> int:
        return ga_settings.TASK_SOFT_TIME_LIMIT + 300  # time left to record the failure


@shared_task(name="goodsassoc.retrain", base=PipelineTask, **OPTIONS)
def retrain(self, run_id: int | None = None, trigger: str = "schedule") -> dict:
    """Extract, train, evaluate, gate, score and publish a new model version."""
    from goodsassoc import pipeline

    return pipeline.execute(pipeline.prepare_run("retrain", run_id=run_id, trigger=trigger,
                                                 task_id=self.request.id or ""))


@shared_task(name="goodsassoc.refresh_scores", base=PipelineTask, **OPTIONS)
def refresh_scores(self, run_id: int | None = None, trigger: str = "schedule") -> dict:
    """Re-score the current data with the served model (no training) and publish."""
    from goodsassoc import pipeline

    return pipeline.execute(pipeline.prepare_run("refresh", run_id=run_id, trigger=trigger,
                                                 task_id=self.request.id or ""))


@shared_task(name="goodsassoc.sync_product_cards", bind=True, acks_late=True, autoretry_for=TRANSIENT,
             retry_backoff=30, max_retries=3)
def sync_product_cards(self) -> dict:
    """Re-read every product's card from the host (catches changes made without signals)."""
    from goodsassoc import cards

    return {"cards": cards.sync() if cards.enabled() else 0}


@shared_task(name="goodsassoc.refresh_feedback_summary", bind=True, acks_late=True, autoretry_for=TRANSIENT,
             retry_backoff=30, max_retries=3)
def refresh_feedback_summary(self, days: int | None = None) -> dict:
    """Rebuild the dashboard's daily summaries for the last ``days`` days (None: every day)."""
    from goodsassoc import summaries

    return summaries.refresh(days)
