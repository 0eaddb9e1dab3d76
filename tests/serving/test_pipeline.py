"""The pipeline with real training on a small real slice: run records, gate, artifact, publish, refresh."""

import numpy as np
import pytest
from django.core.management import call_command

from goodsassoc import pipeline
from goodsassoc.engine import artifact
from goodsassoc.engine.limits import CART_DEPTH
from goodsassoc.engine.scoring import complete_cart
from goodsassoc.models import ModelVersion, ProductCard, RunStatus, ServingState, TrainingRun, VersionStatus
from goodsassoc.privacy import Identity
from goodsassoc.selectors import cart_recommendations, related_products
from goodsassoc.training import Holdout
from tests.conftest import clear_caches
from tests.testapp.models import Article


def test_retrain_publishes_a_checked_model_and_refresh_rescores_it(shop_history, artifact_dir):
    stages = []
    run = pipeline.execute(pipeline.prepare_run("retrain", trigger="test"),
                           on_progress=lambda stage, done, total: stages.append(stage))
    assert run["status"] == RunStatus.SUCCEEDED, run["error"]
    record = TrainingRun.objects.get(pk=run["run"])
    assert record.progress == 1.0 and record.finished_at and record.started_at
    assert set(record.timings) == {"extract", "holdout", "train", "score", "publish", "cards"}
    assert {"extract", "holdout", "train", "score", "publish", "cards"} <= set(stages)
    assert record.counts["cards"] == Article.objects.count() == ProductCard.objects.count()
    assert record.counts["baskets"] > 1000 and record.counts["published_rows"]["related"] > 0
    # The gate compared the model with popularity on the holdout, and it was better there.
    related = record.metrics["holdout"]["related"]["NDCG@10"]
    assert related > record.metrics["popularity"]["related"]["NDCG@10"]
    assert record.metrics["gate"]["passed"]
    version = ModelVersion.objects.get(pk=run["version"])
    assert version.status == VersionStatus.PUBLISHED and ServingState.objects.get().version_id == version.pk
    assert artifact.read_manifest(version.artifact_path)["model_version"] == version.pk
    assert set(version.params["weights"]) >= {"cart_repeat", "cart_taste", "cart_pop"}

    busiest = shop_history.groupby("item_id")["basket_id"].nunique().idxmax()
    result = related_products(busiest, limit=5)
    assert result.strategy == "model" and result.model_version == version.pk and len(result) == 5
    assert result.items[0].reason in {"bought_together", "similar_item"} and result.items[0].text

    # The cart widget blends the published rows as the engine's complete_cart scores its tables.
    tables, _ = artifact.load(version.artifact_path)
    shopper = str(tables.user_ids[int(np.diff(tables.repeat.tocsr().indptr).argmax())])
    cart = [str(k) for k in shop_history.groupby("item_id")["basket_id"].nunique().nlargest(2).index]
    served = cart_recommendations(cart, identity=Identity(user_pseudonym=shopper), limit=10,
                                  exclude_recent_purchases=False)
    engine = {key: score for key, score, *_ in complete_cart(tables, cart, shopper, k=len(tables.item_ids),
                                                                depth=CART_DEPTH)}
    assert len(served) == 10 and served.strategy == "model"
    assert [i.score for i in served] == pytest.approx([engine[i.key] for i in served], rel=1e-4, abs=1e-7)
    assert served.items[0].key == max(engine, key=engine.get)

    refreshed = pipeline.execute(pipeline.prepare_run("refresh", trigger="test"))
    assert refreshed["status"] == RunStatus.SUCCEEDED, refreshed["error"]
    new = ModelVersion.objects.get(pk=refreshed["version"])
    assert new.artifact_path == version.artifact_path and new.status == VersionStatus.PUBLISHED
    assert new.params["weights"] == version.params["weights"]  # the same blend, and ranker if kept
    assert ModelVersion.objects.get(pk=version.pk).status == VersionStatus.RETIRED
    clear_caches()
    assert related_products(busiest, limit=5).model_version == new.pk


