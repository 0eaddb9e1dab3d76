"""Template tags and JSON endpoints over the same selectors."""

import base64

import pytest
from django.db import connection
from django.template import Context, Template
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext

from goodsassoc.privacy import ShopperIdentity, pseudonymise
from tests.serving.factories import publish_version, related_rows, tables


@pytest.fixture
def served(articles, sellers, shopper):
    return publish_version(tables(
        related=related_rows("SKU-1", "SKU-2", "SKU-3") + related_rows("SKU-2", "SKU-1"),
        shopper_items=[(pseudonymise(shopper.pk), "SKU-4", 0.5, 0.1)],
        shopper_shops=[("", 1, str(sellers[0].pk), 0.7, "popular_shop", {})],
        popular=[("all", "", 1, "SKU-2", 1.0, 30)],
    ))


def render(text, **context):
    request = RequestFactory().get("/")
    request.user = context.pop("user", None)
    request.goodsassoc = ShopperIdentity(request)
    return Template("{% load goodsassoc_tags %}" + text).render(Context({"request": request, **context}))


@pytest.mark.parametrize(("tag", "queries_cold"), [
    ("{% related_products product limit=2 %}", 2),
    ("{% cart_recommendations cart limit=2 %}", 2),
    ("{% shops_you_may_like limit=2 %}", 2),
])
def test_each_widget_renders_within_its_query_budget(served, articles, shopper, tag, queries_cold):
    with CaptureQueriesContext(connection) as cold:
        html = render(tag, product=articles[0], cart=[articles[0]], user=shopper)
    assert 'data-goodsassoc-request="' in html and "goodsassoc-item" in html
    assert len(cold) <= queries_cold
    with CaptureQueriesContext(connection) as warm:
        again = render(tag, product=articles[0], cart=[articles[0]], user=shopper)
    assert len(warm) == 0
    assert again.count("goodsassoc-item") == html.count("goodsassoc-item")


def test_related_widget_shows_reasons_and_escapes_product_text(served, articles):
    articles[1].headline = "<script>alert(1)</script> Whetstone"
    articles[1].save()
    html = render("{% related_products product limit=2 %}", product=articles[0])
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert "Bought together 10 times" in html
    assert 'data-goodsassoc-position="1"' in html and f'data-goodsassoc-version="{served.pk}"' in html


def test_widget_prices_follow_price_format(served, articles, settings):
    # articles[1] (SKU-2, first of SKU-1's related items) costs 19.00
    assert '<span class="goodsassoc-price">19.00</span>' in render("{% related_products product limit=1 %}",
                                                                   product=articles[0])
    settings.GOODSASSOC = {**settings.GOODSASSOC, "PRICE_FORMAT": "{:,.2f} €"}
    assert render("{{ 1234.5|goodsassoc_price }}|{{ none|goodsassoc_price }}", none=None) == "1,234.50 €|"


def test_a_widget_problem_renders_nothing_instead_of_breaking(articles, monkeypatch):
    from goodsassoc import selectors

    monkeypatch.setattr(selectors, "fetch", lambda branches: 1 / 0)
    assert render("{% related_products product %}", product=articles[0]).strip() == ""


def test_related_endpoint(served, articles):
    body = Client().get("/goodsassoc/api/related/SKU-1/?limit=2").json()
    assert [i["key"] for i in body["items"]] == ["SKU-2", "SKU-3"]
    first = body["items"][0]
    assert (first["position"], first["title"], first["reason"], first["reason_text"]) == (
        1, "Whetstone", "bought_together", "Bought together 10 times")
    assert body["model_version"] == served.pk and body["strategy"] == "model" and body["request_id"]


def test_related_endpoint_errors(served):
    assert Client().get("/goodsassoc/api/related/NOPE/").status_code == 404
    response = Client().get("/goodsassoc/api/related/SKU-1/?limit=500")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "limit"


@pytest.mark.parametrize("query", [
    "", "limit=3", "limit=50", "limit=0", "limit=51", "limit=-1", "limit=abc", "limit=", "limit=%C2%B2",
    "same_shop=true", "same_shop=0", "same_shop=yes", "same_shop=maybe", "same_category=True&limit=7",
    "items=%20a,b%20", "limit=2&limit=4", "other=1",
])
def test_the_quick_query_reader_agrees_with_the_serializer(query):
    """The widget views read the usual query without DRF's serializer; anything else goes to it."""
    from django.http import QueryDict

    from goodsassoc.api.widgets import WidgetQuery, _plain_query

    params = QueryDict(query)
    quick, full = _plain_query(params), WidgetQuery(data=params)
    if full.is_valid():
        assert quick in (None, dict(full.validated_data))
    else:
        assert quick is None


