"""Loopback fake gateways that behave like Alipay's openapi and WeChat Pay v2 for the calls we make.

They check the request signatures (Alipay: RSA2 with the app's public key; WeChat: MD5 with the
API key), keep a tiny trade/refund state, and sign their answers like the real gateways (Alipay:
RSA2 with the "Alipay" private key over the response object; WeChat: MD5 XML). They also build
signed notifications. The real SDK code (python-alipay-sdk, wechatpy) talks to them over HTTP.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlparse

import xmltodict
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from wechatpy.crypto import WeChatRefundCrypto
from wechatpy.crypto import RefundCrypto


# ------------------------------------------------------------------------------------- helpers

def rsa_sign(private_pem: str, message: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return base64.b64encode(key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa_verify(public_pem: str, message: str, sign: str) -> bool:
    key = serialization.load_pem_public_key(public_pem.encode())
    try:
        key.verify(base64.b64decode(sign), message.encode(), padding.PKCS1v15(), hashes.SHA256())
        return True
    except Exception:
        return False


def wx_sign(data: dict, api_key: str) -> str:
    text = "&".join(f"{k}={data[k]}" for k in sorted(data) if data[k] not in (None, "") and k != "sign")
    return hashlib.md5(f"{text}&key={api_key}".encode()).hexdigest().upper()


def wx_xml(data: dict) -> str:
    return "<xml>" + "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in data.items()) + "</xml>"


def self_signed_cert(tmp_path) -> tuple[str, str]:
    """A merchant 'API certificate' pair written to files (the fake gateway accepts it)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "merchant")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "apiclient_cert.pem", tmp_path / "apiclient_key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


class _Server:
    def __init__(self, handler_factory):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_factory)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ------------------------------------------------------------------------------------- Alipay

