"""A health check for load balancers and container orchestrators."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache


@never_cache
def health(request: HttpRequest) -> JsonResponse:
    """200 when the database answers; says which model version is served."""
    from goodsassoc.publishing import served_version_id

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        version = served_version_id()
    except Exception as exc:
        return JsonResponse({"status": "error", "error": exc.__class__.__name__}, status=503)
    return JsonResponse({"status": "ok", "served_version": version})
