"""URLs of the shop pages (namespace ``shop_demo``)."""

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from shop_demo import views

app_name = "shop_demo"

urlpatterns = [
    path("", views.home, name="home"),
    path("department/<int:pk>/", views.department, name="department"),
    path("category/<int:pk>/", views.category, name="category"),
    path("product/<int:pk>/", views.product_detail, name="product"),
    path("search/", views.search, name="search"),
    path("store/", views.choose_store, name="choose_store"),
    path("cart/", views.cart, name="cart"),
    path("cart/add/<int:pk>/", views.cart_add, name="cart_add"),
    path("cart/update/<int:pk>/", views.cart_update, name="cart_update"),
    path("cart/remove/<int:pk>/", views.cart_remove, name="cart_remove"),
    path("checkout/", views.checkout, name="checkout"),
    path("orders/", views.my_orders, name="orders"),
    path("orders/<int:pk>/", views.order_detail, name="order"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="shop_demo/login.html", next_page=reverse_lazy("shop_demo:home")),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page=reverse_lazy("shop_demo:home")), name="logout"),
]
