"""The related-items ranker: pair features on hand-made tables, a seeded listwise fit, numpy scoring."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from goodsassoc.engine import artifact
from goodsassoc.engine.ranker import (
    FEATURES,
    Period,
    Ranker,
    RankerConfig,
    compare,
    fit_ranker,
    pair_context,
    pair_features,
    shortlist,
    train_ranker,
)
from goodsassoc.engine.scoring import RelatedCandidates, Weights
from goodsassoc.engine.stats import group_levels


def _candidates() -> tuple[RelatedCandidates, pd.DataFrame, np.ndarray]:
    items = pd.DataFrame({"item_id": list("abcd"), "category_2": ["x", "x", "y", None],
                          "title": ["soup", "soup", "bread", None], "brand": ["k", "k", "m", None],
                          "price": [1.0, 2.0, 0.0, np.nan]})
    counts = np.array([10.0, 5.0, 6.0, 1.0])
    cand = np.array([[1, 2, 3, -1]])
    together = np.array([[4.0, 1.0, 0.0, 0.0]], np.float32)
    c = RelatedCandidates(np.array([0]), cand, together, np.array([[0.5, 0.1, -0.2, 0.0]], np.float32),
                          np.zeros((1, 4), np.float32), np.full((1, 4), 0.1, np.float32))
    return c, items, counts


def test_pair_features_on_a_hand_made_anchor():
    c, items, counts = _candidates()
    cooc = sp.csr_matrix((4, 4), dtype=np.float32)
    f = pair_features(c, pair_context(items, counts, group_levels(items, cooc, counts)), Weights())
    assert f.shape == (1, 4, len(FEATURES)) and np.isfinite(f).all()
    col = {name: f[0, :, n] for n, name in enumerate(FEATURES)}
    assert col["log_together"][0] == pytest.approx(np.log1p(4.0))
    assert col["log_p_reverse"][0] == pytest.approx(np.log(4.0 / 6.0 + 1e-4), rel=1e-5)
    assert list(col["same_title"][:3]) == [1.0, 0.0, 0.0] and list(col["same_brand"][:3]) == [1.0, 0.0, 0.0]
    assert col["log_price_ratio"][0] == pytest.approx(np.log(2.0)) and col["price_missing"][1] == 1.0  # price 0
    assert col["tf_cosine"][0] == pytest.approx(0.5)


def test_price_ratio_is_signed_and_stored_rankers_keep_the_absolute_value():
    """Cheaper and pricier candidates differ; a ranker stored before that (no ``signed_price``
    in its arrays) still gets the absolute value it was trained on."""
    c, items, counts = _candidates()
    c.anchors, c.cand = np.array([1]), np.array([[0, 2, 3, -1]])  # anchor price 2.0, candidate 0 costs 1.0
    ctx = pair_context(items, counts, group_levels(items, sp.csr_matrix((4, 4), dtype=np.float32), counts))
    col = FEATURES.index("log_price_ratio")
    assert pair_features(c, ctx, Weights())[0, 0, col] == pytest.approx(-np.log(2.0))
    assert pair_features(c, ctx, Weights(), signed_price=False)[0, 0, col] == pytest.approx(np.log(2.0))
    stored = _copy_of_blend(5).to_arrays()
    assert Ranker.from_arrays(stored).signed_price
    del stored["signed_price"]
    assert not Ranker.from_arrays(stored).signed_price


def _synthetic(n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Candidates whose co-bought item is the one with the highest first feature, plus noise."""
    rng = np.random.default_rng(seed)
    feats = rng.normal(size=(n, m, len(FEATURES))).astype(np.float32)
    cand = np.tile(np.arange(m), (n, 1))
    relevant = [np.array([int(np.argmax(feats[r, :, 0] + 0.1 * rng.normal(size=m)))]) for r in range(n)]
    return feats, cand, relevant


