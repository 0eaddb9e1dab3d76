"""Run the evaluation protocol on any interaction table and print (or write) its markdown table.

    python -m goodsassoc.engine.evaluate --interactions lines.parquet --items items.parquet \
        --tasks related,cart,shops [--models popularity,ease,shipped] [--write-markdown docs/quality.md]

Each model is tuned per task on a validation split carved from the end of train (the last 30
days of train), then refitted on all of train and scored on the test period.
"""

from __future__ import annotations

import argparse
import gc
import logging
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from goodsassoc.engine import peers
from goodsassoc.engine.data import Split, encode, normalize_items, normalize_lines, time_split
from goodsassoc.engine.protocol import EVALUATORS, Queries, build_queries

VALIDATION_SAMPLE = 5000


def _shipped(**kw):
    from goodsassoc.engine.recommender import Recommender

    return Recommender(**kw)


def _tf_alone(**kw):
    from goodsassoc.engine.recommender import TFOnly

    return TFOnly(**kw)


MODELS: dict[str, Callable[[], peers.Model]] = {
    "popularity": peers.Popularity,
    "knn-cosine": lambda: peers.ItemKNN(fixed_alpha=0.5, name="item-kNN cosine"),
    "knn-cp": lambda: peers.ItemKNN(name="item-kNN cond. prob. (alpha tuned)"),
    "rules": peers.AssociationRules,
    "ease": peers.EASE,
    "als": peers.ALS,
    "tf": _tf_alone,
    "shipped": _shipped,
}


def peak_memory_gb() -> float:
    """Peak resident memory of this process (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def tune_and_evaluate(
    make: Callable[[], peers.Model], split: Split, items: pd.DataFrame, tasks: list[str], seed: int = 0,
    test_queries: tuple | None = None,
) -> dict:
    """Tune ``make()``'s parameters per task on validation, refit on train, evaluate on test."""
    if getattr(make(), "self_tuning", False):  # tunes itself on the end of train
        return _evaluate_fitted(make, tasks, test_queries)
    val_split = time_split(split.train)
    probe = make()
    best: dict[str, tuple[float, dict, dict]] = {
        t: (-1.0, probe.fit_grid[0], dict((probe.grids.get(t) or [{}])[0])) for t in tasks
    }
    if val_split.train.empty or val_split.test.empty:  # too little history to tune: first grid point
        _log("no validation period inside train; default parameters")
        grid_fits: list[dict] = []
    else:
        val_data = encode(val_split.train, items)
        vq = build_queries(val_split, val_data, seed, max_anchors=VALIDATION_SAMPLE, max_carts=VALIDATION_SAMPLE)
        grid_fits = probe.fit_grid
    for fit_params in grid_fits:
        model = make()
        for k, v in fit_params.items():
            setattr(model, k, v)
        model.fit(val_data)
        for task in tasks:
            for params in model.grids.get(task, [{}]) or [{}]:
                model.params[task] = dict(params)
                score = EVALUATORS[task](model, vq, latency_queries=0)
                key = "NDCG@10"
                _log(f"  val {model.name} {task} {fit_params} {params}: {key}={score[key]:.4f}")
                if score[key] > best[task][0]:
                    best[task] = (score[key], fit_params, dict(params))
        del model
        gc.collect()
    gc.collect()
    data, q = test_queries
    results: dict = {"name": probe.name, "tasks": {}}
    fits: dict[str, list[str]] = {}
    for task in tasks:
        fits.setdefault(repr(sorted(best[task][1].items())), []).append(task)
    for fit_tasks in fits.values():
        fit_params = best[fit_tasks[0]][1]
        model = make()
        for k, v in fit_params.items():
            setattr(model, k, v)
        t0 = time.perf_counter()
        model.fit(data)
        fit_s = time.perf_counter() - t0
        for task in fit_tasks:
            model.params[task] = best[task][2]
            res = EVALUATORS[task](model, q)
            res["fit s"] = fit_s
            res["params"] = ", ".join(f"{k}={v:g}" for k, v in {**fit_params, **best[task][2]}.items())
            results["tasks"][task] = res
            _log(f"test {model.name} {task}: " + ", ".join(f"{k}={v}" for k, v in res.items()))
        del model
        gc.collect()
    return results


