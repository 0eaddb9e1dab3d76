"""POST a batch of shopper events: all stored or none, each stored once."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from goodsassoc.abstract_models import InteractionSource
from goodsassoc.api.openapi import Schema
from goodsassoc.api.serializers import ErrorResponseSerializer, EventBatchResultSerializer, EventBatchSerializer
from goodsassoc.api.throttling import EventsRateThrottle
from goodsassoc.conf import ga_settings
from goodsassoc.privacy import identity_for_request
from goodsassoc.recording import RecordingError, record_events


def _error(detail: str, errors: list[dict[str, Any]], code: int) -> Response:
    return Response({"detail": detail, "errors": errors}, status=code)


@extend_schema(
    request=EventBatchSerializer,
    responses={
        200: OpenApiResponse(EventBatchResultSerializer, description="Every event had been stored before."),
        201: OpenApiResponse(EventBatchResultSerializer, description="The batch was stored."),
        400: OpenApiResponse(ErrorResponseSerializer, description="Invalid events; nothing was stored."),
        413: OpenApiResponse(ErrorResponseSerializer, description="Too many events in one batch."),
        429: OpenApiResponse(description="Too many requests."),
    },
    tags=["events"],
)
class EventBatchView(APIView):
    """Record shopper events (views, cart changes, purchases, recommendation feedback)."""

    permission_classes = [AllowAny]
    throttle_classes = [EventsRateThrottle]
    parser_classes = [JSONParser]
    operation_id = "goodsassoc_events_create"
    schema = Schema()

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, ParseError):
            return _error("The body is not valid JSON.", [{"field": "body", "message": str(exc.detail)}],
                          status.HTTP_400_BAD_REQUEST)
        return super().handle_exception(exc)

    def post(self, request: Request) -> Response:
        payload = request.data
        events = payload.get("events") if isinstance(payload, dict) else None
        if not isinstance(events, list):
            return _error("Expected a JSON object with a list under 'events'.",
                          [{"field": "events", "message": "This field is required and must be a list."}],
                          status.HTTP_400_BAD_REQUEST)
        unknown = sorted(set(payload) - {"events"})
        if unknown:
            return _error("Unknown top-level field(s).",
                          [{"field": name, "message": "Unknown field; expected only 'events'."} for name in unknown],
                          status.HTTP_400_BAD_REQUEST)
        limit = ga_settings.EVENTS_MAX_BATCH
        if len(events) > limit:
            return _error(f"At most {limit} events per batch.",
                          [{"field": "events", "message": f"At most {limit} events per batch; got {len(events)}."}],
                          status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        if not events:
            return _error("The batch is empty.", [{"field": "events", "message": "Send at least one event."}],
                          status.HTTP_400_BAD_REQUEST)
        trusted = bool(request.user and request.user.is_authenticated
                       and request.user.has_perm(ga_settings.EVENTS_TRUSTED_PERMISSION))
        try:
            result = record_events(events, identity=identity_for_request(request, request.user),
                                   source=InteractionSource.API, trusted=trusted, require_event_id=True)
        except RecordingError as exc:
            return _error("Invalid events; nothing was stored.", [e.as_dict() for e in exc.errors],
                          status.HTTP_400_BAD_REQUEST)
        code = status.HTTP_201_CREATED if result.stored else status.HTTP_200_OK
        return Response({"stored": result.stored, "duplicates": result.duplicates}, status=code)
