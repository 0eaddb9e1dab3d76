"""Feedback benchmark: what impression tracking adds to a widget render, what storing an impression
set costs, and the feedback dashboard's load time over millions of feedback rows.

    python benchmarks/feedback.py [--rows 5000000] [--renders 300] [--write-docs]

Runs on PostgreSQL, in its own database ``goodsassoc_bench_feedback`` (created when missing):
the demo shop with a few households and a quick model for the widgets, then synthetic feedback
rows (impression sets, clicks, credited conversions in 8 : 1.4 : 0.6 proportions over 90 days)
written by ``generate_series``, summarised by the same refresh the periodic task runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PGDATABASE", "goodsassoc_bench_feedback")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.middleware.csrf import get_token  # noqa: E402
from django.template import Context, Template  # noqa: E402
from django.test import Client, RequestFactory, override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402

from benchmarks.report import write_section  # noqa: E402
from goodsassoc import summaries  # noqa: E402
from goodsassoc.conf import ga_settings  # noqa: E402
from goodsassoc.feedback import event_id  # noqa: E402
from goodsassoc.models import ImpressionSet, ModelVersion, RelatedItem, ServingState  # noqa: E402

WIDGET = Template("{% load goodsassoc_tags %}{% related_products product limit=8 %}")
MINUTES_IN_90_DAYS = 90 * 24 * 60
CATALOGUE = 3000


def ensure_shop() -> None:
    call_command("migrate", verbosity=0)
    if not ModelVersion.objects.filter(status="published").exists():
        print("Loading 30 households and training a quick model ...", flush=True)
        call_command("load_demo", households=30, verbosity=0)
        call_command("goodsassoc_retrain", quick=True, no_progress=True, verbosity=0)


def _render_once(key: str, request, token: str, warm: bool) -> float:
    if not warm:
        cache.clear()
    context = Context({"product": key, "request": request, "csrf_token": token})
    started = time.perf_counter()
    WIDGET.render(context)
    return time.perf_counter() - started


def render_overhead(renders: int) -> dict:
    """Renders with and without tracking, interleaved product by product so that load on a shared
    machine falls on both alike; median of 3 rounds of medians."""
    version = ServingState.objects.get(pk=1).version_id
    anchors = list(RelatedItem.objects.filter(version=version).values_list("product_key", flat=True)
                   .distinct()[:renders])
    request = RequestFactory().get("/")
    token = get_token(request)
    off = override_settings(GOODSASSOC={**ga_settings.user_settings, "FEEDBACK_TRACKING": False})
    on = override_settings(GOODSASSOC={**ga_settings.user_settings, "FEEDBACK_TRACKING": True})
    results = {}
    for warm in (True, False):
        for key in anchors:  # fill the cache the same way for both
            _render_once(key, request, token, warm=True)
        rounds = []
        for _ in range(3):
            times: dict[bool, list[float]] = {False: [], True: []}
            for key in anchors:
                for tracking, setting in ((False, off), (True, on)):
                    with setting:
                        times[tracking].append(_render_once(key, request, token, warm))
            rounds.append((statistics.median(times[False]), statistics.median(times[True])))
        without = statistics.median(r[0] for r in rounds)
        with_tracking = statistics.median(r[1] for r in rounds)
        results["warm" if warm else "cold"] = {"without": without, "with": with_tracking,
                                               "ratio": with_tracking / without}
    with on:
        html = WIDGET.render(Context({"product": anchors[0], "request": request, "csrf_token": token}))
    assert "data-goodsassoc-impression-id" in html, "tracking was not on"
    return {"renders": len(anchors), **results}


def store_cost(batches: int = 200) -> float:
    """Median time the events endpoint takes to store one widget's 8 impressions (off the page's path)."""
    client = Client(HTTP_HOST="127.0.0.1")
    version = ServingState.objects.get(pk=1).version_id
    keys = list(RelatedItem.objects.filter(version=version).values_list("related_key", flat=True)[:8])
    times = []
    for n in range(batches):
        request_id = f"bench-store-{time.time_ns()}-{n}"
        events = [{"event_id": str(event_id(request_id, p, "impression")), "kind": "impression",
                   "request_id": request_id, "widget": "related", "position": p, "product": key}
                  for p, key in enumerate(keys, start=1)]
        started = time.perf_counter()
        response = client.post("/goodsassoc/api/events/", {"events": events}, content_type="application/json")
        times.append(time.perf_counter() - started)
        assert response.status_code == 201, response.content
    return statistics.median(times)


def generate(rows: int) -> dict:
    """Synthetic feedback rows in SQL, once: 80% impression sets, 14% clicks, 6% conversions."""
    sets, clicks = int(rows * 0.80), int(rows * 0.14)
    conversions = rows - sets - clicks
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM goodsassoc_impression_set WHERE request_id LIKE 'gen-%%'")
        if cursor.fetchone()[0] >= sets:
            return {"sets": sets, "clicks": clicks, "conversions": conversions, "seconds": 0.0}
        print(f"Writing {rows:,} feedback rows ...", flush=True)
        started = time.perf_counter()
        for table in ("goodsassoc_impression_set", "goodsassoc_recommendation_click",
                      "goodsassoc_attributed_conversion"):  # an earlier run's rows, of another size
            cursor.execute(f"DELETE FROM {table} WHERE request_id LIKE 'gen-%%'")
        when = f"now() - ((g % {MINUTES_IN_90_DAYS}) * interval '1 minute')"
        items = ", ".join(f"((g % {CATALOGUE}) + {k})::text" for k in range(1, 7))
        cursor.execute(
            "INSERT INTO goodsassoc_impression_set (request_id, widget, strategy, model_version, arm, anchor_key, "
            "items, user_pseudonym, anonymous_id, shown_at) "
            f"SELECT 'gen-' || g, CASE WHEN g % 3 = 0 THEN 'cart' ELSE 'related' END, 'model', 1 + g % 2, "
            f"CASE WHEN g % 2 = 0 THEN 'bench:a' ELSE 'bench:b' END, "
            f"CASE WHEN g % 3 = 0 THEN '' ELSE ((g * 7) % {CATALOGUE})::text END, jsonb_build_array({items}), "
            f"'', '', {when} FROM generate_series(1, {sets}) g")
        cursor.execute(
            "INSERT INTO goodsassoc_recommendation_click (event_id, request_id, widget, strategy, model_version, arm, "
            "anchor_key, product_key, position, user_pseudonym, anonymous_id, timestamp) "
            f"SELECT gen_random_uuid(), 'gen-' || (g * 5), CASE WHEN g % 3 = 0 THEN 'cart' ELSE 'related' END, "
            f"'model', 1 + g % 2, CASE WHEN g % 2 = 0 THEN 'bench:a' ELSE 'bench:b' END, "
            f"CASE WHEN g % 3 = 0 THEN '' ELSE ((g * 7) % {CATALOGUE})::text END, ((g % {CATALOGUE}) + 2)::text, 2, "
            f"'', '', {when} FROM generate_series(1, {clicks}) g")
        cursor.execute(
            "INSERT INTO goodsassoc_attributed_conversion (event_id, kind, click_event_id, request_id, widget, "
            "strategy, model_version, arm, anchor_key, product_key, position, value, timestamp, clicked_at) "
            f"SELECT gen_random_uuid(), CASE WHEN g % 2 = 0 THEN 'purchase' ELSE 'add_to_cart' END, "
            f"gen_random_uuid(), 'gen-' || (g * 11), CASE WHEN g % 3 = 0 THEN 'cart' ELSE 'related' END, 'model', "
            f"1 + g % 2, CASE WHEN g % 2 = 0 THEN 'bench:a' ELSE 'bench:b' END, "
            f"CASE WHEN g % 3 = 0 THEN '' ELSE ((g * 7) % {CATALOGUE})::text END, ((g % {CATALOGUE}) + 2)::text, 2, "
            f"3.50, {when}, {when} FROM generate_series(1, {conversions}) g")
        cursor.execute("ANALYZE goodsassoc_impression_set; ANALYZE goodsassoc_recommendation_click; "
                       "ANALYZE goodsassoc_attributed_conversion")
    return {"sets": sets, "clicks": clicks, "conversions": conversions, "seconds": time.perf_counter() - started}


def page_times(client: Client, url: str, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def dashboard_times() -> dict:
    User = get_user_model()
    user = User.objects.filter(username="bench-staff").first() or User.objects.create_superuser(
        "bench-staff", "bench@example.com", "bench-pw-123")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    tests = {"bench": {"arms": {"a": {"share": 1}, "b": {"share": 1}}}}
    with override_settings(GOODSASSOC={**ga_settings.user_settings, "AB_TESTS": tests}):
        return {
            "dashboard, last 30 days": page_times(client, "/admin/goodsassoc/feedbackdaily/"),
            "dashboard, 90 days": page_times(client, f"/admin/goodsassoc/feedbackdaily/?start={_days_ago(89)}"),
            "impression sets list": page_times(client, "/admin/goodsassoc/impressionset/"),
            "clicks list, cart widget only": page_times(client,
                                                        "/admin/goodsassoc/recommendationclick/?widget__exact=cart"),
        }


def _days_ago(days: int) -> str:
    return (timezone.now().date() - timedelta(days=days)).isoformat()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--renders", type=int, default=150, help="products rendered (the local cache keeps 300 keys)")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    ensure_shop()
    print("Widget renders with and without impression tracking ...", flush=True)
    render = render_overhead(args.renders)
    store = store_cost()
    generated = generate(args.rows)
    started = time.perf_counter()
    refreshed = summaries.refresh(None)
    refresh_seconds = time.perf_counter() - started
    pages = dashboard_times()
    total = ImpressionSet.objects.count()
    lines = [
        f"Measured on {platform.node() or 'this machine'} ({os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at the end, PostgreSQL {connection.pg_version // 10000}) by "
        f"`python benchmarks/feedback.py --rows {args.rows}`.",
        "",
        "**Impression tracking and the widget render.** The page never waits for a write: the widget",
        "renders its event ids and the script posts after the page has loaded. What tracking adds to",
        f"the server-side render of a related-products widget (8 items, median of {render['renders']} products,",
        "3 rounds; warm: the widget's result cached, as most renders are; cold: computed from the database):",
        "",
        "| cache | render without tracking | with tracking | ratio |",
        "|---|---|---|---|",
    ]
    for name in ("warm", "cold"):
        r = render[name]
        lines.append(f"| {name} | {r['without'] * 1000:.3f} ms | {r['with'] * 1000:.3f} ms | {r['ratio']:.2f} |")
    lines += [
        "",
        "Storing one widget's 8 impressions through the events endpoint (in the browser's own request,",
        f"after the page): median {store * 1000:.1f} ms.",
        "",
        f"**Dashboard with {args.rows:,} feedback rows** ({generated['sets']:,} impression sets, "
        f"{generated['clicks']:,} clicks, {generated['conversions']:,} credited conversions over 90 days; "
        f"{total:,} impression sets in the table):",
        "",
        f"- full summary refresh (what the periodic task does for every day at once): {refresh_seconds:.1f} s, "
        f"{refreshed['daily_rows']:,} daily rows and {refreshed['item_rows']:,} pair rows;",
    ]
    lines += [f"- {name}: {seconds * 1000:.0f} ms (median of 5)" for name, seconds in pages.items()]
    body = "\n".join(lines)
    print(body)
    if args.write_docs:
        write_section("feedback", "Feedback: impression tracking and the dashboard", body)


if __name__ == "__main__":
    main()
