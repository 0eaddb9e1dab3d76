"""The whole feedback loop in a real browser against the demo shop served on localhost.

A shopper views a product and sees related products, adds it to the cart and sees cart
recommendations, clicks one, adds it and checks out; a staff user then opens the feedback
dashboard and finds the impressions, the click and the credited purchase counted.
Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SETUP = """
import json
from django.contrib.auth import get_user_model
from goodsassoc.models import RelatedItem, ServingState
from shop_demo.models import Product
User = get_user_model()
User.objects.create_superuser("staff", "staff@example.com", "staff-pw-123")
version = ServingState.objects.get(pk=1).version_id
anchors = RelatedItem.objects.filter(version=version).values_list("product_key", flat=True).distinct()
product = next(p for p in Product.objects.filter(pk__in=list(anchors[:200]), is_available=True).order_by("pk")
               if RelatedItem.objects.filter(version=version, product_key=str(p.pk)).count() >= 4)
shopper = User.objects.exclude(is_superuser=True).order_by("pk").first()
print("SETUP" + json.dumps({"product": product.pk, "shopper": shopper.username}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _manage(env: dict, *args: str, timeout: int = 240) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@contextlib.contextmanager
def _database(tmp: Path):
    """A fresh database for the demo: PostgreSQL when the suite runs on it, else a SQLite file."""
    if os.environ.get("GOODSASSOC_TEST_DB") != "postgres":
        yield f"sqlite:///{tmp}/demo.sqlite3"
        return
    import psycopg

    name = f"goodsassoc_browser_{os.getpid()}"
    admin = {"host": os.environ.get("PGHOST", "127.0.0.1"), "user": os.environ.get("PGUSER", "postgres"),
             "dbname": "postgres", "autocommit": True}
    with psycopg.connect(**admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://{admin['user']}@{admin['host']}:{os.environ.get('PGPORT', '5432')}/{name}"
    finally:
        with psycopg.connect(**admin) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    """A fresh demo shop (20 households, a quick first model) served by runserver on a free port,
    on the database the suite runs on."""
    tmp = tmp_path_factory.mktemp("demo")
    with _database(tmp) as url:
        yield from _serve(tmp, url)


def _serve(tmp: Path, url: str):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "shop_demo.settings", "DATABASE_URL": url,
           "GOODSASSOC_ARTIFACT_DIR": str(tmp / "artifacts"), "DJANGO_DEBUG": "1", "CELERY_TASK_ALWAYS_EAGER": "1"}
    env.pop("GOODSASSOC_TEST_DB", None)
    _manage(env, "migrate", "--no-input")
    _manage(env, "load_demo", "--households", "20", "--seed", "3")
    _manage(env, "goodsassoc_retrain", "--quick", "--no-progress", timeout=400)
    info = json.loads(_manage(env, "shell", "-c", SETUP).split("SETUP", 1)[1])
    port = _free_port()
    server = subprocess.Popen([sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/goodsassoc/health/", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        yield base, info
    finally:
        server.terminate()
        server.wait(timeout=20)


def _events_posted(page, action, kind: str | None = None) -> dict:
    """Run ``action`` and wait for the widget script's post to the events endpoint (one that holds
    an event of ``kind``, if given: a post the previous page left in flight may answer first)."""

    def wanted(r) -> bool:
        if "/goodsassoc/api/events/" not in r.url or r.request.method != "POST":
            return False
        return kind is None or kind in {e["kind"] for e in json.loads(r.request.post_data)["events"]}

    with page.expect_response(wanted) as posted:
        action()
    response = posted.value
    assert response.status in (200, 201), response.text()
    return json.loads(response.request.post_data)


def test_shopper_feedback_reaches_the_dashboard(demo_server):
    base, info = demo_server
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1400})
            # A product page with related products; the script posts their impressions.
            sent = _events_posted(page, lambda: page.goto(f"{base}/product/{info['product']}/"))
            related = page.locator("section[data-goodsassoc-widget=related] li.goodsassoc-item")
            expect(related.first).to_be_visible()
            assert {e["kind"] for e in sent["events"]} == {"impression"}
            assert len(sent["events"]) == related.count()
            page.screenshot(path=str(ARTIFACTS / "product-page.png"), full_page=True)

            # Add it to the cart: the cart page shows cart recommendations.
            _events_posted(page, lambda: page.get_by_role("button", name="Add to cart").click())
            cart_widget = page.locator("section[data-goodsassoc-widget=cart]")
            expect(cart_widget.locator("li.goodsassoc-item").first).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "cart-page.png"), full_page=True)

            # Click a recommendation: a plain link (no redirect hop); the click is posted as the page changes.
            target = cart_widget.locator("li.goodsassoc-item").first
            clicked_key = target.get_attribute("data-goodsassoc-key")
            sent = _events_posted(page, lambda: target.locator("a").click(), kind="click")
            page.wait_for_url(f"**/product/{clicked_key}/")
            clicks = [e for e in sent["events"] if e["kind"] == "click"]
            assert [(e["product"], e["widget"], e["position"]) for e in clicks] == [(clicked_key, "cart", 1)]

            # Add the clicked product, log in and check out.
            page.get_by_role("button", name="Add to cart").click()
            page.get_by_role("button", name="Log in to check out").click()
            page.fill("input[name=username]", info["shopper"])
            page.fill("input[name=password]", "demo")
            page.get_by_role("button", name="Log in", exact=True).click()
            page.goto(f"{base}/cart/")
            expect(page.locator("table.table tbody tr")).to_have_count(2)
            page.get_by_role("button", name="Place order").click()
            page.wait_for_url("**/orders/*/")

            # Staff: refresh the summaries and read the dashboard.
            staff = browser.new_page(viewport={"width": 1300, "height": 1800})
            staff.goto(f"{base}/admin/login/?next=/admin/goodsassoc/feedbackdaily/")
            staff.fill("input[name=username]", "staff")
            staff.fill("input[name=password]", "staff-pw-123")
            staff.locator("input[type=submit]").click()
            staff.get_by_role("button", name="Refresh the summaries now").click()
            staff.wait_for_url("**/admin/goodsassoc/feedbackdaily/")
            dashboard = staff.locator("#feedback-dashboard")

            def metric(name: str) -> int:
                return int(dashboard.locator(f"[data-metric={name}] b").inner_text().replace(",", ""))

            assert metric("impressions") >= 2  # the related and the cart widget (and the later pages' widgets)
            assert metric("clicks") == 1
            assert metric("add_to_carts") == 1
            assert metric("purchases") == 1
            expect(dashboard.locator("svg.goodsassoc-chart").first).to_be_visible()
            staff.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
            staff.goto(f"{base}/admin/goodsassoc/feedbackdaily/?widget=cart")
            assert metric("clicks") == 1 and metric("purchases") == 1
        finally:
            browser.close()
