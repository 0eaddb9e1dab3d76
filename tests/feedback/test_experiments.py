"""A/B tests: a stable arm per shopper, shares kept, arms served as configured, verdicts in words."""

import uuid
from collections import Counter

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from goodsassoc import experiments, selectors
from goodsassoc.privacy import Identity

SPLIT = {"related-test": {"widgets": ["related"], "arms": {"model": {"share": 80},
                                                          "popular": {"share": 20, "strategy": "popular"}}}}


@pytest.fixture
def ab(settings):
    settings.GOODSASSOC = {**settings.GOODSASSOC, "AB_TESTS": SPLIT}


def shoppers(n):
    return [Identity(anonymous_id=str(uuid.UUID(int=i * 7919 + 1, version=4))) for i in range(n)]


def test_a_shopper_keeps_their_arm(ab):
    for identity in shoppers(50):
        arms = {experiments.arm_for("related", identity).label for _ in range(3)}
        assert len(arms) == 1
    logged_in = Identity(user_pseudonym="a" * 32, anonymous_id=str(uuid.uuid4()))
    other_device = Identity(user_pseudonym="a" * 32, anonymous_id=str(uuid.uuid4()))
    assert experiments.arm_for("related", logged_in) == experiments.arm_for("related", other_device)


def test_shares_are_kept_within_tolerance(ab):
    counts = Counter(experiments.arm_for("related", identity).label for identity in shoppers(20_000))
    assert set(counts) == {"related-test:model", "related-test:popular"}
    assert counts["related-test:popular"] / 20_000 == pytest.approx(0.20, abs=0.015)


def test_widgets_outside_the_test_and_unknown_shoppers_get_no_arm(ab):
    assert experiments.arm_for("cart", shoppers(1)[0]) == experiments.NO_ARM
    assert experiments.arm_for("related", Identity()) == experiments.NO_ARM


def test_each_arm_is_served_as_configured(ab, served, articles):
    seen = {}
    for identity in shoppers(40):
        result = selectors.related_products("SKU-1", identity=identity, limit=2)
        seen[result.arm] = result
    assert seen["related-test:model"].strategy == "model"
    assert [i.key for i in seen["related-test:model"]] == ["SKU-2", "SKU-3"]
    assert seen["related-test:popular"].strategy == "popular"
    assert [i.key for i in seen["related-test:popular"]] == ["SKU-4", "SKU-3"]


def test_an_arm_can_serve_an_older_kept_version(settings, served, articles):
    from tests.serving.factories import publish_version, related_rows, tables

    old = served
    publish_version(tables(related=related_rows("SKU-1", "SKU-4"), popular=[("all", "", 1, "SKU-2", 1.0, 1)]))
    settings.GOODSASSOC = {**settings.GOODSASSOC, "AB_TESTS": {"v": {"arms": {
        "new": {"share": 1}, "old": {"share": 1, "model_version": old.pk}}}}}
    by_arm = {}
    for identity in shoppers(40):
        result = selectors.related_products("SKU-1", identity=identity, limit=1)
        by_arm[result.arm] = result
    assert [i.key for i in by_arm["v:old"]] == ["SKU-2"] and by_arm["v:old"].model_version == old.pk
    assert [i.key for i in by_arm["v:new"]] == ["SKU-4"]


@pytest.mark.parametrize("tests", [
    {"t": {"arms": {"only": {"share": 1}}}},
    {"t": {"arms": {"a": {"share": 0}, "b": {"share": 1}}}},
    {"t": {"arms": {"a": {"share": 1}, "b": {"share": 1, "strategy": "magic"}}}},
    {"t": {"arms": {"a": {"share": 1}, "b": {"share": 1}}, "widgets": ["footer"]}},
    {"t": {"arms": {"a": {"share": 1}, "b": {"share": 1}}}, "u": {"arms": {"a": {"share": 1}, "b": {"share": 1}}}},
])
def test_bad_tests_are_reported_at_start(settings, tests):
    settings.GOODSASSOC = {**settings.GOODSASSOC, "AB_TESTS": tests}
    with pytest.raises(SystemCheckError, match="goodsassoc.E018"):
        call_command("check")


def test_intervals_and_verdicts():
    low, high = experiments.wilson(50, 1000)
    assert low < 0.05 < high and high - low < 0.03
    assert "Not enough data" in experiments.verdict("click-through rate", "a", "b", (1, 10), (2, 10))
    assert "No clear difference" in experiments.verdict("click-through rate", "a", "b", (100, 1000), (104, 1000))
    better = experiments.verdict("click-through rate", "a", "b", (100, 1000), (160, 1000))
    assert better.startswith("b does better than a") and "60% higher" in better
