"""A host goodsassoc has never seen: SKU primary keys, UUID sellers, its own names."""

import uuid

from django.conf import settings
from django.db import models


class Seller(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    label = models.CharField(max_length=100)


class Article(models.Model):
    sku = models.CharField(max_length=32, primary_key=True)
    headline = models.CharField(max_length=200)
    seller = models.ForeignKey(Seller, on_delete=models.CASCADE, related_name="articles")
    section = models.CharField(max_length=200, blank=True, help_text="'Home > Kitchen > Knives'")
    maker = models.CharField(max_length=100, blank=True)
    cost = models.DecimalField(max_digits=10, decimal_places=2)
    in_stock = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.headline


class Purchase(models.Model):
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    placed_at = models.DateTimeField(auto_now_add=True)


class PurchaseItem(models.Model):
    purchase = models.ForeignKey(Purchase, on_delete=models.CASCADE, related_name="items")
    article = models.ForeignKey(Article, on_delete=models.CASCADE)
    count = models.PositiveIntegerField(default=1)
    each = models.DecimalField(max_digits=10, decimal_places=2)
