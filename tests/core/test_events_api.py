"""The batch events endpoint: per-event errors, size limit, idempotence, throttling, trust."""

import uuid

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.test import Client

from goodsassoc.models import Interaction
from goodsassoc.privacy import pseudonymise

URL = "/goodsassoc/api/events/"


@pytest.fixture(autouse=True)
def _clear_throttle_cache():
    cache.clear()


def event(**fields):
    return {"event_id": str(uuid.uuid4()), "kind": "view", "product": "SKU-1", **fields}


def post(client, payload):
    return client.post(URL, payload, content_type="application/json")


def test_a_good_batch_is_stored(articles):
    batch = [event(), event(kind="add_to_cart", product="SKU-2", quantity=2),
             event(kind="purchase", product="SKU-3", quantity="1.5", value="38.25", basket="order-7",
                   timestamp="2026-01-31T12:00:00+01:00")]
    response = post(Client(), {"events": batch})
    assert response.status_code == 201
    assert response.json() == {"stored": 3, "duplicates": 0}
    purchase = Interaction.objects.get(kind="purchase")
    assert (purchase.basket_key, str(purchase.value), purchase.timestamp.isoformat()) == (
        "order-7", "38.25", "2026-01-31T11:00:00+00:00")
    assert purchase.source == "api"


def test_a_retried_batch_stores_nothing_twice(articles):
    batch = [event(), event(product="SKU-2")]
    assert post(Client(), {"events": batch}).json() == {"stored": 2, "duplicates": 0}
    retry = post(Client(), {"events": batch})
    assert retry.status_code == 200
    assert retry.json() == {"stored": 0, "duplicates": 2}
    assert Interaction.objects.count() == 2


def test_duplicate_ids_within_a_batch_are_stored_once(articles):
    one = event()
    assert post(Client(), {"events": [one, dict(one)]}).json() == {"stored": 1, "duplicates": 1}


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"kind": "stare"}, "kind"),
        ({"product": "NOPE"}, "product"),
        ({"product": {"id": 1}}, "product"),
        ({"quantity": "two"}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"value": [1]}, "value"),
        ({"timestamp": 12}, "timestamp"),
        ({"event_id": "123"}, "event_id"),
        ({"event_id": None}, "event_id"),
        ({"user": "7"}, "user"),
    ],
)
def test_bad_events_get_400_naming_event_and_field(articles, bad, field):
    batch = [event(), event(**bad)]
    response = post(Client(), {"events": batch})
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "Invalid events; nothing was stored."
    assert [(e["index"], e["field"]) for e in body["errors"]] == [(1, field)]
    assert not Interaction.objects.exists()


def test_every_problem_is_reported_at_once(articles):
    response = post(Client(), {"events": [event(kind="stare"), event(), event(product="NOPE", quantity=-1)]})
    errors = response.json()["errors"]
    assert {(e["index"], e["field"]) for e in errors} == {(0, "kind"), (2, "quantity"), (2, "product")}
    assert all("event_id" in e for e in errors)


@pytest.mark.parametrize("payload", [[], "events", {"events": "x"}, {"event": []}, {"events": []},
                                     {"events": [event()], "extra": 1}])
def test_malformed_bodies_get_400(articles, payload):
    response = post(Client(), payload)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"]


def test_not_json_gets_400(articles):
    response = Client().post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400


def test_oversized_batch_gets_413(articles, settings):
    settings.GOODSASSOC = {**settings.GOODSASSOC, "EVENTS_MAX_BATCH": 3}
    response = post(Client(), {"events": [event() for _ in range(4)]})
    assert response.status_code == 413
    assert response.json()["errors"] == [{"field": "events", "message": "At most 3 events per batch; got 4."}]
    assert not Interaction.objects.exists()


def test_throttling(articles, settings):
    settings.GOODSASSOC = {**settings.GOODSASSOC, "EVENTS_THROTTLE_RATE": "2/min"}
    client = Client()
    assert [post(client, {"events": [event()]}).status_code for _ in range(3)] == [201, 201, 429]


def test_logged_in_shopper_is_pseudonymised_and_csrf_is_enforced(articles, shopper):
    client = Client(enforce_csrf_checks=True)
    client.force_login(shopper)
    assert post(client, {"events": [event()]}).status_code == 403  # no CSRF token
    client.get("/goodsassoc/api/schema/")  # any page; the token comes from the cookie below
    from django.middleware.csrf import _get_new_csrf_string

    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token
    response = client.post(URL, {"events": [event()]}, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201
    assert Interaction.objects.get().user_pseudonym == pseudonymise(shopper.pk)


def test_trusted_callers_may_name_users(articles, django_user_model):
    service = django_user_model.objects.create_user("ingest", password="pw-ingest-123")
    service.user_permissions.add(Permission.objects.get(codename="add_interaction"))
    client = Client()
    client.force_login(service)
    response = post(client, {"events": [event(user="12345")]})
    assert response.status_code == 201
    assert Interaction.objects.get().user_pseudonym == pseudonymise("12345")


def test_schema_documents_the_endpoint(db):
    response = Client().get("/goodsassoc/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    operation = schema["paths"]["/goodsassoc/api/events/"]["post"]
    assert set(operation["responses"]) == {"200", "201", "400", "413", "429"}
    assert "EventBatch" in schema["components"]["schemas"]


def test_missing_event_ids_are_reported_with_the_other_problems(articles):
    response = post(Client(), {"events": [{"kind": "view", "product": "SKU-1"}, event(kind="stare")]})
    assert response.status_code == 400
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [(0, "event_id"), (1, "kind")]


def test_a_trusted_caller_does_not_lend_its_own_cookie(articles, django_user_model):
    service = django_user_model.objects.create_user("ingest2", password="pw-ingest-123")
    service.user_permissions.add(Permission.objects.get(codename="add_interaction"))
    client = Client()
    client.force_login(service)
    client.cookies["goodsassoc_aid"] = "0c4f2b8e-92f6-4d3b-8f47-8f6a4a1d5e09"
    post(client, {"events": [event(user="12345"), event()]})
    rows = dict(Interaction.objects.values_list("user_pseudonym", "anonymous_id"))
    assert rows[pseudonymise("12345")] == ""
    assert rows[pseudonymise(service.pk)] == "0c4f2b8e-92f6-4d3b-8f47-8f6a4a1d5e09"


def test_untrusted_callers_cannot_name_an_anonymous_id(articles):
    response = post(Client(), {"events": [event(anonymous_id="0c4f2b8e-92f6-4d3b-8f47-8f6a4a1d5e01")]})
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "anonymous_id"


def test_numbers_are_kept_to_their_precision(articles):
    response = post(Client(), {"events": [event(quantity="0.0001")]})
    assert response.json()["errors"][0] == {**response.json()["errors"][0], "field": "quantity",
                                            "message": "Must be at least 0.001."}
    assert post(Client(), {"events": [event(value=0.1 + 0.2, quantity=1.23456)]}).status_code == 201
    row = Interaction.objects.get()
    assert (str(row.value), str(row.quantity)) == ("0.30", "1.235")
