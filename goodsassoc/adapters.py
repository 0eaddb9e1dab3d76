"""Product adapters: how goodsassoc reads the host's products.

The default follows attribute paths from ``GOODSASSOC['PRODUCT_ATTRIBUTES']``; a host
with unusual models subclasses :class:`ProductAdapter` and names it in
``GOODSASSOC['PRODUCT_ADAPTER']``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ObjectDoesNotExist

from goodsassoc.conf import ga_settings

ATTRIBUTE_NAMES = ("title", "category_path", "brand", "manufacturer", "price", "shop", "available")
WIDGET_ATTRIBUTES = ("title", "price", "shop", "available")  # what showing a recommendation reads


@dataclass(frozen=True)
class ProductInfo:
    """What goodsassoc knows of a product, as plain values."""

    key: str
    title: str = ""
    category_path: tuple[str, ...] = ()
    brand: str | None = None
    manufacturer: str | None = None
    price: float | None = None
    shop: str | None = None
    available: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def _is_forward_relation(model: Any, parts: list[str]) -> bool:
    """Whether ``a__b`` names a chain of foreign keys / one-to-ones from ``model``."""
    for part in parts:
        try:
            field = model._meta.get_field(part)
        except Exception:
            return False
        if not (field.is_relation and (field.many_to_one or field.one_to_one) and field.related_model):
            return False
        model = field.related_model
    return True


def resolve_path(obj: Any, path: str | None) -> Any:
    """Follow ``a__b__c`` from ``obj``; call a callable at the end; None if broken."""
    if not path:
        return None
    value = obj
    for part in path.split("__"):
        if value is None:
            return None
        try:
            value = getattr(value, part)
        except ObjectDoesNotExist:
            return None
    if callable(value):
        value = value()
    return value


class ProductAdapter:
    """Base adapter; subclasses override the ``get_*`` methods they need."""

    def get_queryset(self, full: bool = False) -> Any:
        """Products in one query: for a widget (title, price, availability, shop) or, with
        ``full``, for training (every attribute). Add ``select_related`` here."""
        from goodsassoc import hosts

        return hosts.product_model()._default_manager.all()

    def get_title(self, product: Any) -> str:
        return str(product)

    def get_category_path(self, product: Any) -> tuple[str, ...]:
        return ()

    def get_brand(self, product: Any) -> str | None:
        return None

    def get_manufacturer(self, product: Any) -> str | None:
        return None

    def get_price(self, product: Any) -> float | None:
        return None

    def get_shop(self, product: Any) -> str | None:
        return None

    def is_available(self, product: Any) -> bool:
        return True

    def provides_shop(self) -> bool:
        """Whether products belong to one shop (a marketplace), so events can inherit it."""
        return type(self).get_shop is not ProductAdapter.get_shop

    def describe(self, product: Any) -> ProductInfo:
        return ProductInfo(
            key=str(product.pk),
            title=self.get_title(product),
            category_path=self.get_category_path(product),
            brand=self.get_brand(product),
            manufacturer=self.get_manufacturer(product),
            price=self.get_price(product),
            shop=self.get_shop(product),
            available=self.is_available(product),
        )


@functools.lru_cache(maxsize=64)
def _relations(model: Any, attributes: tuple[tuple[str, Any], ...], full: bool) -> tuple[str, ...]:
    """The forward relations the attribute paths walk (worked out once: widgets ask per request)."""
    related = set()
    needed = ATTRIBUTE_NAMES if full else WIDGET_ATTRIBUTES
    for name, path in attributes:
        if name not in needed:
            continue
        parts = (path or "").split("__")  # the last step too: "shop": "seller" is a relation
        for depth in range(1, len(parts) + 1):
            if _is_forward_relation(model, parts[:depth]):
                related.add("__".join(parts[:depth]))
    return tuple(sorted(related))


class AttributeProductAdapter(ProductAdapter):
    """Reads each attribute through the path configured in PRODUCT_ATTRIBUTES."""

    def get_queryset(self, full: bool = False) -> Any:
        """Follows the relations of the paths needed (all of them with ``full``) in the same query."""
        queryset = super().get_queryset(full)
        related = _relations(queryset.model, tuple(ga_settings.PRODUCT_ATTRIBUTES.items()), full)
        return queryset.select_related(*related) if related else queryset

    def _get(self, product: Any, name: str) -> Any:
        return resolve_path(product, ga_settings.PRODUCT_ATTRIBUTES.get(name))

    def get_title(self, product: Any) -> str:
        value = self._get(product, "title")
        return str(product) if value is None else str(value)

    def get_category_path(self, product: Any) -> tuple[str, ...]:
        value = self._get(product, "category_path")
        if value is None:
            return ()
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(">") if part.strip())
        return tuple(str(part) for part in value if part is not None and str(part) != "")

    def get_brand(self, product: Any) -> str | None:
        value = self._get(product, "brand")
        return None if value is None else str(value)

    def get_manufacturer(self, product: Any) -> str | None:
        value = self._get(product, "manufacturer")
        return None if value is None else str(value)

    def get_price(self, product: Any) -> float | None:
        value = self._get(product, "price")
        if value is None:
            return None
        return float(value) if isinstance(value, (int, float, Decimal)) else float(str(value))

    def provides_shop(self) -> bool:
        return bool(ga_settings.PRODUCT_ATTRIBUTES.get("shop"))

    def get_shop(self, product: Any) -> str | None:
        value = self._get(product, "shop")
        if value is None:
            return None
        return str(getattr(value, "pk", value))

    def is_available(self, product: Any) -> bool:
        path = ga_settings.PRODUCT_ATTRIBUTES.get("available")
        return True if not path else bool(resolve_path(product, path))
