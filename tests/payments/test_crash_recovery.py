"""Crash test: SIGKILL the real shop backend in the middle of 200 concurrent checkouts and
payment notifications on PostgreSQL, restart it, run the expiry/reconciliation jobs, and check
that every order is consistent.

What runs: the production backend exactly as deployed without the frontend —
`reflex run --env prod --backend-only` (granian, one worker, the app's lifespan jobs running) —
on a database built by the committed migrations, with Alipay and WeChat Pay configured against
the loopback fake gateways of this process (which sign and check exactly as the real gateways).
Learners use the shop through Reflex's websocket protocol like a browser tab
(bench/reflex_client.py): buy now → choose a channel (WeChat Native QR / Alipay page pay; some
switch channel). The "buyer" then pays at the fake gateway and the gateway notifies the shop's
real HTTP route; some notifications are repeated concurrently, some are lost (found later by
the gateway query), some learners pay twice or through the channel they switched away from,
some abandon their order, some pay after their order was closed.

In the middle of all this the backend's whole process group gets SIGKILL. It is restarted; the
gateways re-deliver every notification the shop never acknowledged (as Alipay and WeChat do);
the order jobs run (here, with a clock an hour ahead so every unpaid order is past its expiry);
WeChat settles its refunds (some notified, some left to the refund query).

Every assertion is an invariant, independent of where the kill landed: no order stays pending;
paid ⇔ exactly one applied payment ⇔ the learner's access; the applied payment is on the order's
bound channel and an order is paid iff money arrived on that channel; every payment a buyer
made is recorded exactly once and every extra one was refunded at its gateway; nothing was
granted or counted twice. Bounded: about a minute on 2 cores.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

import aiohttp
import pytest
from sqlmodel import Session, select

from bench.reflex_client import ProtocolError, ReflexClient, handler_name
from coursemall.db import make_engine
from coursemall.domain.money import fen_to_yuan
from coursemall.jobs.orders import close_expired_orders, reconcile_pending
from coursemall.models import Course, Entitlement, Order, OrderLine, Payment, Refund, utcnow
from coursemall.payments import registry
from coursemall.services.accounts import sessions
from tests.payments.crash_harness import (
    Backend,
    backend_env,
    create_schema,
    drop_schema,
    free_port,
    in_process_channels,
    start_gateways,
)
from tests.payments.factories import make_course, make_user

pytestmark = pytest.mark.pg

LEARNERS = 200
COURSES = 20
TAB_CONCURRENCY = 60  # browser tabs talking to the backend at once
KILL_AFTER_NOTIFICATIONS = 60  # of about 160 first deliveries
PHASE_TIMEOUT = 120.0
APP = ("coursemall.state.base", "AppState")
BUY_NOW = handler_name(APP, ("coursemall.state.commerce.shop", "BuyState"), handler="buy_now")
PAY = handler_name(APP, ("coursemall.state.commerce.shop", "OrderState"), handler="pay")
ORDER_STATE = handler_name(APP, ("coursemall.state.commerce.shop", "OrderState"), handler="x").rsplit(".", 1)[0]
# What learner i does (i % 10); "abandoned" learners with i % 20 == 8 pay after their order closed.
SCENARIOS = ("alipay", "alipay", "alipay_repeats", "wechat", "wechat_repeats", "wechat_lost",
             "alipay_twice", "switch", "abandoned", "unstarted")
CONNECTION_TROUBLE = (ProtocolError, asyncio.TimeoutError, aiohttp.ClientError, ConnectionError, OSError)


@dataclass
class Money:
    """A payment a buyer really made at a gateway (the gateway's side of the books)."""

    order_no: str
    channel: str
    txn: str
    amount_fen: int
    body: bytes
    lost: bool = False  # the gateway's notification never reaches the shop
    acked: bool = False  # the shop answered "success"


@dataclass
class Run:
    backend: Backend
    gateways: object
    course_of: dict[int, tuple[int, int]]  # learner index -> (course id, price)
    cookie_of: dict[int, str]
    ledger: list[Money] = field(default_factory=list)
    order_of: dict[int, str] = field(default_factory=dict)  # learner index -> order number
    killed: asyncio.Event = field(default_factory=asyncio.Event)
    kill_now: asyncio.Event = field(default_factory=asyncio.Event)
    notified: int = 0
    interrupted: set[int] = field(default_factory=set)  # learners whose tab lost the shop
    errors: list[BaseException] = field(default_factory=list)


@pytest.fixture
def shop(pg_url, tmp_path):
    """pg_url: this run's own PostgreSQL database (fails under CI=true when PostgreSQL is down)."""
    url = create_schema(pg_url, "crash_test")
    gateways = start_gateways(tmp_path)
    port = free_port(int(os.environ.get("COURSEMALL_E2E_PORT", "3500")) + 7)
    backend = Backend(port, backend_env(db_url=url, data_dir=tmp_path / "data", port=port, gateways=gateways),
                      tmp_path / "backend.log")
    engine = make_engine(url)
    try:
        yield backend, gateways, engine, tmp_path
    finally:
        backend.kill()
        gateways.stop()
        engine.dispose()
        drop_schema(pg_url, "crash_test")


def _seed(engine) -> tuple[dict[int, tuple[int, int]], dict[int, str]]:
    """COURSES published courses and LEARNERS learners with a signed-in session each."""
    course_of, cookie_of = {}, {}
    with Session(engine, expire_on_commit=False) as s:
        courses = [make_course(s, price_fen=900 + 10 * n) for n in range(COURSES)]
        for i in range(LEARNERS):
            user = make_user(s)
            cookie_of[i] = f"cm_lang=zh_CN; cm_session={sessions.create_session(s, user_id=user.id)}"
            course = courses[i % COURSES]
            course_of[i] = (course.id, course.price_fen)
        s.commit()
    return course_of, cookie_of


# ------------------------------------------------------------------------------------ the learners

async def _pay(client: ReflexClient, channel: str, gateways) -> None:
    """OrderState.pay as the order page's form sends it; WeChat shows a QR, Alipay navigates."""
    if channel == "wechat":
        await client.call(PAY, {"form_data": {"channel": "wechat"}}, expect=ORDER_STATE,
                          expect_var="pay_kind_rx_state_", timeout=30)
        state = client.last_delta.get(ORDER_STATE, {})
        assert state.get("pay_kind_rx_state_") == "qr" and not state.get("error_rx_state_"), state
    else:
        await client.call(PAY, {"form_data": {"channel": "alipay"}}, expect_event="_redirect", timeout=30)
        target = client.events[-1]["payload"]["path"]
        assert target.startswith(gateways.alipay.url + "?"), target


async def _checkout(run: Run, http: aiohttp.ClientSession, i: int, kind: str) -> str | None:
    """The learner's tab: buy now, then start paying. Returns the order number (None if the
    learner never got that far)."""
    course_id, _price = run.course_of[i]
    client = ReflexClient(http, run.backend.base_url, cookie=run.cookie_of[i], path=f"/course/{course_id}",
                          query={"course_id": str(course_id)})
    try:
        await client.connect(hydrate=False, timeout=30)
        await client.call(BUY_NOW, {"item_type": "course", "item_id": course_id}, expect_event="_redirect",
                          timeout=30)
        path = client.events[-1]["payload"]["path"]
        assert path.startswith("/order/CM"), path
        order_no = path.rsplit("/", 1)[1]
        run.order_of[i] = order_no
        if kind == "unstarted":
            return order_no
        client.path, client.query = path, {"order_no": order_no}
        first = "wechat" if kind.startswith("wechat") or kind == "switch" else "alipay"
        await _pay(client, first, run.gateways)
        if kind == "switch":
            await _pay(client, "alipay", run.gateways)
        return order_no
    finally:
        await client.close()


async def _notify(run: Run, http: aiohttp.ClientSession, money: Money, copies: int = 1) -> None:
    async def one() -> None:
        url = f"{run.backend.base_url}/api/pay/notify/{money.channel}"
        ctype = "text/xml" if money.channel == "wechat" else "application/x-www-form-urlencoded"
        async with http.post(url, data=money.body, headers={"Content-Type": ctype},
                             timeout=aiohttp.ClientTimeout(total=30)) as resp:
            text = await resp.text()
            if resp.status == 200 and ("success" == text or "SUCCESS" in text):
                money.acked = True

    results = await asyncio.gather(*(one() for _ in range(copies)), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            if not (run.killed.is_set() and isinstance(result, CONNECTION_TROUBLE)):
                raise result
    run.notified += 1
    if run.notified >= KILL_AFTER_NOTIFICATIONS:
        run.kill_now.set()


def _buyer_pays(run: Run, kind: str, order_no: str, price: int) -> list[tuple[Money, int]]:
    """What the buyer does at the gateway after the shop showed the QR / sent them to Alipay;
    each payment with how many copies of its notification the gateway sends at once."""
    ali, wx = run.gateways.alipay, run.gateways.wechat
    paid: list[tuple[Money, int]] = []

    def alipay_money(fields: dict) -> Money:
        return Money(order_no, "alipay", fields["trade_no"], price, ali.notification_body(fields))

    def wechat_money(fields: dict) -> Money:
        return Money(order_no, "wechat", fields["transaction_id"], price, wx.notification_body(fields))

    if kind.startswith("alipay"):
        fields = ali.buyer_pays(order_no, fen_to_yuan(price))
        paid.append((alipay_money(fields), 3 if kind == "alipay_repeats" else 1))
        if kind == "alipay_twice":  # a second, different payment for the same order
            paid.append((alipay_money({**fields, "trade_no": fields["trade_no"] + "9", "notify_id": "second"}), 1))
    elif kind.startswith("wechat"):
        money = wechat_money(wx.buyer_pays(order_no))
        money.lost = kind == "wechat_lost"
        paid.append((money, 2 if kind == "wechat_repeats" else 1))
    elif kind == "switch":  # the WeChat QR was paid just before the switch closed it
        with wx.lock:
            wx.orders[order_no]["state"] = "NOTPAY"
        paid.append((wechat_money(wx.buyer_pays(order_no)), 1))
        paid.append((alipay_money(ali.buyer_pays(order_no, fen_to_yuan(price))), 1))
    for money, _copies in paid:
        run.ledger.append(money)
    return paid


async def _learner(run: Run, http: aiohttp.ClientSession, tabs: asyncio.Semaphore, i: int) -> None:
    kind = SCENARIOS[i % len(SCENARIOS)]
    await asyncio.sleep(i * 0.004)  # arrivals spread over the first second
    try:
        async with tabs:
            if run.killed.is_set():
                raise ConnectionError("the shop is down")
            order_no = await _checkout(run, http, i, kind)
        if order_no is None or kind in ("abandoned", "unstarted"):
            return
        for money, copies in _buyer_pays(run, kind, order_no, run.course_of[i][1]):
            if not money.lost:
                await _notify(run, http, money, copies)
    except CONNECTION_TROUBLE:
        if not run.killed.is_set():
            raise  # trouble before the kill is a failure of the shop
        run.interrupted.add(i)


async def _killer(run: Run) -> None:
    await run.kill_now.wait()
    run.killed.set()
    await asyncio.to_thread(run.backend.kill)


async def _first_run(run: Run) -> None:
    tabs = asyncio.Semaphore(TAB_CONCURRENCY)
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as http:
        killer = asyncio.create_task(_killer(run))
        results = await asyncio.gather(*(_learner(run, http, tabs, i) for i in range(LEARNERS)),
                                       return_exceptions=True)
        run.kill_now.set()  # in case the threshold was never reached
        await killer
    run.errors.extend(r for r in results if isinstance(r, BaseException))


async def _redeliver(run: Run) -> None:
    """The gateways retry what the shop never acknowledged, two copies at once."""
    async with aiohttp.ClientSession() as http:
        pending = [m for m in run.ledger if not m.acked and not m.lost]
        results = await asyncio.gather(*(_notify(run, http, m, 2) for m in pending), return_exceptions=True)
    run.errors.extend(r for r in results if isinstance(r, BaseException))


async def _after_restart(run: Run) -> None:
    """Gateway retries, and at the same time the learners whose tab lost the shop before they
    paid anything open it again and go through checkout once more."""
    paid_orders = {m.order_no for m in run.ledger}
    again = [i for i in sorted(run.interrupted) if run.order_of.get(i) not in paid_orders]
    tabs = asyncio.Semaphore(TAB_CONCURRENCY)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as http:
        results = await asyncio.gather(_redeliver(run), *(_learner(run, http, tabs, i) for i in again),
                                       return_exceptions=True)
    run.errors.extend(r for r in results if isinstance(r, BaseException))


async def _refund_notices(run: Run, notices: list[bytes]) -> None:
    async with aiohttp.ClientSession() as http:
        for body in notices:
            async with http.post(f"{run.backend.base_url}/api/pay/notify/wechat-refund", data=body,
                                 headers={"Content-Type": "text/xml"}) as resp:
                assert resp.status == 200, await resp.text()


def _sweep(engine, now) -> None:
    """The order jobs as every worker runs them (expiry with the gateway query first, then
    reconciliation and the refund pass), with a clock of our choosing."""
    with Session(engine, expire_on_commit=False) as s:
        close_expired_orders(s, now)
    with Session(engine, expire_on_commit=False) as s:
        reconcile_pending(s, now, min_age_seconds=0)


# ------------------------------------------------------------------------------------ the test

def test_sigkill_in_the_middle_of_checkouts_and_notifications_leaves_every_order_consistent(shop):
    backend, gateways, engine, tmp = shop
    began = time.monotonic()
    course_of, cookie_of = _seed(engine)
    backend.start()
    run = Run(backend, gateways, course_of, cookie_of)

    asyncio.run(asyncio.wait_for(_first_run(run), PHASE_TIMEOUT))
    assert run.errors == [], run.errors[:3]
    assert run.killed.is_set() and run.notified >= KILL_AFTER_NOTIFICATIONS
    unacked_at_kill = sum(1 for m in run.ledger if not m.acked and not m.lost)

    backend.start()  # the restart
    run.killed, run.kill_now = asyncio.Event(), asyncio.Event()  # from here on, any failure is one
    interrupted = len(run.interrupted)
    with registry.override(**in_process_channels(gateways, tmp)):
        asyncio.run(asyncio.wait_for(_after_restart(run), PHASE_TIMEOUT))
        assert run.errors == [], run.errors[:3]
        later = utcnow() + timedelta(hours=1)  # every unpaid order is past its 15 minutes now
        _sweep(engine, later)
        _sweep(engine, later)  # idempotent
        # late payments: the buyer pays an order that has been closed meanwhile
        late = []
        for i, order_no in sorted(run.order_of.items()):
            if SCENARIOS[i % len(SCENARIOS)] == "abandoned" and i % 20 == 8:
                price = course_of[i][1]
                fields = gateways.alipay.buyer_pays(order_no, fen_to_yuan(price))
                late.append(Money(order_no, "alipay", fields["trade_no"], price,
                                  gateways.alipay.notification_body(fields)))
        run.ledger.extend(late)
        asyncio.run(asyncio.wait_for(_redeliver(run), PHASE_TIMEOUT))
        assert run.errors == [], run.errors[:3]
        _sweep(engine, later)
        for hours in (1, 2):  # WeChat settles its refunds: half notified, half found by the refund query
            with gateways.wechat.lock:
                processing = sorted(no for no, r in gateways.wechat.refunds.items() if r["status"] == "PROCESSING")
            notices = [gateways.wechat.settle_refund(no) for no in processing]
            asyncio.run(asyncio.wait_for(_refund_notices(run, notices[::2]), PHASE_TIMEOUT))
            _sweep(engine, later + timedelta(hours=hours))  # past every refund's next attempt
    elapsed = time.monotonic() - began

    with Session(engine) as s:
        _assert_consistent(s, run, gateways)
    assert unacked_at_kill > 0 and interrupted > 0, "the kill did not land in the middle of the work"
    assert elapsed < 240, f"the crash test took {elapsed:.0f}s"


def _assert_consistent(s: Session, run: Run, gateways) -> None:
    orders = {o.out_trade_no: o for o in s.exec(select(Order)).all()}
    applied = Counter(p.order_id for p in s.exec(select(Payment).where(Payment.role == "applied")).all())
    payments = {(p.channel, p.provider_txn_id): p for p in s.exec(select(Payment)).all()}
    refunds = {r.payment_id: r for r in s.exec(select(Refund)).all()}
    active = s.exec(select(Entitlement).where(Entitlement.revoked_at.is_(None))).all()
    grants = Counter((e.user_id, e.course_id) for e in active)
    grants_of_order = Counter((e.source_ref, e.course_id) for e in active)
    lines = {ln.order_id: ln for ln in s.exec(select(OrderLine)).all()}
    assert len(orders) >= len(run.order_of) and set(run.order_of.values()) <= set(orders)

    # 1. nothing pending forever; paid ⇔ exactly one applied payment ⇔ access
    assert Counter(o.status for o in orders.values()).keys() <= {"paid", "closed"}
    for no, order in orders.items():
        course_id = int(lines[order.id].course_ids[0])
        paid = order.status == "paid"
        assert applied[order.id] == (1 if paid else 0), no
        assert grants_of_order[(no, course_id)] == (1 if paid else 0), no
    assert max(grants.values(), default=0) <= 1  # no double grant

    # 2. the channel binding: an order is paid iff money arrived on the channel it is bound to,
    #    and its applied payment is that money
    money_by_order: dict[str, list[Money]] = {}
    for m in run.ledger:
        money_by_order.setdefault(m.order_no, []).append(m)
    for no, order in orders.items():
        on_bound = [m for m in money_by_order.get(no, []) if m.channel == order.channel]
        assert (order.status == "paid") == bool(on_bound), (no, order.status, order.channel)
        if order.status == "paid":
            (payment,) = [p for p in payments.values() if p.order_id == order.id and p.role == "applied"]
            assert payment.channel == order.channel and payment.amount_fen == order.total_fen

    # 3. every payment a buyer made is recorded exactly once; every extra one went back to them
    assert set(payments) == {(m.channel, m.txn) for m in run.ledger}
    assert len(run.ledger) == len({(m.channel, m.txn) for m in run.ledger})
    for m in run.ledger:
        payment = payments[(m.channel, m.txn)]
        assert (payment.amount_fen, orders[m.order_no].id) == (m.amount_fen, payment.order_id)
        if not m.lost:  # the restarted shop answered every delivery: success unless off-channel
            assert m.acked == (payment.role != "off_channel"), (m.order_no, m.channel, payment.role)
        if payment.role == "applied":
            assert payment.id not in refunds
            continue
        refund = refunds[payment.id]
        assert (refund.status, refund.amount_fen, refund.channel) == ("succeeded", m.amount_fen, m.channel), m
        returned = gateways.alipay.refunds if m.channel == "alipay" else gateways.wechat.refunds
        assert refund.out_refund_no in returned, m
    assert None not in refunds  # no order was refunded: only extra payments were
    kinds = Counter(p.role for p in payments.values())
    assert kinds["duplicate"] >= 1 and kinds["off_channel"] >= 1, kinds  # both paths were exercised

    # 4. counters: one sale per paid order, never counted twice
    paid_per_course = Counter(int(lines[o.id].course_ids[0]) for o in orders.values() if o.status == "paid")
    for course in s.exec(select(Course)).all():
        assert course.sales_count == paid_per_course[course.id] == course.learners_count, course.id
