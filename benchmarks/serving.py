"""Serving benchmark: a full Complete Journey retrain-and-publish, a scores refresh (publish rows/s),
and the related and cart endpoints under concurrent load next to a trivial DRF endpoint served by
the same gunicorn in the same run, with a warm (Redis) and a cold (no) widget cache.

    python benchmarks/serving.py [--seconds 6] [--rounds 5] [--clients 4] [--warmup-passes 6]
                                 [--skip-training] [--write-docs]

Runs on PostgreSQL (database ``goodsassoc_bench``, see benchmarks/ingest.py, which loads the data).
"""

from __future__ import annotations

import argparse
import functools
import http.client
import json
import multiprocessing
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from benchmarks.ingest import history_table, truncate  # noqa: E402
from benchmarks.report import write_section  # noqa: E402
from benchmarks.server import start_gunicorn  # noqa: E402
from goodsassoc import pipeline  # noqa: E402
from goodsassoc.importing import import_lines  # noqa: E402
from goodsassoc.models import Interaction, ModelVersion, TrainingRun  # noqa: E402
from shop_demo.models import OrderLine, Product  # noqa: E402
from shop_demo.settings import VAR_DIR  # noqa: E402


def ensure_model(skip_training: bool) -> dict:
    call_command("migrate", verbosity=0)
    if Product.objects.count() < 90_000:
        print("Loading the full Complete Journey data (first run only) ...", flush=True)
        call_command("load_demo", all=True)
    saved = VAR_DIR / "bench-serving-model.json"
    results = {}
    if skip_training and saved.exists() and ModelVersion.objects.filter(status="published").exists():
        print(f"Reusing the served model and the retrain figures in {saved.name} ...", flush=True)
        results["retrain"] = json.loads(saved.read_text())["retrain"]
    else:
        if Interaction.objects.filter(source="import").count() < 1_000_000:
            print("Importing the order history (the ingest benchmark leaves other rows behind) ...", flush=True)
            truncate()
            import_lines(history_table())
        print("Full retrain and publish ...", flush=True)
        started = time.perf_counter()
        summary = pipeline.execute(pipeline.prepare_run("retrain", trigger="benchmark"))
        results["retrain"] = {"seconds": time.perf_counter() - started, "date": time.strftime("%Y-%m-%d"), **summary}
        print(f"  {summary['status']} in {results['retrain']['seconds']:.0f} s: {summary['timings']}", flush=True)
    # The refresh always runs: its figures are this code's, and its last stage syncs the product
    # cards (older than PRODUCT_CARD_MAX_AGE they would not be used).
    print("Scores refresh with the served model ...", flush=True)
    started = time.perf_counter()
    summary = pipeline.execute(pipeline.prepare_run("refresh", trigger="benchmark"))
    run = TrainingRun.objects.get(pk=summary["run"])
    rows = sum(run.counts.get("published_rows", {}).values())
    results["refresh"] = {"seconds": time.perf_counter() - started, "rows": rows,
                          "publish_seconds": run.timings.get("publish", 0.0), "cards": run.counts.get("cards", 0),
                          "cards_seconds": run.timings.get("cards", 0.0), **summary}
    print(f"  {summary['status']}: {rows:,} rows published in {run.timings.get('publish', 0):.1f} s", flush=True)
    results["measured"] = {"date": time.strftime("%Y-%m-%d"), "load": round(os.getloadavg()[1], 1)}
    saved.write_text(json.dumps(results, default=str))
    settle()
    return results


def settle() -> None:
    """VACUUM ANALYZE the database after the refresh, as autovacuum would within minutes of a
    publish. Without autovacuum, the widgets would otherwise read tables still holding every row
    the refresh replaced (every card, the pruned version's rows); with it, autovacuum would take
    CPU from some of the measured rounds and not from others."""
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")
    print(f"  VACUUM ANALYZE in {time.perf_counter() - started:.0f} s", flush=True)


# (label, Django cache, product cards, prepared widget query): the cold state without cards reads
# the host's products; the unprepared one has PostgreSQL plan each widget's query again.
STATES = (("warm cache", "redis", True, True), ("cold cache", "none", True, True),
          ("cold cache, unprepared", "none", True, False), ("cold cache, cards off", "none", False, True))
# (the state a line compares the default cold cache with, what it switches, its setting)
COMPARED = (("cold cache, unprepared", "Prepared widget query", "`WIDGET_PREPARED_QUERY`"),
            ("cold cache, cards off", "Product cards", "`PRODUCT_CARDS`"))


