"""Include in the host's urls: ``path("goodsassoc/", include("goodsassoc.urls"))``."""

from django.urls import include, path

app_name = "goodsassoc"

urlpatterns = [path("api/", include("goodsassoc.api.urls"))]
