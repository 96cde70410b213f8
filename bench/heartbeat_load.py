"""Websocket load: N simulated learners sending progress heartbeats, beside a trivial Reflex event.

    .venv/bin/python -m bench.heartbeat_load                   # N = 100, 500, 1000; ~6-8 min
    .venv/bin/python -m bench.heartbeat_load --write-results   # also update bench/RESULTS.md
    .venv/bin/python -m bench.heartbeat_load --levels 50 --duration 5      # quick look

Both apps are production builds served by `reflex run --env prod --single-port` (one backend
worker, in-memory state manager, no Redis), started here: the shop from this checkout
(`tests/e2e/server.py`: migrate, seed, build; its own data dir and port) and the trivial app
(`bench/trivial_app`, a counter) from a temp copy. Run it from a copy of the tree when other
builds use this checkout's `.web` (see bench/RESULTS.md for the rsync line).

Before the load, N learner accounts are created in the shop's database through the services
(`accounts.create_user`, a "manual" `Entitlement` to the course of one video lesson,
`sessions.create_session`); each simulated learner sends its own session token as the
`cm_session` cookie of the websocket handshake, like a signed-in browser.

Per level N, for each app: open N sockets (ramped, `--ramp` per second; each hydrates the
page, i.e. runs its on_load), wait `--settle` seconds, then every learner sends one event
every `--interval` seconds (closed loop: never more than one in flight per learner; a random
phase spreads the sends) for `--duration` seconds, then all sockets close. Latency = emit ->
the delta of that handler's state (bench/reflex_client.py). Real players send a heartbeat every
10 s, so 1 s per learner is 10x the real rate per learner.

The shop's target is `PlayerState.heartbeat(lesson_id, position, watched_from, watched_to)`
(`--shop-event`, `--heartbeat-args`); while that handler does not exist in the checkout the
shop is measured with `AppState.toggle_lang` as a stand-in (a cheap handler with no database
work) and the table says so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bench.reflex_client import ClientStats, ProtocolError, ReflexClient, handler_name  # noqa: E402
from tests.e2e import server  # noqa: E402

COMMAND = ".venv/bin/python -m bench.heartbeat_load"
APP_STATE = ("coursemall.state.base", "AppState")
HEARTBEAT = handler_name(APP_STATE, ("coursemall.state.catalog.storefront", "CatalogBaseState"),
                         ("coursemall.state.catalog.storefront", "LessonState"),
                         ("coursemall.state.learning.player", "PlayerState"), handler="heartbeat")
TOGGLE_LANG = handler_name(APP_STATE, handler="toggle_lang")
TRIVIAL_EVENT = handler_name(("trivial_app.trivial_app", "CounterState"), handler="increment")
START, END = "<!-- heartbeat:start -->", "<!-- heartbeat:end -->"


# ------------------------------------------------------------------------------------ targets

@dataclass
class Target:
    label: str  # row label
    app: str  # "trivial" | "shop"
    base_url: str
    event: str
    path: str = "/"
    query: dict | None = None  # route params of the page (the browser sends them)
    expect_var: str | None = None  # a var that must be in the handler state's delta
    cookies: list[str] = field(default_factory=list)  # per learner (shop)
    payload: object = None  # callable(learner index, beat number) -> dict, or None
    marker: tuple[str, str] | None = None  # (event, var): sent right after, its delta = done
    pgid: int | None = None  # server process group, for CPU accounting


@dataclass
class LevelResult:
    label: str
    n: int
    connected: int
    connect_s: list[float]
    stats: ClientStats
    seconds: float
    server_cpu: float | None
    client_cpu: float
    machine_busy: float  # fraction of all cores busy during the level (anything on the box)
    timeline: list = field(default_factory=list)  # (seconds since start of the level, ms)

    def per_second(self) -> list[dict]:
        """p50/p95/max of the events sent in each second of the level (to spot stalls)."""
        buckets: dict[int, list[float]] = {}
        for t, ms in self.timeline:
            buckets.setdefault(int(t), []).append(ms)
        out = []
        for sec in sorted(buckets):
            v = sorted(buckets[sec])
            out.append({"s": sec, "n": len(v), "p50": round(v[len(v) // 2], 1),
                        "p95": round(v[int(0.95 * (len(v) - 1))], 1), "max": round(v[-1], 1)})
        return out

    def pct(self, q: float) -> float | None:
        lat = sorted(self.stats.latencies_ms)
        if not lat:
            return None
        return lat[min(len(lat) - 1, int(round(q * (len(lat) - 1))))]


def pgid_cpu_seconds(pgid: int | None) -> float | None:
    """utime+stime of every live process in a process group (the reflex run + its workers)."""
    if pgid is None:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid:  # field 5 (pgrp), after state and ppid
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of all cores from /proc/stat, to see what else used the machine."""
    vals = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    return sum(vals) - idle, sum(vals)


