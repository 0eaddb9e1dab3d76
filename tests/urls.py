from django.contrib import admin
from django.contrib.auth import authenticate, login
from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def plain_login(request):
    """A host's login view: goodsassoc links the shopper's history through user_logged_in."""
    user = authenticate(request, username=request.POST["username"], password=request.POST["password"])
    if user is None:
        return HttpResponse(status=403)
    login(request, user)
    return HttpResponse("ok")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", plain_login),
    path("goodsassoc/", include("goodsassoc.urls")),
]
