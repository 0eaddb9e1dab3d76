"""How deep cart completion needs to read each cart item's neighbours, on the protocol's test period.

    python benchmarks/cart_depth.py [--interactions var/cj/lines.parquet] [--items var/cj/items.parquet]
                                    [--depths 5,10,20,30,50]

Fits the shipped recommender on the protocol's training lines (its CART weights tuned at the
engine's ``CART_DEPTH``), then prints CART HR@10 and NDCG@10 on the test carts with each cart item
lending only its top ``depth`` neighbours (by score: the published rank). The cart widget reads
that many published rows per cart item, so the depth sets how many rows a cold cart costs.
Engine only: no Django, no database.
"""

from __future__ import annotations

import argparse

from goodsassoc.engine.data import encode, normalize_items, normalize_lines, time_split
from goodsassoc.engine.limits import CART_DEPTH
from goodsassoc.engine.protocol import build_queries, eval_cart
from goodsassoc.engine.recommender import Recommender
from goodsassoc.engine.scoring import cart_scores


class AtDepth:
    """The fitted recommender's cart completion with each cart item's top ``depth`` neighbours."""

    def __init__(self, model: Recommender, depth: int) -> None:
        self.model, self.depth = model, depth

    def cart(self, carts, users):
        return cart_scores(self.model.t, carts, users, self.depth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interactions", default="var/cj/lines.parquet")
    parser.add_argument("--items", default="var/cj/items.parquet")
    parser.add_argument("--depths", default="5,10,20,30,50")
    args = parser.parse_args()
    split = time_split(normalize_lines(args.interactions))
    data = encode(split.train, normalize_items(args.items))
    q = build_queries(split, data, 0)
    model = Recommender().fit(data)
    print(f"command: python benchmarks/cart_depth.py --depths {args.depths}")
    print(f"CART weights (tuned at depth {CART_DEPTH}): {model.describe('cart')}; {q.carts.shape[0]} test carts")
    print("| neighbours read per cart item | HR@10 | NDCG@10 |\n|---:|---:|---:|")
    for depth in (int(x) for x in args.depths.split(",")):
        res = eval_cart(AtDepth(model, depth), q, latency_queries=0)
        print(f"| {depth} | {res['HR@10']:.4f} | {res['NDCG@10']:.4f} |", flush=True)


if __name__ == "__main__":
    main()
