from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from goodsassoc.api.events import EventBatchView
from goodsassoc.api.widgets import CartView, RelatedView, ShopsView

# The documented endpoints (also what the OpenAPI schema describes).
endpoints = [
    path("events/", EventBatchView.as_view(), name="events"),
    path("related/<str:product>/", RelatedView.as_view(), name="related"),
    path("cart/", CartView.as_view(), name="cart"),
    path("shops/", ShopsView.as_view(), name="shops"),
]

class schema_urlconf:  # noqa: N801  (a urlconf module stand-in)
    """goodsassoc's endpoints as mounted in a host: /goodsassoc/api/..."""

    urlpatterns = [path("goodsassoc/api/", include((endpoints, "goodsassoc")))]


urlpatterns = [
    *endpoints,
    path("schema/", SpectacularAPIView.as_view(urlconf=schema_urlconf,
                                               custom_settings={"TITLE": "goodsassoc API"}), name="schema"),
]
