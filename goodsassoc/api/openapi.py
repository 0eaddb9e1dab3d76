"""The schema class of goodsassoc's views: drf-spectacular's, whatever the host's
``DEFAULT_SCHEMA_CLASS`` is, with each view's own stable operation id (client generators name
their methods after it)."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema


class Schema(AutoSchema):
    def get_operation_id(self) -> str:
        return getattr(self.view, "operation_id", "") or super().get_operation_id()
