"""The one interface every payment channel implements.

Adapters are thin: they build pay requests, verify notifications and call the gateway. They never
touch the database; `coursemall.services.commerce.payments` applies what they report, exactly once.
Every gateway call is blocking network I/O with a timeout: callers on an event loop run them in
a thread (`run_in_threadpool` / `asyncio.to_thread`), and never inside a DB transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping, Protocol

from coursemall.domain.time import CHINA_TZ


class NotificationRejected(Exception):
    """A notification failed verification. `reason` is short and safe to log (never secrets)."""

    def __init__(self, reason: str, *, out_trade_no: str = "", raw_hint: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.out_trade_no = out_trade_no
        self.raw_hint = raw_hint


class ChannelError(Exception):
    """The gateway could not be reached or answered with an error (safe, short message)."""


@dataclass(frozen=True)
class OrderRef:
    """What a channel needs to know about an order (never an ORM row)."""

    out_trade_no: str
    total_fen: int
    subject: str
    client_kind: str = "desktop"
    client_ip: str = "127.0.0.1"
    openid: str = ""
    provider_txn_id: str = ""
    expires_at: datetime | None = None  # the shop's own expiry: the gateway closes the trade then

    def expires_china(self) -> datetime | None:
        # both gateways read order times as Beijing time
        return self.expires_at.astimezone(CHINA_TZ) if self.expires_at is not None else None


@dataclass(frozen=True)
class PayAction:
    """What the UI does next: open `url` (redirect / cashier / H5), show `qr_png` (data: URI of a
    PNG), call WeixinJSBridge with `params` (JSAPI), or show manual-transfer instructions."""

    kind: str  # redirect | qr | jsapi | cashier | manual
    channel: str
    url: str = ""
    qr_png: str = ""
    params: dict = field(default_factory=dict)
    test_mode: bool = False


@dataclass(frozen=True)
class Notification:
    """A verified notification or query answer."""

    channel: str
    out_trade_no: str
    provider_txn_id: str
    amount_fen: int | None
    status: str  # paid | pending | closed | refund
    raw: str
    out_refund_no: str = ""
    refund_status: str = ""  # succeeded | failed (refund notifications)


@dataclass(frozen=True)
class QueryResult:
    status: str  # paid | pending | closed | unknown
    provider_txn_id: str = ""
    amount_fen: int | None = None
    raw: str = ""


@dataclass(frozen=True)
class RefundRef:
    out_trade_no: str
    provider_txn_id: str
    out_refund_no: str
    order_total_fen: int
    amount_fen: int
    reason: str


@dataclass(frozen=True)
class RefundResult:
    status: str  # succeeded | processing | failed | by_hand (the channel cannot pay money back)
    provider_refund_id: str = ""
    message: str = ""


@dataclass(frozen=True)
class Ack:
    status_code: int
    body: str
    media_type: str


class PaymentChannel(Protocol):
    name: str
    test_mode: bool

    def create_payment(self, order: OrderRef) -> PayAction: ...

    def verify_notification(self, body: bytes, headers: Mapping[str, str]) -> Notification: ...

    def query(self, order: OrderRef) -> QueryResult: ...

    def close(self, order: OrderRef) -> None: ...

    def refund(self, refund: RefundRef) -> RefundResult: ...

    def query_refund(self, refund: RefundRef) -> RefundResult: ...

    def ack_success(self) -> Ack: ...

    def ack_failure(self, reason: str = "") -> Ack: ...
