"""Write the Complete Journey slice into the demo shop's tables.

Every table is upserted on a natural key (names, Complete Journey codes,
``household-<id>`` usernames, basket ids), so a re-run updates rows in place
and keeps primary keys stable: goodsassoc keys its history on them.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice
from pathlib import Path

import pandas as pd
from django.contrib.auth import get_user_model
from django.db import connection, models, transaction
from tqdm import tqdm

from shop_demo.cj_data import DemoData
from shop_demo.models import Brand, Category, Department, Manufacturer, Order, OrderLine, Product, ProductType, Store

BATCH_SIZE = 2000
COPY_CHUNK = 100_000
IMPORT_COLUMNS = ["user_id", "basket_id", "item_id", "shop_id", "ts", "quantity", "price"]


@dataclass
class LoadResult:
    """What was written, and the primary keys the history export needs."""

    counts: dict[str, int] = field(default_factory=dict)
    user_pks: dict[int, int] = field(default_factory=dict)
    store_pks: dict[int, int] = field(default_factory=dict)
    product_pks: dict[int, int] = field(default_factory=dict)
    order_pks: dict[int, int] = field(default_factory=dict)


def _chunks(rows: Iterable, size: int) -> Iterator[list]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def _upsert(
    model: type[models.Model],
    rows: Iterable[models.Model],
    total: int,
    unique_fields: list[str],
    update_fields: list[str] | None,
    progress: bool,
) -> None:
    """bulk_create in batches with a progress bar; update or skip on conflict."""
    options = (
        {"update_conflicts": True, "unique_fields": unique_fields, "update_fields": update_fields}
        if update_fields
        else {"ignore_conflicts": True}
    )
    label = model._meta.verbose_name_plural
    with tqdm(total=total, desc=f"{label:>15}", unit="row", disable=not progress, leave=True) as bar:
        for batch in _chunks(rows, BATCH_SIZE):
            model.objects.bulk_create(batch, batch_size=BATCH_SIZE, **options)
            bar.update(len(batch))


def _money(value: float) -> Decimal:
    return Decimal(f"{value:.2f}")


def _none_if_na(value: object) -> object:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def _write_catalogue(data: DemoData, progress: bool, result: LoadResult) -> None:
    """Departments, categories, product types, brands, manufacturers, products."""
    products = data.products
    names = sorted(products["department"].unique())
    _upsert(Department, (Department(name=n) for n in names), len(names), ["name"], None, progress)
    dept_pks = dict(Department.objects.values_list("name", "pk"))
    products = products.assign(dept_pk=products["department"].map(dept_pks))

    pairs = products.dropna(subset=["category"])[["dept_pk", "category"]].drop_duplicates()
    rows = (Category(department_id=int(d), name=n) for d, n in pairs.itertuples(index=False))
    _upsert(Category, rows, len(pairs), ["department", "name"], None, progress)
    cat_pks = {(d, n): pk for d, n, pk in Category.objects.values_list("department_id", "name", "pk")}
    cat_col = [
        cat_pks.get((d, c)) if c is not None else None
        for d, c in zip(products["dept_pk"], map(_none_if_na, products["category"]), strict=True)
    ]
    products = products.assign(cat_pk=pd.array(cat_col, dtype="Int64"))

    typed = products.dropna(subset=["cat_pk", "product_type"])[["cat_pk", "product_type"]].drop_duplicates()
    rows = (ProductType(category_id=int(c), name=n) for c, n in typed.itertuples(index=False))
    _upsert(ProductType, rows, len(typed), ["category", "name"], None, progress)
    type_pks = {(c, n): pk for c, n, pk in ProductType.objects.values_list("category_id", "name", "pk")}

    brands = sorted(products["brand"].dropna().unique())
    _upsert(Brand, (Brand(name=b) for b in brands), len(brands), ["name"], None, progress)
    brand_pks = dict(Brand.objects.values_list("name", "pk"))

    makers = sorted(int(m) for m in products["manufacturer"].unique())
    rows = (Manufacturer(code=str(m), name=f"Manufacturer {m}") for m in makers)
    _upsert(Manufacturer, rows, len(makers), ["code"], ["name"], progress)
    maker_pks = {int(c): pk for c, pk in Manufacturer.objects.values_list("code", "pk")}

    def product_rows() -> Iterator[Product]:
        columns = ["code", "name", "dept_pk", "cat_pk", "product_type", "brand", "manufacturer", "package_size"]
        columns += ["price", "popularity"]
        for code, name, dept, cat, ptype, brand, maker, size, price, pop in products[columns].itertuples(index=False):
            cat = _none_if_na(cat)
            ptype = _none_if_na(ptype)
            yield Product(
                code=str(code),
                name=name[:200],
                department_id=int(dept),
                category_id=None if cat is None else int(cat),
                product_type_id=type_pks.get((int(cat), ptype)) if cat is not None and ptype else None,
                brand_id=brand_pks.get(_none_if_na(brand)),
                manufacturer_id=maker_pks[int(maker)],
                package_size=_none_if_na(size) or "",
                price=_money(price),
                popularity=int(pop),
            )

    update = ["name", "department", "category", "product_type", "brand", "manufacturer", "package_size"]
    _upsert(Product, product_rows(), len(products), ["code"], [*update, "price", "popularity"], progress)
    codes = set(products["code"].astype(str))
    result.product_pks = {int(c): pk for c, pk in Product.objects.values_list("code", "pk") if c in codes}
    result.counts.update(departments=len(names), categories=len(pairs), product_types=len(typed))
    result.counts.update(brands=len(brands), manufacturers=len(makers), products=len(products))


def _write_people_and_stores(data: DemoData, password_hash: str, progress: bool, result: LoadResult) -> None:
    """Stores, and one customer account per household (all sharing one password hash)."""
    rows = (Store(code=str(s), name=f"Store {s}") for s in data.stores)
    _upsert(Store, rows, len(data.stores), ["code"], ["name"], progress)
    wanted = {str(s) for s in data.stores}
    result.store_pks = {int(c): pk for c, pk in Store.objects.values_list("code", "pk") if c in wanted}

    user_model = get_user_model()
    username = user_model.USERNAME_FIELD
    rows = (
        user_model(**{username: f"household-{h}"}, password=password_hash, first_name="Household", last_name=str(h))
        for h in data.households
    )
    _upsert(user_model, rows, len(data.households), [username], ["password"], progress)
    names = {f"household-{h}": h for h in data.households}
    lookup = user_model.objects.filter(**{f"{username}__startswith": "household-"}).values_list(username, "pk")
    result.user_pks = {names[n]: pk for n, pk in lookup if n in names}
    result.counts.update(stores=len(data.stores), customers=len(data.households))


def _write_orders(data: DemoData, progress: bool, result: LoadResult) -> None:
    """Baskets as orders, then their lines."""
    baskets = data.baskets
    users = baskets["household"].map(result.user_pks)
    stores = baskets["store"].map(result.store_pks)
    rows = (
        Order(
            user_id=int(u), store_id=int(s), created_at=ts.to_pydatetime(), external_basket_id=str(b), total=_money(t)
        )
        for b, u, s, ts, t in zip(baskets["basket"], users, stores, baskets["ts"], baskets["total"], strict=True)
    )
    update = ["user", "store", "created_at", "total"]
    _upsert(Order, rows, len(baskets), ["external_basket_id"], update, progress)
    wanted = set(baskets["basket"].astype(str))
    lookup = Order.objects.filter(external_basket_id__isnull=False).values_list("external_basket_id", "pk")
    result.order_pks = {int(b): pk for b, pk in lookup if b in wanted}

    lines = data.lines
    table = pd.DataFrame(
        {
            "order_id": lines["basket"].map(result.order_pks).astype("int64"),
            "product_id": lines["product"].map(result.product_pks).astype("int64"),
            "quantity": lines["quantity"].astype("int64"),
            "unit_price": lines["unit_price"],
            "line_value": lines["line_value"],
        }
    )
    if connection.vendor == "postgresql":
        _copy_lines_postgresql(table, progress)
    else:
        rows = (
            OrderLine(order_id=o, product_id=p, quantity=q, unit_price=_money(u), line_value=_money(v))
            for o, p, q, u, v in table.itertuples(index=False, name=None)
        )
        update = ["quantity", "unit_price", "line_value"]
        _upsert(OrderLine, rows, len(table), ["order", "product"], update, progress)
    result.counts.update(orders=len(baskets), order_lines=len(lines))


def _copy_lines_postgresql(table: pd.DataFrame, progress: bool) -> None:
    """Order lines through COPY and one upsert: several times faster than bulk_create for the full data."""
    columns = ", ".join(table.columns)
    target = OrderLine._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE shop_demo_line_stage (order_id bigint, product_id bigint, quantity integer,"
            " unit_price numeric(10, 2), line_value numeric(12, 2)) ON COMMIT DROP"
        )
        with tqdm(total=len(table), desc=f"{'order lines':>15}", unit="row", disable=not progress) as bar:
            for start in range(0, len(table), COPY_CHUNK):
                chunk = table.iloc[start : start + COPY_CHUNK]
                buffer = io.StringIO()
                chunk.to_csv(buffer, index=False, header=False, float_format="%.2f")
                with cursor.copy(f"COPY shop_demo_line_stage ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
                    copy.write(buffer.getvalue())
                bar.update(len(chunk))
        cursor.execute(
            f"INSERT INTO {target} ({columns}) SELECT {columns} FROM shop_demo_line_stage"
            " ON CONFLICT (order_id, product_id) DO UPDATE SET quantity = EXCLUDED.quantity,"
            " unit_price = EXCLUDED.unit_price, line_value = EXCLUDED.line_value"
        )
        cursor.execute("DROP TABLE shop_demo_line_stage")


def write(data: DemoData, password_hash: str, progress: bool = True) -> LoadResult:
    """Upsert the whole slice in one transaction."""
    result = LoadResult()
    with transaction.atomic():
        _write_catalogue(data, progress, result)
        _write_people_and_stores(data, password_hash, progress, result)
        _write_orders(data, progress, result)
    return result


def history_frame(data: DemoData, result: LoadResult) -> pd.DataFrame:
    """Order lines in goodsassoc's import format, keyed by the shop's primary keys."""
    lines = data.lines
    return pd.DataFrame(
        {
            "user_id": lines["household"].map(result.user_pks).astype("int64").astype(str),
            "basket_id": lines["basket"].map(result.order_pks).astype("int64").astype(str),
            "item_id": lines["product"].map(result.product_pks).astype("int64").astype(str),
            "shop_id": lines["store"].map(result.store_pks).astype("int64").astype(str),
            "ts": lines["ts"],
            "quantity": lines["quantity"].astype("int64"),
            "price": lines["unit_price"].astype("float64"),
        },
        columns=IMPORT_COLUMNS,
    )


def export_history(data: DemoData, result: LoadResult, path: Path) -> Path:
    """Write the import table to a parquet file for goodsassoc_import."""
    history_frame(data, result).to_parquet(path, index=False)
    return path
