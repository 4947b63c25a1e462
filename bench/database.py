"""The benchmark's own database, and the catalogue and orders it is filled with.

PostgreSQL when the server of BENCH_DATABASE_URL (default: the developer's `shop` database,
used only to connect) answers: a database `shop_bench` next to it, dropped and created again on
every run, dropped at the end. Otherwise a SQLite file in the benchmark's temporary directory.
"""

from __future__ import annotations

import itertools
import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

ADMIN_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://shop:shop@127.0.0.1:5432/shop")
NAME = "shop_bench"
PRICE = 10_000  # won; every bench product costs the same, so every order's amount is known
STOCK = 1_000_000  # never the limit: stock is taken once per paid order


@dataclass(frozen=True)
class Database:
    url: str
    label: str  # as the report prints it
    postgres: bool


def create(workdir: Path) -> Database:
    try:
        import psycopg

        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3) as admin:
            version = admin.execute("SHOW server_version").fetchone()[0].split()[0]
            # FORCE: a benchmark that was killed may have left a server connected to it.
            admin.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{NAME}"')
    except Exception as exc:  # not installed, not running, refused: the benchmark goes on
        path = workdir / "shop_bench.sqlite3"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Database(f"sqlite:///{path}", f"SQLite (PostgreSQL not reachable: {reason})", False)
    url = urllib.parse.urlsplit(ADMIN_URL)._replace(path=f"/{NAME}").geturl()
    return Database(url, f"PostgreSQL {version} ({NAME})", True)


def drop(database: Database) -> None:
    if not database.postgres:
        return  # the SQLite file goes with the temporary directory
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')


# --- content (Django must be set up before these are called) -----------------------------------
_product_numbers = itertools.count(1)
_order_numbers = itertools.count(1)


def add_products(count: int) -> list:
    """`count` more active products, in stock, without images (the page shows a placeholder)."""
    from shop.models import Product

    return Product.objects.bulk_create(
        Product(
            name=f"벤치 상품 {number:04d}",
            description="벤치마크용 상품입니다.",
            price=PRICE,
            stock=STOCK,
            is_active=True,
        )
        for number in itertools.islice(_product_numbers, count)
    )


def _free_short_numbers(count: int) -> set[str]:
    """Short order numbers no order has yet: checkout draws again on a repeat, bulk_create
    cannot, and a run creates enough orders (over 10,000) to meet a repeat about one run in
    ten."""
    from shop.models import Order, new_number

    taken = set(Order.objects.values_list("number", flat=True))
    numbers: set[str] = set()
    while len(numbers) < count:
        number = new_number()
        if number not in taken:
            numbers.add(number)
    return numbers


def add_orders(count: int, products: list, register) -> list[tuple[str, str]]:
    """`count` pending one-line orders (quantity 1, products in turn), as checkout leaves them.

    Each gets an imp_uid `imp_bench_<n>` that `register(imp_uid, merchant_uid, amount)` makes
    known to the stand-in. Returns (imp_uid, merchant_uid) pairs, in order.
    """
    from shop.models import Order, OrderLine, new_merchant_uid

    numbers = list(itertools.islice(_order_numbers, count))
    orders = Order.objects.bulk_create(
        (
            Order(
                merchant_uid=new_merchant_uid(),
                number=short,
                amount=PRICE,
                pay_method="card",
                buyer_name="홍길동",
                buyer_email="buyer@example.com",
                buyer_tel="010-1234-5678",
                buyer_addr="서울특별시 강남구 테헤란로 1",
                buyer_postcode="06236",
            )
            for short in _free_short_numbers(count)
        ),
        batch_size=1000,
    )
    OrderLine.objects.bulk_create(
        (
            OrderLine(
                order=order,
                product=products[i % len(products)],
                product_name=products[i % len(products)].name,
                unit_price=PRICE,
                quantity=1,
            )
            for i, order in enumerate(orders)
        ),
        batch_size=1000,
    )
    pairs = []
    for number, order in zip(numbers, orders, strict=True):
        imp_uid = f"imp_bench_{number}"
        register(imp_uid, order.merchant_uid, order.amount)
        pairs.append((imp_uid, order.merchant_uid))
    return pairs