class FakeAlipay:
    def __init__(self, *, app_id: str, app_public_pem: str, alipay_private_pem: str, seller_id: str = "2088000000000001"):
        self.app_id = app_id
        self.app_public_pem = app_public_pem
        self.alipay_private_pem = alipay_private_pem
        self.seller_id = seller_id
        self.trades: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.calls: list[tuple[str, dict]] = []
        self.bad_signatures = 0
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                params = dict(parse_qsl(urlparse(self.path).query, keep_blank_values=True))
                body = fake._handle(params)
                raw = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = _Server(Handler)
        self.url = f"http://127.0.0.1:{self.server.port}/gateway.do"

    def stop(self) -> None:
        self.server.stop()

    # -- gateway
    def _answer(self, response_type: str, obj: dict) -> str:
        content = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
        return '{"%s":%s,"sign":"%s"}' % (response_type, content, rsa_sign(self.alipay_private_pem, content))

    def _handle(self, params: dict) -> str:
        sign = params.pop("sign", "")
        message = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        if not rsa_verify(self.app_public_pem, message, sign) or params.get("app_id") != self.app_id:
            self.bad_signatures += 1
            return json.dumps({"error_response": {"code": "40002", "msg": "Invalid Arguments",
                                                  "sub_code": "isv.invalid-signature"}})
        method = params["method"]
        biz = json.loads(params.get("biz_content") or "{}")
        self.calls.append((method, biz))
        rtype = method.replace(".", "_") + "_response"
        fail = {"code": "40004", "msg": "Business Failed"}
        with self.lock:
            trade = self.trades.get(biz.get("out_trade_no", ""))
            if method == "alipay.trade.query":
                if trade is None:
                    return self._answer(rtype, {**fail, "sub_code": "ACQ.TRADE_NOT_EXIST"})
                return self._answer(rtype, {"code": "10000", "msg": "Success", "out_trade_no": biz["out_trade_no"],
                                            "trade_no": trade["trade_no"], "trade_status": trade["status"],
                                            "total_amount": trade["total_amount"]})
            if method == "alipay.trade.close":
                if trade is None:
                    return self._answer(rtype, {**fail, "sub_code": "ACQ.TRADE_NOT_EXIST"})
                if trade["status"] != "WAIT_BUYER_PAY":
                    return self._answer(rtype, {**fail, "sub_code": "ACQ.TRADE_STATUS_ERROR"})
                trade["status"] = "TRADE_CLOSED"
                return self._answer(rtype, {"code": "10000", "msg": "Success", "out_trade_no": biz["out_trade_no"]})
            if method == "alipay.trade.refund":
                if trade is None or trade["status"] != "TRADE_SUCCESS":
                    return self._answer(rtype, {**fail, "sub_code": "ACQ.TRADE_STATUS_ERROR"})
                no = biz["out_request_no"]
                if no not in self.refunds:
                    already = sum(int(float(r["amount"]) * 100 + 0.5) for r in self.refunds.values()
                                  if r["out_trade_no"] == biz["out_trade_no"])
                    amount = int(float(biz["refund_amount"]) * 100 + 0.5)
                    if already + amount > int(float(trade["total_amount"]) * 100 + 0.5):
                        return self._answer(rtype, {**fail, "sub_code": "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"})
                    self.refunds[no] = {"out_trade_no": biz["out_trade_no"], "amount": biz["refund_amount"]}
                    change = "Y"
                else:
                    change = "N"  # same out_request_no: no second payout
                return self._answer(rtype, {"code": "10000", "msg": "Success", "trade_no": trade["trade_no"],
                                            "out_trade_no": biz["out_trade_no"], "fund_change": change,
                                            "refund_fee": self.refunds[no]["amount"]})
            if method == "alipay.trade.fastpay.refund.query":
                r = self.refunds.get(biz.get("out_request_no", ""))
                if r is None:
                    return self._answer(rtype, {"code": "10000", "msg": "Success"})
                return self._answer(rtype, {"code": "10000", "msg": "Success", "refund_amount": r["amount"],
                                            "refund_status": "REFUND_SUCCESS"})
        return self._answer(rtype, {**fail, "sub_code": "ACQ.UNKNOWN"})

    # -- buyer side
    def open_trade(self, out_trade_no: str, total_amount: str) -> None:
        with self.lock:
            self.trades.setdefault(out_trade_no, {"status": "WAIT_BUYER_PAY", "total_amount": total_amount,
                                                  "trade_no": "2026" + secrets.token_hex(10)})

    def buyer_pays(self, out_trade_no: str, total_amount: str) -> dict:
        """The buyer pays; returns the notification fields Alipay would POST."""
        self.open_trade(out_trade_no, total_amount)
        with self.lock:
            trade = self.trades[out_trade_no]
            trade["status"] = "TRADE_SUCCESS"
        return {"app_id": self.app_id, "out_trade_no": out_trade_no, "trade_no": trade["trade_no"],
                "trade_status": "TRADE_SUCCESS", "total_amount": total_amount, "seller_id": self.seller_id,
                "notify_time": "2026-11-24 10:00:00", "notify_type": "trade_status_sync",
                "notify_id": secrets.token_hex(8), "charset": "utf-8", "version": "1.0"}

    def notification_body(self, fields: dict, *, private_pem: str | None = None) -> bytes:
        """Form body signed like Alipay (sign over sorted k=v without sign/sign_type)."""
        message = "&".join(f"{k}={v}" for k, v in sorted(fields.items()) if k not in ("sign", "sign_type"))
        signed = {**fields, "sign_type": "RSA2", "sign": rsa_sign(private_pem or self.alipay_private_pem, message)}
        return urlencode(signed).encode()


# ------------------------------------------------------------------------------------- WeChat

