"""Summaries and the dashboard: figures from the feedback rows, bounded list pages, CSV export."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from goodsassoc import dashboard, summaries
from goodsassoc.models import FeedbackDaily, FeedbackItemDaily
from goodsassoc.privacy import Identity
from goodsassoc.recording import record_events
from tests.feedback.conftest import click, impressions, plain

ANON = "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b"


@pytest.fixture
def feedback(served):
    """Three related widgets shown, one clicked and bought; one cart widget shown."""
    me = Identity(anonymous_id=ANON)
    record_events(impressions("r1", ["SKU-2", "SKU-3"], version=served.pk), identity=me)
    record_events(impressions("r2", ["SKU-2", "SKU-3"], version=served.pk), identity=me)
    record_events(impressions("r3", ["SKU-1"], anchor="SKU-2", version=served.pk), identity=me)
    record_events(impressions("c1", ["SKU-4"], widget="cart", anchor=""), identity=me)
    record_events([click("r1", "SKU-3", 2, model_version=served.pk)], identity=me)
    record_events([plain("add_to_cart", "SKU-3"), plain("purchase", "SKU-3", value="51.00", basket="o1")],
                  identity=me)
    return served


def test_summaries_count_what_happened(feedback):
    assert summaries.refresh(2)["daily_rows"] == 2
    related = FeedbackDaily.objects.get(widget="related")
    assert (related.impressions, related.items_shown, related.clicks, related.clicked_sets, related.add_to_carts,
            related.purchases, str(related.revenue), related.model_version) == (3, 5, 1, 1, 1, 1, "51.00", feedback.pk)
    pair = FeedbackItemDaily.objects.get(anchor_key="SKU-1", product_key="SKU-3")
    assert (pair.shown, pair.clicks, pair.purchases) == (2, 1, 1)
    assert summaries.refresh(2)["daily_rows"] == 2  # idempotent
    assert FeedbackDaily.objects.count() == 2


def test_the_dashboard_figures(feedback, articles):
    summaries.refresh(None)
    today = timezone.now().date()
    data = dashboard.build(today - timedelta(days=6), today)
    assert (data["total"].impressions, data["total"].clicks, data["total"].purchases) == (4, 1, 1)
    related = next(f for f in data["per_widget"] if f.label == "related")
    assert related.ctr == pytest.approx(1 / 3)
    assert data["pairs"][0].extra["product_title"] == "Cutting board"
    assert data["coverage"] == {"shown": 4, "catalogue": 4, "share": 1.0}
    assert data["daily"][-1].impressions == 4 and len(data["daily"]) == 7
    empty = dashboard.build(today - timedelta(days=60), today - timedelta(days=31))
    assert empty["total"].impressions == 0


def test_bad_date_ranges_are_explained():
    today = timezone.now().date()
    start, end, errors = dashboard.date_range("yesterday", "2020-01-01", today)
    assert "start" in errors[0]
    start, end, errors = dashboard.date_range("2020-01-01", "2024-01-01", today)
    assert (end - start).days == dashboard.MAX_DAYS - 1 and errors


def test_list_pages_never_count_or_scan_a_whole_table(admin_client, feedback):
    for url in ("/admin/goodsassoc/interaction/", "/admin/goodsassoc/impressionset/",
                "/admin/goodsassoc/recommendationclick/", "/admin/goodsassoc/attributedconversion/"):
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(url).status_code == 200
        scans = [q["sql"] for q in queries if ("COUNT(" in q["sql"].upper() or "DISTINCT" in q["sql"].upper())
                 and "goodsassoc_" in q["sql"]]
        assert not scans, (url, scans)


def test_the_dashboard_reads_only_the_summaries(admin_client, feedback):
    with CaptureQueriesContext(connection) as queries:
        assert admin_client.get("/admin/goodsassoc/feedbackdaily/").status_code == 200
    raw = ("goodsassoc_interaction", "goodsassoc_impression_set", "goodsassoc_recommendation_click",
           "goodsassoc_attributed_conversion")
    assert not [q["sql"] for q in queries if any(table in q["sql"] for table in raw)]


def test_the_dashboard_page_shows_the_counts(admin_client, feedback):
    summaries.refresh(None)
    page = admin_client.get("/admin/goodsassoc/feedbackdaily/?widget=related").content.decode()
    assert 'data-metric="impressions"><b>3</b>' in page
    assert 'data-metric="clicks"><b>1</b>' in page
    assert 'data-metric="purchases"><b>1</b>' in page
    assert "<svg" in page and "Cutting board" in page


def test_interaction_csv_export_follows_the_filters_and_stops_at_the_limit(admin_client, feedback, settings):
    response = admin_client.get("/admin/goodsassoc/interaction/export/?kind__exact=purchase")
    lines = b"".join(response.streaming_content).decode().strip().splitlines()
    assert lines[0].startswith("timestamp,kind,product_key") and len(lines) == 2 and ",purchase,SKU-3," in lines[1]
    settings.GOODSASSOC = {**settings.GOODSASSOC, "INTERACTION_EXPORT_MAX_ROWS": 1}
    response = admin_client.get("/admin/goodsassoc/interaction/export/")
    assert len(b"".join(response.streaming_content).decode().strip().splitlines()) == 2


def test_the_ab_test_is_judged_on_the_dashboard(admin_client, served, settings):
    settings.GOODSASSOC = {**settings.GOODSASSOC, "AB_TESTS": {
        "t": {"widgets": ["related"], "arms": {"model": {"share": 1}, "popular": {"share": 1, "strategy": "popular"}}}}}
    for n in range(120):
        me = Identity(anonymous_id=f"1b4e28ba-2fa1-4d3b-a3f5-{n:012d}")
        for arm, clicked in (("model", n % 4 == 0), ("popular", n % 20 == 0)):
            request_id = f"{arm}-{n}"
            record_events(impressions(request_id, ["SKU-2", "SKU-3"], arm=f"t:{arm}"), identity=me)
            if clicked:
                record_events([click(request_id, "SKU-2", 1, arm=f"t:{arm}")], identity=me)
    summaries.refresh(1)
    page = admin_client.get("/admin/goodsassoc/feedbackdaily/").content.decode()
    assert "t:popular" not in page  # arms are named by their own names in their test's table
    assert "<td>model</td><td class=\"num\">120</td>" in page and "<td>popular</td><td class=\"num\">120</td>" in page
    assert "popular does worse than model: click-through rate 5.00% vs 25.00%" in page


def test_training_runs_show_their_metrics_beside_the_popularity_baseline(admin_client, db):
    from goodsassoc.models import TrainingRun

    for related, popularity in ((0.21, 0.12), (0.24, 0.13)):
        TrainingRun.objects.create(status="succeeded", metrics={
            "holdout": {"related": {"NDCG@10": related}, "cart": {"NDCG@10": related / 2}},
            "popularity": {"related": {"NDCG@10": popularity}, "cart": {"NDCG@10": popularity / 2}},
            "queries": {"related": 900}})
    page = admin_client.get("/admin/goodsassoc/trainingrun/").content.decode()
    assert 'id="training-history"' in page and "<svg" in page
    assert "0.2400" in page and "0.1300" in page and "0.1050" in page


def test_the_pairs_table_says_which_widget_it_shows(admin_client, db):
    page = admin_client.get("/admin/goodsassoc/feedbackdaily/").content.decode()
    assert "Widget: related (choose another widget above" in page
    assert "No recommended pair was clicked in this range." in page
    page = admin_client.get("/admin/goodsassoc/feedbackdaily/?widget=cart").content.decode()
    assert "Widget: cart." in page


def test_shops_widget_pairs_are_shown_by_shop_key(admin_client, served, sellers):
    shop = str(sellers[0].pk)
    event = {**click("s1", None, 1, widget="shops", anchor="", shop=shop)}
    del event["product"]
    shown = [{k: v for k, v in e.items() if k != "product"} | {"shop": shop} for e in
             impressions("s1", ["x"], widget="shops", anchor="")]
    record_events(shown + [event], identity=Identity(anonymous_id=ANON))
    summaries.refresh(1)
    data = dashboard.build(timezone.now().date(), timezone.now().date(), "shops")
    assert [(p.extra["product_title"], p.clicks, p.impressions) for p in data["pairs"]] == [(shop, 1, 1)]
    assert data["coverage"] == {"shown": 1, "catalogue": 2, "share": 0.5}
    assert admin_client.get("/admin/goodsassoc/feedbackdaily/?widget=shops").status_code == 200
