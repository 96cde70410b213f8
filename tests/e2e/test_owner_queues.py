"""The owner's queues on a phone: refund policy (manual review and back), a refund rejected from
the review queue, and a learner's manual transfer confirmed from the confirm queue (access granted).

The owner signs in with the password and then passes the TOTP step in the dashboard's inline gate
(the demo owner's authenticator seed is coursemall.demo.security.DEMO_OWNER_TOTP_SECRET; the code is
computed with pyotp, as an authenticator app would).

Orders, refunds and proofs are created through the services directly, against the running shop's
database and data dir (tests/e2e/server.py), so the journey only exercises the owner's side.
The refund policy is left on automatic approval (the default other journeys rely on).
"""

from __future__ import annotations

import io
import os
import time
import urllib.error
import urllib.request
import uuid

import pyotp
import pytest
from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect
from sqlmodel import Session, select

from coursemall.demo import accounts as demo_accounts
from tests.e2e import server
from tests.e2e.fixtures import wait_ready

pytestmark = pytest.mark.e2e

OWNER = os.environ.get("COURSEMALL_OWNER_EMAIL", "owner@coursemall.local")
OWNER_PASSWORD = os.environ.get("COURSEMALL_OWNER_PASSWORD") or demo_accounts.OWNER_PASSWORD
SCREENSHOT_DIR = os.environ.get("COURSEMALL_E2E_SCREENSHOTS", "")


