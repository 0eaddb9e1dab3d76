"""Root URLconf of the demo shop: admin, goodsassoc, and the shop itself."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("goodsassoc/", include("goodsassoc.urls")),
    path("", include("shop_demo.shop_urls")),
]
