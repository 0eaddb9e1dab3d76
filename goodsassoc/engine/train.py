"""Train the TensorFlow item tower on basket co-occurrence and shopper histories.

The only module (with ``model.py``) that imports TensorFlow, and only inside ``train_embeddings``,
so that importing the engine, scoring and serving never loads it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import scipy.sparse as sp

from goodsassoc.engine.data import TrainData
from goodsassoc.engine.features import ItemFeatures, cooccurrence_vectors, item_features

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]


@dataclass
class TrainConfig:
    """Parameters of the TensorFlow model and its training."""

    dim: int = 64
    epochs: int = 3  # 6 x 1 M pairs scored no better on validation (HR@50) and took 4x as long
    pairs_per_epoch: int = 700_000
    batch_size: int = 1024
    history_share: float = 0.25  # share of pairs drawn from shopper histories instead of baskets
    history_weight: float = 0.5  # loss weight of a history pair relative to a basket pair
    temperature: float = 0.1
    learning_rate: float = 0.05
    adagrad_initial: float = 1e-4
    id_dropout: float = 0.3  # share of training items seen through their attributes only
    warm_start: bool = True  # id embedding starts from the co-occurrence spectrum
    optimizer: str = "adagrad"  # "adagrad" (sparse row updates) or "adam" (dense, slower on big tables)
    log_q_weight: float = 0.5
    min_id_baskets: int = 3  # items with fewer training baskets are represented by attributes only
    val_days: float = 14.0  # early stopping on the baskets of the last days of the training period
    patience: int = 1
    finetune_epochs: int = 1  # epochs on all training baskets (validation period included) after early stopping
    threads: int = 2
    seed: int = 0


@dataclass
class TrainedEmbeddings:
    """What training produces: one unit vector per item plus the record of the training."""

    embeddings: np.ndarray  # (n_items, dim) float32, after the final epochs on all training baskets
    val_embeddings: np.ndarray  # the best early-stopped vectors, trained without the validation period
    features: ItemFeatures
    history: list[dict] = field(default_factory=list)
    config: dict = field(default_factory=dict)
    best_epoch: int = 0
    seconds: float = 0.0


# TensorFlow's C++ start-up notices reach file descriptor 2 before any log level applies.
_BANNERS = ("oneDNN custom operations", "absl::InitializeLog()", "cpu_feature_guard.cc",
            "To enable the following instructions", "rebuild TensorFlow with the appropriate compiler flags")
_import_lock = threading.Lock()


@contextlib.contextmanager
def _banners_dropped():
    """While TensorFlow loads (once per process), fd 2 goes to a temporary file; afterwards every
    line but the known banners is written back, so a real error or warning is never lost."""
    with _import_lock:
        if "tensorflow" in sys.modules:
            yield
            return
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no usable fd 2 (a detached daemon): nothing to tidy
            yield
            return
        with tempfile.TemporaryFile() as captured:
            os.dup2(captured.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                captured.seek(0)
                kept = [line for line in captured.read().decode(errors="replace").splitlines(keepends=True)
                        if not any(b in line for b in _BANNERS)]
                if kept:
                    sys.stderr.write("".join(kept))
                    sys.stderr.flush()


def _configure_tf(threads: int, seed: int):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _banners_dropped():
        import keras
        import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already initialised in this process
        pass
    keras.utils.set_random_seed(seed)
    return tf


def sample_pairs(
    basket_items: sp.csr_matrix, user_items: sp.csr_matrix, n: int, history_share: float, history_weight: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Item pairs sharing a basket (weighted by line weights) or a shopper's history."""

    def from_rows(m: sp.csr_matrix, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sizes = np.diff(m.indptr)
        ok = np.flatnonzero(sizes >= 2)
        if count == 0 or len(ok) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
        p = sizes[ok].astype(np.float64) * (sizes[ok] - 1)
        rows = ok[rng.choice(len(ok), size=count, p=p / p.sum())]
        a = rng.integers(0, sizes[rows])
        b = (a + rng.integers(1, sizes[rows])) % sizes[rows]
        ia, ib = m.indptr[rows] + a, m.indptr[rows] + b
        return m.indices[ia].astype(np.int64), m.indices[ib].astype(np.int64), (m.data[ia] * m.data[ib]).astype(
            np.float32
        )

    n_hist = int(n * history_share)
    q1, p1, w1 = from_rows(basket_items, n - n_hist)
    binary_hist = user_items.copy()
    binary_hist.data = np.minimum(binary_hist.data, 1.0)
    q2, p2, w2 = from_rows(binary_hist, n_hist)
    q, p, w = np.concatenate([q1, q2]), np.concatenate([p1, p2]), np.concatenate([w1, w2 * history_weight])
    order = rng.permutation(len(q))
    return q[order], p[order], w[order]


def _hit_rate(emb: np.ndarray, q: np.ndarray, p: np.ndarray, k: int = 50) -> float:
    """Share of validation pairs whose partner is in the query item's top ``k`` over the whole catalogue."""
    hits = 0
    for s in range(0, len(q), 512):
        scores = emb[q[s : s + 512]] @ emb.T
        scores[np.arange(len(scores)), q[s : s + 512]] = -np.inf
        target = scores[np.arange(len(scores)), p[s : s + 512]]
        hits += int(((scores > target[:, None]).sum(axis=1) < k).sum())
    return hits / max(len(q), 1)


def train_embeddings(data: TrainData, config: TrainConfig | None = None, on_progress: Progress | None = None
                     ) -> TrainedEmbeddings:
    """Train the item tower with early stopping on the last ``val_days`` of ``data``; return item vectors."""
    cfg = config or TrainConfig()
    t0 = time.perf_counter()
    tf = _configure_tf(cfg.threads, cfg.seed)
    from goodsassoc.engine.model import AssociationModel, SparseAdagrad, item_embeddings

    rng = np.random.default_rng(cfg.seed)
    features = item_features(data, cfg.min_id_baskets)
    if cfg.warm_start:
        features.id_init = cooccurrence_vectors(data, features.ids, cfg.dim, cfg.seed)
    cut = data.basket_time.max() - cfg.val_days * 86400
    fit_rows = np.flatnonzero(data.basket_time <= cut)
    val_rows = np.flatnonzero(data.basket_time > cut)
    if len(val_rows) < 20 or len(fit_rows) < 20:
        fit_rows, val_rows = np.arange(data.basket_items.shape[0]), np.zeros(0, np.int64)
    fit_baskets = data.basket_items[fit_rows]
    users = data.basket_user[fit_rows]
    own = sp.csr_matrix((np.ones((users >= 0).sum(), np.float32), (users[users >= 0], np.flatnonzero(users >= 0))),
                        shape=(data.n_users, len(fit_rows)))
    fit_users = (own @ (fit_baskets > 0).astype(np.float32)).tocsr()
    val_q, val_p, _ = sample_pairs(data.basket_items[val_rows], fit_users[:0], min(4000, 4 * len(val_rows)), 0.0,
                                   0.0, np.random.default_rng(cfg.seed + 1))
    pop = np.asarray((fit_baskets > 0).sum(axis=0)).ravel().astype(np.float64)
    log_q = np.log((pop + 1.0) / (pop.sum() + len(pop))).astype(np.float32)
    model = AssociationModel(features, cfg.dim, cfg.temperature, cfg.seed, log_q, cfg.log_q_weight, cfg.id_dropout)
    model.tower(tf.constant([0], tf.int32))
    variables = model.trainable_variables
    if cfg.optimizer == "adam":
        import keras

        adam = keras.optimizers.Adam(cfg.learning_rate)

        def apply(grads, variables):
            adam.apply_gradients(zip(grads, variables, strict=True))
    else:
        apply = SparseAdagrad(variables, cfg.learning_rate, cfg.adagrad_initial).apply

    @tf.function(reduce_retracing=True)
    def step(q, p, w):
        with tf.GradientTape() as tape:
            loss = model.compute_loss(q, p, w)
        apply(tape.gradient(loss, variables), variables)
        return loss

    history, best, best_emb, best_weights, best_epoch, bad = [], -1.0, None, None, 0, 0
    steps = cfg.pairs_per_epoch // cfg.batch_size
    for epoch in range(1, cfg.epochs + 1):
        q, p, w = sample_pairs(fit_baskets, fit_users, steps * cfg.batch_size, cfg.history_share,
                               cfg.history_weight, rng)
        losses = []
        for s in range(steps):
            sl = slice(s * cfg.batch_size, (s + 1) * cfg.batch_size)
            losses.append(float(step(tf.constant(q[sl], tf.int32), tf.constant(p[sl], tf.int32),
                                     tf.constant(w[sl], tf.float32))))
            if on_progress and s % 100 == 0:
                on_progress("train", (epoch - 1) * steps + s, cfg.epochs * steps)
        emb = item_embeddings(model, data.n_items)
        val = _hit_rate(emb, val_q, val_p) if len(val_q) else -float(np.mean(losses))
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "val_hr50": val,
                        "seconds": time.perf_counter() - t0})
        log.info("epoch %d loss %.4f val HR@50 %.4f (%.0fs)", epoch, np.mean(losses), val, time.perf_counter() - t0)
        if val > best:
            best, best_emb, best_weights, best_epoch, bad = val, emb, model.get_weights(), epoch, 0
        else:
            bad += 1
            if bad > cfg.patience:
                break
    model.set_weights(best_weights)
    final = best_emb
    if cfg.finetune_epochs and len(val_rows):
        all_users = data.user_items.copy()
        for epoch in range(cfg.finetune_epochs):
            q, p, w = sample_pairs(data.basket_items, all_users, steps * cfg.batch_size, cfg.history_share,
                                   cfg.history_weight, rng)
            losses = [float(step(tf.constant(q[sl], tf.int32), tf.constant(p[sl], tf.int32),
                                 tf.constant(w[sl], tf.float32)))
                      for sl in (slice(s * cfg.batch_size, (s + 1) * cfg.batch_size) for s in range(steps))]
            history.append({"epoch": f"final {epoch + 1}", "loss": float(np.mean(losses)),
                            "seconds": time.perf_counter() - t0})
            log.info("final epoch on all baskets: loss %.4f (%.0fs)", np.mean(losses), time.perf_counter() - t0)
        final = item_embeddings(model, data.n_items)
    if on_progress:
        on_progress("train", cfg.epochs * steps, cfg.epochs * steps)
    return TrainedEmbeddings(embeddings=final, val_embeddings=best_emb, features=features, history=history,
                             config=asdict(cfg), best_epoch=best_epoch, seconds=time.perf_counter() - t0)
