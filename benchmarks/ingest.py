"""Ingest benchmark: the events endpoint under concurrent clients, and the historical import,
each next to a raw COPY of the same rows into the same table, measured in the same run.

    python benchmarks/ingest.py [--events 100000] [--clients 8] [--batch 100] [--write-docs]

Runs on PostgreSQL (database ``goodsassoc_bench`` on 127.0.0.1, created if missing) with the
demo shop as host; the first run loads the full Complete Journey data (a few minutes).
The endpoint is served by gunicorn, as in production.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import platform
import random
import statistics
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

import django  # noqa: E402

django.setup()

import pandas as pd  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from benchmarks.report import write_section  # noqa: E402
from benchmarks.server import start_gunicorn  # noqa: E402
from goodsassoc.importing import WRITE_COLUMNS, import_lines  # noqa: E402
from goodsassoc.models import Interaction  # noqa: E402
from shop_demo.models import Product  # noqa: E402

TABLE = Interaction._meta.db_table


def ensure_demo_data() -> None:
    call_command("migrate", verbosity=0)
    if Product.objects.count() < 90_000:
        print("Loading the full Complete Journey data into the demo shop (first run only) ...", flush=True)
        call_command("load_demo", all=True)


def history_table() -> pd.DataFrame:
    """The demo shop's order history in the import format (1.4 M lines)."""
    sql = """SELECT o.user_id::text AS user_id, o.id::text AS basket_id, l.product_id::text AS item_id,
                    o.store_id::text AS shop_id, o.created_at AS ts, l.quantity, l.unit_price::float8 AS price
             FROM shop_demo_orderline l JOIN shop_demo_order o ON o.id = l.order_id ORDER BY l.id"""
    with connection.cursor() as cursor:
        cursor.execute(sql)
        columns = [c.name for c in cursor.description]
        return pd.DataFrame(cursor.fetchall(), columns=columns)


def truncate() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {TABLE}")


def raw_copy(rows_csv: str, count: int) -> float:
    """Seconds for a plain COPY of prepared rows into the interactions table."""
    truncate()
    started = time.perf_counter()
    with connection.cursor() as cursor, cursor.copy(
            f"COPY {TABLE} ({', '.join(WRITE_COLUMNS)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')") as copy:
        copy.write(rows_csv)  # deliberately raw: the denominator
    seconds = time.perf_counter() - started
    assert Interaction.objects.count() == count
    return seconds


def stored_rows_as_csv() -> tuple[str, int]:
    with connection.cursor() as cursor:
        buffer = io.BytesIO()
        with cursor.copy(f"COPY (SELECT {', '.join(WRITE_COLUMNS)} FROM {TABLE}) TO STDOUT "
                         f"WITH (FORMAT csv, NULL '\\N')") as copy:
            for data in copy:
                buffer.write(data)
        count = Interaction.objects.count()
    return buffer.getvalue().decode(), count


def bench_import() -> dict:
    frame = history_table()
    truncate()
    report, _ = import_lines(frame)
    again, _ = import_lines(frame)
    rows_csv, count = stored_rows_as_csv()
    copy_seconds = raw_copy(rows_csv, count)
    return {"lines": report.read, "stored": report.stored, "seconds": report.seconds,
            "rate": report.read / report.seconds, "rerun_seconds": again.seconds,
            "rerun_stored": again.stored, "copy_seconds": copy_seconds, "copy_rate": count / copy_seconds}


