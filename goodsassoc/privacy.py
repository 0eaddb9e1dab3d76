"""Who did it, without storing who they are.

A logged-in user is stored as a keyed pseudonym: HMAC-SHA256 of the user id under a
secret that never leaves the server. A shopper who is not logged in is a random
anonymous id kept in goodsassoc's own cookie. Neither can be turned back into a person
without the secret and the host's user table; see docs/privacy.md.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from goodsassoc.conf import ga_settings

PSEUDONYM_LENGTH = 32  # hex characters: 128 bits
_ANON_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def _pseudonym_key() -> bytes:
    key = ga_settings.PSEUDONYM_KEY
    if key:
        return key.encode() if isinstance(key, str) else bytes(key)
    # Derived, never the SECRET_KEY itself; check goodsassoc.W001 recommends a key of its own.
    return hmac.new(settings.SECRET_KEY.encode(), b"goodsassoc.pseudonym-key", hashlib.sha256).digest()


def pseudonymise(user_id: Any) -> str:
    """The stored stand-in for a host user id (stable while the key stays the same)."""
    digest = hmac.new(_pseudonym_key(), f"user:{user_id}".encode(), hashlib.sha256).hexdigest()
    return digest[:PSEUDONYM_LENGTH]


def user_pseudonym(user: Any) -> str:
    """Pseudonym of an authenticated user; empty for anonymous users and None."""
    if user is None or not getattr(user, "is_authenticated", False):
        return ""
    return pseudonymise(getattr(user, ga_settings.USER_ID_ATTRIBUTE))


def new_anonymous_id() -> str:
    return str(uuid.uuid4())


def is_anonymous_id(value: Any) -> bool:
    return isinstance(value, str) and bool(_ANON_RE.match(value))


@dataclass(frozen=True)
class Identity:
    """The shopper an event belongs to, already pseudonymised."""

    user_pseudonym: str = ""
    anonymous_id: str = ""


def shopper_key(identity: Identity | None) -> str:
    """The key a shopper has in the training data: the pseudonym, else the anonymous id."""
    if identity is None:
        return ""
    return identity.user_pseudonym or identity.anonymous_id


class ShopperIdentity:
    """Per-request identity; the anonymous id is created only when first needed."""

    def __init__(self, request: Any) -> None:
        self._request = request
        cookie = request.COOKIES.get(ga_settings.ANONYMOUS_COOKIE_NAME, "")
        self._anonymous_id = cookie if is_anonymous_id(cookie) else ""
        self.created = False

    @property
    def anonymous_id(self) -> str:
        if not self._anonymous_id:
            self._anonymous_id = new_anonymous_id()
            self.created = True
        return self._anonymous_id

    @property
    def existing_anonymous_id(self) -> str:
        """The id from the cookie, without creating one."""
        return self._anonymous_id

    def identity(self, user: Any = None, create: bool = True) -> Identity:
        pseudonym = user_pseudonym(user if user is not None else getattr(self._request, "user", None))
        return Identity(user_pseudonym=pseudonym,
                        anonymous_id=self.anonymous_id if create else self.existing_anonymous_id)


def identity_for_request(request: Any, user: Any = None, create: bool = True) -> Identity:
    """Identity of the shopper behind ``request`` (works without the middleware too).

    ``user`` overrides ``request.user``, e.g. the user a DRF authenticator found. Reading
    recommendations passes ``create=False``: a page that only shows widgets gives a new visitor
    no id and no cookie (and stays cacheable); recording an event creates one.
    """
    shopper = getattr(request, "goodsassoc", None)
    if shopper is None:
        shopper = ShopperIdentity(request)
        request.goodsassoc = shopper
    return shopper.identity(user, create=create)


def identity_for_user(user: Any) -> Identity:
    return Identity(user_pseudonym=user_pseudonym(user))