def png(color=(30, 90, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (240, 320), color).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def shop_services(live_server, monkeypatch):
    """Run services in this process against the shop's database, media and secret key."""
    app = server._shop
    if app is None or app.external or app.data_dir is None:
        pytest.skip("needs the shop started by this test process (its data dir and database)")
    import coursemall.db
    from coursemall.db import make_engine
    from coursemall.settings import get_settings

    for name in ("COURSEMALL_DATA_DIR", "COURSEMALL_DB_URL", "COURSEMALL_SECRET_KEY", "COURSEMALL_PUBLIC_BASE_URL",
                 "COURSEMALL_DEMO"):
        monkeypatch.setenv(name, app.env[name])
    for name in ("COURSEMALL_MEDIA_DIR", "COURSEMALL_PUBLIC_DIR"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    engine = make_engine(app.env["COURSEMALL_DB_URL"])
    monkeypatch.setattr(coursemall.db, "get_engine", lambda: engine)
    try:
        yield engine
    finally:
        engine.dispose()
        monkeypatch.undo()
        get_settings.cache_clear()


def owner_totp_code(engine) -> str:
    """The demo owner's code for now, or for the next time step when this step was already spent
    by an earlier test (the server accepts one step either side, each step once)."""
    from coursemall.demo.security import DEMO_OWNER_TOTP_SECRET
    from coursemall.models import User

    totp = pyotp.TOTP(DEMO_OWNER_TOTP_SECRET)
    with Session(engine) as s:
        last = s.exec(select(User.totp_last_step).where(User.email == OWNER)).one()
    current = int(time.time()) // totp.interval
    if last >= current + 1:  # both usable steps spent: wait for the next one
        time.sleep((last + 1) * totp.interval - time.time() + 0.5)
        current = int(time.time()) // totp.interval
    return totp.generate_otp(max(current, last + 1))


def sign_in_owner(page, engine, wrong_code_first: bool = False) -> None:
    """Password sign-in, then the TOTP step in the gate of the first dashboard page."""
    from coursemall.demo.security import ensure_demo_owner_totp
    from coursemall.models import User

    with Session(engine, expire_on_commit=False) as s:  # the seed does this; idempotent
        ensure_demo_owner_totp(s, s.exec(select(User).where(User.email == OWNER)).one())
        s.commit()
    page.goto("/login")
    page.locator("#login-account").fill(OWNER)
    page.locator("#login-password").fill(OWNER_PASSWORD)
    page.locator("#login-submit").click()
    expect(page.locator("#nav-profile")).to_be_visible()
    page.goto("/admin")
    wait_ready(page)
    expect(page.locator("#mfa-gate")).to_be_visible()  # password alone does not open the dashboard
    expect(page.locator("#admin-nav-home")).to_have_count(0)
    if wrong_code_first:
        code = owner_totp_code(engine)
        page.locator("#mfa-gate-code").fill("000000" if code != "000000" else "111111")
        page.locator("#mfa-gate-submit").click()
        expect(page.locator("#mfa-gate-error")).to_be_visible()
        expect(page.locator("#admin-nav-home")).to_have_count(0)
    page.locator("#mfa-gate-code").fill(owner_totp_code(engine))
    page.locator("#mfa-gate-submit").click()
    expect(page.locator("#admin-nav-home")).to_be_visible()  # the page reloaded, verified
    expect(page.locator("#mfa-gate")).to_have_count(0)


def open_refunds(page) -> None:
    page.goto("/admin/refunds")
    wait_ready(page)
    expect(page.locator("#policy-save")).to_be_visible()
    # The dashboard flags (`allowed`) are shared by every dashboard page of a tab, so after another
    # dashboard page this body shows before load_refunds ends; the load then remounts the policy
    # form (form_key). Wait for that remount, so typing is not wiped by it.
    handle = page.locator("#policy-days").element_handle()
    try:
        page.wait_for_function("el => !el.isConnected", arg=handle, timeout=3000)
    except PlaywrightTimeoutError:
        pass  # first dashboard page of the tab: the body appeared with the loaded values
    expect(page.locator("#policy-save")).to_be_visible()


def set_auto(page, on: bool) -> None:
    switch = page.locator("#policy-auto")
    if (switch.get_attribute("data-state") == "checked") != on:
        switch.click()
    expect(switch).to_have_attribute("data-state", "checked" if on else "unchecked")
    page.locator("#policy-save").click()
    expect(page.locator("#form-success")).to_be_visible()


def owner_id(session) -> int:
    from coursemall.models import User

    return session.exec(select(User.id).where(User.email == OWNER)).one()


def paid_course(session, learner_id: int):
    from coursemall.models import Course
    from coursemall.services.commerce.orders import owned_course_ids

    courses = session.exec(select(Course).where(Course.status == "published", Course.price_fen > 0)
                           .order_by(Course.id)).all()
    return next(c for c in courses if not owned_course_ids(session, learner_id, [c.id]))


def test_refund_policy_and_review_queue(page, shop_services):
    from coursemall.models import Refund
    from coursemall.services.commerce import checkout, payments, refunds
    from tests.payments.factories import make_user

    sign_in_owner(page, shop_services, wrong_code_first=True)
    try:
        open_refunds(page)
        expect(page.locator("#policy-auto")).to_have_attribute("data-state", "checked")  # the default
        page.locator("#policy-days").fill("5")
        set_auto(page, False)
        page.reload()
        open_refunds(page)
        expect(page.locator("#policy-auto")).to_have_attribute("data-state", "unchecked")
        expect(page.locator("#policy-days")).to_have_value("5")

        # with review on, a learner's request waits in the queue
        with Session(shop_services, expire_on_commit=False) as s:
            learner = make_user(s)
            order = checkout.buy_now(s, actor_id=learner.id, item_type="course",
                                     item_id=paid_course(s, learner.id).id)
            payments.sandbox_decide(s, actor_id=learner.id, order_no=order.out_trade_no, outcome="pay")
            refund = refunds.request_refund(s, actor_id=learner.id, order_no=order.out_trade_no,
                                            reason="课程和预期不符")
        assert refund.status == "requested"
        page.reload()
        open_refunds(page)
        card = page.locator(".admin-refund-row", has_text=order.out_trade_no)
        expect(card).to_be_visible()
        expect(card).to_contain_text("课程和预期不符")
        if SCREENSHOT_DIR:
            page.screenshot(path=os.path.join(SCREENSHOT_DIR, "admin-refunds-phone.png"), full_page=True)
        page.locator(f"#refund-reject-{refund.id}").click()  # no reason: refused
        expect(page.locator("#form-error")).to_be_visible()
        page.locator(f"#refund-reject-reason-{refund.id}").fill("已超过七天")
        page.locator(f"#refund-reject-{refund.id}").click()
        expect(page.locator("#form-success")).to_be_visible()
        expect(card).to_have_count(0)
        with Session(shop_services) as s:
            row = s.get(Refund, refund.id)
            assert (row.status, row.decision_reason) == ("rejected", "已超过七天")

        # back to the default: automatic approval
        page.locator("#policy-days").fill("7")
        set_auto(page, True)
        page.reload()
        open_refunds(page)
        expect(page.locator("#policy-auto")).to_have_attribute("data-state", "checked")
        expect(page.locator("#policy-days")).to_have_value("7")
    finally:
        with Session(shop_services) as s:  # whatever happened above, leave the default policy
            refunds.update_refund_policy(s, actor_id=owner_id(s), auto_approve=True, within_days=7,
                                         max_progress_pct=20, request_window_days=30)


def _status_without_cookie(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 (loopback)
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_manual_transfer_confirmed_from_the_queue(page, shop_services, live_server):
    from coursemall.services.commerce import checkout, manual_pay
    from coursemall.services.commerce.orders import owned_course_ids
    from tests.payments.factories import make_user

    with Session(shop_services, expire_on_commit=False) as s:
        before = manual_pay.get_manual_settings(s)
        manual_pay.update_manual_settings(s, actor_id=owner_id(s), enabled=True,
                                          instructions=before.instructions or "转账请备注订单号",
                                          qr_image=None if before.qr_url else png((0, 0, 0)))
        learner = make_user(s, email=f"e2e-manual-{uuid.uuid4().hex[:8]}@example.com")
        course = paid_course(s, learner.id)
        order = checkout.buy_now(s, actor_id=learner.id, item_type="course", item_id=course.id)
        mp = manual_pay.submit_manual_proof(s, actor_id=learner.id, order_no=order.out_trade_no, image=png(),
                                            reference=f"E2E-{uuid.uuid4().hex[:6]}")
        assert not owned_course_ids(s, learner.id, [course.id])
    proof = f"/api/admin/manual-proof/{mp.id}"
    assert _status_without_cookie(live_server + proof) == 403  # private

    sign_in_owner(page, shop_services)
    page.goto("/admin/manual-payments")
    wait_ready(page)
    card = page.locator(".admin-manual-row", has_text=order.out_trade_no)
    expect(card).to_be_visible()
    expect(card).to_contain_text(mp.reference)
    img = page.locator(f"#manual-proof-{mp.id}")
    expect(img).to_be_visible()
    page.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=img.element_handle())
    page.locator(f"#manual-confirm-{mp.id}").click()
    expect(page.locator("#form-success")).to_be_visible()
    expect(card).to_have_count(0)
    with Session(shop_services) as s:
        assert owned_course_ids(s, learner.id, [course.id]) == {course.id}
        if not before.enabled:
            manual_pay.update_manual_settings(s, actor_id=owner_id(s), enabled=False,
                                              instructions=before.instructions)


def test_new_staff_member_enrols_totp_and_opens_the_dashboard(page, shop_services):
    """A staff account without an authenticator: the dashboard sends it to /admin/security, the QR
    and the key enrol an app (the code is computed from the key shown, as the app would), ten
    recovery codes are shown once, and "continue" leads back to the page that asked."""
    from coursemall.models import User
    from coursemall.services.accounts import users

    email, password = f"e2e-staff-{uuid.uuid4().hex[:8]}@example.com", "staff-pass-2026"
    with Session(shop_services, expire_on_commit=False) as s:
        view = users.register_user(s, account=email, password=password, nickname="新员工")
        user = s.get(User, view.id)
        user.role = "staff"
        s.add(user)
        s.commit()
    page.goto("/login")
    page.locator("#login-account").fill(email)
    page.locator("#login-password").fill(password)
    page.locator("#login-submit").click()
    expect(page.locator("#nav-profile")).to_be_visible()
    page.goto("/admin/orders")
    wait_ready(page)
    expect(page.locator("#mfa-gate")).to_be_visible()
    expect(page.locator("#admin-order-status")).to_have_count(0)
    page.locator("#mfa-go").click()
    expect(page.locator("#mfa-enrol-start")).to_be_visible()
    assert "next=%2Fadmin%2Forders" in page.url
    expect(page.locator("#mfa-status")).to_have_text("未开启两步验证")
    page.locator("#mfa-enrol-start").click()
    qr = page.locator("#mfa-qr")
    expect(qr).to_be_visible()
    page.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=qr.element_handle())
    key = page.locator("#mfa-key").inner_text().strip()
    assert len(key) == 32
    page.locator("#mfa-enrol-code").fill("000000" if pyotp.TOTP(key).now() != "000000" else "111111")
    page.locator("#mfa-enrol-confirm").click()
    expect(page.locator("#form-error")).to_be_visible()
    page.locator("#mfa-enrol-code").fill(pyotp.TOTP(key).now())
    page.locator("#mfa-enrol-confirm").click()
    expect(page.locator(".mfa-recovery-code")).to_have_count(10)
    expect(page.locator("#mfa-status")).to_have_text("已开启两步验证")
    if SCREENSHOT_DIR:
        page.screenshot(path=os.path.join(SCREENSHOT_DIR, "admin-security-phone.png"), full_page=True)
    page.locator("#mfa-codes-done").click()
    expect(page.locator(".mfa-recovery-code")).to_have_count(0)
    page.locator("#mfa-continue").click()
    expect(page.locator("#admin-order-status")).to_be_visible()
    with Session(shop_services) as s:
        stored = s.exec(select(User.totp_secret).where(User.email == email)).one()
        assert stored.startswith("enc1:") and key not in stored


def test_anonymous_visitor_sees_no_admin_data(page, live_server):
    page.goto("/admin/refunds")
    wait_ready(page)
    expect(page.locator("#admin-forbidden")).to_be_visible()
    expect(page.locator("#policy-save")).to_have_count(0)


def test_dashboard_orders_filter_and_qr_upload(page, shop_services):
    from coursemall.services.commerce import manual_pay

    with Session(shop_services) as s:
        before = manual_pay.get_manual_settings(s)
    sign_in_owner(page, shop_services)
    page.goto("/admin")
    wait_ready(page)
    expect(page.locator("#admin-count-refunds")).to_have_text("0")  # the earlier request was rejected
    expect(page.locator("#admin-count-manual")).to_be_visible()

    page.locator("#admin-nav-orders").click()
    expect(page.locator(".admin-order-row").first).to_be_visible()
    page.locator("#admin-order-status").select_option("paid")
    expect(page.locator("#admin-order-status")).to_have_value("paid")
    rows = page.locator(".admin-order-row")
    expect(rows.first).to_be_visible()
    assert rows.count() >= 1
    for text in rows.all_inner_texts():
        assert "已支付" in text, text
    if SCREENSHOT_DIR:
        page.screenshot(path=os.path.join(SCREENSHOT_DIR, "admin-orders-phone.png"))

    page.goto("/admin/settings/payments")
    wait_ready(page)
    expect(page.locator("#manual-settings-save")).to_be_visible()
    page.locator("#manual-qr-upload input[type=file]").set_input_files(
        {"name": "qr.png", "mimeType": "image/png", "buffer": png((10, 160, 60))})
    expect(page.locator("#form-success")).to_be_visible()
    expect(page.locator("#manual-qr-img")).to_be_visible()
    src = page.locator("#manual-qr-img").get_attribute("src")
    assert src.startswith("/api/public/payqr/") and src != before.qr_url
    page.locator("#manual-qr-upload input[type=file]").set_input_files(
        {"name": "x.png", "mimeType": "image/png", "buffer": b"<html>not an image</html>"})
    expect(page.locator("#form-error")).to_be_visible()
    if SCREENSHOT_DIR:
        page.screenshot(path=os.path.join(SCREENSHOT_DIR, "admin-settings-phone.png"), full_page=True)
    with Session(shop_services) as s:
        after = manual_pay.get_manual_settings(s)
        assert (after.enabled, after.instructions) == (before.enabled, before.instructions)


def test_second_transfer_is_returned_by_hand_and_the_learner_sees_it(page, shop_services, live_server):
    """A learner's order got a second transfer: the order page tells them it goes back; the
    owner's refund queue shows it waiting (with why); one click records it refunded by hand."""
    from sqlalchemy import update

    from coursemall.i18n import t
    from coursemall.models import Order, Refund
    from coursemall.services.commerce import checkout, payments, refunds
    from coursemall.services.accounts import sessions
    from tests.payments.factories import make_user

    tag = uuid.uuid4().hex[:8]
    with Session(shop_services, expire_on_commit=False) as s:
        learner = make_user(s, email=f"e2e-twice-{tag}@example.com")
        order = checkout.buy_now(s, actor_id=learner.id, item_type="course", item_id=paid_course(s, learner.id).id)
        s.execute(update(Order).where(Order.out_trade_no == order.out_trade_no).values(channel="manual"))
        s.commit()
        for n in (1, 2):  # the owner confirmed two transfers for the one order
            payments.apply_paid(s, channel="manual", out_trade_no=order.out_trade_no,
                                provider_txn_id=f"manual-e2e-{tag}-{n}", amount_fen=order.total_fen, kind="manual")
        refunds.process_refunds(s)
        refund = s.exec(select(Refund).join(Order, Order.id == Refund.order_id)
                        .where(Order.out_trade_no == order.out_trade_no)).one()
        assert refund.status == "attention"
        token = sessions.create_session(s, user_id=learner.id, user_agent="e2e")
        s.commit()
    learner_cookie = {"name": sessions.SESSION_COOKIE, "value": token, "url": live_server, "httpOnly": True,
                      "sameSite": "Lax"}

    def learner_sees(status_key: str) -> None:
        page.context.clear_cookies()
        page.context.add_cookies([learner_cookie])
        page.goto(f"/order/{order.out_trade_no}")
        wait_ready(page)
        row = page.locator("#extra-payments .extra-payment-row")
        expect(row).to_have_count(1)
        expect(row).to_contain_text(order.total)
        expect(row.locator(".extra-payment-status")).to_have_text(t(f"order.extra_refund.{status_key}"))

    learner_sees("attention")
    page.context.clear_cookies()
    sign_in_owner(page, shop_services)
    page.goto("/admin/refunds")
    wait_ready(page)
    card = page.locator(".admin-refund-flight-row", has_text=order.out_trade_no)
    expect(card).to_be_visible()
    expect(card.locator(".refund-last-reason")).to_contain_text(t("admin.refunds.why.manual_channel"))
    expect(page.locator(f"#refund-retry-{refund.id}")).to_have_count(0)  # a transfer cannot be re-sent
    page.locator(f"#refund-by-hand-{refund.id}").click()
    expect(page.locator("#form-success")).to_have_text(t("admin.refunds.marked_by_hand"))
    expect(card).to_have_count(0)
    with Session(shop_services) as s:
        assert s.get(Refund, refund.id).status == "succeeded"
    learner_sees("succeeded")
