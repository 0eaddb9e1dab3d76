"""The shipped recommender on a small real slice of Complete Journey (real TensorFlow training)."""

import time

import numpy as np
import pytest

from goodsassoc.engine import artifact, publish, scoring
from goodsassoc.engine.peers import Popularity
from goodsassoc.engine.protocol import eval_cart, eval_related
from goodsassoc.engine.train import TrainConfig, train_embeddings
from goodsassoc.engine.tuning import REL_TOLERANCE, SHOP_NDCG_MARGIN, choose_shop_weights

pytestmark = pytest.mark.slow


def test_fit_reports_progress_and_counts(fitted):
    assert {"train", "tune", "neighbours"} <= set(fitted.stages)
    assert fitted.counts["items"] == len(fitted.tables.item_ids)
    assert fitted.training["best_epoch"] >= 1
    assert fitted.embeddings.shape == (len(fitted.tables.item_ids), 64)


def test_deterministic_with_a_seed(slice_split):
    data = slice_split[0]
    cfg = TrainConfig(epochs=1, pairs_per_epoch=10_000, batch_size=512, finetune_epochs=0, seed=7)
    first, second = train_embeddings(data, cfg), train_embeddings(data, cfg)
    np.testing.assert_allclose(first.embeddings, second.embeddings, atol=1e-6)
    other = train_embeddings(data, TrainConfig(**{**cfg.__dict__, "seed": 8}))
    assert not np.allclose(first.embeddings, other.embeddings, atol=1e-3)


def test_beats_popularity(slice_split, shipped):
    data, q = slice_split
    pop_model = Popularity().fit(data)
    pop = eval_related(pop_model, q, latency_queries=0)
    ours = eval_related(shipped, q, latency_queries=0)
    print("RELATED NDCG@10 popularity", pop["NDCG@10"], "shipped", ours["NDCG@10"])
    assert ours["NDCG@10"] > pop["NDCG@10"]
    assert ours["Coverage@10"] > pop["Coverage@10"]
    assert eval_cart(shipped, q, latency_queries=0)["NDCG@10"] >= eval_cart(pop_model, q, latency_queries=0)["NDCG@10"]


def test_cart_completion_without_tensorflow_is_fast(fitted):
    t = fitted.tables
    user = str(t.user_ids[0])
    cart = [str(i) for i in t.item_ids[t.repeat[0].indices[:3]]]
    out = scoring.complete_cart(t, cart, user, k=10)
    assert len(out) == 10 and not {o[0] for o in out} & set(cart)
    assert all(o[2] in {scoring.BOUGHT_BEFORE, scoring.BOUGHT_TOGETHER, scoring.YOUR_TASTE, scoring.POPULAR}
               for o in out)
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        scoring.complete_cart(t, cart, user, k=10)
        times.append(time.perf_counter() - t0)
    print(f"median cart completion {np.median(times) * 1000:.2f} ms")
    anonymous = scoring.complete_cart(t, cart, None, k=5)
    assert len(anonymous) == 5


def test_shops_include_new_shops_and_reasons(fitted):
    frame = publish.shop_affinity_frame(fitted.tables, k=5)
    assert frame["new_to_user"].any() and (~frame["new_to_user"]).any()
    assert set(frame["reason"]) <= {scoring.SHOP_USED, scoring.SHOP_SIMILAR}
    shops = scoring.shops_for_user(fitted.tables, str(fitted.tables.user_ids[0]), k=3)
    assert len(shops) == 3 and shops[0][1] >= shops[-1][1]
    assert scoring.shops_for_user(fitted.tables, "nobody", k=2)[0][2] == scoring.SHOP_POPULAR


def test_neighbour_table_has_readable_reasons(fitted):
    frame = publish.neighbours_frame(fitted.tables, fitted.neighbour_evidence, fitted.items)
    assert (frame.groupby("item_id").size() <= 30).all()
    assert (frame["item_id"] != frame["neighbour_id"]).all()
    together = frame[frame["reason"] == scoring.BOUGHT_TOGETHER]
    assert len(together) and together["evidence"].map(lambda e: e["text"].startswith("bought together")).all()
    assert {"all", "category_1", "shop"} <= set(fitted.popular["scope"])


