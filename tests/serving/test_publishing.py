"""Atomic publishing: readers (related products, and the cart, which reads the heads of the
neighbours) see the old version or the new one, never a mix or nothing;
a publish killed midway leaves the old version served; old versions are pruned."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection, connections

from goodsassoc.models import ModelVersion, RelatedHead, RelatedItem, ServingState
from goodsassoc.publishing import served_version_id
from goodsassoc.selectors import cart_recommendations, related_products
from tests.serving.factories import publish_version, tables

ROOT = Path(__file__).resolve().parents[2]
TARGETS = ["SKU-2", "SKU-3", "SKU-4"]


def version_tables(marker: float, fanout: int = 3):
    """Every row of a version carries its marker as score offset, so a mix is visible."""
    rows = [("SKU-1", rank, TARGETS[rank % 3], marker + (10 - rank) / 100, 0.1, "bought_together",
             {"baskets_together": 3}) for rank in range(fanout)]
    return tables(related=rows)


@pytest.fixture
def no_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}


@pytest.mark.django_db(transaction=True)
def test_readers_never_see_a_mix_or_nothing_while_versions_publish(articles, no_cache):
    publish_version(version_tables(1000.0))
    errors, reads, stop = [], [0], threading.Event()

    def reader():
        try:
            while not stop.is_set():
                for result in (related_products("SKU-1", limit=3), cart_recommendations(["SKU-1"], limit=3)):
                    markers = {int(item.score // 1000) for item in result}
                    if len(result) != 3 or len(markers) != 1:
                        errors.append([result.widget, *((i.key, i.score) for i in result)])
                reads[0] += 1
        finally:
            connections.close_all()

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        n = 1
        while n < 60 and (n < 10 or reads[0] < 30):  # publish until readers have overlapped many publishes
            n += 1
            publish_version(version_tables(1000.0 * n))
            time.sleep(0.02)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not errors, errors[:3]
    assert reads[0] >= 30
    # Only the served and the previous version are kept.
    kept = set(ModelVersion.objects.order_by("-pk").values_list("pk", flat=True)[:2])
    assert set(RelatedItem.objects.values_list("version", flat=True)) == kept
    assert set(RelatedHead.objects.values_list("version", flat=True)) == kept


KILLED_PUBLISH = """
import time
import django
django.setup()
from goodsassoc import publishing
from goodsassoc.models import ModelVersion
from tests.serving.factories import tables
rows = [("SKU-1", r + 1, "SKU-2", 1.0, 0.1, "popular", {}) for r in range(20000)]
version = ModelVersion.objects.create()

def halfway(stage, done, total):
    print("table", done, "of", total, flush=True)
    time.sleep(60)  # the parent kills the process here: rows written, transaction still open

publishing.write_version(version.pk, tables(related=rows), on_progress=halfway)
publishing.publish(version)
print("published", flush=True)
"""


@pytest.mark.django_db(transaction=True)
def test_a_publish_killed_midway_leaves_the_old_version_served(articles, no_cache):
    old = publish_version(version_tables(1000.0))
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT),
           "PGDATABASE": str(connection.settings_dict["NAME"]),
           "GOODSASSOC_SQLITE_PATH": str(connection.settings_dict["NAME"])}
    child = subprocess.Popen([sys.executable, "-c", KILLED_PUBLISH], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "table 1 of 5"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert ServingState.objects.get().version_id == old.pk
    assert [i.key for i in related_products("SKU-1", limit=3)] == ["SKU-2", "SKU-3", "SKU-4"]
    # The dead run's half-written rows were never committed.
    assert set(RelatedItem.objects.values_list("version", flat=True)) == {old.pk}
    assert set(RelatedHead.objects.values_list("version", flat=True)) == {old.pk}
    assert served_version_id() == old.pk