def test_endpoints_answer_json_and_the_browsable_api(served, articles):
    response = Client().get("/goodsassoc/api/related/SKU-1/?limit=2&same_shop=no")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert [i["key"] for i in response.json()["items"]] == ["SKU-2", "SKU-3"]
    page = Client().get("/goodsassoc/api/related/SKU-1/?limit=2", HTTP_ACCEPT="text/html")
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert b"Whetstone" in page.content


@pytest.mark.parametrize(("accept", "query", "expected"), [
    (None, "", "application/json"),
    ("*/*", "", "application/json"),
    ("application/json", "", "application/json"),
    ("text/html,application/xhtml+xml,*/*;q=0.8", "", "text/html"),
    ("*/*", "&format=api", "text/html"),
    ("application/json; indent=2", "", "application/json"),
])
def test_the_quick_negotiation_chooses_as_drf_does(served, articles, accept, query, expected):
    from rest_framework.negotiation import DefaultContentNegotiation
    from rest_framework.request import Request
    from rest_framework.settings import api_settings

    from goodsassoc.api.widgets import WidgetNegotiation

    headers = {"HTTP_ACCEPT": accept} if accept else {}
    request = Request(RequestFactory().get(f"/x/?limit=2{query}", **headers))
    renderers = [r() for r in api_settings.DEFAULT_RENDERER_CLASSES]
    suffix = None
    quick = WidgetNegotiation().select_renderer(request, renderers, suffix)
    drf = DefaultContentNegotiation().select_renderer(request, renderers, suffix)
    assert (type(quick[0]), quick[1]) == (type(drf[0]), drf[1])
    response = Client().get(f"/goodsassoc/api/related/SKU-1/?limit=2{query}", **headers)
    assert response.status_code == 200 and response["Content-Type"].startswith(expected)


def test_a_warm_answer_is_the_cold_one_with_its_own_request_id(served, articles):
    client = Client()
    cold = client.get("/goodsassoc/api/related/SKU-1/?limit=2").json()
    warm = [client.get("/goodsassoc/api/related/SKU-1/?limit=2").json() for _ in range(2)]
    assert len({cold["request_id"], *(w["request_id"] for w in warm)}) == 3
    for answer in warm:
        assert {**answer, "request_id": ""} == {**cold, "request_id": ""}


def test_cart_endpoint_uses_the_shopper(served, articles, shopper):
    client = Client()
    client.force_login(shopper)
    body = client.get("/goodsassoc/api/cart/?items=SKU-3&limit=3").json()
    assert body["items"][0]["key"] == "SKU-4" and body["items"][0]["reason"] == "bought_before"
    assert "SKU-3" not in [i["key"] for i in body["items"]]


def test_only_widgets_for_the_current_shopper_authenticate(served, articles, settings):
    """Related products need no shopper (authentication is lazy there, as DRF allows); the cart
    and shops widgets do, so wrong credentials are refused there as anywhere in DRF."""
    wrong = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"nobody:wrong").decode()}
    client = Client()
    assert client.get("/goodsassoc/api/related/SKU-1/?limit=2", **wrong).status_code == 200
    refused = {401, 403}  # (403 where the first authenticator sends no challenge, as session auth)
    assert client.get("/goodsassoc/api/cart/?items=SKU-1", **wrong).status_code in refused
    assert client.get("/goodsassoc/api/shops/", **wrong).status_code in refused
    settings.GOODSASSOC = {**settings.GOODSASSOC, "AB_TESTS": {"split": {"widgets": ["related"], "arms": {
        "model": {"share": 50}, "popular": {"share": 50, "strategy": "popular"}}}}}
    assert client.get("/goodsassoc/api/related/SKU-1/?limit=2", **wrong).status_code in refused


def test_shops_endpoint(served, sellers):
    body = Client().get("/goodsassoc/api/shops/").json()
    assert [i["key"] for i in body["items"]] == [str(sellers[0].pk)]
    assert body["items"][0]["title"] == str(sellers[0])


def test_schema_documents_every_endpoint(db, capsys):
    schema = Client().get("/goodsassoc/api/schema/?format=json").json()
    operations = {path: [op["operationId"] for op in methods.values()] for path, methods in schema["paths"].items()}
    assert operations == {"/goodsassoc/api/events/": ["goodsassoc_events_create"],
                          "/goodsassoc/api/related/{product}/": ["goodsassoc_related"],
                          "/goodsassoc/api/cart/": ["goodsassoc_cart"], "/goodsassoc/api/shops/": ["goodsassoc_shops"]}
    assert "Recommendations" in schema["components"]["schemas"]
    # drf-spectacular prints its warnings and errors; a clean schema prints none.
    out = capsys.readouterr()
    assert "Error" not in out.err + out.out and "Warning" not in out.err + out.out


def test_health(db):
    response = Client().get("/goodsassoc/health/")
    assert response.status_code == 200 and response.json() == {"status": "ok", "served_version": None}
