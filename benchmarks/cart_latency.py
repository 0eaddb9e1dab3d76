"""Request-time cart completion on a built artifact: median and p95 milliseconds per cart.

    python benchmarks/cart_latency.py [--artifact var/model-cj] [--carts 300] [--size 4]

Loads the artifact that ``python -m goodsassoc.engine.build`` wrote (no TensorFlow), draws
``--carts`` random shoppers (seeded) and fills each cart with that shopper's ``--size`` most
repeated purchases, then times ``scoring.complete_cart`` for 10 items, as the request path
would call it. Engine only: no Django, no database.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from goodsassoc.engine import artifact
from goodsassoc.engine.scoring import complete_cart


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--artifact", default="var/model-cj")
    parser.add_argument("--carts", type=int, default=300)
    parser.add_argument("--size", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    tables, _ = artifact.load(args.artifact)
    users = np.random.default_rng(args.seed).choice(tables.repeat.shape[0], args.carts, replace=False)
    ms = []
    for u in users:
        own = tables.repeat[u].toarray().ravel()
        cart = [str(tables.item_ids[j]) for j in np.argsort(-own, kind="stable")[: args.size]]
        started = time.perf_counter()
        complete_cart(tables, cart, str(tables.user_ids[u]), 10)
        ms.append((time.perf_counter() - started) * 1000)
    print(f"complete_cart over {len(ms)} carts of {args.size} items: median {np.median(ms):.2f} ms, "
          f"p95 {np.percentile(ms, 95):.2f} ms")


if __name__ == "__main__":
    main()
