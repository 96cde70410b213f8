"""Commerce: cart, orders and lines, payments and their append-only events, refunds, manual
transfers, the in-app message centre and shop payment settings.

Money is integer fen; times are tz-aware UTC. Status columns hold `coursemall.domain.orders` enum
values and change only by compare-and-set in the services.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from coursemall.models.base import UtcDateTime, utcnow


class CartItem(SQLModel, table=True):
    __tablename__ = "cart_items"
    __table_args__ = (UniqueConstraint("user_id", "item_type", "item_id", name="uq_cart_item"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    item_type: str = Field(max_length=8)  # course | bundle
    item_id: int
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class Order(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_user_created", "user_id", "created_at"),
        Index("ix_orders_status_expires", "status", "expires_at"),
        Index("ix_orders_paid_at", "paid_at"),  # dashboard: revenue by day
    )

    id: int | None = Field(default=None, primary_key=True)
    out_trade_no: str = Field(max_length=32, unique=True)  # random; what channels see
    user_id: int = Field(foreign_key="users.id")
    status: str = Field(default="pending", max_length=20)  # domain.orders.OrderStatus
    channel: str = Field(default="", max_length=12)  # chosen channel (payment row says who paid)
    client_kind: str = Field(default="desktop", max_length=12)  # domain.orders.ClientKind
    total_fen: int = Field(ge=0)
    original_total_fen: int = Field(default=0, ge=0)
    refunded_fen: int = Field(default=0, ge=0)
    currency: str = Field(default="CNY", max_length=3)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    paid_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    close_reason: str = Field(default="", max_length=32)  # cancelled | expired | channel
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class OrderLine(SQLModel, table=True):
    __tablename__ = "order_lines"
    __table_args__ = (Index("ix_order_lines_item", "item_type", "item_id"),)  # dashboard: sales per course

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    item_type: str = Field(max_length=8)
    item_id: int
    title: str = Field(max_length=80)  # snapshot
    unit_price_fen: int = Field(ge=0)  # snapshot
    original_price_fen: int = Field(default=0, ge=0)  # snapshot
    course_ids: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False, default=list))
    refund_status: str = Field(default="", max_length=12)  # domain.orders.LineRefund
    refund_id: int | None = Field(default=None, index=True)  # the open/succeeded refund covering it
    refunded_fen: int = Field(default=0, ge=0)


class PaymentEvent(SQLModel, table=True):
    """Append-only record of every notification, query answer, return and refund notice."""

    __tablename__ = "payment_events"
    __table_args__ = (Index("ix_payment_events_order_created", "order_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: int | None = Field(default=None, index=False)  # None: unknown order
    out_trade_no: str = Field(default="", max_length=64)
    channel: str = Field(max_length=12)
    kind: str = Field(max_length=16)  # domain.orders.EventKind
    provider_txn_id: str = Field(default="", max_length=64)
    amount_fen: int | None = Field(default=None)
    raw: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    verified: bool = Field(default=False)
    outcome: str = Field(default="", max_length=48)  # applied | duplicate | ignored | rejected:<why>
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class Payment(SQLModel, table=True):
    """Every payment a channel reported for an order, one row per provider transaction
    (UNIQUE channel + provider txn). `role`: 'applied' = the one payment that paid the order (at
    most one per order, a partial unique index); 'duplicate' = a second, different payment for an
    already paid order; 'off_channel' = a payment through a channel the order was not started on.
    Duplicates and off-channel payments grant nothing and are returned by a refund whose
    `payment_id` points here."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("channel", "provider_txn_id", name="uq_payment_provider_txn"),
        Index("uq_payments_applied_order", "order_id", unique=True,
              sqlite_where=text("role = 'applied'"), postgresql_where=text("role = 'applied'")),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    channel: str = Field(max_length=12)
    provider_txn_id: str = Field(max_length=64)
    amount_fen: int = Field(ge=0)
    role: str = Field(default="applied", max_length=12)  # domain.orders.PaymentRole
    paid_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class Refund(SQLModel, table=True):
    __tablename__ = "refunds"
    __table_args__ = (Index("ix_refunds_status_created", "status", "created_at"),
                      Index("uq_refunds_payment", "payment_id", unique=True))

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    user_id: int = Field(foreign_key="users.id")
    line_id: int | None = Field(default=None)  # set when the refund covers exactly one line
    line_ids: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False, default=list))
    out_refund_no: str = Field(max_length=32, unique=True)  # stable: retries reuse it
    channel: str = Field(max_length=12)
    amount_fen: int = Field(ge=0)
    reason: str = Field(max_length=200)
    status: str = Field(default="requested", max_length=12)  # domain.orders.RefundStatus
    policy_outcome: str = Field(default="", max_length=24)  # domain.orders.PolicyOutcome
    decided_by: int | None = Field(default=None, foreign_key="users.id")
    decision_reason: str = Field(default="", max_length=200)
    provider_refund_id: str = Field(default="", max_length=64)
    failure: str = Field(default="", max_length=200)
    attempts: int = Field(default=0)  # calls to the channel so far (send + queries)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UtcDateTime)  # while processing
    last_reason: str = Field(default="", max_length=200)  # why it is not done yet (for the owner)
    # Set when the refund returns one extra payment (duplicate / off-channel), not order lines.
    payment_id: int | None = Field(default=None)  # payments.id; one refund per extra payment
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class RefundPolicy(SQLModel, table=True):
    """Single row (id=1): the owner's refund policy."""

    __tablename__ = "refund_policies"

    id: int | None = Field(default=None, primary_key=True)
    auto_approve: bool = Field(default=True)
    within_days: int = Field(default=7, ge=0)
    max_progress_pct: int = Field(default=20, ge=0, le=100)
    request_window_days: int = Field(default=30, ge=0)
    updated_by: int | None = Field(default=None)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class ManualPayment(SQLModel, table=True):
    """A learner's proof of a transfer to the owner's personal QR, waiting for confirmation."""

    __tablename__ = "manual_payments"
    __table_args__ = (Index("ix_manual_payments_status_created", "status", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    user_id: int = Field(foreign_key="users.id")
    proof_image: str = Field(max_length=80)  # generated name under MEDIA_DIR/proofs (private)
    reference: str = Field(default="", max_length=64)
    status: str = Field(default="pending", max_length=12)  # domain.orders.ManualStatus
    reject_reason: str = Field(default="", max_length=200)
    decided_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class Message(SQLModel, table=True):
    """In-app message centre. `email_state`: '' (no e-mail), outbox, queued, sent, failed."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_user_read", "user_id", "read_at"),
                      Index("ix_messages_user_created", "user_id", "created_at"))

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    kind: str = Field(max_length=24)  # payment_succeeded | order_closed | refund_result | manual_...
    title: str = Field(max_length=120)
    body: str = Field(default="", max_length=2000)
    link: str = Field(default="", max_length=255)
    read_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    email_state: str = Field(default="", max_length=8)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class ShopPaymentSetting(SQLModel, table=True):
    """Single row (id=1): the owner's manual-transfer QR and instructions."""

    __tablename__ = "shop_payment_settings"

    id: int | None = Field(default=None, primary_key=True)
    manual_enabled: bool = Field(default=False)
    manual_qr_image: str = Field(default="", max_length=80)  # public image name (payqr/...)
    manual_instructions: str = Field(default="", max_length=500)
    updated_by: int | None = Field(default=None)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