def test_the_gate_rejects_a_model_worse_than_the_served_one(db, settings):
    settings.GOODSASSOC = {**settings.GOODSASSOC, "QUALITY_GATE_MIN_QUERIES": 10}
    served = ModelVersion(pk=7, metrics={"holdout": {"related": {"NDCG@10": 0.20}, "cart": {"NDCG@10": 0.10}}})
    holdout = Holdout(model={"related": {"NDCG@10": 0.15}, "cart": {"NDCG@10": 0.10}},
                      popularity={"related": {"NDCG@10": 0.10}, "cart": {"NDCG@10": 0.05}},
                      queries={"related": 500, "cart": 300})
    verdict = pipeline.quality_gate(holdout, served)
    assert not verdict["passed"] and "worse than the served version v7" in verdict["reason"]
    assert pipeline.quality_gate(holdout, None)["passed"]
    holdout.popularity["cart"]["NDCG@10"] = 0.2
    assert "below the popularity baseline" in pipeline.quality_gate(holdout, None)["reason"]
    holdout.queries["related"] = 5
    assert pipeline.quality_gate(holdout, served)["passed"]  # too little data to judge


def test_a_rejected_or_failed_run_leaves_the_served_version(db, articles, monkeypatch):
    from tests.serving.factories import publish_version, related_rows, tables

    served = publish_version(tables(related=related_rows("SKU-1", "SKU-2")))
    not_enough = pipeline.execute(pipeline.prepare_run("retrain"))
    assert not_enough["status"] == RunStatus.REJECTED and "Not enough data" in not_enough["error"]
    monkeypatch.setattr(pipeline, "_retrain", lambda run, reporter: 1 / 0)
    failed = pipeline.execute(pipeline.prepare_run("retrain"))
    assert failed["status"] == RunStatus.FAILED and "ZeroDivisionError" in failed["error"]
    assert ServingState.objects.get().version_id == served.pk
    # Finished runs are not run again (tasks are idempotent).
    assert pipeline.execute(not_enough["run"])["status"] == RunStatus.REJECTED


def test_only_one_run_at_a_time(db):
    """Another worker (here a thread with its own database connection) holds the lock."""
    import threading

    from django.db import connections

    from goodsassoc import locks

    holding, release = threading.Event(), threading.Event()

    def other_worker():
        try:
            with locks.exclusive("pipeline") as held:
                assert held
                holding.set()
                release.wait(30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert holding.wait(30)
        result = pipeline.execute(pipeline.prepare_run("retrain"))
    finally:
        release.set()
        thread.join(30)
    assert result["status"] == RunStatus.SKIPPED and "Another run" in result["error"]


def test_the_command_shows_progress_and_reports(db, articles, capsys):
    call_command("goodsassoc_retrain", "--no-progress")
    assert "rejected" in capsys.readouterr().out  # no history yet: rejected with its reason


def test_a_quick_first_model_skips_the_holdout_only_while_nothing_is_served(shop_history, artifact_dir, capsys):
    call_command("goodsassoc_retrain", "--quick", "--no-progress")
    assert "published model version" in capsys.readouterr().out
    run = TrainingRun.objects.get()
    assert "holdout" not in run.timings and run.params == {"quick": True}
    assert run.model_version.note.startswith("A quick first model")


def test_a_shop_without_shops_trains_and_serves(db, settings, artifact_dir):
    """Most shops are not marketplaces: no SHOP_MODEL, no shop on any interaction."""
    from goodsassoc.importing import import_lines
    from tests.cj import busy_households, lines_for, load_catalogue

    settings.GOODSASSOC = {**settings.GOODSASSOC, "SHOP_MODEL": None,
                           "PRODUCT_ATTRIBUTES": {**settings.GOODSASSOC["PRODUCT_ATTRIBUTES"], "shop": None}}
    table = lines_for(busy_households(25, seed=3))
    load_catalogue(table)
    import_lines(table.drop(columns=["shop_id"]))
    result = pipeline.execute(pipeline.prepare_run("retrain", params={"quick": True}))
    assert result["status"] == RunStatus.SUCCEEDED, result["error"]
    busiest = table.groupby("item_id")["basket_id"].nunique().idxmax()
    assert related_products(busiest, limit=3).strategy == "model"
