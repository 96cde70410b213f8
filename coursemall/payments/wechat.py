"""WeChat Pay API v2 through wechatpy 1.8.18 (MD5 signs).

- desktop → Native: unified order → `code_url` → QR PNG (qrcode) shown on the page;
  mobile browser → H5 (MWEB): `mweb_url` (+ redirect_url back to the shop's return route);
  WeChat browser → JSAPI: unified order with the learner's OAuth `openid` → `get_jsapi_params`
  for WeixinJSBridge.
- `POST /api/pay/notify/wechat` (XML): `parse_payment_result` checks the signature with the API
  key; then return_code, appid, mch_id, result_code and total_fee are checked; the answer is the
  XML acknowledgement.
- Refunds need the merchant API certificate (COURSEMALL_WECHAT_CERT_PATH / _KEY_PATH, sent as
  the TLS client certificate); they are asynchronous: `refund()` reports `processing` and the
  refund notification (`POST /api/pay/notify/wechat-refund`, req_info AES-decrypted by
  `parse_refund_notify_result`) or the refund query completes them.
- wechatpy has no default timeout: we always pass one. Its answers to our calls are not
  signature-checked by wechatpy, so we check them here (`check_signature`). The API base URL is
  set per client (`API_BASE_URL`) from COURSEMALL_WECHAT_API_BASE; tests use a loopback gateway.
- spbill_create_ip is always passed: wechatpy would otherwise resolve WeChat's host to find it.
- The unified order carries the shop's own expiry (`time_expire`, yyyyMMddHHmmss Beijing time),
  so WeChat stops taking money when the shop stops waiting for it.
- XML with a DOCTYPE, entity declaration or other markup declaration is refused before any
  parser sees it (`xml_guard.check_xml`): notifications, the decrypted refund notice inside them,
  and every gateway answer (the client's `_handle_result` checks the raw body first).
"""

from __future__ import annotations

import base64
import io
import logging
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import quote

import qrcode
import requests
import xmltodict
from wechatpy.crypto import RefundCrypto, WeChatRefundCrypto
from wechatpy.exceptions import InvalidSignatureException, WeChatPayException
from wechatpy.pay import WeChatPay

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
from coursemall.payments.xml_guard import UnsafeXml, check_xml

log = logging.getLogger("coursemall.pay.wechat")
MAX_BODY = 64 * 1024
_RETRYABLE = {"SYSTEMERROR", "BIZERR_NEED_RETRY", "FREQUENCY_LIMITED"}


@dataclass(frozen=True)
class WeChatConfig:
    app_id: str
    mch_id: str
    api_key: str
    api_base: str
    notify_url: str
    refund_notify_url: str
    return_url: str
    site_url: str = ""
    site_name: str = "CourseMall"
    cert_path: str = ""
    key_path: str = ""
    server_ip: str = "127.0.0.1"
    timeout: int = 10

    def __repr__(self) -> str:  # never print the key
        return f"WeChatConfig(app_id={self.app_id!r}, mch_id={self.mch_id!r}, api_base={self.api_base!r})"


def qr_data_uri(text: str) -> str:
    img = qrcode.make(text, box_size=8, border=2)
    buf = io.BytesIO()
    img.save(buf)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _xml(code: str, msg: str) -> str:
    return (f"<xml><return_code><![CDATA[{code}]]></return_code>"
            f"<return_msg><![CDATA[{msg}]]></return_msg></xml>")


class _GuardedWeChatPay(WeChatPay):
    """wechatpy's client with every gateway answer checked before xmltodict parses it."""

    def _handle_result(self, res):
        check_xml(res.content)
        return super()._handle_result(res)


