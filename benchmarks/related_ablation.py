"""How much the TF model adds to the related-items mixture, on the protocol's test period.

    python benchmarks/related_ablation.py [--interactions var/cj/lines.parquet] [--items var/cj/items.parquet]
                                          [--smooth 30] [--shares 0,0.2,0.6,1]

Trains the TF model on the protocol's training lines (as the shipped fit does), builds the
related candidates of the test anchors (all, and rare ones), and prints NDCG@10 of the blend
with the TF model's share (``related_tf``) varied, and that share's mean and median over the
anchors. Engine only: no Django, no database.
"""

from __future__ import annotations

import argparse

import numpy as np

from goodsassoc.engine import metrics
from goodsassoc.engine.data import cooccurrence, encode, normalize_items, normalize_lines, time_split
from goodsassoc.engine.protocol import build_queries
from goodsassoc.engine.recommender import RecommenderConfig, _pop_score, recent_popularity
from goodsassoc.engine.scoring import Weights, rank
from goodsassoc.engine.stats import group_levels
from goodsassoc.engine.train import train_embeddings
from goodsassoc.engine.tuning import related_in_chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interactions", default="var/cj/lines.parquet")
    parser.add_argument("--items", default="var/cj/items.parquet")
    parser.add_argument("--smooth", type=float, default=30.0)
    parser.add_argument("--shares", default="0,0.2,0.6,1")
    args = parser.parse_args()
    split = time_split(normalize_lines(args.interactions))
    data = encode(split.train, normalize_items(args.items))
    q = build_queries(split, data, 0)
    cfg = RecommenderConfig()
    emb = train_embeddings(data, cfg.train).embeddings
    counts = data.item_popularity
    cooc = cooccurrence(data)
    stats = (cooc, counts, emb, _pop_score(counts), recent_popularity(data), group_levels(data.items, cooc, counts))
    print(f"command: python benchmarks/related_ablation.py --smooth {args.smooth:g} --shares {args.shares}")
    for name, anchors, relevant in (("all", q.anchors, q.anchor_relevant), ("rare", q.cold_anchors, q.cold_relevant)):
        c = related_in_chunks(anchors, *stats)
        share = args.smooth / (counts[anchors] + args.smooth)
        row = [f"{name} anchors ({len(anchors)}): TF share at related_tf=1 mean {share.mean():.2f},"
               f" median {np.median(share):.2f}; NDCG@10"]
        for t in (float(x) for x in args.shares.split(",")):
            w = Weights(related_smooth=args.smooth, related_tf=t, related_pop=0.0, tf_temperature=cfg.train.temperature,
                        tf_log_q=cfg.train.log_q_weight)
            row.append(f"related_tf={t:g}: {metrics.mean_ndcg(rank(c.cand, c.score(w, counts), 10)[0], relevant):.4f}")
        print(" ".join(row[:1]), "; ".join(row[1:]), flush=True)


if __name__ == "__main__":
    main()
