"""Admin for the catalogue, stores and orders."""

from django.contrib import admin

from shop_demo.models import (
    Brand,
    Category,
    Department,
    Manufacturer,
    Order,
    OrderLine,
    Product,
    ProductType,
    Store,
)


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    search_fields = ("name",)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "department")
    list_filter = ("department",)
    search_fields = ("name",)


@admin.register(ProductType)
class ProductTypeAdmin(admin.ModelAdmin):
    list_display = ("name", "category")
    search_fields = ("name", "category__name")
    list_select_related = ("category__department",)


@admin.register(Manufacturer)
class ManufacturerAdmin(admin.ModelAdmin):
    list_display = ("name", "code")
    search_fields = ("name", "code")


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    search_fields = ("name",)


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ("name", "code")
    search_fields = ("name", "code")


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "department", "category", "brand", "price", "is_available", "popularity")
    list_filter = ("is_available", "brand", "department")
    list_editable = ("is_available",)
    search_fields = ("name", "code")
    list_select_related = ("department", "category__department", "brand")
    raw_id_fields = ("category", "product_type", "manufacturer")


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    raw_id_fields = ("product",)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("pk", "user", "store", "created_at", "total", "external_basket_id")
    list_select_related = ("user", "store")
    search_fields = ("external_basket_id", "user__username")
    date_hierarchy = "created_at"
    raw_id_fields = ("user", "store")
    inlines = (OrderLineInline,)
