"""Include in the host's urls: ``path("goodsassoc/", include("goodsassoc.urls"))``."""

from django.urls import include, path

from goodsassoc.health import health

app_name = "goodsassoc"

urlpatterns = [
    path("api/", include("goodsassoc.api.urls")),
    path("health/", health, name="health"),
]
