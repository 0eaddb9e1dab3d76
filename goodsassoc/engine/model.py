"""The TensorFlow model: an item tower over id + attributes, trained with in-batch softmax.

Imported only by ``train.py`` (TensorFlow is heavy and must stay out of the serving path).
Shopper and cart representations are the normalised mean of their items' vectors, so the one
tower serves related items, cart completion and shop affinity.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from goodsassoc.engine.features import ItemFeatures


class ItemTower(keras.Model):
    """Maps item indices to unit vectors: sum of id, attribute and mean title-token embeddings, then a dense layer."""

    def __init__(self, features: ItemFeatures, dim: int = 64, seed: int = 0, id_dropout: float = 0.0) -> None:
        super().__init__()
        self.id_dropout = id_dropout
        self.seed_generator = keras.random.SeedGenerator(seed)
        sizes = features.sizes()
        init = keras.initializers.RandomNormal(stddev=0.05, seed=seed)
        self.names = ["id", *features.categorical]
        self.tables = {
            "id": tf.constant(features.ids, tf.int32),
            **{k: tf.constant(v, tf.int32) for k, v in features.categorical.items()},
        }
        self.token_table = tf.constant(features.tokens, tf.int32)
        self.embeddings = {
            n: keras.layers.Embedding(sizes[n], dim, embeddings_initializer=init, name=f"emb_{n}") for n in self.names
        }
        if features.id_init is not None:  # warm start from the co-occurrence spectrum
            self.embeddings["id"] = keras.layers.Embedding(
                sizes["id"], dim, embeddings_initializer=keras.initializers.Constant(features.id_init), name="emb_id"
            )
        self.token_embedding = keras.layers.Embedding(sizes["tokens"], dim, embeddings_initializer=init, name="emb_tok")
        self.dense = keras.layers.Dense(dim, kernel_initializer=keras.initializers.GlorotUniform(seed=seed))
        self.dim = dim

    def build(self, input_shape=None) -> None:
        for layer in [*self.embeddings.values(), self.token_embedding]:
            layer.build()
        self.dense.build((None, self.dim))
        self.built = True

    def call(self, items: tf.Tensor, training: bool = False) -> tf.Tensor:
        parts = [self.embeddings[n](tf.gather(self.tables[n], items)) for n in self.names]
        if training and self.id_dropout > 0:  # make the attributes carry the item alone sometimes (cold start)
            keep = keras.random.uniform((tf.shape(items)[0], 1), seed=self.seed_generator) >= self.id_dropout
            parts[0] = parts[0] * tf.cast(keep, parts[0].dtype)
        x = tf.add_n(parts)
        tok = tf.gather(self.token_table, items)
        mask = tf.cast(tok > 0, tf.float32)[..., None]
        t = tf.reduce_sum(self.token_embedding(tok) * mask, axis=-2) / tf.maximum(tf.reduce_sum(mask, axis=-2), 1.0)
        x = x + t
        x = x + self.dense(tf.nn.relu(x))
        return tf.math.l2_normalize(x, axis=-1)


class AssociationModel(keras.Model):
    """Two items that share a basket (or a shopper) should score above the batch's other items."""

    def __init__(self, features: ItemFeatures, dim: int = 64, temperature: float = 0.1, seed: int = 0,
                 log_q: np.ndarray | None = None, log_q_weight: float = 0.5, id_dropout: float = 0.0) -> None:
        super().__init__()
        self.tower = ItemTower(features, dim, seed, id_dropout)
        self.temperature = temperature
        self.log_q = tf.constant(log_q if log_q is not None else np.zeros(len(features.ids)), tf.float32)
        self.log_q_weight = log_q_weight

    def compute_loss(self, query: tf.Tensor, positive: tf.Tensor, weight: tf.Tensor) -> tf.Tensor:
        """Weighted in-batch softmax (both directions) with a partial log-Q popularity correction."""
        q = self.tower(query, training=True)
        p = self.tower(positive, training=True)
        logits = tf.matmul(q, p, transpose_b=True) / self.temperature
        labels = tf.range(tf.shape(query)[0])
        # The same item may appear twice in a batch: never treat it as its own negative.
        same = tf.cast(tf.equal(positive[None, :], positive[:, None]), tf.float32) - tf.eye(tf.shape(query)[0])
        logits_qp = logits - self.log_q_weight * tf.gather(self.log_q, positive)[None, :] - 1e9 * same
        logits_pq = tf.transpose(logits) - self.log_q_weight * tf.gather(self.log_q, query)[None, :]
        same_q = tf.cast(tf.equal(query[None, :], query[:, None]), tf.float32) - tf.eye(tf.shape(query)[0])
        logits_pq = logits_pq - 1e9 * same_q
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits_qp)
        loss += tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits_pq)
        return tf.reduce_sum(loss * weight) / tf.reduce_sum(weight) / 2.0


class SparseAdagrad:
    """Adagrad that updates only the embedding rows a batch touches (dense Adam on big tables is slow)."""

    def __init__(self, variables: list[tf.Variable], learning_rate: float = 0.05, initial: float = 1e-4,
                 eps: float = 1e-7) -> None:
        self.lr = learning_rate
        self.eps = eps
        self.slots = [tf.Variable(tf.fill(v.shape, initial), trainable=False) for v in variables]

    def apply(self, grads: list, variables: list[tf.Variable]) -> None:
        for g, v, acc in zip(grads, variables, self.slots, strict=True):
            if isinstance(g, tf.IndexedSlices):
                idx, pos = tf.unique(g.indices)
                vals = tf.math.unsorted_segment_sum(g.values, pos, tf.shape(idx)[0])
                acc.scatter_add(tf.IndexedSlices(vals * vals, idx))
                step = self.lr * vals / tf.sqrt(tf.gather(acc, idx) + self.eps)
                getattr(v, "value", v).scatter_sub(tf.IndexedSlices(step, idx))
            else:
                acc.assign_add(g * g)
                v.assign_sub(self.lr * g / tf.sqrt(acc + self.eps))


def item_embeddings(model: AssociationModel, n_items: int, batch: int = 8192) -> np.ndarray:
    """All items' unit vectors as a float32 numpy array (what the artifact stores)."""
    out = [model.tower(tf.range(s, min(s + batch, n_items))).numpy() for s in range(0, n_items, batch)]
    return np.concatenate(out).astype(np.float32)
