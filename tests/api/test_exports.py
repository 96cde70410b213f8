"""GET /api/admin/export/orders.csv and learners.csv: owner/staff with a TOTP-verified session
only; the same filters as the pages; UTF-8 with BOM; cells that a spreadsheet would run as a
formula are prefixed with ' ; private, not cached."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

import coursemall.db
from coursemall.api import exports
from coursemall.models import Instructor, Order, OrderLine
from coursemall.services.accounts import sessions
from tests.payments.factories import make_user

UTC = timezone.utc
EVIL = ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


@pytest.fixture
def env(sqlite_engine, monkeypatch):
    monkeypatch.setattr(coursemall.db, "get_engine", lambda: sqlite_engine)
    with Session(sqlite_engine, expire_on_commit=False) as s:
        owner = make_user(s, role="owner")
        staff = make_user(s, role="staff")
        learner = make_user(s, email="learner@example.com")
        learner.nickname = EVIL[0]
        evil_buyer = make_user(s)
        evil_buyer.nickname = "@cmd"
        teacher = make_user(s)
        s.add_all([learner, evil_buyer, Instructor(user_id=teacher.id, name="讲师", status="approved")])
        s.commit()
        numbers = {}
        for key, user, status, created, title in (
                ("march", learner, "paid", datetime(2026, 3, 1, 16, 30, tzinfo=UTC), "摄影, \"入门\""),
                ("feb", evil_buyer, "pending", datetime(2026, 2, 1, 2, 0, tzinfo=UTC), "-1+1 课程")):
            order = Order(out_trade_no=f"CM{secrets.token_hex(8).upper()}", user_id=user.id, status=status,
                          channel="alipay", total_fen=12345, created_at=created, paid_at=created,
                          expires_at=created + timedelta(minutes=30))
            s.add(order)
            s.flush()
            s.add(OrderLine(order_id=order.id, item_type="course", item_id=1, title=title, unit_price_fen=12345,
                            course_ids=[]))
            numbers[key] = order.out_trade_no
        tokens = {name: sessions.create_session(s, user_id=u.id, mfa_verified=True)
                  for name, u in (("owner", owner), ("staff", staff), ("learner", learner), ("teacher", teacher))}
        tokens["owner_no_totp"] = sessions.create_session(s, user_id=owner.id)
        s.commit()
    client = TestClient(Starlette(routes=exports.ROUTES), base_url="http://localhost:3000")
    return client, tokens, numbers


def get(client, path, token=None, lang="zh_CN"):
    client.cookies.clear()
    client.cookies.set("cm_lang", lang)
    if token:
        client.cookies.set("cm_session", token)
    return client.get(path)


def rows_of(response) -> list[list[str]]:
    assert response.content.startswith("\ufeff".encode())  # BOM for Excel
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


@pytest.mark.parametrize("who", [None, "learner", "teacher", "owner_no_totp"])
@pytest.mark.parametrize("path", ["/api/admin/export/orders.csv", "/api/admin/export/learners.csv"])
def test_refused_without_staff_and_totp(env, who, path):
    client, tokens, numbers = env
    response = get(client, path, tokens.get(who))
    assert response.status_code == 403 and numbers["march"] not in response.text and "@" not in response.text


def test_orders_csv_content_and_filters(env):
    client, tokens, numbers = env
    response = get(client, "/api/admin/export/orders.csv", tokens["staff"])
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "no-store" in response.headers["cache-control"]
    assert "attachment" in response.headers["content-disposition"]
    header, *rows = rows_of(response)
    assert header[0] == "订单号" and len(rows) == 2
    march = next(r for r in rows if r[0] == numbers["march"])
    # 16:30 UTC on 03-01 is 00:30 on 03-02 in China; money in yuan; quotes and commas survive
    assert march[1] == "2026-03-02 00:30:00" and march[5] == "123.45" and march[3] == "已支付"
    assert march[7] == "'" + EVIL[0] and march[9] == '摄影, "入门"'
    feb = next(r for r in rows if r[0] == numbers["feb"])
    assert feb[7] == "'@cmd" and feb[9] == "'-1+1 课程"

    only = rows_of(get(client, "/api/admin/export/orders.csv?date_from=2026-03-02&date_to=2026-03-02&status=paid",
                       tokens["owner"]))[1:]
    assert [r[0] for r in only] == [numbers["march"]]
    assert rows_of(get(client, "/api/admin/export/orders.csv?q=%E6%91%84%E5%BD%B1", tokens["owner"]))[1][0] == \
        numbers["march"]
    english = rows_of(get(client, "/api/admin/export/orders.csv", tokens["owner"], lang="en"))
    assert english[0][0] == "Order no."


@pytest.mark.parametrize("query", ["date_from=2026-13-01", "status=stolen", "date_from=2026-03-02&date_to=2026-03-01",
                                   "q=" + "x" * 61, "channel=paypal"])
def test_bad_filters_are_a_clear_400(env, query):
    client, tokens, numbers = env
    response = get(client, f"/api/admin/export/orders.csv?{query}", tokens["staff"])
    assert response.status_code == 400 and numbers["march"] not in response.text and response.text


def test_learners_csv(env):
    client, tokens, _ = env
    header, *rows = rows_of(get(client, "/api/admin/export/learners.csv?q=learner%40", tokens["staff"]))
    assert header[1] == "昵称" and len(rows) == 1
    assert rows[0][1] == "'" + EVIL[0] and rows[0][2] == "learner@example.com" and rows[0][7] == "123.45"
    assert len(rows_of(get(client, "/api/admin/export/learners.csv", tokens["staff"]))) == 1 + 5  # every account


@pytest.mark.parametrize("value", EVIL)
def test_every_formula_start_is_neutralised(value):
    assert exports.safe_cell(value) == "'" + value
    line = exports.csv_line([value, "普通", 12])
    first = next(csv.reader(io.StringIO(line)))
    assert first[0].startswith("'") and first[1:] == ["普通", "12"]
    assert exports.safe_cell("a=b") == "a=b" and exports.safe_cell(None) == ""
