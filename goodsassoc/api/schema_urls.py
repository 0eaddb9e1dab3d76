"""The URLs the OpenAPI schema describes: goodsassoc's own API, mounted under /goodsassoc/api/."""

from django.urls import include, path

urlpatterns = [path("goodsassoc/api/", include(("goodsassoc.api.urls", "goodsassoc")))]