class FakeWeChat:
    def __init__(self, *, app_id: str, mch_id: str, api_key: str):
        self.app_id, self.mch_id, self.api_key = app_id, mch_id, api_key
        self.orders: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.calls: list[tuple[str, dict]] = []
        self.bad_signatures = 0
        self.answer_prefix = ""  # tests: put e.g. a DOCTYPE in front of every (signed) answer
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                data = xmltodict.parse(self.rfile.read(length))["xml"]
                raw = (fake.answer_prefix + fake._handle(urlparse(self.path).path.lstrip("/"), dict(data))).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = _Server(Handler)
        self.url = f"http://127.0.0.1:{self.server.port}/"

    def stop(self) -> None:
        self.server.stop()

    def _signed(self, data: dict) -> str:
        data = {k: v for k, v in data.items() if v is not None}
        data.setdefault("nonce_str", secrets.token_hex(8))
        data["sign"] = wx_sign(data, self.api_key)
        return wx_xml(data)

    def _handle(self, path: str, data: dict) -> str:
        if data.get("sign") != wx_sign(data, self.api_key) or data.get("mch_id") != self.mch_id \
                or data.get("appid") != self.app_id:
            self.bad_signatures += 1
            return wx_xml({"return_code": "FAIL", "return_msg": "SIGNERROR"})
        self.calls.append((path, data))
        base = {"return_code": "SUCCESS", "return_msg": "OK", "appid": self.app_id, "mch_id": self.mch_id}
        fail = lambda code: self._signed({**base, "result_code": "FAIL", "err_code": code, "err_code_des": code})  # noqa: E731
        with self.lock:
            no = data.get("out_trade_no", "")
            order = self.orders.get(no)
            if path == "pay/unifiedorder":
                if order and order["state"] == "SUCCESS":
                    return fail("ORDERPAID")
                self.orders[no] = order = {"state": "NOTPAY", "total_fee": int(data["total_fee"]),
                                           "transaction_id": "4200" + secrets.token_hex(10),
                                           "trade_type": data["trade_type"], "openid": data.get("openid")}
                out = {**base, "result_code": "SUCCESS", "prepay_id": "wx" + secrets.token_hex(10),
                       "trade_type": data["trade_type"]}
                if data["trade_type"] == "NATIVE":
                    out["code_url"] = "weixin://wxpay/bizpayurl?pr=" + secrets.token_hex(4)
                if data["trade_type"] == "MWEB":
                    out["mweb_url"] = "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=x"
                return self._signed(out)
            if path == "pay/orderquery":
                if order is None:
                    return fail("ORDERNOTEXIST")
                return self._signed({**base, "result_code": "SUCCESS", "out_trade_no": no,
                                     "trade_state": order["state"], "total_fee": str(order["total_fee"]),
                                     "transaction_id": order["transaction_id"]})
            if path == "pay/closeorder":
                if order is None:
                    return fail("ORDERNOTEXIST")
                if order["state"] == "SUCCESS":
                    return fail("ORDERPAID")
                order["state"] = "CLOSED"
                return self._signed({**base, "result_code": "SUCCESS"})
            if path == "secapi/pay/refund":
                if order is None or order["state"] != "SUCCESS":
                    return fail("TRADE_STATE_ERROR")
                rno = data["out_refund_no"]
                if rno not in self.refunds:
                    already = sum(r["refund_fee"] for r in self.refunds.values() if r["out_trade_no"] == no)
                    fee = int(data["refund_fee"])
                    if already + fee > order["total_fee"] or int(data["total_fee"]) != order["total_fee"]:
                        return fail("INVALID_REQUEST")
                    self.refunds[rno] = {"out_trade_no": no, "refund_fee": fee, "status": "PROCESSING",
                                         "refund_id": "5030" + secrets.token_hex(8),
                                         "transaction_id": order["transaction_id"], "total_fee": order["total_fee"]}
                r = self.refunds[rno]
                return self._signed({**base, "result_code": "SUCCESS", "out_trade_no": no, "out_refund_no": rno,
                                     "refund_id": r["refund_id"], "refund_fee": str(r["refund_fee"])})
            if path == "pay/refundquery":
                r = self.refunds.get(data.get("out_refund_no", ""))
                if r is None:
                    return fail("REFUNDNOTEXIST")
                return self._signed({**base, "result_code": "SUCCESS", "refund_count": "1",
                                     "out_refund_no_0": data["out_refund_no"], "refund_id_0": r["refund_id"],
                                     "refund_status_0": r["status"], "refund_fee_0": str(r["refund_fee"])})
        return fail("NOT_FOUND")

    # -- buyer side
    def buyer_pays(self, out_trade_no: str) -> dict:
        with self.lock:
            order = self.orders[out_trade_no]
            order["state"] = "SUCCESS"
        return {"return_code": "SUCCESS", "appid": self.app_id, "mch_id": self.mch_id, "result_code": "SUCCESS",
                "out_trade_no": out_trade_no, "transaction_id": order["transaction_id"],
                "total_fee": str(order["total_fee"]), "fee_type": "CNY", "trade_type": order["trade_type"],
                "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "nonce_str": secrets.token_hex(8),
                "time_end": "20261124100000", "bank_type": "OTHERS", "cash_fee": str(order["total_fee"])}

    def notification_body(self, fields: dict, *, api_key: str | None = None) -> bytes:
        data = dict(fields)
        data["sign"] = wx_sign(data, api_key or self.api_key)
        return wx_xml(data).encode()

    def settle_refund(self, out_refund_no: str, status: str = "SUCCESS") -> bytes:
        """Finish a refund and return the encrypted refund notification WeChat would POST."""
        with self.lock:
            r = self.refunds[out_refund_no]
            r["status"] = status
        root = {"out_refund_no": out_refund_no, "out_trade_no": r["out_trade_no"], "refund_id": r["refund_id"],
                "transaction_id": r["transaction_id"], "refund_fee": str(r["refund_fee"]),
                "total_fee": str(r["total_fee"]), "refund_status": status,
                "settlement_refund_fee": str(r["refund_fee"])}
        plain = "<root>" + "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in root.items()) + "</root>"
        key = WeChatRefundCrypto(self.api_key).key
        req_info = RefundCrypto(key).encrypt(plain).decode()
        return wx_xml({"return_code": "SUCCESS", "appid": self.app_id, "mch_id": self.mch_id,
                       "nonce_str": secrets.token_hex(8), "req_info": req_info}).encode()


