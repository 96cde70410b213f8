"""GET /api/health: liveness plus a real round trip to the database."""

from __future__ import annotations

import time

from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from coursemall.db import get_engine


def _ping_database() -> dict:
    started = time.perf_counter()
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok", "dialect": get_engine().dialect.name,
                "latency_ms": round((time.perf_counter() - started) * 1000, 2)}
    except Exception as exc:  # report, never crash the health check
        return {"status": "error", "error": type(exc).__name__}


async def health(_request: Request) -> JSONResponse:
    database = await run_in_threadpool(_ping_database)
    ok = database["status"] == "ok"
    return JSONResponse({"status": "ok" if ok else "degraded", "database": database},
                        status_code=200 if ok else 503)


ROUTES = [Route("/api/health", health, methods=["GET"])]
