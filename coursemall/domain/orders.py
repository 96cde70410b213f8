"""Orders, payments and refunds: vocabulary and pure rules (no DB, no reflex).

The order status changes ONLY through `TRANSITIONS` (django-oscar style). Services apply a
transition with a compare-and-set UPDATE (`... WHERE id=:id AND status=:old`) and check the
row count, so two workers never both win the same transition, on SQLite and PostgreSQL alike.

    pending ──pay──▶ paid ──request refund──▶ refunding ──succeeded──▶ refunded
       │  ▲                ▲        ▲              │   └──partial──▶ partially_refunded
     close│(late payment)  │        └──rejected/failed (nothing refunded yet)
       ▼  │                │
     closed                └── partially_refunded ──request refund──▶ refunding

Late payment rule (a payment that arrives after the order was closed): the order is re-opened
and fulfilled (closed → paid) when the learner does not already own every course of the order;
when they do own everything already, the payment is still recorded (closed → paid) and an
automatic refund of the whole order is queued (paid → refunding, refund `approved`, policy
`auto_late_duplicate`), executed through the original channel by the refund job. The same holds
for a pending order paid when its courses are already owned (two open orders for one course,
both paid): nothing is granted twice and the second one is refunded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from coursemall.domain.errors import DomainError

MAX_ORDER_FEN = 10_000_000_00  # ¥10,000,000: anything above is a bug, not a sale


class OrderStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    CLOSED = "closed"
    REFUNDING = "refunding"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


S = OrderStatus

# The one transition table. Key: current status; value: statuses it may move to.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING: frozenset({S.PAID, S.CLOSED}),
    S.CLOSED: frozenset({S.PAID}),  # late payment (see module docstring)
    S.PAID: frozenset({S.REFUNDING}),
    S.REFUNDING: frozenset({S.PAID, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.REFUNDING}),
    S.REFUNDED: frozenset(),
}


def can_transition(old: str, new: str) -> bool:
    try:
        return OrderStatus(new) in TRANSITIONS[OrderStatus(old)]
    except ValueError:
        return False


def check_transition(old: str, new: str) -> None:
    if not can_transition(old, new):
        raise DomainError("order.bad_transition", old=old, new=new)


class Channel(StrEnum):
    SANDBOX = "sandbox"
    ALIPAY = "alipay"
    WECHAT = "wechat"
    MANUAL = "manual"
    FREE = "free"


PAYABLE_CHANNELS = (Channel.SANDBOX, Channel.ALIPAY, Channel.WECHAT, Channel.MANUAL)
TEST_CHANNELS = (Channel.SANDBOX,)  # no real money moves: an extra "payment" there is refused, not stored


def channels_that_may_complete(channel: str) -> tuple[str, ...]:
    """The order bindings under which a payment through `channel` may complete the order.

    An order is bound to the channel the learner started paying with (`Order.channel`, moved
    when they switch before paying); only that channel completes it. A free order (total 0) is
    completed by the `free` channel before any binding exists."""
    if channel == Channel.FREE:
        return ("", Channel.FREE.value)
    return (channel,)


class PaymentRole(StrEnum):
    APPLIED = "applied"  # the one payment that paid the order
    DUPLICATE = "duplicate"  # a second, different payment for an already paid order
    OFF_CHANNEL = "off_channel"  # paid through a channel the order was not started on


class ClientKind(StrEnum):
    DESKTOP = "desktop"
    MOBILE = "mobile"  # mobile browser: Alipay wap, WeChat H5
    WECHAT = "wechat"  # inside the WeChat browser: JSAPI


class ItemType(StrEnum):
    COURSE = "course"
    BUNDLE = "bundle"


class EventKind(StrEnum):
    NOTIFY = "notify"
    QUERY = "query"
    RETURN = "return"
    REFUND_NOTIFY = "refund_notify"
    MANUAL = "manual"
    FREE = "free"


class RefundStatus(StrEnum):
    REQUESTED = "requested"  # waiting for the owner's review
    APPROVED = "approved"  # decided, not yet sent to the channel
    REJECTED = "rejected"
    PROCESSING = "processing"  # sent; the channel answers later (WeChat), or the call failed: retried
    ATTENTION = "attention"  # the owner must act: the channel cannot refund (manual) or retries ran out
    SUCCEEDED = "succeeded"
    FAILED = "failed"


REFUND_OPEN = (RefundStatus.REQUESTED, RefundStatus.APPROVED, RefundStatus.PROCESSING, RefundStatus.ATTENTION)

# A refund still processing is asked about again after 1, 2, 4 ... minutes, at most every 6 hours;
# after REFUND_MAX_ATTEMPTS calls (about three days: WeChat refunds to bank cards may take that
# long) it waits for the owner in the refund queue.
REFUND_RETRY_BASE = timedelta(minutes=1)
REFUND_RETRY_CAP = timedelta(hours=6)
REFUND_MAX_ATTEMPTS = 20


def refund_retry_delay(attempts: int) -> timedelta:
    """How long to wait before the next call after `attempts` calls (exponential, capped)."""
    exponent = min(max(attempts, 1) - 1, 20)
    return min(REFUND_RETRY_BASE * (2 ** exponent), REFUND_RETRY_CAP)


class LineRefund(StrEnum):
    NONE = ""
    PENDING = "pending"  # part of an open refund
    REFUNDED = "refunded"


class ManualStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class PolicyOutcome(StrEnum):
    AUTO_APPROVE = "auto_approve"
    REVIEW = "review"
    AUTO_LATE_DUPLICATE = "auto_late_duplicate"
    REVIEW_LIMIT = "review_limit"  # the rule held, but the learner had their automatic refunds already
    AUTO_EXTRA_PAYMENT = "auto_extra_payment"  # returns a duplicate / off-channel payment


STAFF_ROLES = ("owner", "staff")


# ---------------------------------------------------------------- validation of untrusted input

def parse_enum(enum_cls: type[StrEnum], value: object) -> StrEnum:
    if not isinstance(value, str):
        raise DomainError("error.bad_request")
    try:
        return enum_cls(value)
    except ValueError:
        raise DomainError("error.bad_request") from None


_ORDER_NO = re.compile(r"^[A-Za-z0-9]{8,32}$")


def parse_order_no(value: object) -> str:
    if isinstance(value, str) and _ORDER_NO.match(value):
        return value
    raise DomainError("error.bad_request")


def parse_text(value: object, *, min_len: int, max_len: int, code: str = "error.bad_request") -> str:
    if not isinstance(value, str):
        raise DomainError("error.bad_request")
    text = value.strip()
    if not min_len <= len(text) <= max_len or "\x00" in text:
        raise DomainError(code, min=min_len, max=max_len)
    return text


# ---------------------------------------------------------------- pricing

@dataclass(frozen=True)
class PricedItem:
    item_type: str
    item_id: int
    title: str
    unit_price_fen: int
    original_price_fen: int
    course_ids: tuple[int, ...]  # what the line grants


@dataclass(frozen=True)
class Quote:
    items: tuple[PricedItem, ...]
    total_fen: int
    original_total_fen: int


def price_lines(items: list[PricedItem]) -> Quote:
    """Quantity is always 1; the total is the sum of unit prices from the database.

    A bundle keeps its bundle price even when the learner already owns some of its courses
    (the checkout refuses it only when they own all of them): the bundle is a fixed offer.
    """
    total = 0
    original = 0
    for item in items:
        if not isinstance(item.unit_price_fen, int) or item.unit_price_fen < 0:
            raise DomainError("error.bad_request")
        total += item.unit_price_fen
        original += max(item.original_price_fen, item.unit_price_fen)
    if total > MAX_ORDER_FEN:
        raise DomainError("checkout.total_too_large")
    return Quote(items=tuple(items), total_fen=total, original_total_fen=original)


# ---------------------------------------------------------------- refund policy

@dataclass(frozen=True)
class RefundPolicyRule:
    auto_approve: bool = True
    within_days: int = 7
    max_progress_pct: int = 20
    request_window_days: int = 30  # 0 = requests accepted at any time


AUTO_REFUND_WINDOW = timedelta(days=90)  # automatic refunds counted against the limit


def decide_refund_policy(rule: RefundPolicyRule, *, paid_at: datetime, now: datetime,
                         progress_pct: int, recent_auto_refunds: int = 0,
                         auto_refund_limit: int | None = None) -> PolicyOutcome:
    """Auto-approve when enabled, paid within `within_days` and progress (consumption) below
    `max_progress_pct`, unless the learner already had `auto_refund_limit` automatic refunds within
    AUTO_REFUND_WINDOW (None = no limit); every other request goes to the owner's review queue."""
    if (rule.auto_approve and now - paid_at <= timedelta(days=rule.within_days)
            and progress_pct < rule.max_progress_pct):
        if auto_refund_limit is not None and recent_auto_refunds >= auto_refund_limit:
            return PolicyOutcome.REVIEW_LIMIT
        return PolicyOutcome.AUTO_APPROVE
    return PolicyOutcome.REVIEW


def refund_request_allowed(rule: RefundPolicyRule, *, paid_at: datetime, now: datetime) -> bool:
    return rule.request_window_days == 0 or now - paid_at <= timedelta(days=rule.request_window_days)


def status_after_refund(*, lines_total: int, lines_refunded: int) -> OrderStatus:
    """Order status once no refund is open: all lines refunded → refunded, some → partially."""
    if lines_refunded <= 0:
        return OrderStatus.PAID
    if lines_refunded >= lines_total:
        return OrderStatus.REFUNDED
    return OrderStatus.PARTIALLY_REFUNDED
