"""simulate_shoppers: held-out Complete Journey baskets replayed through the real widgets."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count
from django.utils import timezone

from goodsassoc import dashboard
from goodsassoc.models import AttributedConversion, FeedbackDaily, ImpressionSet, Interaction, RecommendationClick
from shop_demo.models import Order, OrderLine, Product
from tests.serving.factories import publish_version, related_rows, tables

pytestmark = pytest.mark.django_db


def publish_bestsellers():
    """A served version in which every product's related items are the shop's best sellers."""
    best = [str(pk) for pk in OrderLine.objects.values("product").annotate(n=Count("order", distinct=True))
            .order_by("-n").values_list("product", flat=True)[:8]]
    rows = [r for pk in Product.objects.values_list("pk", flat=True)
            for r in related_rows(str(pk), *[b for b in best if b != str(pk)][:6])]
    popular = [("all", "", rank, key, 1.0 / rank, 1) for rank, key in enumerate(best, start=1)]
    return publish_version(tables(related=rows, popular=popular))


def test_shoppers_see_click_and_buy_recommendations(settings):
    tests = {"demo": {"widgets": ["related", "cart"], "arms": {"model": {"share": 2},
                                                              "popular": {"share": 1, "strategy": "popular"}}}}
    settings.GOODSASSOC = {**settings.GOODSASSOC, "AB_TESTS": tests}
    call_command("load_demo", households=6, seed=5, stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError, match="at least 1"):
        call_command("simulate_shoppers", sessions=0)
    publish_bestsellers()
    orders_before = Order.objects.count()
    out = io.StringIO()
    call_command("simulate_shoppers", sessions=40, days=5, seed=1, stdout=out)
    assert "Simulated 40 shoppers" in out.getvalue()
    assert ImpressionSet.objects.filter(widget="related").count() == 40
    assert ImpressionSet.objects.filter(widget="cart").exists()
    assert RecommendationClick.objects.exists()
    credited = AttributedConversion.objects.filter(kind="purchase")
    assert credited.exists() and all(c.value is not None for c in credited)
    assert Interaction.objects.filter(kind="purchase", basket_key__startswith="sim-").exists()
    assert Order.objects.count() == orders_before  # the shop's own orders are untouched
    days = FeedbackDaily.objects.values_list("day", flat=True).distinct().count()
    assert 2 <= days <= 6  # spread over the last days
    # Both arms were served and are judged on the dashboard.
    assert set(ImpressionSet.objects.values_list("arm", flat=True)) == {"demo:model", "demo:popular"}
    assert set(ImpressionSet.objects.filter(arm="demo:popular").values_list("strategy", flat=True)) == {"popular"}
    today = timezone.now().date()
    (result,) = dashboard.build(today - timedelta(days=7), today)["experiments"]
    assert sum(arm.impressions for arm in result["arms"]) == ImpressionSet.objects.count()
    assert len(result["verdicts"]) == 2 and all(result["verdicts"])
