"""Benchmark: signed sandbox payment notifications, 10 concurrent, on SQLite and PostgreSQL.

Each notification pays a different pending order, so every request runs the whole fulfilment
(verify HMAC → CAS pending→paid → payment row → entitlements → counters → message → event) in one
transaction. Beside it, in the same run and the same server, a raw Starlette route returning "ok"
shows the floor of the HTTP stack. The app is served by granian (one worker) on a loopback port.

    .venv/bin/python bench/notify_bench.py            # N=300 per database
    BENCH_N=1000 .venv/bin/python bench/notify_bench.py --write-results   # also update bench/RESULTS.md

Prints a Markdown table; checks afterwards that every order was paid exactly once.
Bounded: each phase has a deadline; the whole run stays well under 3 minutes on 2 cores.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

N = int(os.environ.get("BENCH_N", "300"))
CONCURRENCY = 10
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_DB = "coursemall_bench"
SECRET = os.environ.get("COURSEMALL_SECRET_KEY") or ("bench-secret-" + "b" * 40)


def bench_app():
    """Granian factory: the real API plus a raw route, in one Starlette app."""
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Mount, Route

    from coursemall.api import build_api

    async def raw(_request):
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/bench/raw", raw, methods=["GET", "POST"]), Mount("/", app=build_api())])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare_pg() -> str | None:
    from sqlalchemy import create_engine, text

    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {PG_DB}"))
        admin.dispose()
    except Exception as exc:  # noqa: BLE001
        print(f"PostgreSQL unavailable ({type(exc).__name__}); skipping it", file=sys.stderr)
        return None
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{PG_DB}"


def _seed(db_url: str, n: int) -> list[tuple[str, int]]:
    """Create the schema, one learner per order (one course each), n pending orders."""
    from sqlmodel import Session, SQLModel

    import coursemall.models  # noqa: F401
    from coursemall.db import make_engine
    from coursemall.models import Course, Order, OrderLine, User, utcnow
    from datetime import timedelta

    engine = make_engine(db_url)
    SQLModel.metadata.drop_all(engine)
    SQLModel.metadata.create_all(engine)
    orders = []
    with Session(engine) as s:
        courses = [Course(slug=f"bench-{i}", title=f"Bench course {i}", price_fen=9900, status="published")
                   for i in range(20)]
        s.add_all(courses)
        s.flush()
        now = utcnow()
        for i in range(n):
            user = User(email=f"bench{i}@example.com", nickname=f"b{i}", watermark_code=secrets.token_hex(5))
            s.add(user)
            s.flush()
            course = courses[i % len(courses)]
            no = f"CMBENCH{secrets.token_hex(8).upper()}"
            order = Order(out_trade_no=no, user_id=user.id, total_fen=9900, channel="sandbox",  # paying there
                          expires_at=now + timedelta(hours=1))
            s.add(order)
            s.flush()
            s.add(OrderLine(order_id=order.id, item_type="course", item_id=course.id, title=course.title,
                            unit_price_fen=9900, course_ids=[course.id]))
            orders.append((no, 9900))
        s.commit()
    engine.dispose()
    return orders


def _verify(db_url: str, n: int) -> str:
    from sqlalchemy import text

    from coursemall.db import make_engine

    engine = make_engine(db_url)
    with engine.connect() as conn:
        paid = conn.execute(text("SELECT count(*) FROM orders WHERE status='paid'")).scalar()
        pays = conn.execute(text("SELECT count(*) FROM payments")).scalar()
        grants = conn.execute(text("SELECT count(*) FROM entitlements")).scalar()
        events = conn.execute(text("SELECT count(*) FROM payment_events")).scalar()
    engine.dispose()
    ok = paid == pays == grants == n and events >= n
    return f"{'OK' if ok else 'MISMATCH'}: paid={paid} payments={pays} grants={grants} events={events}"


async def _load(url: str, bodies: list[tuple[bytes, dict]] | None, n: int, deadline: float) -> dict:
    import httpx

    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)

    async def worker(client: httpx.AsyncClient):
        nonlocal errors
        while not queue.empty() and time.monotonic() < deadline:
            i = queue.get_nowait()
            started = time.perf_counter()
            try:
                if bodies is None:
                    r = await client.get(url)
                else:
                    body, headers = bodies[i]
                    r = await client.post(url, content=body, headers=headers)
                if r.status_code != 200:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append((time.perf_counter() - started) * 1000)

    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - t0
    latencies.sort()
    return {"n": len(latencies), "rps": len(latencies) / elapsed if elapsed else 0.0,
            "p50": statistics.median(latencies) if latencies else 0.0,
            "p95": latencies[int(len(latencies) * 0.95) - 1] if latencies else 0.0, "errors": errors}


def _serve(db_url: str, data_dir: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "COURSEMALL_DB_URL": db_url, "COURSEMALL_DATA_DIR": data_dir, "COURSEMALL_DEMO": "1",
           "COURSEMALL_SECRET_KEY": SECRET, "COURSEMALL_PAY_CHANNELS": "sandbox", "PYTHONPATH": str(ROOT)}
    granian = str(Path(sys.executable).parent / "granian")
    proc = subprocess.Popen([granian, "--interface", "asgi", "--factory", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", "1", "--no-log", "bench.notify_bench:bench_app"], cwd=str(ROOT), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, base
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("granian exited: " + proc.stderr.read().decode()[-2000:])
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("granian did not start")


def run_one(label: str, db_url: str, data_dir: str) -> list[tuple]:
    os.environ["COURSEMALL_SECRET_KEY"] = SECRET
    os.environ["COURSEMALL_DEMO"] = "1"  # the sandbox channel exists only in the demo
    from coursemall.payments.sandbox import SandboxChannel

    orders = _seed(db_url, N)
    channel = SandboxChannel(SECRET)
    bodies = [channel.build_notification(out_trade_no=no, outcome="pay", amount_fen=amount, txn_id=f"SB{no}")
              for no, amount in orders]
    proc, base = _serve(db_url, data_dir)
    try:
        deadline = time.monotonic() + 60
        asyncio.run(_load(base + "/bench/raw", None, 50, deadline))  # warm-up
        raw = asyncio.run(_load(base + "/bench/raw", None, N, time.monotonic() + 60))
        notify = asyncio.run(_load(base + "/api/pay/notify/sandbox", bodies, N, time.monotonic() + 90))
        replay = asyncio.run(_load(base + "/api/pay/notify/sandbox", bodies, min(N, 200), time.monotonic() + 60))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    check = _verify(db_url, N)
    return [(label, "raw Starlette GET → \"ok\"", raw, ""),
            (label, "signed notify, first delivery (fulfils)", notify, check),
            (label, "signed notify, repeat (duplicate no-op)", replay, "")]


def main() -> None:
    started = time.monotonic()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += run_one("SQLite", f"sqlite:///{tmp}/bench.db", tmp)
        pg = _prepare_pg()
        if pg:
            rows += run_one("PostgreSQL", pg, tmp)
    lines = [f"Notify benchmark: N={N} per database, {CONCURRENCY} concurrent, granian 1 worker, loopback, "
             f"{os.cpu_count()} cores; total {time.monotonic() - started:.0f}s", "",
             "| database | request | requests | req/s | p50 ms | p95 ms | errors | invariant check |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for label, what, r, check in rows:
        lines.append(f"| {label} | {what} | {r['n']} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p95']:.1f} | "
                     f"{r['errors']} | {check} |")
    table = "\n".join(lines)
    print("\n" + table)
    if "--write-results" in sys.argv:
        write_results_section(table)


START, END = "<!-- notify:start -->", "<!-- notify:end -->"


def write_results_section(body: str) -> None:
    """Replace (or append) the marked payment-notification section of bench/RESULTS.md."""
    path = ROOT / "bench" / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    notes = ("Each first delivery runs the whole fulfilment in one transaction (HMAC check, CAS pending→paid, "
             "payment row, entitlement, course counters, message, event). Repeats are recorded as duplicates "
             "and change nothing. `bench/notify_bench.py`; figures vary with other load on the machine.")
    section = f"{START}\n## Payment notifications\n\n{body.strip()}\n\n{notes}\n{END}"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    path.write_text(text)
    print(f"updated {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