def test_features_reuse_the_shortlist_blend_scores():
    c, items, counts = _candidates()
    ctx = pair_context(items, counts, group_levels(items, sp.csr_matrix((4, 4), dtype=np.float32), counts))
    sub, blend = shortlist(c, Weights(), counts, 4)
    valid = sub.cand >= 0
    np.testing.assert_array_equal(pair_features(sub, ctx, Weights(), blend)[valid],
                                  pair_features(sub, ctx, Weights())[valid])


def test_too_few_training_anchors_keep_the_blend():
    c, items, counts = _candidates()
    ctx = pair_context(items, counts, group_levels(items, sp.csr_matrix((4, 4), dtype=np.float32), counts))
    ranker, report = fit_ranker([Period(c, [np.array([1])], ctx)], Weights(), RankerConfig(depth=4, holdout=0.0))
    assert ranker is None and report == {"used": False, "train_anchors": 1, "reason": "too few training anchors"}


@pytest.mark.slow
def test_ranker_learns_and_is_deterministic():
    feats, cand, relevant = _synthetic(400, 12, 0)
    cfg = RankerConfig(depth=12, epochs=8, batch=16, hidden=(8,), seed=3)
    first, second = train_ranker(feats, cand, relevant, cfg), train_ranker(feats, cand, relevant, cfg)
    np.testing.assert_allclose(first.logits(feats), second.logits(feats), atol=1e-5)
    test_feats, test_cand, test_rel = _synthetic(200, 12, 1)
    scores = first.scores(test_feats, test_cand >= 0)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-5)
    hit = np.mean([np.argmax(s) == r[0] for s, r in zip(scores, test_rel, strict=True)])
    assert hit > 0.4  # chance is 1/12
    again = Ranker.from_arrays(first.to_arrays())
    np.testing.assert_allclose(again.logits(test_feats), first.logits(test_feats), atol=1e-6)


@pytest.mark.slow
def test_artifact_keeps_the_ranker(fitted, tmp_path):
    feats, cand, relevant = _synthetic(50, 6, 0)
    ranker = train_ranker(feats, cand, relevant, RankerConfig(depth=6, epochs=1, hidden=(4,)))
    original = fitted.tables.ranker
    fitted.tables.ranker = ranker.to_arrays()
    try:
        tables, _ = artifact.load(artifact.save(fitted, tmp_path / "model"))
    finally:
        fitted.tables.ranker = original
    assert set(tables.ranker) == set(ranker.to_arrays())
    np.testing.assert_allclose(Ranker.from_arrays(tables.ranker).logits(feats), ranker.logits(feats), atol=1e-6)


