"""The three widgets as JSON, for JavaScript storefronts: the same selectors as the template tags."""

from __future__ import annotations

from typing import Any

import orjson
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.views import APIView

from goodsassoc import selectors, widget_cache
from goodsassoc.api.openapi import Schema
from goodsassoc.api.serializers import ErrorResponseSerializer, RecommendationsSerializer
from goodsassoc.conf import ga_settings
from goodsassoc.privacy import identity_for_request
from goodsassoc.widget_cache import LocalCache

MAX_LIMIT = 50


class WidgetQuery(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=10)
    same_shop = serializers.BooleanField(default=False)
    same_category = serializers.BooleanField(default=False)
    items = serializers.CharField(required=False, allow_blank=True, default="",
                                  help_text="Comma-separated product keys in the cart.")


def _bad_query(errors: dict[str, Any]) -> Response:
    flat = [{"field": name, "message": " ".join(str(m) for m in messages)} for name, messages in errors.items()]
    return Response({"detail": "Invalid query parameters.", "errors": flat}, status=status.HTTP_400_BAD_REQUEST)


def _items(result: selectors.Recommendations) -> list[dict[str, Any]]:
    return [{"position": i.position, "key": i.key, "title": i.title, "price": i.price, "url": i.url or None,
             "score": round(i.score, 6), "reason": i.reason, "reason_text": i.text, "evidence": i.evidence}
            for i in result]


def _head(result: selectors.Recommendations) -> dict[str, Any]:
    return {"widget": result.widget, "request_id": result.request_id, "model_version": result.model_version,
            "strategy": result.strategy, "arm": result.arm}


_default = JSONEncoder().default  # what DRF's JSON renderer makes of other types (lazy text, decimals, ...)


def _json(value: Any) -> bytes:
    """Compact UTF-8 JSON, as DRF's renderer writes it, with orjson (about a third of the standard
    library encoder's time for a widget's response)."""
    return orjson.dumps(value, default=_default)


# Results served from a process's memory (goodsassoc.widget_cache) share their items tuple, so
# its JSON is written once per copy, not per request. An entry holds the tuple itself: while it
# lives, no other object can take its id.
_written = LocalCache()


def _items_json(result: selectors.Recommendations) -> bytes:
    if not result.items or not widget_cache.local_enabled():  # (no copies: each result is new)
        return _json(_items(result))
    size, seconds = ga_settings.WIDGET_LOCAL_CACHE_SIZE, ga_settings.WIDGET_LOCAL_CACHE_SECONDS
    key = str(id(result.items))
    entry = _written.get(key)
    if entry is not None and entry[0] is result.items:
        return entry[1]
    text = _json(_items(result))
    _written.set(key, (result.items, text), seconds, size)
    return text


DEFAULTS = {"limit": 10, "same_shop": False, "same_category": False, "items": ""}
FLAGS = {"true": True, "True": True, "1": True, "false": False, "False": False, "0": False}


def _plain_query(params: Any) -> dict[str, Any] | None:
    """The usual query, read without the serializer machinery that costs more than a cached
    widget; None for anything unusual, which the serializer then accepts or words as an error."""
    options = dict(DEFAULTS)
    for name in params:
        if name not in options:
            continue  # unknown parameters are ignored, as by the serializer
        value = params[name]
        if name == "limit":
            if not (value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_LIMIT):
                return None
            options[name] = int(value)
        elif name == "items":
            options[name] = value.strip()
        elif value in FLAGS:
            options[name] = FLAGS[value]
        else:
            return None
    return options


class WidgetNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, answered at once for what storefront scripts send (no Accept header,
    ``*/*`` or ``application/json``, and no ``?format=``): the choice DRF itself would make,
    without parsing the header, which costs a cold widget more than its JSON does."""

    def select_renderer(self, request: Request, renderers: list, format_suffix: str | None = None) -> tuple:
        accept = request.META.get("HTTP_ACCEPT", "*/*")
        if renderers and not format_suffix and self.settings.URL_FORMAT_OVERRIDE not in request.query_params:
            first = renderers[0]
            if accept == "*/*" or (accept == "application/json" and first.media_type == accept):
                return first, first.media_type
        return super().select_renderer(request, renderers, format_suffix)


class _WidgetView(APIView):
    permission_classes = [AllowAny]
    schema = Schema()
    content_negotiation_class = WidgetNegotiation

    def perform_authentication(self, request: Request) -> None:
        """Authenticate lazily (DRF's documented way): only when the view, a throttle or a
        permission reads ``request.user``. The shops and cart widgets always do (they are for
        the current shopper); related products only while an A/B test runs on it, so a product
        page's widget costs no authentication, which is about a tenth of a cold one's time."""

    def query(self, request: Request) -> tuple[dict[str, Any] | None, Response | None]:
        options = _plain_query(request.query_params)
        if options is not None:
            return options, None
        query = WidgetQuery(data=request.query_params)
        if not query.is_valid():
            return None, _bad_query(query.errors)
        return query.validated_data, None

    def answer(self, request: Request, result: selectors.Recommendations) -> HttpResponse | Response:
        """JSON written in one step for JSON clients; the browsable API and other renderers as usual."""
        if type(request.accepted_renderer) is not JSONRenderer:
            return Response({**_head(result), "items": _items(result)})
        body = b"".join((_json(_head(result))[:-1], b',"items":', _items_json(result), b"}"))
        return HttpResponse(body, content_type="application/json")


LIMIT = OpenApiParameter("limit", OpenApiTypes.INT, description=f"How many items (1-{MAX_LIMIT}, default 10).")
RESPONSES = {200: RecommendationsSerializer, 400: OpenApiResponse(ErrorResponseSerializer)}


@extend_schema(
    tags=["widgets"], responses={**RESPONSES, 404: ErrorResponseSerializer},
    parameters=[LIMIT, OpenApiParameter("same_shop", OpenApiTypes.BOOL, description="Only the product's own shop."),
                OpenApiParameter("same_category", OpenApiTypes.BOOL, description="Only the product's category.")],
)
class RelatedView(_WidgetView):
    """Related products for a product page."""

    operation_id = "goodsassoc_related"

    def get(self, request: Request, product: str) -> Response:
        options, error = self.query(request)
        if error:
            return error
        identity = identity_for_request(request, request.user, create=False) if ga_settings.AB_TESTS else None
        result = selectors.related_products(product, limit=options["limit"], same_shop=options["same_shop"],
                                            same_category=options["same_category"], identity=identity)
        if result.strategy == selectors.UNKNOWN_PRODUCT:
            return Response({"detail": "Unknown product.", "errors": [{"field": "product", "message":
                             f"No product with key {product!r}."}]}, status=status.HTTP_404_NOT_FOUND)
        return self.answer(request, result)


@extend_schema(
    tags=["widgets"], responses=RESPONSES,
    parameters=[LIMIT, OpenApiParameter("items", OpenApiTypes.STR, description="Comma-separated product keys.")],
)
class CartView(_WidgetView):
    """Recommendations that complete a cart, for the current shopper."""

    operation_id = "goodsassoc_cart"

    def get(self, request: Request) -> Response:
        options, error = self.query(request)
        if error:
            return error
        items = [k.strip() for k in options["items"].split(",") if k.strip()]
        if len(items) > 100:
            return _bad_query({"items": ["At most 100 products."]})
        shopper = identity_for_request(request, request.user, create=False)
        result = selectors.cart_recommendations(items, identity=shopper, limit=options["limit"])
        return self.answer(request, result)


@extend_schema(tags=["widgets"], responses=RESPONSES, parameters=[LIMIT])
class ShopsView(_WidgetView):
    """Shops the current shopper may like, including ones they have not used yet."""

    operation_id = "goodsassoc_shops"

    def get(self, request: Request) -> Response:
        options, error = self.query(request)
        if error:
            return error
        shopper = identity_for_request(request, request.user, create=False)
        result = selectors.shops_for_shopper(shopper, limit=options["limit"])
        return self.answer(request, result)
