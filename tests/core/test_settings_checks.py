import pytest
from django.core.checks import run_checks
from django.test import override_settings

from goodsassoc.conf import ga_settings
from tests.settings import GOODSASSOC


def ids(**overrides):
    with override_settings(GOODSASSOC={**GOODSASSOC, **overrides}):
        return {m.id for m in run_checks() if m.id.startswith("goodsassoc.")}


def test_test_host_settings_are_clean():
    assert ids() == set()


def test_settings_are_read_lazily_and_reloaded():
    assert ga_settings.EVENTS_MAX_BATCH == 500
    with override_settings(GOODSASSOC={**GOODSASSOC, "EVENTS_MAX_BATCH": 3}):
        assert ga_settings.EVENTS_MAX_BATCH == 3
    assert ga_settings.EVENTS_MAX_BATCH == 500


def test_partial_attribute_dict_keeps_defaults():
    with override_settings(GOODSASSOC={**GOODSASSOC, "PRODUCT_ATTRIBUTES": {"title": "headline"}}):
        assert ga_settings.PRODUCT_ATTRIBUTES["price"] == "price"
        assert ga_settings.PRODUCT_ATTRIBUTES["title"] == "headline"


def test_unknown_setting_attribute_raises():
    with pytest.raises(AttributeError):
        ga_settings.NOT_A_SETTING  # noqa: B018


def test_missing_setting():
    with override_settings(GOODSASSOC=None):
        assert {m.id for m in run_checks()} >= {"goodsassoc.E001"}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"PRODUCT_MODELL": "x.Y"}, "goodsassoc.E002"),
        ({"PRODUCT_MODEL": None}, "goodsassoc.E003"),
        ({"PRODUCT_MODEL": "Article"}, "goodsassoc.E003"),
        ({"PRODUCT_MODEL": "testapp.Nope"}, "goodsassoc.E003"),
        ({"SHOP_MODEL": "nowhere.Shop"}, "goodsassoc.E004"),
        ({"PRODUCT_ADAPTER": "goodsassoc.adapters.Missing"}, "goodsassoc.E005"),
        ({"PRODUCT_ADAPTER": "goodsassoc.conf.GoodsassocSettings"}, "goodsassoc.E005"),
        ({"PRODUCT_ATTRIBUTES": {"colour": "headline"}}, "goodsassoc.E006"),
        ({"PRODUCT_ATTRIBUTES": {"title": "headlne"}}, "goodsassoc.E006"),
        ({"PRODUCT_ATTRIBUTES": {"title": 3}}, "goodsassoc.E006"),
        ({"SIGNALS": [{"signal": "tests.testapp.signals.nope", "kind": "view"}]}, "goodsassoc.E007"),
        ({"SIGNALS": [{"signal": "tests.testapp.models.Article", "kind": "view"}]}, "goodsassoc.E007"),
        ({"SIGNALS": [{"signal": "tests.testapp.signals.article_seen", "kind": "stare"}]}, "goodsassoc.E007"),
        ({"SIGNALS": [{"kind": "view"}]}, "goodsassoc.E007"),
        ({"SIGNALS": "nope"}, "goodsassoc.E007"),
        ({"KIND_WEIGHTS": {"stare": 1}}, "goodsassoc.E008"),
        ({"KIND_WEIGHTS": {"view": -1}}, "goodsassoc.E008"),
        ({"EVENTS_MAX_BATCH": 0}, "goodsassoc.E009"),
        ({"WIDGET_LOCAL_CACHE_SIZE": -1}, "goodsassoc.E009"),
        ({"WIDGET_LOCAL_CACHE_SECONDS": "15"}, "goodsassoc.E009"),
        ({"EVENTS_THROTTLE_RATE": "fast"}, "goodsassoc.E009"),
        ({"USER_ID_ATTRIBUTE": 5}, "goodsassoc.E010"),
        ({"PSEUDONYM_KEY": "short"}, "goodsassoc.E011"),
        ({"ANONYMOUS_COOKIE_SAMESITE": "sometimes"}, "goodsassoc.E012"),
        ({"RETRAIN_CRONTAB": "daily"}, "goodsassoc.E013"),
        ({"FEEDBACK_SUMMARY_CRONTAB": "* * *"}, "goodsassoc.E016"),
        ({"PRODUCT_CARD_MAX_AGE": 0}, "goodsassoc.E009"),
        ({"PRODUCT_CARDS_CRONTAB": "every ten minutes"}, "goodsassoc.E019"),
        ({"PRODUCT_CARDS": "yes"}, "goodsassoc.E020"),
        ({"PRICE_FORMAT": "{:.2f} {}"}, "goodsassoc.E021"),
        ({"PRICE_FORMAT": "{:d}"}, "goodsassoc.E021"),
        ({"PRICE_FORMAT": 2}, "goodsassoc.E021"),
        ({"PSEUDONYM_KEY": None}, "goodsassoc.W001"),
    ],
)
def test_each_wrong_setting_has_a_clear_check(overrides, expected):
    assert expected in ids(**overrides)


def test_messages_name_the_setting():
    with override_settings(GOODSASSOC={**GOODSASSOC, "PRODUCT_MODEL": "testapp.Nope"}):
        (message,) = [m for m in run_checks() if m.id == "goodsassoc.E003"]
    assert "PRODUCT_MODEL" in message.msg and "testapp.Nope" in message.msg


def test_missing_middleware_warns(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "goodsassoc" not in m]
    assert "goodsassoc.W002" in {m.id for m in run_checks()}


def test_default_attribute_paths_are_checked_too():
    # The test host has no "name" field; relying on the default title path is an error.
    attributes = {k: v for k, v in GOODSASSOC["PRODUCT_ATTRIBUTES"].items() if k != "title"}
    assert "goodsassoc.E006" in ids(PRODUCT_ATTRIBUTES=attributes)


def test_task_time_limits_follow_settings():
    from goodsassoc import tasks

    with override_settings(GOODSASSOC={**GOODSASSOC, "TASK_SOFT_TIME_LIMIT": 120}):
        assert (tasks.retrain.soft_time_limit, tasks.retrain.time_limit) == (120, 420)
    assert tasks.refresh_scores.soft_time_limit == 3600
