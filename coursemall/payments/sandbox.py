"""Sandbox channel (test mode, the demo default).

The cashier page (UI) offers pay / fail / close; `services.payments.sandbox_decide` turns the
choice into a JSON notification signed with HMAC-SHA256 (key derived from the shop's secret key)
and feeds it to the same notify pipeline as the real channels; `POST /api/pay/notify/sandbox`
verifies the same signature, so a forged sandbox notification is refused like a forged Alipay one.
Refunds succeed at once. There is no remote state to query.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Mapping

from coursemall import urls
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

SIGNATURE_HEADER = "x-sandbox-signature"
OUTCOMES = ("pay", "fail", "close")


class SandboxChannel:
    name = "sandbox"
    test_mode = True

    def __init__(self, secret_key: str, public_base_url: str = "") -> None:
        self._key = hmac.new(secret_key.encode(), b"coursemall-sandbox-pay", hashlib.sha256).digest()
        self._base = public_base_url.rstrip("/")

    # -- signing (used by sandbox_decide and by tests/benchmarks)
    def sign(self, body: bytes) -> str:
        return hmac.new(self._key, body, hashlib.sha256).hexdigest()

    def build_notification(self, *, out_trade_no: str, outcome: str, amount_fen: int,
                           txn_id: str = "") -> tuple[bytes, dict[str, str]]:
        if outcome not in OUTCOMES:
            raise ValueError("unknown sandbox outcome")
        payload = {"out_trade_no": out_trade_no, "outcome": outcome, "amount_fen": amount_fen,
                   "txn_id": txn_id or ("SB" + secrets.token_hex(12))}
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        return body, {SIGNATURE_HEADER: self.sign(body), "content-type": "application/json"}

    # -- interface
    def create_payment(self, order: OrderRef) -> PayAction:
        return PayAction(kind="cashier", channel=self.name, url=self._base + urls.sandbox_cashier_url(order.out_trade_no),
                         test_mode=True)

    def verify_notification(self, body: bytes, headers: Mapping[str, str]) -> Notification:
        given = ""
        for key, value in headers.items():
            if key.lower() == SIGNATURE_HEADER:
                given = value
        if not given or not hmac.compare_digest(given.encode(), self.sign(body).encode()):
            raise NotificationRejected("bad_signature")
        try:
            data = json.loads(body)
        except ValueError:
            raise NotificationRejected("bad_payload") from None
        if not isinstance(data, dict):
            raise NotificationRejected("bad_payload")
        out_trade_no, outcome = data.get("out_trade_no"), data.get("outcome")
        amount, txn = data.get("amount_fen"), data.get("txn_id")
        if (not isinstance(out_trade_no, str) or outcome not in OUTCOMES or not isinstance(txn, str)
                or not isinstance(amount, int) or isinstance(amount, bool)):
            raise NotificationRejected("bad_payload", out_trade_no=str(out_trade_no)[:64])
        status = {"pay": "paid", "fail": "pending", "close": "closed"}[outcome]
        return Notification(channel=self.name, out_trade_no=out_trade_no, provider_txn_id=txn[:64],
                            amount_fen=amount, status=status, raw=body.decode(errors="replace"))

    def query(self, order: OrderRef) -> QueryResult:
        return QueryResult(status="unknown")

    def close(self, order: OrderRef) -> None:
        return None

    def refund(self, refund: RefundRef) -> RefundResult:
        return RefundResult(status="succeeded", provider_refund_id="SBRF" + refund.out_refund_no)

    def query_refund(self, refund: RefundRef) -> RefundResult:
        return RefundResult(status="succeeded", provider_refund_id="SBRF" + refund.out_refund_no)

    def ack_success(self) -> Ack:
        return Ack(200, "ok", "text/plain")

    def ack_failure(self, reason: str = "") -> Ack:
        return Ack(400, "rejected", "text/plain")
