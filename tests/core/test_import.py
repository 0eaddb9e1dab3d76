"""The historical import on a small real slice of Complete Journey."""

import io
import uuid
from decimal import Decimal

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from goodsassoc.models import Interaction
from goodsassoc.privacy import pseudonymise
from tests.cj import lines_for, load_catalogue

HOUSEHOLDS = [1, 2, 7]


@pytest.fixture(scope="module")
def cj_slice():
    return lines_for(HOUSEHOLDS)


@pytest.fixture
def catalogue(db, cj_slice):
    load_catalogue(cj_slice)


def with_bad_lines(table: pd.DataFrame) -> pd.DataFrame:
    first = table.iloc[0]
    bad = pd.DataFrame([
        {**first, "item_id": "NOT-IN-CATALOGUE"},
        {**first, "quantity": 0, "basket_id": "bad-qty"},
        {**first, "basket_id": ""},
        {**first, "shop_id": str(uuid.uuid4())},
    ])
    return pd.concat([table, bad], ignore_index=True)


def run_import(path, **options):
    out = io.StringIO()
    call_command("goodsassoc_import", str(path), no_progress=True, stdout=out, **options)
    return out.getvalue()


def test_parquet_import_is_checked_and_idempotent(catalogue, cj_slice, tmp_path):
    path = tmp_path / "lines.parquet"
    with_bad_lines(cj_slice).to_parquet(path)
    good = int((cj_slice["quantity"] > 0).sum())
    output = run_import(path, rejects=str(tmp_path / "rejected.csv"))
    assert Interaction.objects.count() == good
    assert f"stored {good}," in output
    assert "rejected 1: item_id: unknown product" in output
    assert "shop_id: unknown shop" in output and "basket_id: missing" in output
    rejected = pd.read_csv(tmp_path / "rejected.csv")
    assert len(rejected) == len(cj_slice) - good + 4
    assert set(rejected["reason"]) >= {"quantity: must be greater than zero", "item_id: unknown product"}

    again = run_import(path)
    assert Interaction.objects.count() == good
    assert f"stored 0, already stored {good}," in again


def test_imported_rows_match_the_source(catalogue, cj_slice, tmp_path):
    path = tmp_path / "lines.parquet"
    cj_slice.to_parquet(path)
    run_import(path)
    source = cj_slice[cj_slice["quantity"] > 0].iloc[5]
    row = Interaction.objects.filter(basket_key=source["basket_id"], product_key=source["item_id"]).first()
    assert row.kind == "purchase" and row.source == "import"
    assert row.user_pseudonym == pseudonymise(source["user_id"])
    assert row.shop_key == source["shop_id"]
    assert row.quantity == Decimal(str(source["quantity"]))
    assert row.timestamp == source["ts"].tz_localize("UTC")
    assert row.value == (Decimal(str(source["price"])) * Decimal(str(source["quantity"]))).quantize(Decimal("0.01"))
    assert set(Interaction.objects.values_list("user_pseudonym", flat=True)) == {
        pseudonymise(h) for h in HOUSEHOLDS}


def test_csv_import_matches_parquet_import(catalogue, cj_slice, tmp_path):
    cj_slice.to_csv(tmp_path / "lines.csv", index=False)
    cj_slice.to_parquet(tmp_path / "lines.parquet")
    run_import(tmp_path / "lines.csv")
    count = Interaction.objects.count()
    assert count == int((cj_slice["quantity"] > 0).sum())
    # The same lines from the other format are recognised as already stored.
    assert "stored 0," in run_import(tmp_path / "lines.parquet")
    assert Interaction.objects.count() == count


def test_identical_lines_in_one_file_are_distinct_events(catalogue, cj_slice, tmp_path):
    twice = pd.concat([cj_slice.iloc[:3], cj_slice.iloc[:1]], ignore_index=True)
    twice.to_parquet(tmp_path / "twice.parquet")
    run_import(tmp_path / "twice.parquet", chunk_size=2)
    assert Interaction.objects.count() == 4


def test_missing_columns_are_a_clear_error(db, tmp_path):
    pd.DataFrame({"item_id": ["1"]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(CommandError, match="Missing column.*basket_id"):
        run_import(tmp_path / "bad.csv")
    with pytest.raises(CommandError, match="Unknown format"):
        run_import(tmp_path / "bad.txt")


@pytest.mark.parametrize(("column", "value", "reason"), [
    ("price", "inf", "price: not a number"),
    ("price", "1e15", "price: the line's value exceeds"),
    ("quantity", "0.0001", "quantity: at least 0.001"),
    ("quantity", "nan", "quantity: not a number"),
])
def test_numbers_out_of_range_are_rejected(catalogue, cj_slice, tmp_path, column, value, reason):
    table = cj_slice.head(3).astype({column: object})
    table.loc[1, column] = value
    table.to_csv(tmp_path / "lines.csv", index=False)
    output = run_import(tmp_path / "lines.csv")
    assert reason in output
    assert Interaction.objects.count() == int((table.drop(index=1)["quantity"].astype(float) > 0).sum())


def test_a_line_without_a_shop_takes_its_products_shop(catalogue, cj_slice, tmp_path):
    from tests.testapp.models import Article

    cj_slice.head(20).drop(columns=["shop_id"]).to_parquet(tmp_path / "lines.parquet")
    run_import(tmp_path / "lines.parquet")
    sellers = {a.sku: str(a.seller_id) for a in Article.objects.all()}
    stored = list(Interaction.objects.values_list("product_key", "shop_key"))
    assert stored and all(shop == sellers[product] for product, shop in stored)
