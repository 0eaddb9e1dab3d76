"""Credit for recommendations: add-to-carts and purchases after a click, inside the window only."""

from datetime import timedelta

import pytest
from django.utils import timezone

from goodsassoc.extract import interactions_frame
from goodsassoc.models import AttributedConversion, Interaction
from goodsassoc.privacy import Identity
from goodsassoc.recording import record_events
from tests.feedback.conftest import click, plain

ANON = "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b"
OTHER = "6a2f41a3-c54c-4c01-8c3c-1c7e3b2d9f10"


def at(hours_ago):
    return (timezone.now() - timedelta(hours=hours_ago)).isoformat()


def record(*events, anonymous_id=ANON):
    return record_events(list(events), identity=Identity(anonymous_id=anonymous_id))


@pytest.fixture
def clicked(served):
    record(click("r1", "SKU-3", 2, timestamp=at(30)))


def test_an_add_to_cart_and_a_purchase_inside_the_window_are_credited(clicked, settings):
    settings.GOODSASSOC = {**settings.GOODSASSOC, "ATTRIBUTION_WINDOW_HOURS": 48}
    record(plain("add_to_cart", "SKU-3", timestamp=at(29)),
           plain("purchase", "SKU-3", value="25.50", basket="o1", timestamp=at(28)))
    credited = {c.kind: c for c in AttributedConversion.objects.all()}
    assert set(credited) == {"add_to_cart", "purchase"}
    assert (credited["purchase"].request_id, credited["purchase"].position, str(credited["purchase"].value)) == (
        "r1", 2, "25.50")


def test_outside_the_window_nothing_is_credited(clicked, settings):
    settings.GOODSASSOC = {**settings.GOODSASSOC, "ATTRIBUTION_WINDOW_HOURS": 24}
    record(plain("purchase", "SKU-3", timestamp=at(1)))  # 29 hours after the click
    assert not AttributedConversion.objects.exists()
    settings.GOODSASSOC = {**settings.GOODSASSOC, "ATTRIBUTION_WINDOW_HOURS": 30}
    record(plain("purchase", "SKU-3", timestamp=at(0.5)))
    assert AttributedConversion.objects.count() == 1


def test_only_the_clicking_shopper_the_clicked_product_and_later_events_count(clicked, settings):
    settings.GOODSASSOC = {**settings.GOODSASSOC, "ATTRIBUTION_WINDOW_HOURS": 48}
    record(plain("purchase", "SKU-3", timestamp=at(1)), anonymous_id=OTHER)  # someone else
    record(plain("purchase", "SKU-2", timestamp=at(1)))  # another product
    record(plain("purchase", "SKU-3", timestamp=at(31)))  # before the click
    record(plain("view", "SKU-3", timestamp=at(1)))  # not a conversion
    assert not AttributedConversion.objects.exists()


def test_a_retried_conversion_is_credited_once(clicked, settings):
    settings.GOODSASSOC = {**settings.GOODSASSOC, "ATTRIBUTION_WINDOW_HOURS": 48}
    purchase = plain("purchase", "SKU-3", timestamp=at(2))
    record(purchase)
    record(purchase)
    assert AttributedConversion.objects.count() == 1


def test_a_logged_in_purchase_is_credited_to_the_anonymous_click(clicked, settings):
    settings.GOODSASSOC = {**settings.GOODSASSOC, "ATTRIBUTION_WINDOW_HOURS": 48}
    record_events([plain("purchase", "SKU-3", timestamp=at(1))],
                  identity=Identity(user_pseudonym="p" * 32, anonymous_id=ANON))
    assert AttributedConversion.objects.count() == 1


def test_credited_conversions_weigh_more_in_training(clicked, settings):
    settings.GOODSASSOC = {**settings.GOODSASSOC, "ATTRIBUTION_WINDOW_HOURS": 48, "FEEDBACK_WEIGHT": 0.75}
    record(plain("purchase", "SKU-3", timestamp=at(2)), plain("purchase", "SKU-2", timestamp=at(2)))
    frame = interactions_frame().set_index("item_id")
    purchases = frame[frame["kind"] == "purchase"]["weight"]
    assert purchases["SKU-3"] == pytest.approx(1.0 + 0.75)
    assert purchases["SKU-2"] == pytest.approx(1.0)
    assert frame[frame["kind"] == "click"]["weight"].iloc[0] == pytest.approx(0.3)
    assert Interaction.objects.filter(kind="impression").count() == 0
