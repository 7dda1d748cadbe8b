"""The embedded order store: one SQLite file under ``settings.home``, created and seeded with
the sample data on first use. Every call runs in a worker thread (sqlite3 blocks)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from .models import CASE_KINDS, Case, Customer, Item, Order, Shipment, TrackingEvent, same_phone
from .seed import sample_data
from .store import OrderStoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (id TEXT PRIMARY KEY, name TEXT, email TEXT, phone TEXT, country TEXT, language TEXT);
CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, customer_id TEXT REFERENCES customers(id), placed_on TEXT,
  status TEXT, currency TEXT, total REAL, country TEXT, final_sale INTEGER DEFAULT 0);
CREATE TABLE IF NOT EXISTS items (order_id TEXT REFERENCES orders(id), sku TEXT, quantity INTEGER, price REAL);
CREATE TABLE IF NOT EXISTS shipments (order_id TEXT PRIMARY KEY REFERENCES orders(id), carrier TEXT, tracking_number TEXT,
  status TEXT, expected_delivery TEXT, delivered_on TEXT);
CREATE TABLE IF NOT EXISTS tracking_events (order_id TEXT REFERENCES orders(id), day TEXT, code TEXT, location TEXT, detail TEXT);
CREATE TABLE IF NOT EXISTS cases (seq INTEGER PRIMARY KEY AUTOINCREMENT, reference TEXT UNIQUE, kind TEXT, order_id TEXT,
  created_on TEXT, data TEXT);
"""
_PREFIX = {"return": "RET", "refund": "REF", "investigation": "INV", "damage_claim": "CLM", "cancellation": "CAN", "address_change": "ADR"}


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


