"""A real Celery worker on the local Redis broker retrains on a small real slice, publishes,
and the endpoint then serves the new version."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from goodsassoc import pipeline, tasks
from goodsassoc.models import RunStatus, TrainingRun
from tests.celery_app import app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker(settings, tmp_path):
    queue = f"goodsassoc-tests-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT),
           "CELERY_TASK_ALWAYS_EAGER": "0", "GOODSASSOC_TEST_QUEUE": queue,
           "GOODSASSOC_ARTIFACT_DIR": settings.GOODSASSOC["ARTIFACT_DIR"],
           "PGDATABASE": str(connection.settings_dict["NAME"]),
           "GOODSASSOC_SQLITE_PATH": str(connection.settings_dict["NAME"])}
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tests.celery_app", "worker", "--pool", "prefork",
         "--concurrency", "1", "--loglevel", "info", "--queues", queue, "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    app.conf.task_always_eager = False
    try:
        yield queue, tmp_path / "worker.log"
    finally:
        app.conf.task_always_eager = True
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.mark.django_db(transaction=True)
def test_a_worker_retrains_and_the_endpoint_serves_the_new_version(shop_history, worker):
    queue, log = worker
    run_id = pipeline.prepare_run("retrain", trigger="test")
    tasks.retrain.apply_async(kwargs={"run_id": run_id, "trigger": "test"}, queue=queue)
    deadline = time.monotonic() + 420
    run = TrainingRun.objects.get(pk=run_id)
    while run.status not in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.REJECTED):
        assert time.monotonic() < deadline, f"no result in time; worker log:\n{log.read_text()[-3000:]}"
        time.sleep(2)
        run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, f"{run.error}\n{log.read_text()[-3000:]}"
    assert "Task goodsassoc.retrain[" in log.read_text()  # the worker process ran it
    busiest = shop_history.groupby("item_id")["basket_id"].nunique().idxmax()
    body = Client().get(f"/goodsassoc/api/related/{busiest}/?limit=5").json()
    assert body["model_version"] == run.model_version_id and body["strategy"] == "model"
    assert len(body["items"]) == 5 and body["items"][0]["reason_text"]
