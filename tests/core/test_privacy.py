"""No raw identifier is stored; anonymous history follows the shopper at login."""

import io

from django.db import connection
from django.test import Client

from goodsassoc.models import IdentityLink, Interaction
from goodsassoc.privacy import pseudonymise
from goodsassoc.recording import record


def all_stored_text():
    """Every value of every row of goodsassoc's tables, as text."""
    values = []
    with connection.cursor() as cursor:
        for model in (Interaction, IdentityLink):
            cursor.execute(f"SELECT * FROM {model._meta.db_table}")
            values += [str(v) for row in cursor.fetchall() for v in row]
    return "\n".join(values)


def test_pseudonym_is_keyed_and_stable(settings):
    first = pseudonymise(42)
    assert first == pseudonymise("42") and len(first) == 32
    settings.GOODSASSOC = {**settings.GOODSASSOC, "PSEUDONYM_KEY": "another-key-0123456789abcdef0123456789"}
    assert pseudonymise(42) != first


def test_stored_rows_hold_no_raw_identifier(articles, django_user_model):
    shopper = django_user_model.objects.create_user(
        "bob-the-shopper", "bob.shopper@example.com", "pw-bob-123", id=987654321)
    client = Client(REMOTE_ADDR="203.0.113.77")
    client.force_login(shopper)
    session_key = client.session.session_key
    response = client.post("/goodsassoc/api/events/", {"events": [
        {"event_id": "6f1c3f52-3f43-4a34-9f0b-0f5a7f3c2b10", "kind": "view", "product": "SKU-1"}]},
        content_type="application/json")
    assert response.status_code == 201
    record(shopper, articles[1], "purchase")
    stored = all_stored_text()
    assert Interaction.objects.count() == 2
    for raw in (str(shopper.pk), shopper.username, shopper.email, "203.0.113.77", session_key):
        assert raw not in stored, f"raw identifier {raw!r} stored"
    assert pseudonymise(shopper.pk) in stored


def test_anonymous_history_is_linked_at_login(articles, shopper):
    client = Client()
    response = client.post("/goodsassoc/api/events/", {"events": [
        {"event_id": "0c4f2b8e-92f6-4d3b-8f47-8f6a4a1d5e01", "kind": "view", "product": "SKU-3"},
        {"event_id": "0c4f2b8e-92f6-4d3b-8f47-8f6a4a1d5e02", "kind": "add_to_cart", "product": "SKU-4"}]},
        content_type="application/json")
    assert response.status_code == 201
    anonymous_id = response.cookies["goodsassoc_aid"].value
    assert set(Interaction.objects.values_list("anonymous_id", "user_pseudonym")) == {(anonymous_id, "")}
    assert client.post("/login/", {"username": "alice", "password": "pw-alice-123"}).status_code == 200
    pseudonym = pseudonymise(shopper.pk)
    assert set(Interaction.objects.values_list("anonymous_id", "user_pseudonym")) == {(anonymous_id, pseudonym)}
    assert IdentityLink.objects.get(anonymous_id=anonymous_id).user_pseudonym == pseudonym
    client.logout()
    client.cookies["goodsassoc_aid"] = anonymous_id  # the test client drops all cookies; a browser keeps ours
    # After logout the same browser still counts for the same shopper.
    client.post("/goodsassoc/api/events/", {"events": [
        {"event_id": "0c4f2b8e-92f6-4d3b-8f47-8f6a4a1d5e03", "kind": "view", "product": "SKU-1"}]},
        content_type="application/json")
    assert Interaction.objects.get(product_key="SKU-1").user_pseudonym == pseudonym


def test_cookie_is_only_set_when_something_is_recorded(articles):
    client = Client()
    for path in ("/goodsassoc/api/cart/?items=SKU-1", "/goodsassoc/api/shops/", "/goodsassoc/api/related/SKU-1/"):
        response = client.get(path)
        assert response.status_code == 200 and "goodsassoc_aid" not in response.cookies, path
    recorded = client.post("/goodsassoc/api/events/", {"events": [
        {"event_id": "0c4f2b8e-92f6-4d3b-8f47-8f6a4a1d5e07", "kind": "view", "product": "SKU-1"}]},
        content_type="application/json")
    assert "goodsassoc_aid" in recorded.cookies


def test_signals_and_imports_store_no_raw_identifier_either(articles, django_user_model, tmp_path):
    import pandas as pd
    from django.core.management import call_command

    from tests.testapp import signals
    from tests.testapp.models import Purchase, PurchaseItem

    shopper = django_user_model.objects.create_user("carol-shopper", "carol@example.com", "pw", id=555444333)
    purchase = Purchase.objects.create(buyer=shopper)
    PurchaseItem.objects.create(purchase=purchase, article=articles[0], count=1, each="39.90")
    signals.purchase_completed.send(sender=Purchase, purchase=purchase)
    pd.DataFrame([{"user_id": "777666555", "basket_id": "b-1", "item_id": "SKU-2", "ts": "2026-01-02T10:00:00Z",
                   "quantity": 1, "price": 19.0}]).to_csv(tmp_path / "lines.csv", index=False)
    call_command("goodsassoc_import", str(tmp_path / "lines.csv"), no_progress=True, stdout=io.StringIO())
    stored = all_stored_text()
    assert Interaction.objects.count() == 2
    for raw in ("555444333", "carol-shopper", "carol@example.com", "777666555"):
        assert raw not in stored, f"raw identifier {raw!r} stored"


def test_imported_event_ids_are_keyed_not_derived_from_the_raw_user_id(articles, settings, tmp_path):
    """With the raw id in an unkeyed hash, anyone could test guesses of the user id against an event id."""
    import pandas as pd

    from goodsassoc.importing import import_lines

    line = pd.DataFrame([{"user_id": "4711", "basket_id": "b-1", "item_id": "SKU-2", "ts": "2026-01-02T10:00:00Z",
                          "quantity": 1, "price": 19.0}])
    import_lines(line)
    first = Interaction.objects.get().event_id
    Interaction.objects.all().delete()
    settings.GOODSASSOC = {**settings.GOODSASSOC, "PSEUDONYM_KEY": "another-key-0123456789abcdef0123456789"}
    import_lines(line)
    assert Interaction.objects.get().event_id != first
