"""Manual transfer (个人收款码): the learner pays the owner's personal QR and uploads proof.

There is no gateway: nothing to verify, query or close remotely. Confirmation is a human
decision in the owner's queue (`services.manual_pay`), which then runs the same fulfilment
(`apply_paid`, channel `manual`, provider txn `manual-<id>`). Money paid by transfer can only be
returned by the owner, outside the app: `refund()` answers `by_hand`, the refund waits in the
owner's refund queue ("needs attention") until they mark it refunded by hand, and only then is
the access revoked / the extra payment marked returned.
"""

from __future__ import annotations

from typing import Mapping

from coursemall.payments.base import (
    Ack,
    NotificationRejected,
    Notification,
    OrderRef,
    PayAction,
    QueryResult,
    RefundRef,
    RefundResult,
)


class ManualChannel:
    name = "manual"
    test_mode = False

    def __init__(self, qr_url: str = "", instructions: str = "") -> None:
        self.qr_url = qr_url
        self.instructions = instructions

    def create_payment(self, order: OrderRef) -> PayAction:
        return PayAction(kind="manual", channel=self.name, url=self.qr_url,
                         params={"instructions": self.instructions, "out_trade_no": order.out_trade_no})

    def verify_notification(self, body: bytes, headers: Mapping[str, str]) -> Notification:
        raise NotificationRejected("not_supported")

    def query(self, order: OrderRef) -> QueryResult:
        return QueryResult(status="unknown")

    def close(self, order: OrderRef) -> None:
        return None

    def refund(self, refund: RefundRef) -> RefundResult:
        return RefundResult(status="by_hand", message="manual_channel")

    def query_refund(self, refund: RefundRef) -> RefundResult:
        return RefundResult(status="by_hand", message="manual_channel")

    def ack_success(self) -> Ack:
        return Ack(200, "ok", "text/plain")

    def ack_failure(self, reason: str = "") -> Ack:
        return Ack(400, "rejected", "text/plain")
