"""Widget results, cached per served version: in Django's cache, with a small copy of the hot
ones in each process's memory in front of it.

Keys carry the served version, so a publish invalidates every cached widget at once, and the
generation of the merchant's rules, so a rule change does too. The
in-process copy saves the shared cache's round trip for the widgets a process serves most
(product pages of best sellers, common carts); it holds ``WIDGET_LOCAL_CACHE_SIZE`` results for
at most ``WIDGET_LOCAL_CACHE_SECONDS``, and is off where Django's cache is off (``DummyCache``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.dummy import DummyCache

from goodsassoc.conf import ga_settings
from goodsassoc.publishing import STATE_CACHE_KEY, BriefRead, cached_served_version

logger = logging.getLogger("goodsassoc")
T = TypeVar("T")


class LocalCache:
    """A thread-safe LRU map with a deadline per entry."""

    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def set(self, key: str, value: Any, seconds: float, size: int) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic() + seconds, value)
            self._entries.move_to_end(key)
            while len(self._entries) > size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


local = LocalCache()
RULES_CACHE_KEY = "goodsassoc:rules-generation"
_rules = BriefRead(RULES_CACHE_KEY, default="")


def clear_local() -> None:
    """Forget this process's copies (Django's ``cache.clear()`` does not reach them)."""
    local.clear()
    _rules.forget()


def rules_changed(**kwargs: Any) -> None:
    """A merchant's rule was saved or deleted: cached widgets stop being used within seconds
    (each process re-reads the rules' generation every ``LOCAL_SECONDS``), not after
    ``WIDGET_CACHE_SECONDS``."""
    local.clear()
    _rules.forget()
    try:
        cache.set(RULES_CACHE_KEY, secrets.token_hex(4), None)
    except Exception:
        logger.warning("goodsassoc: cache unavailable; a rule change shows once cached widgets expire")


def new_request_id() -> str:
    """A widget answer's id for feedback tracking: 128 random bits as 32 hex digits (a uuid4's
    hex form, at a quarter of its cost; every answer, warm or cold, gets one)."""
    return secrets.token_hex(16)


def _backend() -> Any:
    """Django's default cache, or None where it is misconfigured (widgets then render uncached)."""
    try:
        return caches[DEFAULT_CACHE_ALIAS]
    except Exception:
        return None


def local_enabled() -> bool:
    """Whether results are also kept in this process's memory (not where Django's cache is off,
    or misconfigured)."""
    return _local_on(_backend())


def _local_on(backend: Any) -> bool:
    if ga_settings.WIDGET_LOCAL_CACHE_SIZE <= 0 or ga_settings.WIDGET_LOCAL_CACHE_SECONDS <= 0:
        return False
    return backend is not None and not isinstance(backend, DummyCache)


def cached(widget: str, parts: Sequence[Any], compute: Callable[[], T], *, pinned: bool = False) -> T:
    """The widget's result for ``parts`` under the served version, computed on a miss.

    A cached result holds what rendering needs (titles, prices, links), so a warm widget costs
    no query at all; each answer gets its own request id. ``pinned`` marks a result computed
    for another version than the served one (an A/B arm's): it must not teach the cache
    which version is served.
    """
    backend = _backend()
    if isinstance(backend, DummyCache):  # Django's cache is off: nothing to key, read or write
        return compute()
    served = cached_served_version()
    generation = _rules.get()
    digest = hashlib.sha256(json.dumps([widget, generation, *parts], default=str).encode()).hexdigest()[:32]
    use_local = _local_on(backend)
    if served is not None:
        key = f"goodsassoc:w:{served}:{digest}"
        hit = local.get(key) if use_local else None
        if hit is None:
            try:
                hit = cache.get(key)
            except Exception:
                hit = None
            if hit is not None and use_local:
                local.set(key, hit, ga_settings.WIDGET_LOCAL_CACHE_SECONDS, ga_settings.WIDGET_LOCAL_CACHE_SIZE)
        if hit is not None:
            return replace(hit, request_id=new_request_id())
    result = compute()
    version = served if served is not None else getattr(result, "model_version", None)
    if version is None:
        return result
    key = f"goodsassoc:w:{version}:{digest}"
    try:
        if served is None and not pinned:
            cache.add(STATE_CACHE_KEY, version, ga_settings.SERVED_VERSION_CACHE_SECONDS)
        cache.set(key, result, ga_settings.WIDGET_CACHE_SECONDS)
    except Exception:
        logger.warning("goodsassoc: cache unavailable; widgets are computed from the database")
    if use_local and served is not None:
        local.set(key, result, ga_settings.WIDGET_LOCAL_CACHE_SECONDS, ga_settings.WIDGET_LOCAL_CACHE_SIZE)
    return result
