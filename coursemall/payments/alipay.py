"""Alipay (支付宝) through python-alipay-sdk, RSA2.

- desktop → page pay URL (`alipay.trade.page.pay`), mobile / WeChat browser → wap pay URL; both are
  built and signed locally (no network) and carry the shop's own expiry (`time_expire`,
  "yyyy-MM-dd HH:mm:ss" Beijing time), so Alipay stops taking money when the shop stops waiting.
- `POST /api/pay/notify/alipay` (form-encoded): `sign` is popped, `verify()` checks the RSA2
  signature with Alipay's public key (and pops `sign_type`), then app_id, seller_id (when
  configured) and the amount are checked; TRADE_SUCCESS / TRADE_FINISHED mean paid. The answer is
  the plain text `success` (else `failure`, so Alipay retries).
- query / close / refund / refund query go to the gateway with blocking urlopen and a timeout.
  The SDK has no public setter for the gateway URL; we set its `_gateway` attribute from
  COURSEMALL_ALIPAY_GATEWAY so tests (and the Alipay sandbox) can point it elsewhere.
- refunds use `out_request_no` = our stable `out_refund_no`, so a retried refund never pays twice.
  Alipay answers refunds synchronously; its later TRADE_CLOSED / refund notifications are
  acknowledged and ignored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import parse_qsl

from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError
from alipay.utils import AliPayConfig as _SdkConfig

from coursemall.domain.money import fen_to_yuan, yuan_to_fen
from coursemall.payments.base import (
    Ack,
    ChannelError,
    Notification,
    NotificationRejected,
    OrderRef,
    PayAction,
    QueryResult,
    RefundRef,
    RefundResult,
)

log = logging.getLogger("coursemall.pay.alipay")

PAID_STATUSES = ("TRADE_SUCCESS", "TRADE_FINISHED")
MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class AlipayConfig:
    app_id: str
    app_private_key_pem: str
    alipay_public_key_pem: str
    gateway: str
    notify_url: str
    return_url: str
    seller_id: str = ""
    timeout: int = 10

    def __repr__(self) -> str:  # never print keys
        return f"AlipayConfig(app_id={self.app_id!r}, gateway={self.gateway!r})"


class AlipayChannel:
    name = "alipay"
    test_mode = False

    def __init__(self, config: AlipayConfig) -> None:
        self.config = config
        self._client = AliPay(
            appid=config.app_id,
            app_notify_url=config.notify_url,
            app_private_key_string=config.app_private_key_pem,
            alipay_public_key_string=config.alipay_public_key_pem,
            sign_type="RSA2",
            debug=False,
            config=_SdkConfig(timeout=config.timeout),
        )
        self._client._gateway = config.gateway  # see module docstring

    # ------------------------------------------------------------------ pay
    def create_payment(self, order: OrderRef) -> PayAction:
        kwargs = dict(subject=order.subject[:128], out_trade_no=order.out_trade_no,
                      total_amount=fen_to_yuan(order.total_fen), return_url=self.config.return_url,
                      notify_url=self.config.notify_url)
        expires = order.expires_china()
        if expires is not None:
            kwargs["time_expire"] = expires.strftime("%Y-%m-%d %H:%M:%S")
        if order.client_kind == "desktop":
            signed = self._client.api_alipay_trade_page_pay(**kwargs)
        else:
            signed = self._client.api_alipay_trade_wap_pay(**kwargs)
        return PayAction(kind="redirect", channel=self.name, url=f"{self.config.gateway}?{signed}")

    # ------------------------------------------------------------------ notify
    def verify_notification(self, body: bytes, headers: Mapping[str, str]) -> Notification:
        if len(body) > MAX_BODY:
            raise NotificationRejected("too_large")
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            raise NotificationRejected("bad_payload") from None
        data = dict(pairs)
        if len(data) != len(pairs):
            raise NotificationRejected("bad_payload")  # a repeated field is never genuine
        out_trade_no = data.get("out_trade_no", "")[:64]
        sign = data.pop("sign", "")
        if not sign:
            raise NotificationRejected("bad_signature", out_trade_no=out_trade_no)
        try:
            ok = self._client.verify(dict(data), sign)
        except (AliPayException, ValueError, TypeError):  # unknown sign_type, bad base64 ...
            ok = False
        if not ok:
            raise NotificationRejected("bad_signature", out_trade_no=out_trade_no)
        if data.get("app_id") != self.config.app_id:
            raise NotificationRejected("wrong_app_id", out_trade_no=out_trade_no)
        if self.config.seller_id and data.get("seller_id") != self.config.seller_id:
            raise NotificationRejected("wrong_merchant", out_trade_no=out_trade_no)
        amount = yuan_to_fen(data.get("total_amount"))
        if not out_trade_no or amount is None:
            raise NotificationRejected("bad_payload", out_trade_no=out_trade_no)
        trade_status = data.get("trade_status", "")
        if data.get("refund_fee") or data.get("gmt_refund"):
            status = "refund"  # refunds are applied from the synchronous refund answer
        elif trade_status in PAID_STATUSES:
            status = "paid"
        elif trade_status == "TRADE_CLOSED":
            status = "closed"
        else:
            status = "pending"
        return Notification(channel=self.name, out_trade_no=out_trade_no,
                            provider_txn_id=data.get("trade_no", "")[:64], amount_fen=amount,
                            status=status, raw=body.decode("utf-8"))

    # ------------------------------------------------------------------ gateway calls
    def _call(self, what: str, fn, **kwargs) -> dict:
        try:
            return fn(**kwargs)
        except AliPayValidationError:
            log.warning("alipay %s: answer signature invalid", what)
            raise ChannelError("alipay_bad_answer_signature") from None
        except AliPayException as exc:
            log.warning("alipay %s failed: %s", what, str(exc)[:200])
            raise ChannelError("alipay_error") from None
        except (OSError, ValueError) as exc:  # URLError, timeout, bad JSON
            log.warning("alipay %s: gateway unreachable (%s)", what, type(exc).__name__)
            raise ChannelError("alipay_unreachable") from None

    def query(self, order: OrderRef) -> QueryResult:
        res = self._call("query", self._client.api_alipay_trade_query, out_trade_no=order.out_trade_no)
        raw = str(res)[:2000]
        if res.get("code") != "10000":
            if res.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return QueryResult(status="pending", raw=raw)
            return QueryResult(status="unknown", raw=raw)
        if res.get("out_trade_no") not in (None, order.out_trade_no):
            return QueryResult(status="unknown", raw=raw)
        trade_status = res.get("trade_status", "")
        amount = yuan_to_fen(res.get("total_amount"))
        if trade_status in PAID_STATUSES:
            return QueryResult(status="paid", provider_txn_id=str(res.get("trade_no", ""))[:64],
                               amount_fen=amount, raw=raw)
        if trade_status == "TRADE_CLOSED":
            return QueryResult(status="closed", raw=raw)
        return QueryResult(status="pending", raw=raw)

    def close(self, order: OrderRef) -> None:
        res = self._call("close", self._client.api_alipay_trade_close, out_trade_no=order.out_trade_no)
        if res.get("code") != "10000" and res.get("sub_code") != "ACQ.TRADE_NOT_EXIST":
            raise ChannelError("alipay_close_refused")

    def refund(self, refund: RefundRef) -> RefundResult:
        res = self._call("refund", self._client.api_alipay_trade_refund,
                         refund_amount=fen_to_yuan(refund.amount_fen), out_trade_no=refund.out_trade_no,
                         out_request_no=refund.out_refund_no, refund_reason=refund.reason[:100])
        if res.get("code") == "10000":
            return RefundResult(status="succeeded", provider_refund_id=str(res.get("trade_no", ""))[:64])
        return RefundResult(status="failed", message=str(res.get("sub_msg") or res.get("msg") or "")[:200])

    def query_refund(self, refund: RefundRef) -> RefundResult:
        res = self._call("refund query", self._client.api_alipay_trade_fastpay_refund_query,
                         out_request_no=refund.out_refund_no, out_trade_no=refund.out_trade_no)
        if res.get("code") == "10000" and (res.get("refund_status") == "REFUND_SUCCESS"
                                            or res.get("refund_amount")):
            return RefundResult(status="succeeded", provider_refund_id=str(res.get("trade_no", ""))[:64])
        return RefundResult(status="processing")

    def ack_success(self) -> Ack:
        return Ack(200, "success", "text/plain")

    def ack_failure(self, reason: str = "") -> Ack:
        return Ack(400, "failure", "text/plain")
