"""How goodsassoc reads the demo shop's products: the attribute paths of the settings, plus, for
training, the relations that ``Product.category_path`` walks, loaded in the same query."""

from typing import Any

from goodsassoc.adapters import AttributeProductAdapter


class DemoProductAdapter(AttributeProductAdapter):
    def get_queryset(self, full: bool = False) -> Any:
        queryset = super().get_queryset(full)
        return queryset.select_related("department", "category", "product_type") if full else queryset
