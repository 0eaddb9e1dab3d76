"""Gives each shopper an anonymous id in goodsassoc's own cookie, when one is needed."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from goodsassoc.conf import ga_settings
from goodsassoc.privacy import ShopperIdentity


class AnonymousIdMiddleware:
    """Place after AuthenticationMiddleware.

    The cookie is set only on responses to requests that recorded something, so pages
    that record nothing stay cacheable and cookie-free.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        shopper = ShopperIdentity(request)
        request.goodsassoc = shopper
        response = self.get_response(request)
        if shopper.created:
            secure = ga_settings.ANONYMOUS_COOKIE_SECURE
            response.set_cookie(
                ga_settings.ANONYMOUS_COOKIE_NAME,
                shopper.existing_anonymous_id,
                max_age=ga_settings.ANONYMOUS_COOKIE_AGE,
                secure=settings.SESSION_COOKIE_SECURE if secure is None else secure,
                httponly=True,
                samesite=ga_settings.ANONYMOUS_COOKIE_SAMESITE,
            )
        return response
