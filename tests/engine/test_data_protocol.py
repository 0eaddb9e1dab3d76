"""The interaction table, the time split and the protocol's queries on a toy table."""

import numpy as np
import pandas as pd
import pytest

from goodsassoc.engine import metrics
from goodsassoc.engine.data import encode, normalize_lines, time_split
from goodsassoc.engine.peers import Popularity
from goodsassoc.engine.protocol import build_queries, eval_cart, eval_related, eval_shops

DAY = pd.Timedelta(days=1)
T0 = pd.Timestamp("2024-01-01")


def toy_lines() -> pd.DataFrame:
    rows = [
        # user, basket, item, shop, day
        ("u1", "b1", "a", "s1", 0), ("u1", "b1", "b", "s1", 0), ("u1", "b1", "c", "s1", 0),
        ("u2", "b2", "a", "s1", 1), ("u2", "b2", "b", "s1", 1),
        ("u2", "b3", "a", "s2", 2), ("u2", "b3", "c", "s2", 2),
        ("u3", "b4", "d", "s2", 3), ("u3", "b4", "a", "s2", 3),
        # test period (last 30 days): b5 spans the cutoff but starts after it
        ("u1", "b5", "a", "s2", 60), ("u1", "b5", "b", "s2", 60), ("u1", "b5", "z", "s2", 61),
        ("u2", "b6", "c", "s1", 61), ("u2", "b6", "z", "s1", 61),
        (None, "b7", "a", None, 62), (None, "b7", "d", None, 62),
    ]
    df = pd.DataFrame(rows, columns=["user_id", "basket_id", "item_id", "shop_id", "day"])
    df["ts"] = T0 + df.pop("day") * DAY
    df["quantity"] = 1
    df.loc[len(df)] = ["u3", "b4", "e", "s2", T0 + 3 * DAY, 0]  # quantity 0: dropped
    return df


def test_normalize_makes_string_ids_and_drops_zero_quantity():
    lines = normalize_lines(toy_lines().assign(item_id=lambda d: d["item_id"]))
    assert "e" not in set(lines["item_id"])
    ints = normalize_lines(
        pd.DataFrame({"basket_id": [1, 1], "item_id": [10, 11], "ts": [T0, T0], "user_id": [7, None]})
    )
    assert ints["item_id"].tolist() == ["10", "11"] and ints["user_id"].isna().tolist() == [False, True]
    kinds = normalize_lines(pd.DataFrame({"basket_id": [1, 1], "item_id": [1, 2], "ts": [T0, T0],
                                          "kind": ["view", "purchase"]}))
    assert kinds["weight"].tolist() == [0.2, 1.0]


def test_split_by_basket_time_never_splits_a_basket():
    split = time_split(normalize_lines(toy_lines()))
    assert set(split.test["basket_id"]) == {"b5", "b6", "b7"}
    assert not set(split.train["basket_id"]) & set(split.test["basket_id"])
    assert split.cutoff == T0 + 62 * DAY - 30 * DAY


def test_queries_and_popularity_metrics_by_hand():
    split = time_split(normalize_lines(toy_lines()))
    data = encode(split.train)
    q = build_queries(split, data, seed=0)
    # z never occurs in train: 2 of 7 test lines dropped; b6 keeps only c -> not used
    assert q.stats["test lines dropped (item unseen in train)"] == f"{2 / 7:.1%}"
    assert q.stats["test baskets (>= 2 items)"] == 2
    ids = list(data.item_ids)
    anchors = sorted(ids[a] for a in q.anchors)
    assert anchors == ["a", "a", "b", "d"]
    # popularity in train: a 4 baskets, b 2, c 2, d 1 -> ranking a, b, c, d (ties by index)
    res = eval_related(Popularity().fit(data), q, latency_queries=0)
    # anchor a (b5): relevant {b} at rank 1 -> 1; anchor b: relevant {a} at rank 1 -> 1
    # anchor a (b7): relevant {d}: ranking b, c, d -> rank 3 -> 0.5; anchor d: relevant {a} rank 1 -> 1
    assert res["NDCG@10"] == pytest.approx((1 + 1 + 0.5 + 1) / 4)
    assert res["HR@10"] == pytest.approx(1.0)
    cart = eval_cart(Popularity().fit(data), q, latency_queries=0)
    assert 0.0 <= cart["NDCG@10"] <= 1.0
    shops = eval_shops(Popularity().fit(data), q, latency_queries=0)
    # u1 bought in s2 in test (known: u1 used only s1 -> new); u2 in s1 (known)
    assert shops["Recall@5"] == pytest.approx(1.0)
    assert shops["Recall@5 new"] == pytest.approx(1.0) and shops["Recall@5 known"] == pytest.approx(1.0)
    assert metrics.ndcg([0], {0}, 10) == 1.0


def test_encode_counts_baskets():
    data = encode(time_split(normalize_lines(toy_lines())).train)
    pop = dict(zip(data.item_ids, data.item_popularity, strict=True))
    assert pop == {"a": 4, "b": 2, "c": 2, "d": 1}
    assert data.user_shops.toarray().sum() == 4
    assert np.all(data.basket_user >= 0)


def test_evaluate_command_writes_the_report(tmp_path, capsys):
    from goodsassoc.engine import evaluate

    path = tmp_path / "lines.csv"
    toy_lines().to_csv(path, index=False)
    doc = tmp_path / "quality.md"
    doc.write_text("# Quality\n\nhand-written text\n")
    evaluate.main(["--interactions", str(path), "--tasks", "related,cart,shops", "--models", "popularity,knn-cp",
                   "--write-markdown", str(doc)])
    text = doc.read_text()
    assert "hand-written text" in text and "### RELATED" in text and "### SHOPS" in text
    assert "| popularity / own frequency | 1.0000 | 0.8750 |" in text
    assert "python -m goodsassoc.engine.evaluate --interactions" in capsys.readouterr().out
    evaluate.main(["--interactions", str(path), "--models", "popularity", "--write-markdown", str(doc)])
    assert doc.read_text().count(evaluate.BEGIN) == 1
