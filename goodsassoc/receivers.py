"""Signal receivers: host signals named in settings, and login linking.

Connected in ``GoodsassocConfig.ready()``. A receiver never breaks the host's page:
problems are logged, not raised.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.utils.module_loading import import_string

from goodsassoc.abstract_models import InteractionSource
from goodsassoc.conf import ga_settings
from goodsassoc.privacy import Identity, ShopperIdentity, identity_for_request, user_pseudonym

logger = logging.getLogger("goodsassoc")
_connected: list[tuple[Any, str]] = []


def handle_host_signal(spec: dict[str, Any], sender: Any, **kwargs: Any) -> None:
    from goodsassoc.recording import RecordingError, record_events

    extractor = import_string(spec.get("events", "goodsassoc.signal_events.from_kwargs"))
    try:
        extracted = extractor(spec, sender, **kwargs)
        if not extracted.events:
            return
        request = extracted.request
        identity = identity_for_request(request) if request is not None else Identity()
        if extracted.user is not None:
            identity = Identity(user_pseudonym(extracted.user), identity.anonymous_id)
        record_events(extracted.events, identity=identity, source=InteractionSource.SIGNAL)
    except RecordingError as exc:
        logger.error("goodsassoc: signal %s gave invalid events: %s", spec.get("signal"), exc.errors)
    except Exception:  # a recommendation problem never breaks a page
        logger.exception("goodsassoc: recording signal %s failed", spec.get("signal"))


def connect_host_signals() -> None:
    """(Re)connect receivers for ``GOODSASSOC['SIGNALS']``."""
    disconnect_host_signals()
    for number, spec in enumerate(ga_settings.SIGNALS or ()):
        signal = import_string(spec["signal"])
        uid = f"goodsassoc:{number}:{spec['signal']}"
        signal.connect(partial(handle_host_signal, spec), weak=False, dispatch_uid=uid)
        _connected.append((signal, uid))


def disconnect_host_signals() -> None:
    while _connected:
        signal, uid = _connected.pop()
        signal.disconnect(dispatch_uid=uid)


def link_anonymous_history(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """At login, the shopper's anonymous history becomes the user's history."""
    from goodsassoc.models import IdentityLink, Interaction

    if request is None:
        return
    shopper = getattr(request, "goodsassoc", None) or ShopperIdentity(request)
    anonymous_id = shopper.existing_anonymous_id
    pseudonym = user_pseudonym(user)
    if not anonymous_id or not pseudonym:
        return
    try:
        with transaction.atomic():
            IdentityLink.objects.update_or_create(anonymous_id=anonymous_id, defaults={"user_pseudonym": pseudonym})
            Interaction.objects.filter(anonymous_id=anonymous_id, user_pseudonym="").update(user_pseudonym=pseudonym)
    except Exception:
        logger.exception("goodsassoc: linking anonymous history at login failed")


def connect_builtin_receivers() -> None:
    from django.db.models.signals import post_delete, post_save

    from goodsassoc.models import MerchantRule
    from goodsassoc.widget_cache import rules_changed

    user_logged_in.connect(link_anonymous_history, dispatch_uid="goodsassoc.link_anonymous_history")
    for signal in (post_save, post_delete):
        signal.connect(rules_changed, sender=MerchantRule, dispatch_uid=f"goodsassoc.rules_changed.{id(signal)}")


def ensure_retrain_schedule(sender: Any, **kwargs: Any) -> None:
    """After migrate: create the default schedules once (then they are the merchant's to edit):
    retraining, the refresh of the feedback dashboard's summaries, and the product cards' sync."""
    from django.apps import apps

    if not apps.is_installed("django_celery_beat"):
        return
    _ensure_schedule("goodsassoc: retrain and publish", "goodsassoc.retrain", ga_settings.RETRAIN_CRONTAB,
                     {"trigger": "schedule"})
    _ensure_schedule("goodsassoc: refresh the feedback dashboard", "goodsassoc.refresh_feedback_summary",
                     ga_settings.FEEDBACK_SUMMARY_CRONTAB, {"days": ga_settings.FEEDBACK_SUMMARY_DAYS})
    if ga_settings.PRODUCT_CARDS:
        _ensure_schedule("goodsassoc: sync the product cards", "goodsassoc.sync_product_cards",
                         ga_settings.PRODUCT_CARDS_CRONTAB, {})


def _ensure_schedule(name: str, task: str, crontab: str | None, kwargs: dict) -> None:
    import json

    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    if not crontab or PeriodicTask.objects.filter(task=task).exists():
        return
    minute, hour, day_of_month, month_of_year, day_of_week = crontab.split()
    schedule, _ = CrontabSchedule.objects.get_or_create(
        minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year, day_of_week=day_of_week)
    PeriodicTask.objects.create(name=name, task=task, crontab=schedule, kwargs=json.dumps(kwargs),
                                description="Created by goodsassoc; edit or disable it here.")