def _evaluate_fitted(make: Callable[[], peers.Model], tasks: list[str], test_queries: tuple) -> dict:
    data, q = test_queries
    model = make()
    t0 = time.perf_counter()
    model.fit(data)
    fit_s = time.perf_counter() - t0
    results: dict = {"name": model.name, "tasks": {}}
    for task in tasks:
        res = EVALUATORS[task](model, q)
        res["fit s"] = fit_s
        res["params"] = model.describe(task) if hasattr(model, "describe") else "tuned inside fit"
        results["tasks"][task] = res
        _log(f"test {model.name} {task}: " + ", ".join(f"{k}={v}" for k, v in res.items()))
    return results


COLUMNS = {
    "related": ["HR@10", "NDCG@10", "Recall@20", "Coverage@10", "NDCG@10 rare", "fit s", "ms/query", "params"],
    "cart": ["HR@10", "NDCG@10", "MRR@10", "fit s", "ms/query", "params"],
    "shops": ["Recall@5", "NDCG@10", "Recall@5 known", "NDCG@10 known", "Recall@5 new", "NDCG@10 new",
              "fit s", "ms/query", "params"],
}
TITLES = {"related": "RELATED", "cart": "CART", "shops": "SHOPS"}


def _fmt(v) -> str:
    if isinstance(v, str):
        return v
    if v != v:
        return "-"
    return f"{v:.4f}" if abs(v) < 10 else f"{v:.0f}"


def markdown(results: list[dict], stats: dict, tasks: list[str], command: str) -> str:
    """The protocol's report: dataset statistics, one table per task, and the command."""
    out = ["```", command, "```", "", "| dataset | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in stats.items()]
    for task in tasks:
        cols = COLUMNS[task]
        out += ["", f"### {TITLES[task]}", "", "| model | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        for r in results:
            if task in r["tasks"]:
                out.append(f"| {r['name']} | " + " | ".join(_fmt(r["tasks"][task].get(c, "")) for c in cols) + " |")
    return "\n".join(out) + "\n"


def dataset_stats(lines: pd.DataFrame, split: Split, q: Queries) -> dict:
    stats = {
        "rows (quantity > 0)": len(lines),
        "baskets": lines["basket_id"].nunique(),
        "items": lines["item_id"].nunique(),
        "users": lines["user_id"].nunique(),
        "shops": lines["shop_id"].nunique(),
        "data period": f"{lines['ts'].min():%Y-%m-%d} .. {lines['ts'].max():%Y-%m-%d}",
        "test period": f"baskets after {split.cutoff:%Y-%m-%d %H:%M}",
        "train lines / items": f"{len(split.train)} / {split.train['item_id'].nunique()}",
    }
    stats.update(q.stats)
    return stats


def run(lines: pd.DataFrame, items: pd.DataFrame, tasks: list[str], models: list[str], seed: int = 0,
        command: str = "") -> tuple[str, list[dict]]:
    """Evaluate ``models`` (keys of MODELS) on ``tasks``; return the markdown report and raw results."""
    t_start = time.perf_counter()
    split = time_split(lines)
    data = encode(split.train, items)
    q = build_queries(split, data, seed)
    stats = dataset_stats(lines, split, q)
    _log(f"dataset: {stats}")
    results = []
    for key in models:
        _log(f"model {key}")
        results.append(tune_and_evaluate(MODELS[key], split, items, tasks, seed, (data, q)))
        keep = data.cache.get("recommender")
        data.cache.clear()
        if keep is not None:
            data.cache["recommender"] = keep
        gc.collect()
    stats["evaluation wall time (s)"] = f"{time.perf_counter() - t_start:.0f}"
    stats["peak memory of the run (GB)"] = f"{peak_memory_gb():.2f}"
    return markdown(results, stats, tasks, command), results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interactions", required=True, help="lines in the protocol format (parquet or csv)")
    parser.add_argument("--items", default=None, help="item attributes (parquet or csv)")
    parser.add_argument("--tasks", default="related,cart,shops")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write-markdown", type=Path, default=None, help="write the report into this file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(message)s", datefmt="%H:%M:%S")
    command = "python -m goodsassoc.engine.evaluate " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = normalize_lines(args.interactions)
    items = normalize_items(args.items) if args.items else None
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    report, _ = run(lines, items, tasks, models, args.seed, command)
    print(report)
    if args.write_markdown:
        _write_report(args.write_markdown, report)


BEGIN, END = "<!-- evaluate:begin -->", "<!-- evaluate:end -->"


def _write_report(path: Path, report: str) -> None:
    """Replace the generated block of ``path`` (or append one) so hand-written text around it survives."""
    block = f"{BEGIN}\n{report}{END}\n"
    text = path.read_text() if path.exists() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1].lstrip("\n")
    else:
        text = text + ("\n" if text else "") + block
    path.write_text(text)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