def test_candidates_in_chunks_match_all_at_once(slice_split):
    from goodsassoc.engine.data import cooccurrence
    from goodsassoc.engine.recommender import _pop_score, recent_popularity, related_batch
    from goodsassoc.engine.tuning import related_in_chunks

    data, queries = slice_split
    emb = np.random.default_rng(0).normal(size=(data.n_items, 8)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    counts, cooc = data.item_popularity, cooccurrence(data)
    args = (cooc, counts, emb, _pop_score(counts), recent_popularity(data), group_levels(data.items, cooc, counts))
    anchors = queries.anchors[:300]
    whole, chunked = related_batch(anchors, *args), related_in_chunks(anchors, *args, chunk=64)
    for name in ("cand", "together", "tf", "prior", "group_prior"):
        np.testing.assert_array_equal(getattr(chunked, name), getattr(whole, name))


def _unit_vectors(n: int) -> np.ndarray:
    emb = np.random.default_rng(0).normal(size=(n, 8)).astype(np.float32)
    return emb / np.linalg.norm(emb, axis=1, keepdims=True)


def _copy_of_blend(depth: int) -> Ranker:
    """A ranker whose logits are 50 x the blend's score: the blend's order."""
    kernel = np.zeros((len(FEATURES), 1), np.float32)
    kernel[FEATURES.index("blend_score")] = 50.0
    return Ranker(np.zeros(len(FEATURES), np.float32), np.ones(len(FEATURES), np.float32),
                  [(kernel, np.zeros(1, np.float32))], depth=depth)


def test_ranked_rows_keep_the_blend_mass(slice_split):
    """The ranker shares out the blend's score over the shortlist: rows do not all sum to 1."""
    from goodsassoc.engine.data import cooccurrence
    from goodsassoc.engine.recommender import _pop_score, neighbour_table, recent_popularity, related_batch

    data, queries = slice_split
    emb, w, anchors = _unit_vectors(data.n_items), Weights(), np.unique(queries.anchors)[:50]
    table, _ = neighbour_table(data, emb, w, 20, rows=anchors, ranker=_copy_of_blend(20))
    counts, cooc = data.item_popularity, cooccurrence(data)
    cands = related_batch(anchors, cooc, counts, emb, _pop_score(counts), recent_popularity(data),
                          group_levels(data.items, cooc, counts))
    sub, blend = shortlist(cands, w, counts, 20)
    mass = np.where(sub.cand >= 0, np.maximum(blend, 0.0), 0.0).sum(axis=1)
    np.testing.assert_allclose(np.asarray(table[anchors].sum(axis=1)).ravel(), mass, rtol=1e-4)
    assert np.ptp(mass) > 0.01  # anchors differ in how strongly they are linked


def test_earlier_period_is_carved_before_validation(slice_split):
    """The ranker's second period: anchors from the 30 days before the data's last 30, in time order."""
    from goodsassoc.engine.tuning import earlier_period
    from tests.engine.conftest import small_config

    data, _ = slice_split
    cfg = small_config()
    cfg.ranker = RankerConfig(earlier_anchors=500)
    period = earlier_period(data, cfg)
    assert period is not None and period.name == "earlier"
    assert 10 < len(period.cands.anchors) <= 500 and len(period.relevant) == len(period.cands.anchors)
    assert period.cands.cand.max() < data.n_items  # indices of the earlier catalogue, a subset of this one
    assert period.ctx.counts.sum() < data.item_popularity.sum()  # statistics from fewer lines
    assert np.abs(period.cands.tf).max() > 0  # its own TF vectors, trained on those fewer lines
    sub, blend = shortlist(period.cands, Weights(), period.ctx.counts, 20)
    tie = compare(_copy_of_blend(20), sub.cand, pair_features(sub, period.ctx, Weights(), blend), period.relevant)
    assert 0.0 < tie["blend"] < 1.0 and tie["ranker"] == pytest.approx(tie["blend"])


def _repeated(c: RelatedCandidates, n: int) -> RelatedCandidates:
    return RelatedCandidates(np.zeros(n, np.int64), *(np.tile(getattr(c, f), (n, 1))
                                                      for f in ("cand", "together", "tf", "pop", "prior")))


def test_rows_of_matches_items_by_id():
    """The earlier period's catalogue is a subset of validation's, in its own order: vectors follow ids."""
    from goodsassoc.engine.data import rows_of

    ids = np.array(["10", "7", "3", "42"], dtype=object)
    subset = np.array([42, 3, 10])
    np.testing.assert_array_equal(rows_of(ids, subset), [3, 2, 0])


@pytest.mark.slow
def test_a_ranker_must_win_on_every_period():
    """It learns validation's pattern (the blend's last candidate is the one bought), wins there and
    loses on the earlier period, where the blend's first choice is right: not kept."""
    c, items, counts = _candidates()
    ctx = pair_context(items, counts, group_levels(items, sp.csr_matrix((4, 4), dtype=np.float32), counts))
    cfg = RankerConfig(depth=4, epochs=30, hidden=(4,), min_anchors=10, seed=1)
    periods = [Period(_repeated(c, 400), [np.array([3])] * 400, ctx),
               Period(_repeated(c, 100), [np.array([1])] * 100, ctx, "earlier")]
    ranker, report = fit_ranker(periods, Weights(), cfg)
    held = report["holdout"]
    assert set(held) == {"validation", "earlier"} and held["earlier"]["train_anchors"] == 75
    assert held["validation"]["ranker"] > held["validation"]["blend"] * (1.0 + cfg.min_gain)
    assert held["earlier"]["ranker"] < held["earlier"]["blend"]
    assert ranker is None and report["used"] is False


def test_tf_probability_is_the_models_logit_over_the_candidates():
    """A softmax over the valid candidates of cosine / temperature + its share of log popularity."""
    c, _, counts = _candidates()
    c.log_q = np.log(np.array([[0.5, 0.1, 0.1, 0.3]], np.float32))
    w = Weights(tf_temperature=0.1, tf_log_q=0.5)
    p = c.tf_prob(w)
    z = np.array([0.5, 0.1, -0.2]) / 0.1 + 0.5 * np.log([0.5, 0.1, 0.1])
    assert p[0, :3] == pytest.approx(np.exp(z) / np.exp(z).sum(), rel=1e-5)
    assert p[0, 3] == 0.0  # no candidate
    c.tf[:] = 0.0  # equal cosines: the more popular candidate is the likelier
    assert c.tf_prob(w)[0, 0] > c.tf_prob(w)[0, 1]


def test_tf_share_falls_with_the_anchors_history():
    """Without history the model's estimate weighs ``related_tf``; with much history the counts decide."""
    c, _, counts = _candidates()
    w = Weights(related_smooth=10.0, related_tf=1.0, related_pop=0.0)
    counts_only = Weights(related_smooth=10.0, related_tf=0.0, related_pop=0.0)
    for n, share in ((0.0, 1.0), (10.0, 0.5), (990.0, 0.01)):
        counts[0] = n
        mixed, co = c.score(w, counts), c.score(counts_only, counts)
        assert mixed[0, :3] == pytest.approx(((1 - share) * co + share * c.tf_prob(w))[0, :3], rel=1e-5)


def test_related_weights_favour_rare_anchors_among_ties():
    from goodsassoc.engine.tuning import REL_TOLERANCE, choose_related_weights

    best = 0.1400
    scored = [(best, 0.090, "best"), (best * (1 - REL_TOLERANCE / 2), 0.097, "tie, better on rare anchors"),
              (best * (1 - 2 * REL_TOLERANCE), 0.120, "worse")]
    assert choose_related_weights(scored)[2] == "tie, better on rare anchors"
    assert choose_related_weights(scored, tolerance=0.0)[2] == "best"


def test_an_anchor_without_a_vector_keeps_the_counts_estimate():
    """A product new since training (rescored with a zero vector) is not handed to popularity."""
    c, _, counts = _candidates()
    c.tf[:] = 0.0
    c.log_q = np.log(np.array([[0.5, 0.1, 0.1, 0.3]], np.float32))
    mixed = c.score(Weights(related_smooth=10.0, related_tf=1.0, related_pop=0.0), counts)
    counts_only = c.score(Weights(related_smooth=10.0, related_tf=0.0, related_pop=0.0), counts)
    assert mixed[0, :3] == pytest.approx(counts_only[0, :3])


def test_weights_of_an_artifact_written_before_the_tf_logit():
    from goodsassoc.engine.artifact import weights_of

    old = {"weights": {"related_smooth": 30.0, "related_tf": 0.2, "cart_repeat": 2.0},
           "training": {"config": {"temperature": 0.05, "log_q_weight": 0.25}}}
    w = weights_of(old)
    assert (w.related_tf, w.tf_temperature, w.tf_log_q, w.cart_repeat) == (0.0, 0.05, 0.25, 2.0)
    new = {"weights": {"related_tf": 1.0, "tf_temperature": 0.1, "tf_log_q": 0.5}}
    assert weights_of(new).related_tf == 1.0
