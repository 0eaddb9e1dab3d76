"""Fit the shipped recommender on a table in the protocol format and write its artifact.

    python -m goodsassoc.engine.build --interactions lines.parquet --items items.parquet --out var/model

Prints the fit seconds (training, tuning and scoring) and the peak memory of the process.
"""

from __future__ import annotations

import argparse
import logging
import resource
import time
from pathlib import Path

from goodsassoc.engine import artifact
from goodsassoc.engine.recommender import RecommenderConfig, fit_recommender


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interactions", required=True)
    parser.add_argument("--items", default=None)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(message)s", datefmt="%H:%M:%S")
    last = {}

    def progress(stage: str, done: int, total: int) -> None:
        if last.get(stage) != (10 * done) // max(total, 1):
            last[stage] = (10 * done) // max(total, 1)
            logging.info("%s %d/%d", stage, done, total)

    t0 = time.perf_counter()
    cfg = RecommenderConfig(k=args.k, seed=args.seed)
    cfg.train.seed = args.seed
    fitted = fit_recommender(args.interactions, args.items, cfg, progress)
    fit_s = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    artifact.save(fitted, args.out, extra={"fit_seconds_total": fit_s, "peak_memory_gb": peak})
    print(f"fit (load, train, tune, score) {fit_s:.0f} s; peak memory {peak:.2f} GB; "
          f"TF training {fitted.training['tf_seconds']:.0f} s; artifact {args.out}")


if __name__ == "__main__":
    main()
