import contextlib

from django.apps import AppConfig
from django.core.signals import setting_changed
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class GoodsassocConfig(AppConfig):
    name = "goodsassoc"
    verbose_name = _("Product associations")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from goodsassoc import cards, checks, receivers  # noqa: F401  (checks register themselves)

        receivers.connect_builtin_receivers()
        cards.connect()
        post_migrate.connect(receivers.ensure_retrain_schedule, sender=self,
                             dispatch_uid="goodsassoc.ensure_retrain_schedule")
        with contextlib.suppress(Exception):  # a bad SIGNALS entry is reported by check goodsassoc.E007
            receivers.connect_host_signals()
        setting_changed.connect(_reconnect_signals, dispatch_uid="goodsassoc.reconnect_signals")


def _reconnect_signals(*, setting: str, **kwargs: object) -> None:
    if setting == "GOODSASSOC":
        from goodsassoc import receivers

        try:
            receivers.connect_host_signals()
        except Exception:
            receivers.disconnect_host_signals()