def client(port: int, products: list[str], batches: int, batch_size: int, seed: int) -> list[float]:
    """One shopper-facing client: posts batches over a kept-alive connection; returns latencies."""
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    latencies = []
    headers = {"Content-Type": "application/json", "Host": "127.0.0.1"}
    for _ in range(batches):
        events = [{"event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                   "kind": rng.choice(("view", "view", "add_to_cart", "purchase")),
                   "product": rng.choice(products), "quantity": 1} for _ in range(batch_size)]
        body = json.dumps({"events": events})
        started = time.perf_counter()
        conn.request("POST", "/goodsassoc/api/events/", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        if response.status != 201:
            raise RuntimeError(f"events endpoint answered {response.status}")
    conn.close()
    return latencies


def bench_endpoint(events: int, clients: int, batch_size: int, workers: int) -> dict:
    truncate()
    products = [str(pk) for pk in Product.objects.values_list("pk", flat=True)[:20_000]]
    server, port = start_gunicorn(workers)
    batches = max(1, events // (clients * batch_size))
    try:
        client(port, products, 2, batch_size, seed=999)  # warm-up: imports, connections
        truncate()
        started = time.perf_counter()
        with ProcessPoolExecutor(clients) as pool:
            results = list(pool.map(client, [port] * clients, [products] * clients, [batches] * clients,
                                    [batch_size] * clients, range(clients)))
        seconds = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    latencies = sorted(x for r in results for x in r)
    stored = Interaction.objects.count()
    rows_csv, count = stored_rows_as_csv()
    copy_seconds = raw_copy(rows_csv, count)
    return {"events": stored, "seconds": seconds, "rate": stored / seconds, "clients": clients,
            "batch": batch_size, "workers": workers, "p50_ms": 1000 * statistics.median(latencies),
            "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
            "copy_seconds": copy_seconds, "copy_rate": count / copy_seconds}


def markdown(imp: dict, api: dict, command: str) -> str:
    pg = connection.cursor().connection.info.server_version
    return "\n".join([
        f"Command: `{command}`  ",
        f"Machine: {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
        f"PostgreSQL {pg // 10000}.{pg % 100}; "
        f"run {time.strftime('%Y-%m-%d')}.",
        "",
        "| path | rows | seconds | rows/s | raw COPY rows/s | ratio to raw COPY |",
        "|---|---:|---:|---:|---:|---:|",
        f"| historical import (`goodsassoc_import`: read, check, pseudonymise, COPY, de-duplicate) "
        f"| {imp['lines']:,} | {imp['seconds']:.1f} | {imp['rate']:,.0f} | {imp['copy_rate']:,.0f} "
        f"| {imp['rate'] / imp['copy_rate']:.2f} |",
        f"| events endpoint, {api['clients']} concurrent clients x batches of {api['batch']}, "
        f"gunicorn {api['workers']} workers | {api['events']:,} | {api['seconds']:.1f} | {api['rate']:,.0f} "
        f"| {api['copy_rate']:,.0f} | {api['rate'] / api['copy_rate']:.3f} |",
        "",
        f"Re-running the same import stored {imp['rerun_stored']} new rows in {imp['rerun_seconds']:.1f} s "
        f"(idempotent). Events endpoint batch latency: p50 {api['p50_ms']:.0f} ms, p95 {api['p95_ms']:.0f} ms.",
        "",
        f"Goal: 1.4 M lines imported in under 2 minutes on PostgreSQL: "
        f"{'met' if imp['seconds'] < 120 else 'not met'} ({imp['seconds']:.0f} s for {imp['lines']:,} lines).",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--write-docs", action="store_true", help="Write the results into docs/benchmarks.md.")
    args = parser.parse_args()
    ensure_demo_data()
    print("Import benchmark ...", flush=True)
    imp = bench_import()
    print(f"  import: {imp['lines']:,} lines in {imp['seconds']:.1f} s = {imp['rate']:,.0f} lines/s; "
          f"raw COPY {imp['copy_rate']:,.0f} rows/s", flush=True)
    print("Events endpoint benchmark ...", flush=True)
    api = bench_endpoint(args.events, args.clients, args.batch, args.workers)
    print(f"  endpoint: {api['events']:,} events in {api['seconds']:.1f} s = {api['rate']:,.0f} events/s; "
          f"raw COPY {api['copy_rate']:,.0f} rows/s", flush=True)
    command = "python benchmarks/ingest.py " + " ".join(sys.argv[1:])
    text = markdown(imp, api, command.strip())
    print()
    print(text)
    if args.write_docs:
        write_section("ingest", "Ingest: events endpoint and historical import", text)
        print("\nWritten to docs/benchmarks.md")


if __name__ == "__main__":
    main()