class SqliteOrderStore:
    """``SqliteOrderStore(path, today=date.today)``; ``today`` dates the seed and new cases."""

    def __init__(self, path: Path, *, today: Callable[[], date] = date.today, seed: bool = True) -> None:
        self.path = Path(path)
        self._today = today
        self._seed = seed
        self._ready = False
        self._lock = threading.Lock()  # one writer at a time within this process

    # -- plumbing ---------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path)
        except (OSError, sqlite3.Error) as exc:
            raise OrderStoreError(f"cannot open the order database {self.path}: {exc}; check that settings.home is writable") from exc
        con.row_factory = sqlite3.Row
        if not self._ready:
            with self._lock:
                self._prepare(con)
        return con

    def _prepare(self, con: sqlite3.Connection) -> None:
        con.executescript(_SCHEMA)
        empty = con.execute("SELECT COUNT(*) FROM customers").fetchone()[0] == 0
        if empty and self._seed:
            self._write_sample(con)
        con.commit()
        self._ready = True

    def _write_sample(self, con: sqlite3.Connection) -> None:
        data = sample_data(self._today())
        for c in data.customers:
            self.add_customer(c, con)
        for o in data.orders:
            self.add_order(o, con)

    async def _run(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        def work() -> Any:
            con = self._connect()
            try:
                result = fn(con)
                con.commit()
                return result
            except sqlite3.Error as exc:
                raise OrderStoreError(f"order database error in {self.path}: {exc}") from exc
            finally:
                con.close()

        return await asyncio.to_thread(work)

    # -- writing sample or imported data ----------------------------------------------------
    @staticmethod
    def add_customer(c: Customer, con: sqlite3.Connection) -> None:
        con.execute("INSERT OR REPLACE INTO customers VALUES (?,?,?,?,?,?)", (c.id, c.name, c.email, c.phone, c.country, c.language))

    @staticmethod
    def add_order(o: Order, con: sqlite3.Connection) -> None:
        con.execute("INSERT OR REPLACE INTO orders VALUES (?,?,?,?,?,?,?,?)",
                    (o.id, o.customer_id, o.placed_on.isoformat(), o.status, o.currency, o.total, o.country, int(o.final_sale)))
        con.execute("DELETE FROM items WHERE order_id=?", (o.id,))
        con.executemany("INSERT INTO items VALUES (?,?,?,?)", [(o.id, i.sku, i.quantity, i.price) for i in o.items])
        con.execute("DELETE FROM shipments WHERE order_id=?", (o.id,))
        con.execute("DELETE FROM tracking_events WHERE order_id=?", (o.id,))
        if s := o.shipment:
            con.execute("INSERT INTO shipments VALUES (?,?,?,?,?,?)", (o.id, s.carrier, s.tracking_number, s.status,
                        s.expected_delivery and s.expected_delivery.isoformat(), s.delivered_on and s.delivered_on.isoformat()))
            con.executemany("INSERT INTO tracking_events VALUES (?,?,?,?,?)",
                            [(o.id, e.day.isoformat(), e.code, e.location, e.detail) for e in s.events])

    # -- reading ------------------------------------------------------------------------------
    @staticmethod
    def _load_order(con: sqlite3.Connection, row: sqlite3.Row) -> Order:
        oid = row["id"]
        items = tuple(Item(r["sku"], r["quantity"], r["price"]) for r in con.execute("SELECT * FROM items WHERE order_id=?", (oid,)))
        shipment = None
        if s := con.execute("SELECT * FROM shipments WHERE order_id=?", (oid,)).fetchone():
            events = tuple(TrackingEvent(_day(e["day"]), e["code"], e["location"] or "", e["detail"] or "")  # type: ignore[arg-type]
                           for e in con.execute("SELECT * FROM tracking_events WHERE order_id=? ORDER BY day, rowid", (oid,)))
            shipment = Shipment(s["carrier"], s["tracking_number"], s["status"], _day(s["expected_delivery"]), _day(s["delivered_on"]), events)
        return Order(oid, row["customer_id"], _day(row["placed_on"]), row["status"], row["currency"], row["total"],  # type: ignore[arg-type]
                     row["country"], items, shipment, bool(row["final_sale"]))

    async def get_order(self, order_id: str) -> Order | None:
        def q(con: sqlite3.Connection) -> Order | None:
            row = con.execute("SELECT * FROM orders WHERE upper(id)=upper(?)", (order_id.strip(),)).fetchone()
            return self._load_order(con, row) if row else None

        return await self._run(q)

    async def find_customer(self, *, customer_id: str | None = None, phone: str | None = None, email: str | None = None) -> Customer | None:
        def q(con: sqlite3.Connection) -> Customer | None:
            rows = [Customer(**dict(r)) for r in con.execute("SELECT * FROM customers")]
            for c in rows:
                if customer_id and c.id == customer_id:
                    return c
                if email and c.email.lower() == email.strip().lower():
                    return c
                if phone and same_phone(c.phone, phone):
                    return c
            return None

        return await self._run(q)

    async def orders_for_customer(self, customer_id: str) -> list[Order]:
        def q(con: sqlite3.Connection) -> list[Order]:
            rows = con.execute("SELECT * FROM orders WHERE customer_id=? ORDER BY placed_on DESC, id", (customer_id,)).fetchall()
            return [self._load_order(con, r) for r in rows]

        return await self._run(q)

    async def all_orders(self) -> list[Order]:
        """Every order, newest first (outbound campaigns select from them)."""

        def q(con: sqlite3.Connection) -> list[Order]:
            return [self._load_order(con, r) for r in con.execute("SELECT * FROM orders ORDER BY placed_on DESC, id").fetchall()]

        return await self._run(q)

    async def all_customers(self) -> list[Customer]:
        def q(con: sqlite3.Connection) -> list[Customer]:
            return [Customer(**dict(r)) for r in con.execute("SELECT * FROM customers ORDER BY id")]

        return await self._run(q)

    async def create_case(self, kind: str, order_id: str, data: dict[str, Any]) -> Case:
        if kind not in CASE_KINDS:
            raise ValueError(f"unknown case kind {kind!r}; use one of {CASE_KINDS}")
        today = self._today()

        def q(con: sqlite3.Connection) -> Case:
            cur = con.execute("INSERT INTO cases (kind, order_id, created_on, data) VALUES (?,?,?,?)",
                              (kind, order_id, today.isoformat(), json.dumps(data, ensure_ascii=False)))
            reference = f"{_PREFIX[kind]}-{100000 + int(cur.lastrowid or 0)}"
            con.execute("UPDATE cases SET reference=? WHERE seq=?", (reference, cur.lastrowid))
            if kind == "cancellation":
                con.execute("UPDATE orders SET status='cancelled' WHERE id=?", (order_id,))
            return Case(reference, kind, order_id, today, dict(data))

        return await self._run(q)

    async def cases_for_order(self, order_id: str) -> list[Case]:
        def q(con: sqlite3.Connection) -> list[Case]:
            rows = con.execute("SELECT * FROM cases WHERE order_id=? ORDER BY seq", (order_id,)).fetchall()
            return [Case(r["reference"], r["kind"], r["order_id"], _day(r["created_on"]), json.loads(r["data"] or "{}")) for r in rows]  # type: ignore[arg-type]

        return await self._run(q)
