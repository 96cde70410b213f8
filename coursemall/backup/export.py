"""Data export for the owner: orders (with lines), learners and courses as JSON or CSV.

Never exported: password hashes, TOTP secrets, WeChat openids, session tokens or any other table
holding credentials. CSV cells that a spreadsheet would run as a formula (= + - @, tab, CR at the
start) are prefixed with a quote; CSV files carry a UTF-8 BOM so spreadsheets read Chinese text.
Rows are streamed from the database in batches (yield_per), so large shops export in bounded memory.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from coursemall.models import Course, Entitlement, Order, OrderLine, User
from coursemall.models.base import utcnow
from coursemall.backup.archive import BATCH, encode_value
from coursemall.settings import Settings

FORMATS = ("json", "csv")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

ORDER_FIELDS = ["order_no", "user_id", "status", "channel", "client_kind", "total_fen", "original_total_fen",
                "refunded_fen", "currency", "created_at", "paid_at", "closed_at", "close_reason"]
LINE_FIELDS = ["order_no", "item_type", "item_id", "title", "unit_price_fen", "original_price_fen", "course_ids",
               "refund_status", "refunded_fen"]
LEARNER_FIELDS = ["id", "nickname", "email", "phone", "role", "locale", "watermark_code", "is_active",
                  "frozen_reason", "created_at", "paid_orders", "paid_fen", "active_courses"]
COURSE_FIELDS = ["id", "slug", "title", "subtitle", "status", "price_fen", "original_price_fen", "category_id",
                 "instructor_id", "published_at", "learners_count", "sales_count", "lesson_count",
                 "rating_count", "rating_sum", "created_at"]


class ExportError(Exception):
    """The export could not be written."""


@dataclass(frozen=True)
class ExportResult:
    out_dir: Path
    files: list[Path]
    counts: dict[str, int]


def csv_safe(value: object) -> object:
    """A cell value a spreadsheet shows as text, never evaluates."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _cell(value: object) -> object:
    value = encode_value(value)
    if isinstance(value, list | dict):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        value = int(value)
    return "" if value is None else csv_safe(value)


# ---------------------------------------------------------------------------------- rows

def _order_dict(order: Order) -> dict:
    return {"order_no": order.out_trade_no, **{f: getattr(order, f) for f in ORDER_FIELDS[1:]}}


def _line_dict(order_no: str, line: OrderLine) -> dict:
    return {"order_no": order_no, **{f: getattr(line, f) for f in LINE_FIELDS[1:]}}


def _batches(rows: Iterable, size: int = BATCH) -> Iterator[list]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def iter_orders(session: Session) -> Iterator[tuple[dict, list[dict]]]:
    """(order, its lines) in id order; lines fetched per batch of orders."""
    stream = session.exec(select(Order).order_by(Order.id).execution_options(yield_per=BATCH))
    for batch in _batches(stream):
        by_order: dict[int, list[OrderLine]] = {o.id: [] for o in batch}
        for line in session.exec(select(OrderLine).where(OrderLine.order_id.in_(list(by_order)))
                                 .order_by(OrderLine.id)):
            by_order[line.order_id].append(line)
        rows = [(_order_dict(o), [_line_dict(o.out_trade_no, ln) for ln in by_order[o.id]]) for o in batch]
        session.expunge_all()  # keep memory bounded over millions of orders
        yield from rows


def _learner_totals(session: Session) -> tuple[dict[int, tuple[int, int]], dict[int, int]]:
    paid = session.exec(select(Order.user_id, func.count(), func.coalesce(func.sum(Order.total_fen - Order.refunded_fen), 0))
                        .where(Order.paid_at.is_not(None)).group_by(Order.user_id)).all()
    courses = session.exec(select(Entitlement.user_id, func.count(func.distinct(Entitlement.course_id)))
                           .where(Entitlement.revoked_at.is_(None)).group_by(Entitlement.user_id)).all()
    return {u: (int(n), int(s)) for u, n, s in paid}, {u: int(n) for u, n in courses}


