"""The bridge from goodsassoc's data to the engine and back: fit, evaluate on a holdout, and
turn a fitted recommender into the tables that get published.

Imports the engine (and through it, during training only, TensorFlow) lazily.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from goodsassoc.conf import ga_settings
from goodsassoc.publishing import PublishTables

Progress = Callable[[str, int, int], None]
GATE_TASKS = ("related", "cart")
TOP_SHOPS = 10


@dataclass
class Holdout:
    """The new model and the popularity baseline on the last days of the data."""

    model: dict[str, dict] = field(default_factory=dict)
    popularity: dict[str, dict] = field(default_factory=dict)
    queries: dict[str, int] = field(default_factory=dict)
    cutoff: str = ""


# A quick first model (e.g. the demo's): a fraction of the default training, same model otherwise.
QUICK_OPTIONS = {"epochs": 2, "pairs_per_epoch": 250_000}


def _config(quick: bool = False) -> Any:
    """The engine's configuration: NEIGHBOURS plus any TRAINING_OPTIONS (engine config fields)."""
    from dataclasses import fields

    from goodsassoc.engine.recommender import RecommenderConfig
    from goodsassoc.engine.train import TrainConfig

    options = {**(QUICK_OPTIONS if quick else {}), **dict(ga_settings.TRAINING_OPTIONS or {})}
    train_fields = {f.name for f in fields(TrainConfig)}
    top_fields = {f.name for f in fields(RecommenderConfig)} - {"train", "k"}
    unknown = set(options) - train_fields - top_fields
    if unknown:
        raise ValueError(f"GOODSASSOC['TRAINING_OPTIONS'] has unknown key(s) {sorted(unknown)}; "
                         f"known: {sorted(train_fields | top_fields)}")
    base = RecommenderConfig()
    train = replace(base.train, **{k: v for k, v in options.items() if k in train_fields})
    return replace(base, k=ga_settings.NEIGHBOURS, train=train,
                   **{k: v for k, v in options.items() if k in top_fields})


def evaluate_on_holdout(lines: pd.DataFrame, items: pd.DataFrame, on_progress: Progress | None = None,
                        seed: int = 0) -> Holdout:
    """Fit on everything before the holdout period, score the holdout with the shared protocol."""
    from goodsassoc.engine import peers
    from goodsassoc.engine.data import encode, normalize_items, normalize_lines, time_split
    from goodsassoc.engine.protocol import EVALUATORS, build_queries
    from goodsassoc.engine.recommender import Recommender

    normal = normalize_lines(lines)
    split = time_split(normal, ga_settings.HOLDOUT_DAYS)
    result = Holdout(cutoff=str(getattr(split, "cutoff", "")))
    if split.train.empty or split.test.empty:
        return result
    data = encode(split.train, normalize_items(items) if items is not None else None)
    queries = build_queries(split, data, seed, 5000, 5000)
    result.queries = {"related": int(len(queries.anchors)), "cart": int(len(queries.cart_hidden))}
    if on_progress:
        on_progress("holdout", 0, 1)
    model = Recommender(_config())
    model.fit(data)
    baseline = peers.Popularity()
    baseline.fit(data)
    for task in GATE_TASKS:
        if result.queries[task]:
            result.model[task] = _plain(EVALUATORS[task](model, queries, latency_queries=0))
            result.popularity[task] = _plain(EVALUATORS[task](baseline, queries, latency_queries=0))
    return result


def _plain(metrics: dict) -> dict:
    """Numbers only, JSON-safe (no NaN)."""
    return {k: float(v) for k, v in metrics.items()
            if isinstance(v, (int, float, np.floating)) and np.isfinite(v)}


def fit(lines: pd.DataFrame, items: pd.DataFrame, on_progress: Progress | None = None, quick: bool = False) -> Any:
    """Fit the shipped recommender on all lines (the version that gets served)."""
    from goodsassoc.engine.recommender import fit_recommender

    return fit_recommender(lines, items, _config(quick), on_progress=on_progress)


