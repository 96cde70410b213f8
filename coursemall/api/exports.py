"""CSV exports of the operations pages.

GET /api/admin/export/orders.csv    the orders of /admin/orders with the same filters
    (status, channel, date_from, date_to as China dates YYYY-MM-DD, q);
GET /api/admin/export/learners.csv  the accounts of /admin/learners (q).

Owner/staff with a TOTP-verified session only (api/_dashboard_auth.py; the services check the
role again): anyone else gets 403 and no rows; a bad filter 400 with a translated message.
UTF-8 with a BOM so Excel opens Chinese text correctly; every cell that a spreadsheet would read
as a formula (starting with = + - @ tab or CR) is prefixed with ' ; rows are streamed in batches
from a worker thread, so a large export neither blocks the event loop nor sits in memory.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from coursemall.api._dashboard_auth import dashboard_actor_for_token, session_token
from coursemall.db import session_scope
from coursemall.domain.errors import DomainError
from coursemall.domain.money import yuan_text
from coursemall.domain.time import SECOND_FORMAT, china_time_text
from coursemall.i18n import normalize_lang, t
from coursemall.services.dashboard import operations as ops

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PRIVATE = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer"}
BOM = "\ufeff"


def safe_cell(value: object) -> str:
    """A cell that spreadsheets show as text, never evaluate (CSV/formula injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_line(cells: list[object]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow([safe_cell(c) for c in cells])
    return buf.getvalue()


ORDER_HEADERS = ("order_no", "created", "paid", "status", "channel", "total", "refunded", "learner", "contact",
                 "courses")
LEARNER_HEADERS = ("id", "nickname", "email", "phone", "role", "active", "orders", "paid_total", "joined")


def order_cells(r: ops.OrderRow, lang: str) -> list[object]:
    return [r.order_no, china_time_text(r.created_at, SECOND_FORMAT), china_time_text(r.paid_at, SECOND_FORMAT),
            t(f"order.status.{r.status}", lang), r.channel, yuan_text(r.total_fen), yuan_text(r.refunded_fen), r.learner, r.contact, r.titles]


def learner_cells(r: ops.LearnerRow, lang: str) -> list[object]:
    return [r.id, r.nickname, r.email, r.phone, r.role, t("export.yes" if r.active else "export.no", lang),
            r.orders, yuan_text(r.paid_fen), china_time_text(r.created_at, SECOND_FORMAT)]


def _stream(actor_id: int, headers: tuple[str, ...], rows: Callable, cells: Callable, lang: str) -> Iterator[str]:
    """Header line, then rows read in batches inside one database session (runs in a thread)."""
    yield BOM + csv_line([t(f"export.col.{h}", lang) for h in headers])
    with session_scope() as s:
        for row in rows(s, actor_id):
            yield csv_line(cells(row, lang))


def _authorise(token: str) -> int | None:
    with session_scope() as s:
        actor = dashboard_actor_for_token(s, token, kind="staff_required")
        return actor.user_id if actor else None


def _export(kind: str) -> Callable:
    async def endpoint(request: Request) -> Response:
        lang = normalize_lang(request.cookies.get("cm_lang", ""))
        actor_id = await run_in_threadpool(_authorise, session_token(request))
        if actor_id is None:
            return Response(t("admin.forbidden", lang), status_code=403, media_type="text/plain; charset=utf-8",
                            headers=PRIVATE)
        params = dict(request.query_params)
        try:
            if kind == "orders":
                filters = ops.parse_order_filter(params)

                def rows(s, actor):
                    return ops.iter_order_rows(s, actor_id=actor, filters=filters)

                headers, cells = ORDER_HEADERS, order_cells
            else:
                q = ops.parse_query(params.get("q", ""))

                def rows(s, actor):
                    return ops.iter_learner_rows(s, actor_id=actor, q=q)

                headers, cells = LEARNER_HEADERS, learner_cells
        except DomainError as exc:
            return Response(t(exc.code, lang, **exc.params), status_code=400,
                            media_type="text/plain; charset=utf-8", headers=PRIVATE)
        disposition = f'attachment; filename="{kind}.csv"'
        return StreamingResponse(_stream(actor_id, headers, rows, cells, lang), media_type="text/csv; charset=utf-8",
                                 headers={**PRIVATE, "Content-Disposition": disposition})

    return endpoint


ROUTES = [
    Route("/api/admin/export/orders.csv", _export("orders"), methods=["GET"]),
    Route("/api/admin/export/learners.csv", _export("learners"), methods=["GET"]),
]
