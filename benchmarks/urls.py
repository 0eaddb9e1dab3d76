"""The demo shop's URLs plus a trivial DRF endpoint: the denominator of the serving benchmark."""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from shop_demo.urls import urlpatterns as shop_urls


class Trivial(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"ok": True})


urlpatterns = [path("bench/trivial/", Trivial.as_view()), *shop_urls]
