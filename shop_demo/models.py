"""Catalogue, stores and orders of the demo shop.

External codes (``code``, ``external_basket_id``) hold the Complete Journey
ids so that ``load_demo`` can upsert on them and keep primary keys stable
across reloads: goodsassoc keys its history on those primary keys.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.urls import reverse


class Department(models.Model):
    """Top level of the category path (e.g. "Grocery")."""

    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("shop_demo:department", args=[self.pk])


class Category(models.Model):
    """Second level (Complete Journey's ``product_category``)."""

    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="categories")
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ("name",)
        verbose_name_plural = "categories"
        constraints = (models.UniqueConstraint(fields=["department", "name"], name="shop_demo_category_unique"),)

    def __str__(self) -> str:
        return f"{self.department} > {self.name}"

    def get_absolute_url(self) -> str:
        return reverse("shop_demo:category", args=[self.pk])


class ProductType(models.Model):
    """Third level (Complete Journey's ``product_type``)."""

    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="product_types")
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ("name",)
        constraints = (models.UniqueConstraint(fields=["category", "name"], name="shop_demo_producttype_unique"),)

    def __str__(self) -> str:
        return f"{self.category} > {self.name}"


class Manufacturer(models.Model):
    """A manufacturer; the data only gives numbers, hence "Manufacturer 69"."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Brand(models.Model):
    """A brand; Complete Journey only distinguishes "National" and "Private"."""

    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Store(models.Model):
    """A shop where orders are placed; every product is sold in every store."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    """A sellable product; ``code`` is the Complete Journey ``product_id``."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200, db_index=True)
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="products")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, null=True, blank=True, related_name="products")
    product_type = models.ForeignKey(
        ProductType, on_delete=models.PROTECT, null=True, blank=True, related_name="products"
    )
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, null=True, blank=True, related_name="products")
    manufacturer = models.ForeignKey(
        Manufacturer, on_delete=models.PROTECT, null=True, blank=True, related_name="products"
    )
    package_size = models.CharField(max_length=50, blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    is_available = models.BooleanField(default=True)
    # Number of orders containing the product, set by load_demo; orders the listings.
    popularity = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("-popularity", "name")
        indexes = (
            models.Index(fields=["-popularity", "name"], name="shop_demo_product_pop"),
            models.Index(fields=["category", "-popularity"], name="shop_demo_product_cat_pop"),
            models.Index(fields=["department", "-popularity"], name="shop_demo_product_dep_pop"),
        )

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("shop_demo:product", args=[self.pk])

    @property
    def category_path(self) -> list[str]:
        """Department > category > product type, as goodsassoc's category_path."""
        parts = [self.department.name]
        if self.category_id:
            parts.append(self.category.name)
        if self.product_type_id:
            parts.append(self.product_type.name)
        return parts


class Order(models.Model):
    """A placed order; imported baskets carry their Complete Journey basket id."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shop_orders")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="orders")
    created_at = models.DateTimeField(db_index=True)
    external_basket_id = models.CharField(max_length=32, unique=True, null=True, blank=True)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))

    class Meta:
        ordering = ("-created_at", "-pk")
        indexes = (models.Index(fields=["user", "-created_at"], name="shop_demo_order_user_date"),)

    def __str__(self) -> str:
        return f"Order {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("shop_demo:order", args=[self.pk])


class OrderLine(models.Model):
    """One product of an order; one line per product."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_lines")
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    line_value = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ("pk",)
        constraints = (models.UniqueConstraint(fields=["order", "product"], name="shop_demo_orderline_unique"),)

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product}"