def publish_tables(fitted: Any) -> PublishTables:
    """The fitted recommender's serving tables as rows of goodsassoc's published tables."""
    from goodsassoc.engine import publish

    t = fitted.tables
    # What the cart blend needs per item, as the engine's complete_cart reads it: the recent
    # share of baskets (its popularity term) and the product type (its same-kind factor).
    items = publish.item_popularity_frame(t).set_index("item_id")
    recent = (items["recent"].astype(float) if t.item_recent is not None
              else pd.Series(0.0, index=items.index))  # an artifact from before the recency term
    kinds = pd.Series(t.item_kind if t.item_kind is not None else -1, index=items.index).astype(int)

    def kind(keys: pd.Series) -> pd.Series:
        return keys.map(kinds).fillna(-1).astype(int)

    related = publish.neighbours_frame(t, fitted.neighbour_evidence, fitted.items)
    related = pd.DataFrame({
        "product_key": related["item_id"], "rank": related["rank"], "related_key": related["neighbour_id"],
        "score": related["score"].astype(float), "reason": related["reason"], "evidence": related["evidence"],
        "popularity": related["neighbour_id"].map(recent).fillna(0.0).astype(float),
        "product_kind": kind(related["item_id"]), "related_kind": kind(related["neighbour_id"]),
    })
    shopper = publish.repeat_frame(t).merge(publish.taste_frame(t), on=["user_id", "item_id"], how="outer")
    shopper_items = pd.DataFrame({"shopper_key": shopper["user_id"], "product_key": shopper["item_id"],
                                  "repeat": shopper["share"].fillna(0.0).astype(float),
                                  "taste": shopper["affinity"].fillna(0.0).astype(float),
                                  "recency": pd.to_numeric(shopper["recency"], errors="coerce").fillna(0.0),
                                  "kind": kind(shopper["item_id"])})
    shops = publish.shop_affinity_frame(t, k=TOP_SHOPS)
    popular_shops = publish.popular_shops_frame(t).head(TOP_SHOPS)
    total = max(float(t.shop_baskets.sum()), 1.0)
    shopper_shops = pd.concat([
        pd.DataFrame({"shopper_key": shops["user_id"], "rank": shops["rank"], "shop_key": shops["shop_id"],
                      "score": shops["score"].astype(float), "reason": shops["reason"],
                      "evidence": shops["evidence"]}),
        pd.DataFrame({"shopper_key": "", "rank": popular_shops["rank"], "shop_key": popular_shops["shop_id"],
                      "score": popular_shops["baskets"] / total, "reason": popular_shops["reason"],
                      "evidence": [{"baskets": int(n)} for n in popular_shops["baskets"]]}),
    ], ignore_index=True)
    top = float(max(t.item_baskets.max(initial=0), 1))
    popular = fitted.popular
    popular = pd.DataFrame({"scope": popular["scope"], "scope_key": popular["scope_value"].astype(str),
                            "rank": popular["rank"], "product_key": popular["item_id"],
                            "score": popular["baskets"] / top, "baskets": popular["baskets"],
                            "recent": popular["item_id"].astype(str).map(recent).fillna(0.0).astype(float),
                            "kind": kind(popular["item_id"].astype(str))})
    return PublishTables(related=related, shopper_items=shopper_items, shopper_shops=shopper_shops,
                         popular=popular)


def save_artifact(fitted: Any, directory: Path, version: Any) -> Path:
    """Write the versioned, verified artifact (atomically) for this model version."""
    from goodsassoc.engine import artifact

    return artifact.save(fitted, directory, extra={"model_version": version.pk})


def remove_artifact(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)


def rescore(directory: str, lines: pd.DataFrame, items: pd.DataFrame, on_progress: Progress | None = None) -> Any:
    """Score today's data with a saved model: its item vectors, blend weights and related-items
    ranker, no TensorFlow.

    Products the model has not seen get no vector, so their neighbours come from co-occurrence
    (and their category's popular items) until the next retrain.
    """
    from goodsassoc.engine import artifact
    from goodsassoc.engine.data import encode, normalize_items, normalize_lines
    from goodsassoc.engine.recommender import Fitted, build_tables, popular_items

    saved, manifest = artifact.load(directory)
    vectors = manifest["_arrays"]["embeddings"]
    data = encode(normalize_lines(lines), normalize_items(items))
    position = {str(item): n for n, item in enumerate(saved.item_ids)}
    embeddings = np.zeros((data.n_items, vectors.shape[1]), np.float32)
    for n, item in enumerate(data.item_ids):
        if str(item) in position:
            embeddings[n] = vectors[position[str(item)]]
    tables, evidence = build_tables(data, embeddings, saved.weights, _config(), on_progress=on_progress,
                                    ranker=saved.ranker)  # the related-items ranker holds no item ids
    return Fitted(tables=tables, embeddings=embeddings, items=data.items, neighbour_evidence=evidence,
                  tuning=manifest.get("tuning", {}), training=manifest.get("training", {}),
                  counts=manifest.get("counts", {}), popular=popular_items(data))