# ------------------------------------------------------------------------------------- WeChat OAuth

class FakeWeChatOAuth:
    """GET /sns/oauth2/access_token like api.weixin.qq.com: checks appid/secret/grant_type, each
    code works once and yields its openid. `mode`: "ok", "error" (errcode JSON for every code),
    "slow" (answers after `delay` seconds), "not_json", "http_500"."""

    def __init__(self, *, app_id: str, secret: str):
        self.app_id, self.secret = app_id, secret
        self.codes: dict[str, str] = {}
        self.calls: list[dict] = []
        self.mode = "ok"
        self.errcode = 40029
        self.delay = 3.0
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                url = urlparse(self.path)
                params = dict(parse_qsl(url.query, keep_blank_values=True))
                status, body = fake._handle(url.path, params)
                raw = body.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:  # the client gave up (timeout test)
                    pass

        self.server = _Server(Handler)
        self.url = f"http://127.0.0.1:{self.server.port}/"

    def stop(self) -> None:
        self.server.stop()

    def issue_code(self, openid: str) -> str:
        """What WeChat appends to the redirect_uri after the user authorises."""
        code = secrets.token_hex(16)
        with self.lock:
            self.codes[code] = openid
        return code

    def _handle(self, path: str, params: dict) -> tuple[int, str]:
        import time

        with self.lock:
            self.calls.append({"path": path, **params})
        if self.mode == "slow":
            time.sleep(self.delay)
        if self.mode == "http_500":
            return 500, "oops"
        if self.mode == "not_json":
            return 200, "<html>not json</html>"
        if path != "/sns/oauth2/access_token":
            return 404, json.dumps({"errcode": 404, "errmsg": "not found"})
        if params.get("appid") != self.app_id or params.get("secret") != self.secret:
            return 200, json.dumps({"errcode": 40125, "errmsg": "invalid appsecret"})
        if params.get("grant_type") != "authorization_code":
            return 200, json.dumps({"errcode": 40002, "errmsg": "invalid grant_type"})
        if self.mode == "error":
            return 200, json.dumps({"errcode": self.errcode, "errmsg": "invalid code, rid: 1"})
        with self.lock:
            openid = self.codes.pop(params.get("code", ""), None)
        if openid is None:
            return 200, json.dumps({"errcode": 40163, "errmsg": "code been used, rid: 2"})
        return 200, json.dumps({"access_token": "ACCESS_" + secrets.token_hex(8), "expires_in": 7200,
                                "refresh_token": "REFRESH_" + secrets.token_hex(8), "openid": openid,
                                "scope": "snsapi_base", "is_snapshotuser": 0})