def iter_learners(session: Session) -> Iterator[dict]:
    """Every account with its purchase totals; credentials are not selected at all."""
    paid, courses = _learner_totals(session)
    columns = [getattr(User, f) for f in LEARNER_FIELDS[:10]]
    for row in session.exec(select(*columns).order_by(User.id).execution_options(yield_per=BATCH)):
        item = dict(zip(LEARNER_FIELDS[:10], row, strict=True))
        n, fen = paid.get(item["id"], (0, 0))
        yield {**item, "paid_orders": n, "paid_fen": fen, "active_courses": courses.get(item["id"], 0)}


def iter_courses(session: Session) -> Iterator[dict]:
    columns = [getattr(Course, f) for f in COURSE_FIELDS]
    for row in session.exec(select(*columns).order_by(Course.id).execution_options(yield_per=BATCH)):
        yield dict(zip(COURSE_FIELDS, row, strict=True))


# ---------------------------------------------------------------------------------- writers

class _JsonArray:
    """Writes a JSON array one item at a time."""

    def __init__(self, path: Path):
        self.fh = path.open("w", encoding="utf-8")
        self.count = 0
        self.fh.write("[")

    def add(self, item: dict) -> None:
        self.fh.write(",\n" if self.count else "\n")
        self.fh.write(json.dumps({k: encode_value(v) for k, v in item.items()}, ensure_ascii=False))
        self.count += 1

    def close(self) -> None:
        self.fh.write("\n]\n")
        self.fh.close()


class _CsvTable:
    def __init__(self, path: Path, fields: list[str]):
        self.fh = path.open("w", encoding="utf-8-sig", newline="")
        self.writer = csv.writer(self.fh)
        self.writer.writerow(fields)
        self.fields = fields
        self.count = 0

    def add(self, item: dict) -> None:
        self.writer.writerow([_cell(item.get(f)) for f in self.fields])
        self.count += 1

    def close(self) -> None:
        self.fh.close()


def default_export_dir(settings: Settings) -> Path:
    return settings.data_dir / "exports" / f"export-{utcnow().strftime('%Y%m%d-%H%M%S')}"


def write_export(engine: Engine, settings: Settings, out_dir: Path | None = None, fmt: str = "json") -> ExportResult:
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; use json or csv")
    out = Path(out_dir) if out_dir else default_export_dir(settings)
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise ExportError(f"{out} is not empty; choose an empty or new --out folder")
    with Session(engine) as session:
        if fmt == "json":
            return _write_json(session, out)
        return _write_csv(session, out)


def _write_json(session: Session, out: Path) -> ExportResult:
    files = {n: out / f"{n}.json" for n in ("orders", "learners", "courses")}
    writers = {n: _JsonArray(p) for n, p in files.items()}
    try:
        for order, lines in iter_orders(session):
            writers["orders"].add({**order, "lines": lines})
        for item in iter_learners(session):
            writers["learners"].add(item)
        for item in iter_courses(session):
            writers["courses"].add(item)
    finally:
        for w in writers.values():
            w.close()
    return ExportResult(out, list(files.values()), {n: w.count for n, w in writers.items()})


def _write_csv(session: Session, out: Path) -> ExportResult:
    specs = {"orders": ORDER_FIELDS, "order_lines": LINE_FIELDS, "learners": LEARNER_FIELDS,
             "courses": COURSE_FIELDS}
    writers = {n: _CsvTable(out / f"{n}.csv", fields) for n, fields in specs.items()}
    try:
        for order, lines in iter_orders(session):
            writers["orders"].add(order)
            for line in lines:
                writers["order_lines"].add(line)
        for item in iter_learners(session):
            writers["learners"].add(item)
        for item in iter_courses(session):
            writers["courses"].add(item)
    finally:
        for w in writers.values():
            w.close()
    return ExportResult(out, [out / f"{n}.csv" for n in specs], {n: w.count for n, w in writers.items()})