class WeChatChannel:
    name = "wechat"
    test_mode = False

    def __init__(self, config: WeChatConfig) -> None:
        self.config = config
        has_cert = bool(config.cert_path and config.key_path)
        self._client = _GuardedWeChatPay(appid=config.app_id, api_key=config.api_key, mch_id=config.mch_id,
                                 mch_cert=config.cert_path if has_cert else None,
                                 mch_key=config.key_path if has_cert else None,
                                 timeout=config.timeout)
        self._client.API_BASE_URL = config.api_base  # per-client override of the class attribute
        self._has_cert = has_cert

    # ------------------------------------------------------------------ helpers
    def _call(self, what: str, fn, **kwargs) -> dict:
        try:
            res = fn(**kwargs)
        except WeChatPayException as exc:
            code = getattr(exc, "errcode", None) or getattr(exc, "return_code", None) or "ERROR"
            log.warning("wechat %s refused: %s", what, code)
            if code == "ERROR":  # HTTP error status: transport trouble, retry later
                raise ChannelError("wechat_http_error") from None
            raise _Refused(str(code)) from None
        except requests.RequestException as exc:
            log.warning("wechat %s: gateway unreachable (%s)", what, type(exc).__name__)
            raise ChannelError("wechat_unreachable") from None
        except UnsafeXml as exc:
            log.warning("wechat %s: answer refused before parsing (%s)", what, exc.reason)
            raise ChannelError("wechat_unsafe_answer") from None
        if not isinstance(res, dict):
            raise ChannelError("wechat_bad_answer")
        if not self._client.check_signature(res):
            log.warning("wechat %s: answer signature invalid", what)
            raise ChannelError("wechat_bad_answer_signature")
        if res.get("appid", self.config.app_id) != self.config.app_id or \
                res.get("mch_id", self.config.mch_id) != self.config.mch_id:
            raise ChannelError("wechat_wrong_merchant")
        return res

    # ------------------------------------------------------------------ pay
    def create_payment(self, order: OrderRef) -> PayAction:
        common = dict(body=order.subject[:120], total_fee=order.total_fen, notify_url=self.config.notify_url,
                      out_trade_no=order.out_trade_no, time_expire=order.expires_china())
        try:
            if order.client_kind == "wechat":
                if not order.openid:
                    raise ChannelError("wechat_openid_required")
                res = self._call("unifiedorder", self._client.order.create, trade_type="JSAPI",
                                 client_ip=order.client_ip, user_id=order.openid, **common)
                params = self._client.jsapi.get_jsapi_params(res["prepay_id"])
                return PayAction(kind="jsapi", channel=self.name, params=params)
            if order.client_kind == "mobile":
                scene = {"h5_info": {"type": "Wap", "wap_url": self.config.site_url,
                                     "wap_name": self.config.site_name}}
                res = self._call("unifiedorder", self._client.order.create, trade_type="MWEB",
                                 client_ip=order.client_ip, scene_info=scene, **common)
                back = f"{self.config.return_url}?out_trade_no={order.out_trade_no}"
                url = res["mweb_url"] + "&redirect_url=" + quote(back, safe="")
                return PayAction(kind="redirect", channel=self.name, url=url)
            res = self._call("unifiedorder", self._client.order.create, trade_type="NATIVE",
                             client_ip=self.config.server_ip, product_id=order.out_trade_no, **common)
            return PayAction(kind="qr", channel=self.name, url=res["code_url"], qr_png=qr_data_uri(res["code_url"]))
        except _Refused as exc:
            raise ChannelError(f"wechat_refused:{exc.code}") from None
        except KeyError:
            raise ChannelError("wechat_bad_answer") from None

    # ------------------------------------------------------------------ notifications
    def verify_notification(self, body: bytes, headers: Mapping[str, str]) -> Notification:
        if len(body) > MAX_BODY:
            raise NotificationRejected("too_large")
        _refuse_unsafe(body)
        try:
            data = self._client.parse_payment_result(body)
        except (InvalidSignatureException, ValueError, TypeError, AttributeError):
            raise NotificationRejected("bad_signature") from None
        out_trade_no = str(data.get("out_trade_no", ""))[:64]
        if data.get("return_code") != "SUCCESS":
            raise NotificationRejected("not_success", out_trade_no=out_trade_no)
        if data.get("appid") != self.config.app_id:
            raise NotificationRejected("wrong_app_id", out_trade_no=out_trade_no)
        if data.get("mch_id") != self.config.mch_id:
            raise NotificationRejected("wrong_merchant", out_trade_no=out_trade_no)
        amount = data.get("total_fee")
        if not out_trade_no or not isinstance(amount, int):
            raise NotificationRejected("bad_payload", out_trade_no=out_trade_no)
        if data.get("fee_type", "CNY") != "CNY":
            raise NotificationRejected("wrong_currency", out_trade_no=out_trade_no)
        status = "paid" if data.get("result_code") == "SUCCESS" else "pending"
        return Notification(channel=self.name, out_trade_no=out_trade_no,
                            provider_txn_id=str(data.get("transaction_id", ""))[:64], amount_fen=amount,
                            status=status, raw=body.decode("utf-8", errors="replace"))

    def verify_refund_notification(self, body: bytes, headers: Mapping[str, str]) -> Notification:
        if len(body) > MAX_BODY:
            raise NotificationRejected("too_large")
        _refuse_unsafe(body)
        try:
            info = self._decrypt_refund_notice(body)
        except NotificationRejected:
            raise
        except Exception:  # bad XML, wrong appid/mch_id, undecryptable req_info: all forgeries
            raise NotificationRejected("bad_signature") from None
        if not isinstance(info, dict) or not info.get("out_refund_no"):
            raise NotificationRejected("bad_payload")
        status = {"SUCCESS": "succeeded", "CHANGE": "failed", "REFUNDCLOSE": "failed"}.get(
            str(info.get("refund_status")), "")
        fee = str(info.get("refund_fee", ""))
        return Notification(channel=self.name, out_trade_no=str(info.get("out_trade_no", ""))[:64],
                            provider_txn_id=str(info.get("transaction_id", ""))[:64],
                            amount_fen=int(fee) if fee.isdigit() else None,
                            status="refund", raw=str(info)[:4000],
                            out_refund_no=str(info["out_refund_no"])[:32], refund_status=status)

    def _decrypt_refund_notice(self, body: bytes) -> dict:
        """wechatpy's parse_refund_notify_result, with the decrypted inner XML checked too (only
        the holder of the API key can encrypt it, but it is parsed all the same)."""
        outer = xmltodict.parse(body)["xml"]
        if outer.get("appid") != self.config.app_id or outer.get("mch_id") != self.config.mch_id:
            raise NotificationRejected("wrong_merchant")
        key = WeChatRefundCrypto(self.config.api_key).key
        plain = RefundCrypto(key).decrypt(outer["req_info"])
        _refuse_unsafe(plain)
        return dict(xmltodict.parse(plain)["root"])

    # ------------------------------------------------------------------ gateway calls
    def query(self, order: OrderRef) -> QueryResult:
        try:
            res = self._call("orderquery", self._client.order.query, out_trade_no=order.out_trade_no)
        except _Refused as exc:
            if exc.code == "ORDERNOTEXIST":
                return QueryResult(status="pending")
            return QueryResult(status="unknown")
        raw = str(res)[:2000]
        if res.get("out_trade_no") != order.out_trade_no:
            return QueryResult(status="unknown", raw=raw)
        state = res.get("trade_state")
        if state == "SUCCESS":
            try:
                amount = int(res.get("total_fee", ""))
            except ValueError:
                return QueryResult(status="unknown", raw=raw)
            return QueryResult(status="paid", provider_txn_id=str(res.get("transaction_id", ""))[:64],
                               amount_fen=amount, raw=raw)
        if state in ("CLOSED", "REVOKED"):
            return QueryResult(status="closed", raw=raw)
        return QueryResult(status="pending", raw=raw)

    def close(self, order: OrderRef) -> None:
        try:
            self._call("closeorder", self._client.order.close, out_trade_no=order.out_trade_no)
        except _Refused as exc:
            if exc.code in ("ORDERCLOSED", "ORDERNOTEXIST"):
                return
            raise ChannelError(f"wechat_close_refused:{exc.code}") from None

    def refund(self, refund: RefundRef) -> RefundResult:
        if not self._has_cert:
            raise ChannelError("wechat_cert_missing")
        try:
            res = self._call("refund", self._client.refund.apply, total_fee=refund.order_total_fen,
                             refund_fee=refund.amount_fen, out_refund_no=refund.out_refund_no,
                             out_trade_no=refund.out_trade_no, refund_desc=refund.reason[:80],
                             notify_url=self.config.refund_notify_url)
        except _Refused as exc:
            if exc.code in _RETRYABLE:
                raise ChannelError(f"wechat_retry:{exc.code}") from None
            return RefundResult(status="failed", message=exc.code)
        return RefundResult(status="processing", provider_refund_id=str(res.get("refund_id", ""))[:64])

    def query_refund(self, refund: RefundRef) -> RefundResult:
        try:
            res = self._call("refundquery", self._client.refund.query, out_refund_no=refund.out_refund_no)
        except _Refused as exc:
            if exc.code == "REFUNDNOTEXIST":
                return RefundResult(status="failed", message=exc.code)
            return RefundResult(status="processing")
        state = res.get("refund_status_0")
        if state == "SUCCESS":
            return RefundResult(status="succeeded", provider_refund_id=str(res.get("refund_id_0", ""))[:64])
        if state in ("REFUNDCLOSE", "CHANGE"):
            return RefundResult(status="failed", message=str(state))
        return RefundResult(status="processing")

    def ack_success(self) -> Ack:
        return Ack(200, _xml("SUCCESS", "OK"), "application/xml")

    def ack_failure(self, reason: str = "") -> Ack:
        safe = "".join(c for c in reason if c.isalnum() or c in "_-")[:40] or "FAIL"
        return Ack(400, _xml("FAIL", safe), "application/xml")


def _refuse_unsafe(body: bytes | str) -> None:
    try:
        check_xml(body)
    except UnsafeXml as exc:
        log.warning("wechat notification refused before parsing (%s)", exc.reason)
        raise NotificationRejected("unsafe_xml") from None


class _Refused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
