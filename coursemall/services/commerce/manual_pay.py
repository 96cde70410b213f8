"""Manual transfer (个人收款码): owner QR setting, learner proof, owner confirm queue.

- The owner uploads a personal payment QR (public image, re-encoded PNG with a generated name
  under PUBLIC_DIR/payqr) and instructions; the channel is offered when enabled and a QR exists.
- The learner uploads proof (an image, validated and re-encoded with Pillow — EXIF dropped —
  stored PRIVATELY under MEDIA_DIR/proofs with a generated name) and a reference for their own
  pending order. While a proof waits, the expiry job leaves the order open.
- Owner/staff confirm → compare-and-set pending→confirmed and the same fulfilment as a gateway
  notification (`apply_paid` body, channel 'manual', provider txn 'manual-<id>') in one
  transaction; reject with a reason → message to the learner (the order stays payable).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from coursemall.domain.errors import DomainError
from coursemall.domain.money import format_fen
from coursemall.domain.orders import (
    Channel,
    EventKind,
    ManualStatus,
    OrderStatus,
    parse_order_no,
    parse_text,
)
from coursemall.domain.validation import parse_id
from coursemall.media.images import clean_photo
from coursemall.models import ManualPayment, Order, PaymentEvent, ShopPaymentSetting, User, utcnow
from coursemall.payments.base import PayAction
from coursemall.services.actors import require_actor, require_staff
from coursemall.services.commerce.orders import own_order
from coursemall.services.community.messages import create_message
from coursemall.services.commerce.checkout import GATEWAY_CHANNELS, close_at_channel, query_and_apply
from coursemall.services.commerce.payments import _apply_paid_tx
from coursemall.services.shop.setup import require_shop_open
from coursemall.settings import get_settings
from coursemall.urls import order_url, public_url

MAX_IMAGE_BYTES = 8 * 1024 * 1024
MAX_SIDE = 2000


@dataclass(frozen=True)
class ManualSettingsView:
    enabled: bool
    qr_url: str
    instructions: str


@dataclass(frozen=True)
class ManualPaymentView:
    id: int
    order_no: str
    learner: str
    amount_fen: int
    amount: str
    reference: str
    status: str
    reject_reason: str
    created_at: datetime


def clean_image(data: object) -> bytes:
    """Validate untrusted image bytes (shared checks in media.images); return a clean PNG."""
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise DomainError("manual.not_image")
    if len(data) > MAX_IMAGE_BYTES:
        raise DomainError("manual.image_too_large")
    try:
        return clean_photo(bytes(data), max_side=MAX_SIDE)
    except DomainError:
        raise DomainError("manual.not_image") from None


def manual_pay_action(setting: ShopPaymentSetting, out_trade_no: str) -> PayAction:
    return PayAction(kind="manual", channel=Channel.MANUAL, url=public_url(setting.manual_qr_image),
                     params={"instructions": setting.manual_instructions, "out_trade_no": out_trade_no})


def get_manual_settings(session: Session) -> ManualSettingsView:
    row = session.get(ShopPaymentSetting, 1)
    if row is None:
        return ManualSettingsView(False, "", "")
    return ManualSettingsView(row.manual_enabled and bool(row.manual_qr_image), public_url(row.manual_qr_image),
                              row.manual_instructions)


def update_manual_settings(session: Session, *, actor_id: object, enabled: object, instructions: object,
                           qr_image: object = None) -> ManualSettingsView:
    user = require_staff(session, actor_id, owner_only=True)
    if not isinstance(enabled, bool):
        raise DomainError("error.bad_request")
    text = parse_text(instructions, min_len=0, max_len=500)
    row = session.get(ShopPaymentSetting, 1) or ShopPaymentSetting(id=1)
    if qr_image is not None:
        png = clean_image(qr_image)
        name = f"payqr/{secrets.token_hex(16)}.png"
        path = get_settings().public_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
        row.manual_qr_image = name
    if enabled and not row.manual_qr_image:
        raise DomainError("manual.qr_required")
    row.manual_enabled = enabled
    row.manual_instructions = text
    row.updated_by = user.id
    row.updated_at = utcnow()
    session.add(row)
    session.commit()
    return get_manual_settings(session)


def submit_manual_proof(session: Session, *, actor_id: object, order_no: object, image: object,
                        reference: object) -> ManualPaymentView:
    user = require_actor(session, actor_id)
    require_shop_open(session)
    order = own_order(session, user.id, parse_order_no(order_no))
    ref = parse_text(reference, min_len=1, max_len=64, code="manual.reference_length")
    if not get_manual_settings(session).enabled:
        raise DomainError("pay.channel_unavailable")
    if order.status != OrderStatus.PENDING or order.total_fen == 0:
        raise DomainError("order.not_payable")
    waiting = session.exec(select(ManualPayment.id).where(ManualPayment.order_id == order.id,
                                                          ManualPayment.status == ManualStatus.PENDING)).first()
    if waiting is not None:
        raise DomainError("manual.already_submitted")
    png = clean_image(image)
    previous = order.channel
    if previous in GATEWAY_CHANNELS and query_and_apply(session, order) == "paid":
        raise DomainError("order.not_payable")  # paid at the gateway meanwhile: no transfer needed
    name = f"proofs/{secrets.token_hex(16)}.png"
    path = get_settings().media_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    # The proof binds the order to the manual channel (from whatever it was bound to).
    changed = session.execute(update(Order).where(Order.id == order.id, Order.status == OrderStatus.PENDING,
                                                  Order.channel == previous)
                              .values(channel=Channel.MANUAL, updated_at=utcnow())
                              .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        session.rollback()
        path.unlink(missing_ok=True)
        raise DomainError("order.not_payable")
    mp = ManualPayment(order_id=order.id, user_id=user.id, proof_image=name, reference=ref)
    session.add(mp)
    session.commit()
    if previous in GATEWAY_CHANNELS:
        close_at_channel(order, channel=previous)
    return _view(mp, order, user)


def _view(mp: ManualPayment, order: Order, learner: User | None) -> ManualPaymentView:
    return ManualPaymentView(id=mp.id or 0, order_no=order.out_trade_no, learner=learner.nickname if learner else "",
                             amount_fen=order.total_fen, amount=format_fen(order.total_fen), reference=mp.reference,
                             status=mp.status, reject_reason=mp.reject_reason, created_at=mp.created_at)


def list_manual_queue(session: Session, *, actor_id: object, status: object = "pending",
                      limit: int = 50) -> list[ManualPaymentView]:
    require_staff(session, actor_id)
    if status not in {s.value for s in ManualStatus}:
        raise DomainError("error.bad_request")
    rows = session.exec(select(ManualPayment, Order, User).join(Order, Order.id == ManualPayment.order_id)
                        .join(User, User.id == ManualPayment.user_id)
                        .where(ManualPayment.status == status).order_by(ManualPayment.id).limit(limit)).all()
    return [_view(mp, o, u) for mp, o, u in rows]


def read_manual_proof(session: Session, *, actor_id: object, manual_payment_id: object) -> tuple[bytes, str]:
    """The proof image for owner/staff or the learner who uploaded it (for a private route)."""
    user = require_actor(session, actor_id)
    mp = session.get(ManualPayment, parse_id(manual_payment_id))
    if mp is None or (mp.user_id != user.id and user.role not in ("owner", "staff")):
        raise DomainError("error.not_found")
    root = get_settings().media_dir.resolve()
    path = (root / mp.proof_image).resolve()
    if root not in path.parents or not path.is_file():
        raise DomainError("error.not_found")
    return path.read_bytes(), "image/png"


def confirm_manual_payment(session: Session, *, actor_id: object, manual_payment_id: object) -> str:
    """Confirm a transfer: grants access exactly once. Returns the fulfilment outcome
    ('applied', 'applied_late', 'late_refund_queued', or 'duplicate_payment' /
    'rejected:wrong_channel' when the order was already paid another way or moved to another
    channel — then the transfer is kept as an extra payment whose refund waits in the refund queue
    for the owner's "refunded by hand")."""
    user = require_staff(session, actor_id)
    mp_id = parse_id(manual_payment_id)
    mp = session.get(ManualPayment, mp_id)
    if mp is None:
        raise DomainError("error.not_found")
    order = session.get(Order, mp.order_id)
    assert order is not None
    now = utcnow()
    try:
        won = session.execute(update(ManualPayment).where(ManualPayment.id == mp_id,
                                                          ManualPayment.status == ManualStatus.PENDING)
                              .values(status=ManualStatus.CONFIRMED, decided_by=user.id, decided_at=now)
                              .execution_options(synchronize_session=False)).rowcount == 1
        if not won:
            session.rollback()
            raise DomainError("manual.already_decided")
        txn = f"manual-{mp_id}"
        outcome = _apply_paid_tx(session, order, channel=Channel.MANUAL, provider_txn_id=txn,
                                 amount_fen=order.total_fen)
        session.add(PaymentEvent(order_id=order.id, out_trade_no=order.out_trade_no, channel=Channel.MANUAL,
                                 kind=EventKind.MANUAL, provider_txn_id=txn, amount_fen=order.total_fen,
                                 raw=f"confirmed by user {user.id}", verified=True, outcome=outcome))
        session.commit()
    except IntegrityError:
        session.rollback()
        raise DomainError("manual.already_decided") from None
    return outcome


def reject_manual_payment(session: Session, *, actor_id: object, manual_payment_id: object,
                          reason: object) -> ManualPaymentView:
    user = require_staff(session, actor_id)
    mp_id = parse_id(manual_payment_id)
    why = parse_text(reason, min_len=1, max_len=200, code="manual.reason_length")
    mp = session.get(ManualPayment, mp_id)
    if mp is None:
        raise DomainError("error.not_found")
    won = session.execute(update(ManualPayment).where(ManualPayment.id == mp_id,
                                                      ManualPayment.status == ManualStatus.PENDING)
                          .values(status=ManualStatus.REJECTED, decided_by=user.id, decided_at=utcnow(),
                                  reject_reason=why)
                          .execution_options(synchronize_session=False)).rowcount == 1
    if not won:
        session.rollback()
        raise DomainError("manual.already_decided")
    order = session.get(Order, mp.order_id)
    assert order is not None
    create_message(session, user_id=mp.user_id, kind="manual_decision", key="msg.manual_rejected",
                   link=order_url(order.out_trade_no), order_no=order.out_trade_no, reason=why)
    session.commit()
    session.refresh(mp)
    return _view(mp, order, session.get(User, mp.user_id))
