from __future__ import annotations

from typing import Any

from rest_framework.throttling import SimpleRateThrottle

from goodsassoc.conf import ga_settings


class EventsRateThrottle(SimpleRateThrottle):
    """Per user (or per client address) limit on event batches: GOODSASSOC['EVENTS_THROTTLE_RATE']."""

    scope = "goodsassoc_events"

    def get_rate(self) -> str | None:
        return ga_settings.EVENTS_THROTTLE_RATE

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        ident = f"user:{request.user.pk}" if request.user and request.user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