def own_cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


# --------------------------------------------------------------------------------- one level

async def run_level(target: Target, n: int, args) -> LevelResult:
    stats = ClientStats()
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    http = aiohttp.ClientSession(connector=connector)
    clients: list[ReflexClient | None] = [None] * n
    connect_s: list[float] = []
    expect = target.event.rsplit(".", 1)[0]

    async def open_one(i: int) -> None:
        cookie = target.cookies[i] if target.cookies else ""
        c = ReflexClient(http, target.base_url, cookie=cookie, path=target.path,
                         query=target.query)
        try:
            connect_s.append(await c.connect(timeout=args.timeout * 3))
            clients[i] = c
        except (ProtocolError, aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            stats.error(f"connect: {type(exc).__name__}")
            await c.close()

    # Ramp: start a connection every 1/ramp s (they overlap), then wait for all of them.
    t_ramp = time.perf_counter()
    opening = []
    for i in range(n):
        opening.append(asyncio.create_task(open_one(i)))
        await asyncio.sleep(1.0 / args.ramp)
    await asyncio.gather(*opening)
    ramp_s = time.perf_counter() - t_ramp
    live = [c for c in clients if c is not None]
    await asyncio.sleep(args.settle)

    cpu0, own0, t0 = pgid_cpu_seconds(target.pgid), own_cpu_seconds(), time.perf_counter()
    box0 = machine_cpu()
    stop_at = t0 + args.duration
    timeline: list[tuple[float, float]] = []

    async def learner(i: int, c: ReflexClient) -> None:
        await asyncio.sleep(random.uniform(0, args.interval))  # spread the phases
        beat = 0
        next_at = time.perf_counter()
        while time.perf_counter() < stop_at:
            if c.closed.is_set():
                stats.error(f"disconnect: {c.close_reason}")
                return
            payload = target.payload(i, beat) if target.payload else None
            stats.sent += 1
            sent_at = time.perf_counter() - t0
            try:
                if target.marker is None:
                    lat = await c.call(target.event, payload, timeout=args.timeout, expect=expect,
                                       expect_var=target.expect_var)
                else:  # the handler may change no var: time it up to the marker's delta
                    started = time.perf_counter()
                    await c.send(target.event, payload)
                    await c.call(target.marker[0], None, timeout=args.timeout,
                                 expect_var=target.marker[1])
                    lat = time.perf_counter() - started
                stats.latencies_ms.append(lat * 1000)
                timeline.append((sent_at, lat * 1000))
            except asyncio.TimeoutError:
                stats.timeouts += 1
            except (ProtocolError, aiohttp.ClientError, ConnectionError, RuntimeError) as exc:
                stats.error(f"event: {type(exc).__name__}")
                return
            beat += 1
            next_at += args.interval
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

    await asyncio.gather(*(learner(i, c) for i, c in enumerate(clients) if c is not None))
    seconds = time.perf_counter() - t0
    cpu1, own1 = pgid_cpu_seconds(target.pgid), own_cpu_seconds()
    box1 = machine_cpu()
    busy = (box1[0] - box0[0]) / max(1, box1[1] - box0[1])
    await asyncio.gather(*(c.close() for c in live))
    await http.close()
    print(f"  {target.label:<34} N={n:<5} connected {len(live)}/{n} in {ramp_s:.1f}s; "
          f"{len(stats.latencies_ms)} events, {stats.timeouts} timeouts, {stats.errors} errors",
          flush=True)
    return LevelResult(target.label, n, len(live), connect_s, stats, seconds,
                       None if cpu0 is None or cpu1 is None else cpu1 - cpu0, own1 - own0,
                       busy, timeline)


# ---------------------------------------------------------------------------------- the shop

def prepare_learners(db_url: str, env: dict, n: int) -> tuple[int, int, list[str]]:
    """N learners entitled to the course of one published video lesson, each with a live
    session: (lesson id, lesson seconds, cookie headers). Runs in this process on the shop's
    database through the services."""
    os.environ.update({k: v for k, v in env.items() if k.startswith("COURSEMALL_")})
    os.environ["COURSEMALL_DB_URL"] = db_url
    from sqlmodel import select

    from coursemall.db import session_scope
    from coursemall.domain.catalog import EntitlementSource
    from coursemall.models import Course, Entitlement, Lesson, User
    from coursemall.services.accounts import passwords, sessions, users as accounts
    from coursemall.services.learning import progress

    with session_scope() as s:
        row = s.exec(
            select(Lesson.id, Lesson.course_id, Lesson.duration_seconds)
            .join(Course, Course.id == Lesson.course_id)
            .where(Course.status == "published", Lesson.kind.in_(progress.MEDIA_KINDS),
                   Lesson.release_at.is_(None), Lesson.release_after_days == 0,
                   Lesson.duration_seconds >= 120)
            .order_by(Lesson.id)).first()
    if row is None:
        raise SystemExit("no published video lesson in the shop's database")
    lesson_id, course_id, seconds = row
    # One argon2 hash for every bench learner (they never sign in with a password; hashing
    # 1,000 passwords would take minutes on 2 cores).
    one_hash = passwords.hash_password("bench-learner-password")
    real_hash, accounts.hash_password = accounts.hash_password, lambda _pw: one_hash
    cookies: list[str] = []
    try:
        with session_scope() as s:
            existing = {u.email: u.id for u in s.exec(
                select(User).where(User.email.like("bench-learner-%@bench.local")))}
            for i in range(n):
                email = f"bench-learner-{i}@bench.local"
                uid = existing.get(email)
                if uid is None:
                    uid = accounts.create_user(s, password="x", nickname=f"learner{i}",
                                               email=email).id
                    s.add(Entitlement(user_id=uid, course_id=course_id,
                                      source=EntitlementSource.MANUAL, source_ref="bench"))
                token = sessions.create_session(s, user_id=uid, user_agent="bench", ip="127.0.0.1")
                cookies.append(f"{sessions.SESSION_COOKIE}={token}")
        with session_scope() as s:  # the first learner may study the lesson: entitlement works
            first = s.exec(select(User.id).where(User.email == "bench-learner-0@bench.local")).one()
            progress.require_study(s, first, lesson_id, full=True)
    finally:
        accounts.hash_password = real_hash
    return lesson_id, int(seconds), cookies


def stored_progress(db_url: str, env: dict, lesson_id: int) -> tuple[int, int]:
    """(bench learners with a progress row for the lesson, their watched seconds)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT COUNT(*), COALESCE(SUM(p.watched_seconds), 0) FROM lesson_progress p "
            "JOIN users u ON u.id = p.user_id WHERE p.lesson_id = :l "
            "AND u.email LIKE 'bench-learner-%@bench.local'"), {"l": lesson_id}).one()
    engine.dispose()
    return int(row[0]), int(row[1])


def heartbeat_exists(repo: Path) -> bool:
    path = repo / "coursemall" / "state" / "player.py"
    return path.exists() and "def heartbeat" in path.read_text()


def start_trivial(tmp: Path) -> server.RunningApp:
    app_dir = tmp / "trivial_app"
    shutil.copytree(ROOT / "bench" / "trivial_app", app_dir,
                    ignore=shutil.ignore_patterns(".web", ".states", "__pycache__"))
    port = server.free_port(3290)
    env = server.base_env()
    env["TRIVIAL_PORT"] = str(port)
    for name in list(env):
        if name.startswith("COURSEMALL_"):
            env.pop(name)
    return server.start_reflex_prod(app_dir, port=port, env=env, log=tmp / "trivial.log")


def pgid_of(app: server.RunningApp) -> int | None:
    try:
        return os.getpgid(app.proc.pid) if app.proc else None
    except ProcessLookupError:
        return None


# ------------------------------------------------------------------------------------ report

def fmt(v: float | None, digits: int = 1) -> str:
    return "–" if v is None else f"{v:,.{digits}f}"


def table(results: list[LevelResult], args) -> str:
    out = [
        "| event | N | events | events/s | p50 ms | p95 ms | p99 ms | max ms | timeouts "
        "| errors | connect p95 s | server CPU | load-gen CPU | machine busy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        s = r.stats
        conn = sorted(r.connect_s)
        conn95 = conn[int(0.95 * (len(conn) - 1))] if conn else None
        errs = str(s.errors)
        if s.error_kinds:
            errs += " (" + ", ".join(f"{k} ×{v}" for k, v in sorted(s.error_kinds.items())) + ")"
        out.append(
            f"| {r.label} | {r.n:,} | {len(s.latencies_ms):,} | {len(s.latencies_ms) / r.seconds:,.0f} "
            f"| {fmt(r.pct(0.50))} | {fmt(r.pct(0.95))} | {fmt(r.pct(0.99))} "
            f"| {fmt(max(s.latencies_ms) if s.latencies_ms else None)} | {s.timeouts} | {errs} "
            f"| {fmt(conn95, 2)} | {fmt(None if r.server_cpu is None else 100 * r.server_cpu / r.seconds, 0)} % "
            f"| {100 * r.client_cpu / r.seconds:.0f} % | {100 * r.machine_busy:.0f} % |")
    return "\n".join(out)


def write_results_section(body: str, path: Path | None = None) -> None:
    path = path or ROOT / "bench" / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    section = f"{START}\n## Progress heartbeats over the websocket\n\n{body.strip()}\n{END}"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    path.write_text(text)
    print(f"updated {path}")


# -------------------------------------------------------------------------------------- main

def raise_fd_limit(need: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, need)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def run_all(targets: list[Target], levels: list[int], args) -> list[LevelResult]:
    results = []
    for n in levels:
        for t in targets:  # same N back to back, the trivial app first
            results.append(await run_level(t, n, args))
            await asyncio.sleep(args.pause)
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--levels", default="100,500,1000", help="learner counts (default 100,500,1000)")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of load per level (20)")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between a learner's events (1)")
    p.add_argument("--ramp", type=float, default=50.0, help="new connections per second (50)")
    p.add_argument("--settle", type=float, default=3.0, help="pause after connecting (3 s)")
    p.add_argument("--pause", type=float, default=2.0, help="pause between runs (2 s)")
    p.add_argument("--timeout", type=float, default=10.0, help="per-event timeout (10 s)")
    p.add_argument("--shop-event", default=None,
                   help=f"full handler name (default {HEARTBEAT}; AppState.toggle_lang while "
                        "PlayerState.heartbeat does not exist)")
    p.add_argument("--heartbeat-args", default="payload:lesson_id,position,from,to",
                   help="how the heartbeat takes (lesson id, position, from, to): 'ARG:k1,k2,k3,k4' "
                        "= one argument ARG holding a JSON string with those keys (the player's "
                        "`heartbeat(payload)`, default); 'a1,a2,a3,a4' = four named arguments")
    p.add_argument("--no-marker", action="store_true",
                   help="time the heartbeat by its own delta instead of a toggle_lang marker sent "
                        "right behind it (only if every heartbeat changes a frontend var)")
    p.add_argument("--shop-path", default="/lesson/{lesson}",
                   help="page the learners are on (default /lesson/{lesson}, route param lesson_id)")
    p.add_argument("--shop-url", help="use a running shop (then --shop-db-url is required)")
    p.add_argument("--shop-db-url", help="database URL of the running shop")
    p.add_argument("--trivial-url", help="use a running trivial app")
    p.add_argument("--no-trivial", action="store_true")
    p.add_argument("--no-shop", action="store_true")
    p.add_argument("--keep-data", action="store_true", help="keep data/bench-heartbeat afterwards")
    p.add_argument("--write-results", action="store_true",
                   help="also replace the heartbeat section of bench/RESULTS.md")
    p.add_argument("--results", type=Path, default=None,
                   help="the RESULTS.md to update (default bench/RESULTS.md of this tree; when "
                        "running from a copy, point it at the checkout's)")
    args = p.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    fd = raise_fd_limit(max(levels) * 3 + 256)
    if fd < max(levels) * 2 + 100:
        print(f"open-file limit {fd} is too low for N={max(levels)}", file=sys.stderr)
        return 2

    t_start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="cm-heartbeat-"))
    data_dir = ROOT / "data" / "bench-heartbeat"
    shop = trivial = None
    targets: list[Target] = []
    stand_in = False
    check_db = None
    try:
        if not args.no_trivial:
            if args.trivial_url:
                base, pg = args.trivial_url.rstrip("/"), None
            else:
                print("building and starting the trivial app ...", flush=True)
                trivial = start_trivial(tmp)
                base, pg = trivial.base_url, pgid_of(trivial)
                print(f"  {base} (log {trivial.log})", flush=True)
            targets.append(Target("trivial app: `CounterState.increment`", "trivial", base,
                                  TRIVIAL_EVENT, path="/", pgid=pg))
        if not args.no_shop:
            if args.shop_url:
                if not args.shop_db_url:
                    p.error("--shop-url needs --shop-db-url")
                base, pg, db_url, env = args.shop_url.rstrip("/"), None, args.shop_db_url, {}
            else:
                print("migrating, seeding, building and starting the shop ...", flush=True)
                shop = server.start_shop(ROOT, data_dir=data_dir, port=server.free_port(3250))
                base, pg, env = shop.base_url, pgid_of(shop), shop.env
                db_url = env["COURSEMALL_DB_URL"]
                print(f"  {base} (log {shop.log})", flush=True)
            t0 = time.perf_counter()
            lesson_id, seconds, cookies = prepare_learners(db_url, env, max(levels))
            print(f"  {len(cookies)} signed-in learners entitled to lesson {lesson_id} "
                  f"({time.perf_counter() - t0:.1f}s)", flush=True)
            event = args.shop_event
            if event is None:
                stand_in = not heartbeat_exists(ROOT)
                event = TOGGLE_LANG if stand_in else HEARTBEAT
            path = args.shop_path.format(lesson=lesson_id)
            query = {"lesson_id": str(lesson_id)} if "{lesson}" in args.shop_path else None
            if event == TOGGLE_LANG:
                label = ("shop: `AppState.toggle_lang` (stand-in: no `PlayerState.heartbeat` yet)"
                         if stand_in else "shop: `AppState.toggle_lang`")
                targets.append(Target(label, "shop", base, event, path=path,
                                      expect_var="lang_rx_state_", cookies=cookies, pgid=pg,
                                      query=query))
            else:
                arg, _, keys = args.heartbeat_args.rpartition(":")
                names = [x.strip() for x in keys.split(",")]
                span = max(1, int(round(args.interval)))

                def payload(i: int, beat: int, names=names, arg=arg, span=span,
                            limit=seconds - span) -> dict:
                    pos = span + (beat * span) % max(1, limit)
                    values = dict(zip(names, (lesson_id, pos, pos - span, pos)))
                    return {arg: json.dumps(values)} if arg else values

                short = event.rsplit(".", 2)
                label = f"shop: `{short[-2].rsplit('____', 1)[-1]}.{short[-1]}` (signed in, entitled)"
                marker = None if args.no_marker else (TOGGLE_LANG, "lang_rx_state_")
                if marker:
                    label += " + marker"
                    # the marker alone, on the same page and sockets: its share of the figures
                    targets.append(Target("shop: `AppState.toggle_lang` (the marker alone)", "shop",
                                          base, TOGGLE_LANG, path=path, expect_var="lang_rx_state_",
                                          cookies=cookies, pgid=pg, query=query))
                check_db = (db_url, env, lesson_id)
                targets.append(Target(label, "shop", base, event, path=path, cookies=cookies,
                                      payload=payload, pgid=pg, query=query, marker=marker))

        print(f"load: levels {levels}, {args.duration:.0f}s each, one event per learner every "
              f"{args.interval:g}s, ramp {args.ramp:g} connections/s", flush=True)
        results = asyncio.run(run_all(targets, levels, args))
        stored = stored_progress(*check_db) if check_db else None
    except server.ServerStartError as exc:
        print(f"a server did not start:\n{exc}", file=sys.stderr)
        return 1
    finally:
        for app in (shop, trivial):
            if app is not None:
                app.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        if not args.keep_data and shop is not None:
            shutil.rmtree(data_dir, ignore_errors=True)

    md = table(results, args)
    argv_text = " ".join(sys.argv[1:] if argv is None else argv)
    notes = (
        f"\nMeasured {time.strftime('%Y-%m-%d %H:%M')} with `{COMMAND}{' ' + argv_text if argv_text else ''}` "
        f"in `{ROOT}` ({time.perf_counter() - t_start:.0f} s including both builds); 2 cores, loopback, the "
        "load generator (one asyncio process, raw Engine.IO frames over aiohttp) shares the cores "
        "with the server. Both apps: `reflex run --env prod --single-port`, one backend worker, "
        "in-memory state manager, no Redis; the shop on SQLite.\n\n"
        f"Each learner holds one socket (hydrated on the lesson page, signed in by its own "
        f"`cm_session` cookie) and sends one event every {args.interval:g} s for "
        f"{args.duration:g} s, closed loop (at most one in flight). Real players send a "
        "heartbeat every 10 s, so this is 10× the real per-learner rate: N = 1,000 here "
        "≈ 10,000 learners watching at once. Latency = emit → that handler's delta back on the "
        "socket; timeouts after "
        f"{args.timeout:g} s. server CPU = CPU time of the server's process group / wall time "
        "(200 % = both cores); load-gen CPU likewise for the generator; machine busy = share of "
        "both cores busy with anything (/proc/stat), i.e. how much other work competed.\n")
    if check_db is not None:
        notes += (f"\nThe heartbeat is `{HEARTBEAT}` with one JSON-string argument "
                  f"({args.heartbeat_args}); it stores progress through "
                  "`progress.record_heartbeat` (SQLite write + commit per heartbeat) and changes "
                  "a frontend var only when the percentage moves, so each heartbeat is followed on "
                  "the same socket by `AppState.toggle_lang` and timed up to the marker's delta "
                  "(events of one tab are processed in order); the marker-alone row gives the "
                  "marker's own share. " if not args.no_marker else "")
        if stored:
            notes += (f"After the run the database held progress for {stored[0]:,} of the bench "
                      f"learners ({stored[1]:,} watched seconds in all): heartbeats were stored.\n")
    if stand_in:
        notes += ("\n`PlayerState.heartbeat` did not exist in this checkout when this ran, so the "
                  "shop row measures `AppState.toggle_lang` (same state tree, same socket, no "
                  "database work); rerun once the player lands to measure the heartbeat itself.\n")
    print()
    print(md)
    print(notes)
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "heartbeat_load.md").write_text(md + "\n" + notes)
    (out / "heartbeat_load.json").write_text(json.dumps([
        {"label": r.label, "n": r.n, "connected": r.connected, "events": len(r.stats.latencies_ms),
         "seconds": r.seconds, "p50": r.pct(0.5), "p95": r.pct(0.95), "p99": r.pct(0.99),
         "timeouts": r.stats.timeouts, "errors": r.stats.error_kinds,
         "connect_median_s": statistics.median(r.connect_s) if r.connect_s else None,
         "server_cpu_s": r.server_cpu, "client_cpu_s": r.client_cpu, "machine_busy": r.machine_busy,
         "per_second": r.per_second()} for r in results], indent=1))
    if args.write_results:
        write_results_section(md + "\n" + notes, args.results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
