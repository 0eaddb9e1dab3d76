"""Lazy access to the host's own models, named in settings and never imported.

Products and shops are stored by goodsassoc as string keys (``str(pk)``), so its
migrations depend on no host app; this module maps between keys and host rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models

from goodsassoc.conf import ga_settings

MAX_KEY_LENGTH = 64


class HostModelError(LookupError):
    """A model named in settings cannot be resolved."""


@cache
def _model(label: str) -> type[models.Model]:
    try:
        return apps.get_model(label, require_ready=True)
    except (LookupError, ValueError) as exc:
        raise HostModelError(f"{label!r} is not an installed model: {exc}") from exc


def product_model() -> type[models.Model]:
    label = ga_settings.PRODUCT_MODEL
    if not label:
        raise HostModelError("GOODSASSOC['PRODUCT_MODEL'] is not set")
    return _model(label)


def shop_model() -> type[models.Model] | None:
    label = ga_settings.SHOP_MODEL
    return _model(label) if label else None


@cache
def get_adapter() -> Any:
    return ga_settings.PRODUCT_ADAPTER()


def to_key(value: Any) -> str:
    """A host object or primary key as goodsassoc's string key."""
    if isinstance(value, models.Model):
        value = value.pk
    return str(value)


def primary_keys(model: type[models.Model], keys: Iterable[str]) -> dict[Any, list[str]]:
    """The given keys that can be primary keys of ``model``, by the value each one parses to;
    a key that cannot be one names no row (and is never put in a query)."""
    pk_field = model._meta.pk
    parsed: dict[Any, list[str]] = {}
    for key in set(keys):
        try:
            value = pk_field.to_python(key)
        except (ValidationError, TypeError, ValueError):
            continue
        if isinstance(value, int) and not -(2**63) <= value < 2**63:
            continue  # beyond any integer column (and no overflow in the query)
        parsed.setdefault(value, []).append(key)
    return parsed


def _canonical_keys(model: type[models.Model], keys: Iterable[str]) -> dict[str, str]:
    """Map each given key that names an existing row to that row's canonical key (``str(pk)``).

    "0012" for an integer key or an upper-case UUID thus find their row, and are stored
    the way the host itself would print the key.
    """
    parsed = primary_keys(model, keys)
    found: dict[str, str] = {}
    values = list(parsed)
    for start in range(0, len(values), 5000):
        chunk = values[start : start + 5000]
        for pk in model._default_manager.filter(pk__in=chunk).values_list("pk", flat=True):
            for key in parsed.get(pk, ()):
                found[key] = str(pk)
    return found


def existing_product_keys(keys: Iterable[str]) -> dict[str, str]:
    """Given keys that name products in the host catalogue, mapped to their canonical form."""
    return _canonical_keys(product_model(), keys)


def existing_shop_keys(keys: Iterable[str]) -> dict[str, str]:
    model = shop_model()
    if model is None:
        return {}
    return _canonical_keys(model, keys)


def product_shops(keys: Iterable[str] | None = None) -> dict[str, str]:
    """Each product's own shop (a marketplace), for the given product keys or the whole catalogue."""
    adapter = get_adapter()
    if not adapter.provides_shop():
        return {}
    products = adapter.get_queryset()
    if keys is not None:
        products = products.filter(pk__in=list(keys))
    return {str(p.pk): shop for p in products.iterator(chunk_size=5000) if (shop := adapter.get_shop(p))}


def all_product_keys() -> set[str]:
    return {str(pk) for pk in product_model()._default_manager.values_list("pk", flat=True).iterator(chunk_size=10_000)}


def all_shop_keys() -> set[str]:
    model = shop_model()
    if model is None:
        return set()
    return {str(pk) for pk in model._default_manager.values_list("pk", flat=True)}


def clear_caches() -> None:
    _model.cache_clear()
    get_adapter.cache_clear()
