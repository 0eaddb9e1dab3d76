"""Capturing impressions and clicks: from the widget template and the events endpoint, each stored once."""

import re

import pytest
from django.dispatch import Signal
from django.template import Context, Template
from django.test import Client, RequestFactory

from goodsassoc.feedback import event_id
from goodsassoc.models import ImpressionSet, Interaction, RecommendationClick
from goodsassoc.recording import RecordingError, record_events
from tests.feedback.conftest import click, impressions, plain, post


def render_related(product):
    request = RequestFactory().get("/")
    return Template("{% load goodsassoc_tags %}{% related_products product limit=3 %}").render(
        Context({"product": product, "request": request, "csrf_token": "tok"}))


def test_the_widget_carries_what_the_feedback_script_posts(served, articles):
    html = render_related(articles[0])
    request_id = re.search(r'data-goodsassoc-request="([0-9a-f]+)"', html).group(1)
    assert 'data-goodsassoc-endpoint="/goodsassoc/api/events/"' in html
    assert f'data-goodsassoc-version="{served.pk}"' in html
    assert 'data-goodsassoc-anchor="SKU-1"' in html
    assert f'data-goodsassoc-impression-id="{event_id(request_id, 1, "impression")}"' in html
    assert f'data-goodsassoc-click-id="{event_id(request_id, 2, "click")}"' in html
    assert "goodsassoc/feedback.js" in html
    assert ImpressionSet.objects.count() == 0  # nothing written while the page renders


def test_tracking_can_be_switched_off(served, articles, settings):
    settings.GOODSASSOC = {**settings.GOODSASSOC, "FEEDBACK_TRACKING": False}
    html = render_related(articles[0])
    assert "data-goodsassoc-key" in html
    assert "feedback.js" not in html and "data-goodsassoc-impression-id" not in html


def test_an_impression_set_is_stored_once_and_kept_out_of_interactions(served):
    batch = impressions("r1", ["SKU-2", "SKU-3"], version=served.pk)
    first = post(Client(), batch)
    assert first.status_code == 201, first.json()
    assert first.json() == {"stored": 2, "duplicates": 0}
    again = post(Client(), batch)  # the script retries when it did not see the answer
    assert again.status_code == 200 and again.json() == {"stored": 0, "duplicates": 2}
    shown = ImpressionSet.objects.get()
    assert (shown.request_id, shown.widget, shown.items, shown.anchor_key, shown.model_version) == (
        "r1", "related", ["SKU-2", "SKU-3"], "SKU-1", served.pk)
    assert shown.anonymous_id  # the shopper's cookie id, never a user id
    assert not Interaction.objects.exists()


def test_a_click_is_stored_once_even_when_clicked_twice(served):
    client = Client()
    assert post(client, [click("r1", "SKU-3", 2)]).status_code == 201
    assert post(client, [click("r1", "SKU-3", 2)]).json() == {"stored": 0, "duplicates": 1}
    stored = RecommendationClick.objects.get()
    assert (stored.product_key, stored.position, stored.widget, stored.anchor_key) == ("SKU-3", 2, "related", "SKU-1")
    assert Interaction.objects.get().kind == "click"  # clicks also train, with KIND_WEIGHTS["click"]


def test_a_click_on_a_shop_names_the_shop(served, sellers):
    event = click("r2", None, 1, widget="shops", anchor="", shop=str(sellers[1].pk))
    del event["product"]
    assert post(Client(), [event]).status_code == 201
    assert RecommendationClick.objects.get().product_key == str(sellers[1].pk)
    assert not Interaction.objects.exists()


@pytest.mark.parametrize(("change", "field"), [
    ({"request_id": None}, "request_id"),
    ({"request_id": "has spaces"}, "request_id"),
    ({"widget": "sidebar"}, "widget"),
    ({"widget": None}, "widget"),
    ({"position": 0}, "position"),
    ({"position": "first"}, "position"),
    ({"model_version": -1}, "model_version"),
])
def test_bad_feedback_fields_are_refused_by_name(served, change, field):
    event = {**click("r1", "SKU-2", 1), **change}
    event = {k: v for k, v in event.items() if v is not None}
    response = post(Client(), [event])
    assert response.status_code == 400
    assert field in {e["field"] for e in response.json()["errors"]}
    assert not RecommendationClick.objects.exists()


def test_feedback_fields_belong_to_feedback_events_only(served):
    response = post(Client(), [plain("view", "SKU-1", request_id="r1", position=1)])
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"request_id", "position"}


def test_the_python_api_shares_the_rules(served):
    with pytest.raises(RecordingError) as caught:
        record_events([{"kind": "impression", "product": "SKU-2", "widget": "related", "position": 1}])
    assert [e.field for e in caught.value.errors] == ["request_id"]


recommendation_clicked = Signal()  # a host's own signal: kwargs request, product, request_id, widget, position


def test_a_host_signal_can_record_a_click(served, settings):
    settings.GOODSASSOC = {**settings.GOODSASSOC, "SIGNALS": [
        {"signal": "tests.feedback.test_capture.recommendation_clicked", "kind": "click"}]}
    request = RequestFactory().get("/")
    recommendation_clicked.send(sender=None, request=request, product="SKU-2", request_id="r9", widget="related",
                                position=1, anchor="SKU-1")
    assert RecommendationClick.objects.get().request_id == "r9"
