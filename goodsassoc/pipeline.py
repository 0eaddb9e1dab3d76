"""The one pipeline: extract -> evaluate on a holdout -> quality gate -> train -> score -> publish
(then the product cards the widgets show, goodsassoc.cards).

Called by the Celery tasks and by ``manage.py goodsassoc_retrain``. Every run is recorded in
:class:`~goodsassoc.models.TrainingRun` (status, stage and progress while it runs, timings,
parameters, data counts, metrics, error). Only one run at a time (``goodsassoc.locks``); a
failed or rejected run leaves the served version untouched and says why.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.db import InterfaceError, OperationalError
from django.db.models import Max
from django.utils import timezone

from goodsassoc import cards, extract, locks, publishing, training
from goodsassoc.conf import ga_settings
from goodsassoc.models import Interaction, ModelVersion, RunStatus, TrainingRun, VersionStatus

logger = logging.getLogger("goodsassoc")
Progress = Callable[[str, int, int], None]
FINISHED = {RunStatus.SUCCEEDED, RunStatus.REJECTED, RunStatus.SKIPPED}
TRANSIENT = (OperationalError, InterfaceError, ConnectionError)
MIN_BASKETS = 10
# Share of the run each stage takes, for the progress bar.
STAGES = {"extract": (0.0, 0.1), "holdout": (0.1, 0.45), "train": (0.45, 0.8), "score": (0.8, 0.9),
          "publish": (0.9, 0.97), "cards": (0.97, 1.0)}


class RunRejected(Exception):
    """The run ends without publishing, for a reason a merchant can read."""


def prepare_run(kind: str, *, run_id: int | None = None, trigger: str = "", task_id: str = "",
                params: dict | None = None) -> int:
    """The run to execute: the given one, the one a retried task already started, or a new one."""
    if run_id:
        return run_id
    if task_id:
        existing = TrainingRun.objects.filter(task_id=task_id).values_list("pk", flat=True).first()
        if existing:
            return existing
    return TrainingRun.objects.create(kind=kind, trigger=trigger, task_id=task_id, params=params or {}).pk


def execute(run_id: int, on_progress: Progress | None = None) -> dict:
    """Run (or, if it already finished, report) a pipeline run; returns its summary."""
    run = TrainingRun.objects.get(pk=run_id)
    if run.status in FINISHED:
        return summary(run)
    with locks.exclusive("pipeline") as held:
        if not held:
            _finish(run, RunStatus.SKIPPED, "Another run was in progress; nothing was done.")
            return summary(run)
        run.status, run.started_at, run.error, run.timings = RunStatus.RUNNING, timezone.now(), "", {}
        run.save(update_fields=["status", "started_at", "error", "timings"])
        reporter = _Reporter(run, on_progress)
        try:
            if run.kind == TrainingRun.Kind.REFRESH:
                _refresh(run, reporter)
            else:
                _retrain(run, reporter)
            _finish(run, RunStatus.SUCCEEDED)
        except RunRejected as exc:
            _finish(run, RunStatus.REJECTED, str(exc))
        except TRANSIENT:
            _finish(run, RunStatus.FAILED, traceback.format_exc(limit=5))
            raise  # the task retries with backoff
        except BaseException as exc:  # includes Celery's SoftTimeLimitExceeded
            _finish(run, RunStatus.FAILED, f"{exc.__class__.__name__}: {exc}\n{traceback.format_exc(limit=8)}")
            if not isinstance(exc, Exception):
                raise
    return summary(run)


def summary(run: TrainingRun) -> dict:
    return {"run": run.pk, "kind": run.kind, "status": run.status, "version": run.model_version_id,
            "error": run.error, "counts": run.counts, "metrics": run.metrics, "timings": run.timings}


def _finish(run: TrainingRun, status: str, error: str = "") -> None:
    run.status, run.error, run.finished_at = status, error, timezone.now()
    if status == RunStatus.SUCCEEDED:
        run.progress = 1.0
    run.save(update_fields=["status", "error", "finished_at", "progress", "stage", "timings", "counts", "metrics",
                            "params", "model_version"])


class _Reporter:
    """Stage timings and throttled progress updates that the admin can show while a run works."""

    def __init__(self, run: TrainingRun, on_progress: Progress | None) -> None:
        self.run, self.on_progress, self.last = run, on_progress, 0.0

    @contextmanager
    def stage(self, name: str):
        started = time.perf_counter()
        self.progress(name, 0, 1, force=True)
        yield
        self.run.timings[name] = round(time.perf_counter() - started, 3)
        self.progress(name, 1, 1, force=True)

    def progress(self, name: str, done: int, total: int, force: bool = False) -> None:
        if self.on_progress:
            self.on_progress(name, done, total)
        now = time.monotonic()
        if not force and now - self.last < 2.0:
            return
        self.last = now
        low, high = STAGES.get(name, STAGES.get(self.run.stage, (0.0, 1.0)))
        share = low + (high - low) * (done / total if total else 0.0)
        self.run.stage, self.run.progress = name if name in STAGES else self.run.stage, round(share, 4)
        TrainingRun.objects.filter(pk=self.run.pk).update(stage=self.run.stage, progress=self.run.progress,
                                                          timings=self.run.timings)

    def engine(self, stage: str) -> Progress:
        """A progress callback for the engine's sub-stages, mapped into ``stage``'s share."""
        def report(_sub: str, done: int, total: int) -> None:
            self.progress(stage, done, total)
        return report


def _extract(run: TrainingRun, reporter: _Reporter) -> tuple[Any, Any]:
    with reporter.stage("extract"):
        newest = Interaction.objects.aggregate(newest=Max("timestamp"))["newest"]
        since = newest - timedelta(days=ga_settings.TRAINING_WINDOW_DAYS) if newest else None
        lines = extract.interactions_frame(since=since)
        items = extract.items_frame(on_progress=reporter.engine("extract"))
    run.counts = {"lines": len(lines), "baskets": int(lines["basket_id"].nunique()) if len(lines) else 0,
                  "products": int(lines["item_id"].nunique()) if len(lines) else 0,
                  "shoppers": int(lines["user_id"].nunique()) if len(lines) else 0, "catalogue": len(items)}
    if run.counts["baskets"] < MIN_BASKETS:
        raise RunRejected(f"Not enough data to train: {run.counts['baskets']} baskets (at least {MIN_BASKETS}).")
    return lines, items


def _retrain(run: TrainingRun, reporter: _Reporter) -> None:
    lines, items = _extract(run, reporter)
    served = ModelVersion.objects.filter(pk=publishing.served_version_id()).first()
    quick = bool(run.params.get("quick")) and served is None
    if quick:
        # Only for a shop's very first model (e.g. the demo's quick start): nothing served to protect.
        verdict = {"passed": True, "reason": "A quick first model, published without the holdout check."}
        run.metrics = {}
    else:
        with reporter.stage("holdout"):
            holdout = training.evaluate_on_holdout(lines, items, on_progress=reporter.engine("holdout"))
        run.metrics = {"holdout": holdout.model, "popularity": holdout.popularity, "queries": holdout.queries,
                       "cutoff": holdout.cutoff}
        verdict = quality_gate(holdout, served)
    run.metrics["gate"] = verdict
    if not verdict["passed"]:
        run.model_version = ModelVersion.objects.create(status=VersionStatus.REJECTED, counts=run.counts,
                                                        metrics=run.metrics, note=verdict["reason"])
        raise RunRejected(verdict["reason"])
    with reporter.stage("train"):
        fitted = training.fit(lines, items, on_progress=reporter.engine("train"), quick=quick)
    with reporter.stage("score"):
        tables = training.publish_tables(fitted)
    version = ModelVersion.objects.create(counts=run.counts, metrics=run.metrics, note=verdict["reason"],
                                          params={"weights": asdict(fitted.tables.weights),
                                                  "neighbours": ga_settings.NEIGHBOURS})
    run.model_version = version
    with reporter.stage("publish"):
        version.artifact_path = str(training.save_artifact(fitted, artifact_dir() / f"v{version.pk}", version))
        version.save(update_fields=["artifact_path"])
        run.counts["published_rows"] = publishing.write_version(version.pk, tables, reporter.engine("publish"))
        publishing.publish(version)
        prune_artifacts()
    _sync_cards(run, reporter)


def _refresh(run: TrainingRun, reporter: _Reporter) -> None:
    served = ModelVersion.objects.filter(pk=publishing.served_version_id()).first()
    if served is None or not served.artifact_path:
        raise RunRejected("No model is served yet: retrain first.")
    lines, items = _extract(run, reporter)
    with reporter.stage("score"):
        fitted = training.rescore(served.artifact_path, lines, items, on_progress=reporter.engine("score"))
        tables = training.publish_tables(fitted)
    version = ModelVersion.objects.create(counts=run.counts, metrics=served.metrics, params=served.params,
                                          artifact_path=served.artifact_path,
                                          note=f"Scores refreshed with the model of v{served.pk}.")
    run.model_version = version
    with reporter.stage("publish"):
        run.counts["published_rows"] = publishing.write_version(version.pk, tables, reporter.engine("publish"))
        publishing.publish(version)
    _sync_cards(run, reporter)


def _sync_cards(run: TrainingRun, reporter: _Reporter) -> None:
    """The cards of every product, as the new version's widgets will show them. The version is
    published already: a failure here is logged and recorded, and widgets read the host instead."""
    if not cards.enabled():
        return
    with reporter.stage("cards"):
        try:
            run.counts["cards"] = cards.sync(on_progress=lambda done, total: reporter.progress("cards", done, total))
        except Exception as exc:
            logger.exception("goodsassoc: syncing the product cards after publishing failed")
            run.counts["cards_error"] = f"{type(exc).__name__}: {exc}"[:500]


def quality_gate(holdout: training.Holdout, served: ModelVersion | None) -> dict:
    """Publish only a model that beats popularity and is not worse than the served version."""
    tolerance = ga_settings.QUALITY_GATE_TOLERANCE
    if holdout.queries.get("related", 0) < ga_settings.QUALITY_GATE_MIN_QUERIES:
        return {"passed": True, "reason": f"Too little holdout data to judge ({holdout.queries.get('related', 0)} "
                                          f"queries); published without the gate."}
    for task in training.GATE_TASKS:
        new = holdout.model.get(task, {}).get("NDCG@10")
        pop = holdout.popularity.get(task, {}).get("NDCG@10")
        if new is not None and pop is not None and new < pop * (1 - tolerance):
            return {"passed": False, "reason": f"{task}: NDCG@10 {new:.4f} is below the popularity baseline "
                                               f"{pop:.4f}."}
        old = ((served.metrics or {}).get("holdout", {}).get(task, {}) if served else {}).get("NDCG@10")
        if new is not None and old is not None and new < old * (1 - tolerance):
            return {"passed": False, "reason": f"{task}: NDCG@10 {new:.4f} is worse than the served version "
                                               f"v{served.pk} ({old:.4f}) by more than {tolerance:.0%}."}
    return {"passed": True, "reason": "Beats the popularity baseline and keeps up with the served version."}


def artifact_dir() -> Path:
    return Path(ga_settings.ARTIFACT_DIR or Path.cwd() / "goodsassoc-artifacts")


def prune_artifacts() -> None:
    """Keep the artifacts of the served version and the last KEEP_VERSIONS others."""
    recent = (ModelVersion.objects.exclude(artifact_path="").order_by("-pk")
              .values_list("artifact_path", flat=True))
    keep: set[Path] = set()
    for path in recent.iterator():  # distinct artifacts: refreshes share their model's
        keep.add(Path(path).resolve())
        if len(keep) > ga_settings.KEEP_VERSIONS:
            break
    served = ModelVersion.objects.filter(pk=publishing.served_version_id()).values_list("artifact_path", flat=True)
    keep |= {Path(p).resolve() for p in served if p}
    root = artifact_dir()
    if not root.exists():
        return
    for path in root.iterdir():
        if path.is_dir() and not path.name.startswith(".") and path.resolve() not in keep:
            training.remove_artifact(path)
