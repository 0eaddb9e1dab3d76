"""The test-suite's Celery app (a host's own app, as in shop_demo/celery.py)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

app = Celery("goodsassoc_tests")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
