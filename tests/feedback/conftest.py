import uuid

import pytest
from django.core.cache import cache

from goodsassoc.feedback import event_id
from tests.serving.factories import publish_version, related_rows, tables

URL = "/goodsassoc/api/events/"


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


@pytest.fixture
def served(articles):
    """A served version: on SKU-1's page, SKU-2 then SKU-3 are recommended."""
    rows = related_rows("SKU-1", "SKU-2", "SKU-3") + related_rows("SKU-2", "SKU-1")
    popular = [("all", "", rank, sku, 1.0 / rank, 10) for rank, sku in enumerate(["SKU-4", "SKU-3"], start=1)]
    return publish_version(tables(related=rows, popular=popular))


def impressions(request_id, keys, widget="related", anchor="SKU-1", version=None, **extra):
    return [{"event_id": str(event_id(request_id, n, "impression")), "kind": "impression", "request_id": request_id,
             "widget": widget, "position": n, "product": key, "strategy": "model", "anchor": anchor,
             **({"model_version": version} if version else {}), **extra}
            for n, key in enumerate(keys, start=1)]


def click(request_id, key, position, widget="related", anchor="SKU-1", **extra):
    return {"event_id": str(event_id(request_id, position, "click")), "kind": "click", "request_id": request_id,
            "widget": widget, "position": position, "product": key, "strategy": "model", "anchor": anchor, **extra}


def plain(kind, key, **extra):
    return {"event_id": str(uuid.uuid4()), "kind": kind, "product": key, **extra}


def post(client, events):
    return client.post(URL, {"events": events}, content_type="application/json")