def test_a_brand_column_of_two_labels_gives_no_same_brand_reason(fitted):
    assert fitted.items["brand"].nunique() < publish.MIN_BRANDS  # Complete Journey: "National", "Private"
    frame = publish.neighbours_frame(fitted.tables, fitted.neighbour_evidence, fitted.items)
    assert not frame["evidence"].map(lambda e: e.get("same_brand", False)).any()
    assert len(frame[frame["reason"] == scoring.SIMILAR_ITEM])  # still similar by category or vector


def test_brands_tell_unless_a_large_catalogue_has_only_a_few():
    import pandas as pd

    labels = pd.Series(["Private"] * 60 + ["National"] * 40)
    assert set(publish.telling_brands(labels)) == {""}
    brands = pd.Series(["Private"] * 60 + [f"B{i}" for i in range(5) for _ in range(8)])
    assert list(publish.telling_brands(brands)) == list(brands)
    small = pd.Series(["Forge", "Forge", "Oakline", None])
    assert list(publish.telling_brands(small)) == ["Forge", "Forge", "Oakline", ""]


def test_artifact_round_trip(fitted, tmp_path):
    path = artifact.save(fitted, tmp_path / "model")
    tables, manifest = artifact.load(path)
    assert manifest["version"] == artifact.VERSION and manifest["counts"] == fitted.counts
    assert (tables.neighbours != fitted.tables.neighbours).nnz == 0
    np.testing.assert_array_equal(tables.item_ids, fitted.tables.item_ids.astype(str))
    assert tables.weights == fitted.tables.weights
    user = str(tables.user_ids[1])
    assert scoring.complete_cart(tables, [str(tables.item_ids[0])], user) == scoring.complete_cart(
        fitted.tables, [str(tables.item_ids[0])], user)
    # saving again replaces the artifact atomically
    artifact.save(fitted, path)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("damage", ["truncate", "tamper", "manifest", "missing"])
def test_damaged_artifact_is_refused(fitted, tmp_path, damage):
    path = artifact.save(fitted, tmp_path / "model")
    arrays = path / "arrays.npz"
    if damage == "truncate":
        arrays.write_bytes(arrays.read_bytes()[:-100])
    elif damage == "tamper":
        raw = bytearray(arrays.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        arrays.write_bytes(bytes(raw))
    elif damage == "manifest":
        (path / "manifest.json").write_text("{\"format\": \"goodsassoc-engine-artifact\", \"ver")
    else:
        (path / "popular.parquet").unlink()
    with pytest.raises(artifact.ArtifactError):
        artifact.load(path)


def test_shop_weights_rank_at_least_as_well_as_item_knn_on_validation(fitted):
    """SHOPS is tuned for new shops only among weights that keep item-kNN's NDCG@10 on validation."""
    report = fitted.tuning["validation"]
    assert 0.0 < report["shops_reference"]["ndcg10"] <= 1.0 and 0.0 <= report["shops_new_recall5"] <= 1.0
    floor = min(report["shops_reference"]["ndcg10"] + SHOP_NDCG_MARGIN, report["shops_best_ndcg10"])
    assert floor <= report["shops"] <= report["shops_best_ndcg10"]


def test_related_weights_rank_within_tolerance_of_the_best_on_validation(fitted):
    report = fitted.tuning["validation"]
    best = report["related_best_ndcg10"]
    assert 0.0 < best * (1 - REL_TOLERANCE) <= report["related"] <= best
    assert 0.0 <= report["related_rare"] <= 1.0


def test_shop_weights_choice():
    scored = [(0.90, 0.10, "best ranking"), (0.885, 0.30, "most new shops"), (0.875, 0.50, "below item-kNN"),
              (0.886, 0.30, "same recall, better ranking")]
    assert choose_shop_weights(scored, 0.88)[2] == "same recall, better ranking"
    assert choose_shop_weights(scored, 0.8855)[2] == "best ranking"  # 0.886 is within the margin of 0.8855
    assert choose_shop_weights(scored, 0.95)[2] == "best ranking"  # none reaches item-kNN: rank best
    assert choose_shop_weights(scored, 0.80)[2] == "below item-kNN"
