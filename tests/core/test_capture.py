"""Python API and host-signal capture."""

import uuid
from decimal import Decimal

import pytest
from django.test import RequestFactory

from goodsassoc.models import Interaction
from goodsassoc.privacy import ShopperIdentity, pseudonymise
from goodsassoc.recording import RecordingError, record, record_events
from tests.testapp import signals
from tests.testapp.models import Purchase, PurchaseItem


def request_for(user=None, cookie=None):
    request = RequestFactory().get("/")
    if cookie:
        request.COOKIES["goodsassoc_aid"] = cookie
    request.user = user
    request.goodsassoc = ShopperIdentity(request)
    return request


def test_record_for_a_user(articles, shopper):
    result = record(shopper, articles[0], "view")
    assert result.stored == 1
    row = Interaction.objects.get()
    assert row.product_key == "SKU-1"
    assert row.user_pseudonym == pseudonymise(shopper.pk)
    assert row.shop_key == str(articles[0].seller_id)  # inherited from the product (marketplace)
    assert row.source == "python"


def test_record_for_an_anonymous_request_creates_an_anonymous_id(articles):
    from django.contrib.auth.models import AnonymousUser

    request = request_for(AnonymousUser())
    record(request, "SKU-2", "add_to_cart", quantity=2)
    row = Interaction.objects.get()
    assert row.user_pseudonym == ""
    assert row.anonymous_id == request.goodsassoc.anonymous_id
    assert request.goodsassoc.created


def test_record_with_explicit_event_id_is_idempotent(articles):
    event_id = uuid.uuid4()
    assert record(None, "SKU-1", "purchase", event_id=event_id, value="39.90").stored == 1
    again = record(None, "SKU-1", "purchase", event_id=event_id, value="39.90")
    assert (again.stored, again.duplicates) == (0, 1)
    assert Interaction.objects.count() == 1


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"kind": "view", "product": "NOPE"}, "product"),
        ({"kind": "stare", "product": "SKU-1"}, "kind"),
        ({"product": "SKU-1"}, "kind"),
        ({"kind": "view"}, "product"),
        ({"kind": "view", "product": ["SKU-1"]}, "product"),
        ({"kind": "view", "product": "SKU-1", "quantity": "many"}, "quantity"),
        ({"kind": "view", "product": "SKU-1", "quantity": 0}, "quantity"),
        ({"kind": "view", "product": "SKU-1", "value": -3}, "value"),
        ({"kind": "view", "product": "SKU-1", "value": "NaN"}, "value"),
        ({"kind": "view", "product": "SKU-1", "timestamp": "yesterday"}, "timestamp"),
        ({"kind": "view", "product": "SKU-1", "timestamp": "2026-01-01T10:00:00"}, "timestamp"),
        ({"kind": "view", "product": "SKU-1", "timestamp": "2999-01-01T10:00:00Z"}, "timestamp"),
        ({"kind": "view", "product": "SKU-1", "event_id": "not-a-uuid"}, "event_id"),
        ({"kind": "view", "product": "SKU-1", "shop": str(uuid.uuid4())}, "shop"),
        ({"kind": "view", "product": "SKU-1", "anonymous_id": "guess"}, "anonymous_id"),
        ({"kind": "view", "product": "SKU-1", "user": "42"}, "user"),
        ({"kind": "view", "product": "SKU-1", "colour": "red"}, "colour"),
        ({"kind": "view", "product": "SKU-1", "basket": "b" * 65}, "basket"),
    ],
)
def test_bad_events_name_the_field_and_store_nothing(articles, event, field):
    good = {"kind": "view", "product": "SKU-2"}
    with pytest.raises(RecordingError) as caught:
        record_events([good, event])
    assert [(e.index, e.field) for e in caught.value.errors] == [(1, field)]
    assert caught.value.errors[0].message
    assert not Interaction.objects.exists()


def test_a_negative_cart_signal_is_a_removal(articles, shopper):
    request = request_for(shopper)
    signals.basket_touched.send(sender=None, request=request, product=articles[1], quantity=3)
    signals.basket_touched.send(sender=None, request=request, product=articles[1], quantity=-1)
    kinds = sorted(Interaction.objects.values_list("kind", "quantity"))
    assert kinds == [("add_to_cart", Decimal("3.000")), ("remove_from_cart", Decimal("1.000"))]


def test_view_signal(articles):
    from django.contrib.auth.models import AnonymousUser

    signals.article_seen.send(sender=None, request=request_for(AnonymousUser()), product=articles[2])
    row = Interaction.objects.get()
    assert (row.kind, row.product_key, row.source) == ("view", "SKU-3", "signal")


def test_order_signal_records_every_line_once(articles, shopper):
    purchase = Purchase.objects.create(buyer=shopper)
    PurchaseItem.objects.create(purchase=purchase, article=articles[0], count=1, each=Decimal("39.90"))
    PurchaseItem.objects.create(purchase=purchase, article=articles[1], count=2, each=Decimal("19.00"))
    signals.purchase_completed.send(sender=Purchase, purchase=purchase)
    signals.purchase_completed.send(sender=Purchase, purchase=purchase)  # sent twice by a buggy host
    rows = Interaction.objects.order_by("product_key")
    assert [(r.kind, r.product_key, r.value, r.basket_key) for r in rows] == [
        ("purchase", "SKU-1", Decimal("39.90"), str(purchase.pk)),
        ("purchase", "SKU-2", Decimal("38.00"), str(purchase.pk)),
    ]
    assert {r.user_pseudonym for r in rows} == {pseudonymise(shopper.pk)}


def test_order_lines_take_each_lines_own_shop(articles, shopper, sellers):
    from goodsassoc.signal_events import order_lines

    purchase = Purchase.objects.create(buyer=shopper)
    PurchaseItem.objects.create(purchase=purchase, article=articles[0], count=1, each=Decimal("1"))
    PurchaseItem.objects.create(purchase=purchase, article=articles[2], count=1, each=Decimal("1"))
    options = {"order": "purchase", "lines": "items.all", "product": "article", "quantity": "count",
               "price": "each", "user": "buyer"}
    assert articles[0].seller != articles[2].seller  # two sellers in one order
    by_line = order_lines({"options": {**options, "line_shop": "article__seller"}}, None, purchase=purchase)
    assert [e["shop"] for e in by_line.events] == [articles[0].seller, articles[2].seller]


def test_a_broken_signal_payload_never_breaks_the_host(articles, caplog):
    signals.article_seen.send(sender=None, request=None, product="NOPE")
    assert not Interaction.objects.exists()
    assert "invalid events" in caplog.text


def test_keys_are_stored_in_the_hosts_canonical_form(db, sellers):
    from tests.testapp.models import Article

    Article.objects.create(sku="7", headline="Seven", seller=sellers[0], cost=Decimal("1"))
    record(None, "7", "view", shop=str(sellers[0].pk).upper())
    row = Interaction.objects.get()
    assert row.shop_key == str(sellers[0].pk)  # an upper-case UUID names the same seller
