"""Manual transfer: owner QR, learner proof (validated image), confirm queue, reject with reason."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlmodel import select

from coursemall.domain.errors import DomainError
from coursemall.models import ManualPayment, Payment
from coursemall.services.commerce import checkout, manual_pay
from coursemall.settings import get_settings
from tests.payments.factories import active_grants, make_course, make_user, messages_of, order_row


def png(color=(200, 30, 30), size=(40, 40), exif=False) -> bytes:
    buf = io.BytesIO()
    img = Image.new("RGB", size, color)
    if exif:
        ex = Image.Exif()
        ex[0x010F] = "SecretCameraMaker"
        img.save(buf, format="JPEG", exif=ex.tobytes())
    else:
        img.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def shop(session):
    owner = make_user(session, role="owner")
    manual_pay.update_manual_settings(session, actor_id=owner.id, enabled=True, instructions="备注订单号",
                                      qr_image=png())
    return owner


def _order(session):
    user = make_user(session)
    return user, checkout.buy_now(session, actor_id=user.id, item_type="course",
                                  item_id=make_course(session, price_fen=6600).id)


def test_confirm_grants_once(session, shop):
    settings_view = manual_pay.get_manual_settings(session)
    assert settings_view.enabled and settings_view.qr_url.startswith("/api/public/payqr/")
    user, order = _order(session)
    action = checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="manual")
    assert action.kind == "manual" and action.url == settings_view.qr_url
    mp = manual_pay.submit_manual_proof(session, actor_id=user.id, order_no=order.out_trade_no,
                                        image=png(exif=True), reference="转账尾号 1234")
    stored = session.get(ManualPayment, mp.id)
    path = get_settings().media_dir / stored.proof_image
    assert path.is_file() and b"SecretCameraMaker" not in path.read_bytes()  # re-encoded, EXIF gone
    assert str(get_settings().public_dir) not in str(path)  # proofs are private
    queue = manual_pay.list_manual_queue(session, actor_id=shop.id)
    assert [q.order_no for q in queue] == [order.out_trade_no] and queue[0].amount_fen == 6600
    assert manual_pay.confirm_manual_payment(session, actor_id=shop.id, manual_payment_id=mp.id) == "applied"
    with pytest.raises(DomainError, match="manual.already_decided"):
        manual_pay.confirm_manual_payment(session, actor_id=shop.id, manual_payment_id=mp.id)
    assert order_row(session, order.out_trade_no).status == "paid"
    assert [(p.channel, p.provider_txn_id) for p in session.exec(select(Payment))] == [("manual", f"manual-{mp.id}")]
    assert len(active_grants(session, user.id)) == 1
    data, mime = manual_pay.read_manual_proof(session, actor_id=user.id, manual_payment_id=mp.id)
    assert mime == "image/png" and data.startswith(b"\x89PNG")


def test_reject_with_reason_then_resubmit(session, shop):
    user, order = _order(session)
    mp = manual_pay.submit_manual_proof(session, actor_id=user.id, order_no=order.out_trade_no, image=png(),
                                        reference="ref")
    with pytest.raises(DomainError, match="manual.already_submitted"):
        manual_pay.submit_manual_proof(session, actor_id=user.id, order_no=order.out_trade_no, image=png(),
                                       reference="ref2")
    with pytest.raises(DomainError, match="manual.reason_length"):
        manual_pay.reject_manual_payment(session, actor_id=shop.id, manual_payment_id=mp.id, reason=" ")
    view = manual_pay.reject_manual_payment(session, actor_id=shop.id, manual_payment_id=mp.id, reason="未收到款项")
    assert view.status == "rejected" and view.reject_reason == "未收到款项"
    assert any("未收到款项" in m.body for m in messages_of(session, user.id, "manual_decision"))
    assert order_row(session, order.out_trade_no).status == "pending" and active_grants(session, user.id) == []
    manual_pay.submit_manual_proof(session, actor_id=user.id, order_no=order.out_trade_no, image=png(), reference="r3")


@pytest.mark.parametrize("blob", [b"", b"GIF89a not really", b"%PDF-1.4 ...", "a string", None, b"\x89PNG\r\n\x1a\n" + b"0" * 50])
def test_proof_must_be_an_image(session, shop, blob):
    user, order = _order(session)
    with pytest.raises(DomainError, match="manual.not_image"):
        manual_pay.submit_manual_proof(session, actor_id=user.id, order_no=order.out_trade_no, image=blob,
                                       reference="ref")
    assert session.exec(select(ManualPayment)).all() == []


def test_learners_cannot_confirm_or_read_others_proofs(session, shop):
    user, order = _order(session)
    mp = manual_pay.submit_manual_proof(session, actor_id=user.id, order_no=order.out_trade_no, image=png(),
                                        reference="ref")
    other = make_user(session)
    with pytest.raises(DomainError, match="error.forbidden"):
        manual_pay.confirm_manual_payment(session, actor_id=user.id, manual_payment_id=mp.id)
    with pytest.raises(DomainError, match="error.forbidden"):
        manual_pay.list_manual_queue(session, actor_id=other.id)
    with pytest.raises(DomainError, match="error.not_found"):
        manual_pay.read_manual_proof(session, actor_id=other.id, manual_payment_id=mp.id)
    with pytest.raises(DomainError, match="order.not_found"):
        manual_pay.submit_manual_proof(session, actor_id=other.id, order_no=order.out_trade_no, image=png(),
                                       reference="ref")
    with pytest.raises(DomainError, match="error.forbidden"):
        manual_pay.update_manual_settings(session, actor_id=other.id, enabled=False, instructions="")
    assert order_row(session, order.out_trade_no).status == "pending"


def test_manual_channel_needs_a_qr(session):
    owner = make_user(session, role="owner")
    with pytest.raises(DomainError, match="manual.qr_required"):
        manual_pay.update_manual_settings(session, actor_id=owner.id, enabled=True, instructions="")
    user, order = _order(session)
    with pytest.raises(DomainError, match="pay.channel_unavailable"):
        checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="manual")
