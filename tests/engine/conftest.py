"""Shared fixtures of the engine tests: a small real slice of Complete Journey and one fitted model."""

import pandas as pd
import pytest

from goodsassoc.engine.completejourney import load_items, load_lines
from goodsassoc.engine.recommender import RecommenderConfig
from goodsassoc.engine.train import TrainConfig


def small_config(seed: int = 0) -> RecommenderConfig:
    train = TrainConfig(epochs=2, pairs_per_epoch=30_000, batch_size=512, finetune_epochs=1, seed=seed, val_days=30)
    return RecommenderConfig(k=30, train=train, tune_sample=1500, seed=seed)


@pytest.fixture(scope="session")
def cj_slice() -> tuple[pd.DataFrame, pd.DataFrame]:
    """About 150 households of real Complete Journey lines, in the protocol format, with their items."""
    lines = load_lines(households=150, seed=3)
    items = load_items()
    return lines, items[items["item_id"].isin(set(lines["item_id"]))].reset_index(drop=True)


@pytest.fixture(scope="session")
def slice_split(cj_slice):
    """The slice split by the protocol, encoded, with its test queries."""
    from goodsassoc.engine.data import encode, normalize_items, normalize_lines, time_split
    from goodsassoc.engine.protocol import build_queries

    lines, items = cj_slice
    split = time_split(normalize_lines(lines))
    data = encode(split.train, normalize_items(items))
    return data, build_queries(split, data, seed=0)


@pytest.fixture(scope="session")
def shipped(slice_split):
    """The shipped recommender fitted once on the slice's training period."""
    from goodsassoc.engine.recommender import Recommender

    stages = []
    model = Recommender(small_config(), on_progress=lambda s, d, t: stages.append(s)).fit(slice_split[0])
    model.fitted.stages = stages
    return model


@pytest.fixture(scope="session")
def fitted(shipped):
    return shipped.fitted