def start_server(cache: str, workers: int, cards: bool = True, prepared: bool = True) -> tuple[subprocess.Popen, int]:
    return start_gunicorn(workers, {"BENCH_CACHE": cache, "BENCH_CARDS": "on" if cards else "off",
                                    "BENCH_PREPARED": "on" if prepared else "off"})


def client(port: int, paths: list[str], seconds: float, seed: int) -> list[float]:
    """Requests over one kept-alive connection for ``seconds``; returns latencies."""
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies, deadline = [], time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        conn.request("GET", rng.choice(paths), headers={"Host": "127.0.0.1"})
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{response.status} from the server")
        latencies.append(time.perf_counter() - started)
    conn.close()
    return latencies


def _each(port: int, paths: list[str]) -> int:
    for path in paths:
        _get(port, path)
    return len(paths)


def warm_up(port: int, paths: list[str], passes: int, clients: int) -> None:
    """Request every path ``passes`` times (shuffled, over ``clients`` processes), so that Redis and,
    with high probability, each worker's in-process copy hold every result: whichever worker is
    free takes a request, so one pass reaches only one worker per path."""
    rng = random.Random(7)
    todo = [path for _ in range(passes) for path in paths]
    rng.shuffle(todo)
    with ProcessPoolExecutor(clients) as pool:
        list(pool.map(_each, [port] * clients, [todo[i::clients] for i in range(clients)]))


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the server's workers and by PostgreSQL's processes (Linux /proc)."""
    used = {"server": 0.0, "postgres": 0.0}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        parent, ticks = int(fields[1]), int(fields[11]) + int(fields[12])  # ppid, utime + stime
        if name == "postgres":
            used["postgres"] += ticks / TICK
        elif int(entry) == server_pid or parent == server_pid:
            used["server"] += ticks / TICK
    return used


def load(port: int, paths: list[str], seconds: float, clients: int, server_pid: int = 0) -> dict:
    before = cpu_seconds(server_pid) if server_pid else {}
    with ProcessPoolExecutor(clients) as pool:
        runs = list(pool.map(client, [port] * clients, [paths] * clients, [seconds] * clients, range(clients)))
    after = cpu_seconds(server_pid) if server_pid else {}
    latencies = sorted(x for run in runs for x in run)

    def pct(p: float) -> float:
        return 1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))]

    cpu = {f"{k}_ms": 1000 * (after[k] - before[k]) / max(len(latencies), 1) for k in after}
    return {"requests": len(latencies), "rps": len(latencies) / seconds, "p50": 1000 * statistics.median(latencies),
            "p95": pct(0.95), "p99": pct(0.99), **cpu}


def sample_carts(count: int, rng: random.Random) -> list[list[str]]:
    """Carts of real orders (up to 5 products each), one per sampled order."""
    orders = list(OrderLine.objects.values_list("order_id", flat=True).distinct()[:50_000])
    carts = {}
    for order in rng.sample(orders, min(count, len(orders))):
        carts[order] = [str(pk) for pk in OrderLine.objects.filter(order_id=order).values_list("product_id",
                                                                                               flat=True)[:5]]
    return list(carts.values())


def request_paths(count: int = 2000, seed: int = 0) -> dict[str, list[str]]:
    rng = random.Random(seed)
    products = list(Product.objects.order_by("-popularity").values_list("pk", flat=True)[:20_000])
    carts = sample_carts(count, rng)
    return {
        "trivial": ["/bench/trivial/"],
        "related": [f"/goodsassoc/api/related/{pk}/?limit=10" for pk in rng.sample(products, count)],
        "cart": [f"/goodsassoc/api/cart/?limit=10&items={','.join(items)}" for items in carts],
    }


def _merge(runs: list[dict], seconds: float) -> dict:
    """Several runs of one endpoint as one: requests/s over all of them, percentiles of the medians."""
    requests = sum(r["requests"] for r in runs)
    out = {"requests": requests, "rps": requests / (seconds * len(runs))}
    for key in ("p50", "p95", "p99", "server_ms", "postgres_ms"):
        out[key] = statistics.median(r[key] for r in runs)
    return out


def bench_endpoints(seconds: float, clients: int, workers: int, passes: int, rounds: int) -> dict:
    """Each widget endpoint under load, ``rounds`` times per cache state, each run between two runs
    of the trivial endpoint on the same server: its ratio is the median over rounds of (widget / the
    mean of the trivial runs just before and just after), so that other work on a shared machine,
    and the machine's own drift, weigh on both sides of each ratio alike. The states' servers run
    side by side and each round visits every state, so that a slow spell of the machine (its speed
    drifts over minutes) falls on all states instead of on the one measured then. A warm run
    follows a warm-up of ``passes`` requests per path, which fills Redis and each worker's
    in-process copies (the steady state of a running shop's hot widgets)."""
    paths = request_paths()
    runs: dict[str, list[dict]] = {}
    ratios: dict[str, list[float]] = {}
    servers = {}
    try:
        for state, cache, with_cards, prepared in STATES:
            servers[state] = start_server(cache, workers, with_cards, prepared)
            client(servers[state][1], paths["trivial"], 1.0, 0)
        for round_ in range(1, rounds + 1):
            for state, (server, port) in servers.items():
                # trivial, related, trivial, cart, trivial: each widget run between two trivial runs
                sequence: list[tuple[str, dict]] = [("trivial", load(port, paths["trivial"], seconds, clients,
                                                                     server.pid))]
                for name in ("related", "cart"):
                    key = f"{name} ({state})"
                    if state == "warm cache":  # again each time: in-process copies live a minute
                        warm_up(port, paths[name], passes, clients)
                    sequence.append((key, load(port, paths[name], seconds, clients, server.pid)))
                    sequence.append(("trivial", load(port, paths["trivial"], seconds, clients, server.pid)))
                for i, (key, run) in enumerate(sequence):
                    runs.setdefault(key, []).append(run)
                    if key != "trivial":
                        around = statistics.mean([sequence[i - 1][1]["rps"], sequence[i + 1][1]["rps"]])
                        ratios.setdefault(key, []).append(run["rps"] / around)
                        print(f"  round {round_}, {key}: {run['rps']:.0f} req/s, p50 {run['p50']:.1f} ms, "
                              f"{ratios[key][-1]:.2f} of the trivial runs around it", flush=True)
    finally:
        for server, _ in servers.values():
            server.terminate()
            server.wait(timeout=30)
    results = {name: _merge(found, seconds) for name, found in runs.items()}
    for key, found in ratios.items():
        results[key]["ratio"] = statistics.median(found)
    results["trivial"]["ratio"] = 1.0
    return results


def cold_breakdown(samples: int = 300, seed: int = 1) -> dict[str, float]:
    """Where a cold related-products widget spends its time, in this process (median ms): with
    product cards (the default), and with cards switched off, when it reads the host's products."""
    from django.conf import settings
    from django.test import override_settings

    from goodsassoc import hosts, selectors, widget_query

    rng = random.Random(seed)
    products = [str(pk) for pk in Product.objects.order_by("-popularity").values_list("pk", flat=True)[:20_000]]
    adapter = hosts.get_adapter()
    limit = 10
    loaded = selectors.products_loaded(limit)  # what the widget asks the host for, plus the anchor
    whole, off = "whole widget, product cards (default)", "whole widget, cards off (reads the host's products)"
    rows_part = "its one query: published rows and their cards (UNION, prepared)"
    host = f"cards off: the host's products (ORM query, up to {loaded + 1} rows)"
    links = f"cards off: links of {limit} products (get_absolute_url)"
    parts: dict[str, list[float]] = {whole: [], rows_part: [], off: [], host: [], links: []}
    timed = functools.partial(_timed, parts)

    def host_products(wanted: list[str]) -> list[Any]:
        return list(adapter.get_queryset().filter(pk__in=wanted).order_by())

    def links_of(objects: list[Any]) -> list[str]:
        return [obj.get_absolute_url() for obj in objects[:limit]]

    keys = rng.sample(products, samples)
    for key in keys:
        _cold()
        timed(whole, selectors.related_products, key, limit=limit)
        timed(rows_part, widget_query.fetch, [
            widget_query.rules_branch("related", [key]), widget_query.related_branch([key], upto=limit * 2),
            widget_query.popular_branch([("all", "")], limit * 3, unless_related=(key, limit * 2)),
            widget_query.card_branch([key])])
    with override_settings(GOODSASSOC={**settings.GOODSASSOC, "PRODUCT_CARDS": False}):
        for key in keys:
            _cold()
            timed(off, selectors.related_products, key, limit=limit)
            rows = widget_query.fetch([widget_query.related_branch([key])])
            ranked = sorted(rows.related.get(key, []), key=lambda r: r[5])  # by published rank
            objects = timed(host, host_products, [r[0] for r in ranked[:loaded]] + [key])
            timed(links, links_of, objects)
    return {name: 1000 * statistics.median(values) for name, values in parts.items()}


def cold_cart_breakdown(samples: int = 300, seed: int = 1) -> dict[str, float]:
    """Where a cold "complete your cart" widget spends its time, in this process (median ms over
    ``samples`` carts of real orders): its query, the blend and rules in Python, and the shown
    items (their reasons, and a second query for any cards the first did not bring)."""
    from goodsassoc import cart_completion, selectors, widget_query

    limit = 10
    whole = "whole widget"
    candidates = "its query: candidates with their cards, rules, weights (UNION, prepared)"
    blend = "blend and rules over the candidates (Python)"
    shown = f"the {limit} shown: their items (and the cards the first query lacked)"
    parts: dict[str, list[float]] = {whole: [], candidates: [], blend: [], shown: []}
    timed = functools.partial(_timed, parts)
    for keys in sample_carts(samples, random.Random(seed)):
        keys = sorted(set(keys))
        _cold()
        timed(whole, selectors.cart_recommendations, keys, limit=limit)
        rows = timed(candidates, widget_query.fetch, cart_completion.branches(keys, limit))
        ranked = timed(blend, cart_completion.rank, rows, keys)
        timed(shown, selectors._finish, selectors.Recommendations("cart"), ranked, limit, rows.cards,
              read_cards=True)
    return {name: 1000 * statistics.median(values) for name, values in parts.items()}


def _timed(parts: dict[str, list[float]], name: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    started = time.perf_counter()
    value = call(*args, **kwargs)
    parts[name].append(time.perf_counter() - started)
    return value


def _cold() -> None:
    from django.core.cache import cache

    from goodsassoc import widget_cache

    cache.clear()
    widget_cache.clear_local()


def _get(port: int, path: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers={"Host": "127.0.0.1"})
    conn.getresponse().read()
    conn.close()


def markdown(model: dict, endpoints: dict, command: str, clients: int, workers: int, load: float,
             breakdown: dict[str, float] | None = None, passes: int = 0, rounds: int = 1,
             seconds: float = 0.0, cart_breakdown: dict[str, float] | None = None) -> str:
    pg = connection.cursor().connection.info.server_version
    trivial = endpoints["trivial"]["rps"]
    lines = [
        f"Command: `{command}`  ",
        f"Machine: {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
        f"PostgreSQL {pg // 10000}.{pg % 100}; gunicorn {workers} sync workers, {clients} concurrent clients; "
        f"run {time.strftime('%Y-%m-%d')}; load average before the endpoint runs {load:.1f} "
        f"(other work on the machine slows both sides of each ratio, and the absolute figures); the "
        f"database vacuumed and analyzed after the scores refresh, before the endpoint runs (as autovacuum "
        f"would within minutes of a publish). Warm cache: Redis and each worker's in-process copies, "
        f"filled by requesting each of the "
        f"2,000 paths {passes} times just before the measured run (a worker only keeps what it served); "
        f"cold cache: no cache at all (`DummyCache`), every request reads PostgreSQL; unprepared: the same "
        f"with `WIDGET_PREPARED_QUERY = False`, so that PostgreSQL parses and plans each widget's query "
        f"again; cards off: the same with `PRODUCT_CARDS = False`, so that each widget also reads the "
        f"host's products (as before cards).",
        "",
        f"Each widget ran {rounds} times for {seconds:.0f} s, each time between two runs of {seconds:.0f} s of the "
        f"trivial endpoint on the same server; its ratio is the median over those rounds of its requests/s over "
        f"the mean of the trivial runs just before and just after (requests/s and latencies below are over all "
        f"runs). The cache states' servers ran side by side and each round visited every state in turn, so that "
        f"a slow spell of the machine falls on every state rather than on one.",
        "",
        "CPU per request: CPU time of the gunicorn processes and of PostgreSQL's processes during a run, "
        "over its requests (median over runs; from /proc).",
        "",
        "| endpoint | requests/s | ratio to trivial | p50 ms | p95 ms | p99 ms | CPU ms/request: server "
        "| PostgreSQL |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in endpoints.items():
        lines.append(f"| {name} | {r['rps']:,.0f} | {r.get('ratio', r['rps'] / trivial):.2f} | {r['p50']:.1f} "
                     f"| {r['p95']:.1f} | {r['p99']:.1f} | {r['server_ms']:.2f} | {r['postgres_ms']:.2f} |")
    warm = min(endpoints[f"{w} (warm cache)"]["ratio"] for w in ("related", "cart"))
    cold = min(endpoints[f"{w} (cold cache)"]["ratio"] for w in ("related", "cart"))
    if breakdown:
        lines += ["", "Where a cold related-products widget spends its time (median ms over 300 products, "
                      "in one process, outside the server):", "", "| part | ms |", "|---|---:|"]
        lines += [f"| {name} | {ms:.2f} |" for name, ms in breakdown.items()]
    if cart_breakdown:
        lines += ["", "Where a cold \"complete your cart\" widget spends its time (median ms over 300 carts of real "
                      "orders, in one process, outside the server; the parts are timed apart from the whole):", "",
                  "| part | ms |", "|---|---:|"]
        lines += [f"| {name} | {ms:.2f} |" for name, ms in cart_breakdown.items()]
    for state, what, setting in COMPARED:
        if not all(f"{w} ({state})" in endpoints for w in ("related", "cart")):
            continue
        on = {w: endpoints[f"{w} (cold cache)"] for w in ("related", "cart")}
        off = {w: endpoints[f"{w} ({state})"] for w in ("related", "cart")}
        lines += ["", f"{what} ({setting}), cold cache, off -> on: " + "; ".join(
            f"{w}: ratio {off[w]['ratio']:.2f} -> {on[w]['ratio']:.2f}, server CPU {off[w]['server_ms']:.2f} -> "
            f"{on[w]['server_ms']:.2f} ms, PostgreSQL CPU {off[w]['postgres_ms']:.2f} -> {on[w]['postgres_ms']:.2f} ms"
            for w in ("related", "cart")) + "."]
    lines += ["", f"The trivial request costs the server {endpoints['trivial']['server_ms']:.2f} ms."]
    lines += ["", f"Goals (share of the trivial endpoint's throughput): warm cache >= 0.70: "
                  f"{'met' if warm >= 0.7 else 'not met'} ({warm:.2f}); cold cache >= 0.50: "
                  f"{'met' if cold >= 0.5 else 'not met'} ({cold:.2f})."]
    lines.append("")
    measured = model.get("measured")
    if measured:
        lines.append(f"Scores refresh measured on {measured['date']} (load average {measured['load']}, "
                     "5-minute, at the end; 2 would mean both cores busy with other work):")
    if "retrain" in model:
        r = model["retrain"]
        lines.append(f"Full retrain and publish ({r['counts'].get('lines', 0):,} lines, measured on "
                     f"{r.get('date', measured['date'] if measured else '?')}): {r['status']} in "
                     f"{r['seconds']:.0f} s; stages: " + ", ".join(f"{k} {v:.0f} s" for k, v in r["timings"].items())
                     + ".")
    r = model["refresh"]
    rate = r["rows"] / r["publish_seconds"] if r["publish_seconds"] else 0
    lines.append(f"Scores refresh: {r['rows']:,} rows published in {r['publish_seconds']:.1f} s "
                 f"({rate:,.0f} rows/s; whole refresh {r['seconds']:.0f} s).")
    if r.get("cards"):
        lines.append(f"Product cards: {r['cards']:,} written in {r['cards_seconds']:.1f} s (the run's last stage, "
                     "as the scheduled card sync does).")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds of each measured run")
    parser.add_argument("--rounds", type=int, default=5, help="measured runs per widget and cache state")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--warmup-passes", type=int, default=2 * 3,
                        help="requests per path before each warm-cache run (about 2 per worker)")
    parser.add_argument("--skip-training", action="store_true",
                        help="Reuse the served model and the retrain figures of the last full run (the scores "
                             "refresh runs and is measured).")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    # The retrain runs TensorFlow: in a process of its own, so that the one forking the load clients
    # below never ran it (a process forked after TensorFlow ran can hang, and its threads linger).
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        model = pool.submit(ensure_model, args.skip_training).result()
    print("Endpoints under load ...", flush=True)
    load = os.getloadavg()[0]
    endpoints = bench_endpoints(args.seconds, args.clients, args.workers, args.warmup_passes, args.rounds)
    print("Cold widget, part by part ...", flush=True)
    breakdown = cold_breakdown()
    cart_breakdown = cold_cart_breakdown()
    command = ("python benchmarks/serving.py " + " ".join(sys.argv[1:])).strip()
    text = markdown(model, endpoints, command, args.clients, args.workers, load, breakdown, args.warmup_passes,
                    args.rounds, args.seconds, cart_breakdown)
    print()
    print(text)
    if args.write_docs:
        write_section("serving", "Serving: widget endpoints, retrain and publish", text)
        print("\nWritten to docs/benchmarks.md")


if __name__ == "__main__":
    main()
