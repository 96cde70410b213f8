"""Learner-side shop states: buy bar, cart, order/checkout page, sandbox cashier, my orders,
message centre.

Thin, like every state here: each public method is a remote endpoint, so it checks the type and
size of every argument and route parameter before anything else, takes the actor only from the
server-side session (`self._actor_id()`), passes ids and order numbers (never prices, amounts or
user ids) to one commerce service, and copies the DTO into plain str/int/bool/list[dict] vars.
Anything that may call a payment gateway (start payment, refresh status, cancel, refund) runs in a
worker thread with its own database session (`asyncio.to_thread`), never on the event loop.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar

import reflex as rx
from starlette.datastructures import UploadFile as StarletteUploadFile

from coursemall import urls
from coursemall.db import session_scope
from coursemall.domain.errors import DomainError
from coursemall.domain.money import format_fen
from coursemall.domain.orders import (
    PAYABLE_CHANNELS,
    Channel,
    ClientKind,
    ItemType,
    LineRefund,
    OrderStatus,
    parse_order_no,
)
from coursemall.domain.time import china_time_text
from coursemall.domain.validation import parse_id
from coursemall.payments import registry
from coursemall.services.commerce import cart as cart_service
from coursemall.services.commerce import checkout as checkout_service
from coursemall.services.commerce import manual_pay as manual_service
from coursemall.services.community import messages as messages_service
from coursemall.services.commerce import payments as payments_service
from coursemall.services.commerce import refunds as refunds_service
from coursemall.services.accounts import wechat_oauth
from coursemall.settings import get_settings
from coursemall.state.dashboard.analytics import track_checkout_view
from coursemall.state.base import FAILED, AppState
from coursemall.state.feedback import FeedbackMixin
from coursemall.urls import public_url

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_FIELD = 2000  # longest string any shop form field may carry before it is even looked at
MAX_REASON = 200
MAX_REFERENCE = 64
_LINE_KEY = re.compile(r"^line-(\d{1,10})$")
SANDBOX_OUTCOMES = ("pay", "fail", "close")


def _in_session(fn: Callable[..., T], **kwargs: Any) -> T:
    """Run one service in its own unit of work (also from a worker thread)."""
    with session_scope() as s:
        return fn(s, **kwargs)


def _safe_url(url: object) -> str:
    """Only same-site paths and http(s) URLs are ever navigated to."""
    if isinstance(url, str) and len(url) <= 4096 and (
            url.startswith(("https://", "http://")) or (url.startswith("/") and not url.startswith("//"))):
        return url
    return ""


def _payer_ip(raw: object) -> str:
    """The payer's IP for the gateway (WeChat H5/JSAPI spbill_create_ip): a valid address or ''.
    It is the websocket peer, or the X-Forwarded-For hop chosen by Reflex's `trusted_proxy_hops`."""
    if not isinstance(raw, str) or not raw or len(raw) > 64:
        return ""
    try:
        ip = ipaddress.ip_address(raw.strip().split("%", 1)[0])
    except ValueError:
        return ""
    mapped = getattr(ip, "ipv4_mapped", None)
    return str(mapped or ip)[:45]


# WeixinJSBridge call: a constant script; the only data are JSON literals (json.dumps of the
# gateway's signed params and of our own order URL), never concatenated untrusted text.
_JSAPI_SCRIPT = (
    "(function(params,back){var go=function(){WeixinJSBridge.invoke('getBrandWCPayRequest',params,"
    "function(res){window.location.assign(back);});};"
    "if(typeof WeixinJSBridge==='undefined'){document.addEventListener('WeixinJSBridgeReady',go,false);}"
    "else{go();}})(%s,%s)")
_JSAPI_PARAM_KEYS = ("appId", "timeStamp", "nonceStr", "package", "signType", "paySign")


def _jsapi_script(params: dict, back: str) -> str:
    clean = {k: str(params[k]) for k in _JSAPI_PARAM_KEYS if k in params}
    return _JSAPI_SCRIPT % (json.dumps(clean), json.dumps(back))


def _navigate_script(url: str) -> str:
    """A full page load (rx.redirect would route /api/... inside the single-page app)."""
    return "window.location.assign(%s)" % json.dumps(url)


def _valid_item(item_type: object, item_id: object) -> tuple[str, int] | None:
    if not isinstance(item_type, str) or item_type not in (ItemType.COURSE.value, ItemType.BUNDLE.value):
        return None
    try:
        return item_type, parse_id(item_id)
    except DomainError:
        return None


class _ShopMixin(FeedbackMixin, mixin=True):
    """Form messages and helpers copied into each shop state (no public methods)."""

    def _route_order_no(self) -> str | None:
        """The [order_no] route segment, checked against the service's format."""
        try:
            return parse_order_no(self._route_param("order_no"))
        except DomainError:
            return None

    def _client_kind(self) -> str:
        ua = (self.router.headers.user_agent or "")[:512]
        if "MicroMessenger" in ua:
            return ClientKind.WECHAT.value
        if any(k in ua for k in ("Mobile", "Android", "iPhone", "iPad")):
            return ClientKind.MOBILE.value
        return ClientKind.DESKTOP.value

    def _status_text(self, status: str) -> str:
        return self._t(f"order.status.{status}") if status in {s.value for s in OrderStatus} else status


# ------------------------------------------------------------------------- course page buy bar

class BuyState(_ShopMixin, AppState):
    """The buy bar of /course/[course_id] and /bundle/[bundle_id]: add to cart, buy now, claim free."""

    def _sign_in_first(self, item_type: str, item_id: int):
        next_path = (urls.course_url(item_id) if item_type == ItemType.COURSE
                     else urls.bundle_url(item_id) if item_type == ItemType.BUNDLE else urls.HOME)
        return rx.redirect(urls.sign_in_url(next_path))

    @rx.event
    def add_to_cart(self, item_type: str, item_id: int):
        item = _valid_item(item_type, item_id)
        if item is None:
            return self._fail("error.bad_request")
        user_id = self._actor_id()
        if user_id is None:
            return self._sign_in_first(*item)
        try:
            _in_session(cart_service.add_to_cart, actor_id=user_id, item_type=item[0], item_id=item[1])
        except Exception as exc:  # noqa: BLE001 - shown as a message, logged when unexpected
            return self._failed(exc)
        self._ok("buy.added")

    @rx.event
    async def buy_now(self, item_type: str, item_id: int):
        item = _valid_item(item_type, item_id)
        if item is None:
            return self._fail("error.bad_request")
        user_id = self._actor_id()
        if user_id is None:
            return self._sign_in_first(*item)
        view = await self._run(checkout_service.buy_now, actor_id=user_id, item_type=item[0], item_id=item[1],
                               client_kind=self._client_kind())
        if view is FAILED:
            return
        if view.status == OrderStatus.PAID:  # a free course: the order completed at once
            self._ok("buy.claimed")
            from coursemall.state.catalog.storefront import CourseState

            return CourseState.load
        self.error = self.success = ""
        return rx.redirect(urls.order_url(view.out_trade_no))

    @rx.event
    def clear_message(self):
        self.error = self.success = ""


# ------------------------------------------------------------------------- cart

class CartState(_ShopMixin, AppState):
    """/cart: the signed-in learner's cart; totals computed by the service on every read."""

    lines: list[dict[str, str]] = []
    total: str = ""
    count: int = 0
    purchasable: int = 0
    loaded: bool = False

    def _show(self, view: cart_service.CartView) -> None:
        self.lines = [{
            "key": f"{ln.item_type}-{ln.item_id}",
            "type": ln.item_type,
            "id": str(ln.item_id),
            "title": ln.title,
            "cover": public_url(ln.cover_path or ""),
            "price": ln.price,
            "original": format_fen(ln.original_price_fen)
            if ln.original_price_fen > ln.price_fen else "",
            "href": urls.course_url(ln.item_id) if ln.item_type == ItemType.COURSE else "",
            "available": "1" if ln.available else "",
            "note": self._t(ln.note) if ln.note else "",
        } for ln in view.lines]
        self.total = view.total
        self.count = view.count
        self.purchasable = sum(1 for ln in view.lines if ln.available)
        self.loaded = True

    @rx.event
    def load_cart(self):
        self.error = self.success = ""
        user_id = self._actor_id()
        if user_id is None:
            self.lines, self.total, self.count, self.purchasable = [], "", 0, 0
            return rx.redirect(urls.sign_in_url(urls.CART), replace=True)
        try:
            self._show(_in_session(cart_service.get_cart, actor_id=user_id))
        except Exception as exc:  # noqa: BLE001
            self._failed(exc)

    @rx.event
    def remove_item(self, item_type: str, item_id: str):
        item = _valid_item(item_type, item_id)
        if item is None:
            return self._fail("error.bad_request")
        user_id = self._signed_in_actor()
        if user_id is None:
            return
        try:
            self._show(_in_session(cart_service.remove_from_cart, actor_id=user_id, item_type=item[0],
                                   item_id=item[1]))
        except Exception as exc:  # noqa: BLE001
            return self._failed(exc)
        self._ok("cart.removed")

    @rx.event
    def checkout(self):
        user_id = self._signed_in_actor()
        if user_id is None:
            return rx.redirect(urls.sign_in_url(urls.CART))
        try:
            view = _in_session(checkout_service.checkout_cart, actor_id=user_id,
                               client_kind=self._client_kind())
        except Exception as exc:  # noqa: BLE001
            return self._failed(exc)
        self.error = self.success = ""
        return rx.redirect(urls.order_url(view.out_trade_no))


# ------------------------------------------------------------------------- order / checkout page

def _load_order_work(user_id: int, order_no: str) -> tuple[checkout_service.OrderView, list, bool]:
    """Worker thread: query the gateway when still pending (refresh_order_status), then refunds."""
    with session_scope() as s:
        view = checkout_service.refresh_order_status(s, actor_id=user_id, order_no=order_no)
        refunds = refunds_service.list_my_refunds(s, actor_id=user_id, order_no=order_no)
        manual = manual_service.get_manual_settings(s).enabled
    return view, refunds, manual


class OrderState(_ShopMixin, AppState):
    """/order/[order_no]: status, lines, paying, cancelling, manual-transfer proof, refunds."""

    order_no: str = ""
    status: str = ""
    status_text: str = ""
    channel_text: str = ""
    total: str = ""
    refunded: str = ""
    created: str = ""
    paid_at: str = ""
    expires_text: str = ""
    lines: list[dict[str, str]] = []
    refunds: list[dict[str, str]] = []
    extra_payments: list[dict[str, str]] = []  # second / off-channel payments and their return
    channels: list[dict[str, str]] = []
    default_channel: str = ""
    test_mode: bool = False  # the sandbox channel is offered: say so on the page
    can_pay: bool = False
    can_cancel: bool = False
    can_refund: bool = False
    pay_kind: str = ""  # '' | qr | manual | redirect
    pay_qr: str = ""  # data: URL of a PNG (WeChat Native)
    manual_qr: str = ""
    manual_instructions: str = ""
    proof_waiting: bool = False
    proof_reference: str = ""
    loaded: bool = False
    not_found: bool = False

    _refundable_line_ids: list[int] = []
    _wxpay_continued: str = ""  # order number whose ?wxpay=1 return from OAuth was already continued

    def _reset(self) -> None:
        self.order_no = self.status = self.status_text = self.channel_text = ""
        self.total = self.refunded = self.created = self.paid_at = self.expires_text = ""
        self.lines, self.refunds, self.channels, self.extra_payments = [], [], [], []
        self.can_pay = self.can_cancel = self.can_refund = False
        self.pay_kind = self.pay_qr = self.manual_qr = self.manual_instructions = ""
        self.proof_waiting = False
        self._refundable_line_ids = []

    def _offered_channels(self, manual_enabled: bool) -> list[dict[str, str]]:
        out = []
        for name in registry.enabled_channels():
            if name not in {c.value for c in PAYABLE_CHANNELS}:
                continue
            if name == Channel.MANUAL and not manual_enabled:
                continue
            out.append({"name": name, "label": self._t(f"pay.channel.{name}"),
                        "test": "1" if name == Channel.SANDBOX else ""})
        return out

    def _show(self, view: checkout_service.OrderView, refunds: list, manual_enabled: bool) -> None:
        self.order_no = view.out_trade_no
        self.status = view.status
        self.status_text = self._status_text(view.status)
        self.channel_text = self._t(f"pay.channel.{view.channel}") if view.channel else ""
        self.total = view.total
        self.refunded = format_fen(view.refunded_fen) if view.refunded_fen else ""
        self.created = china_time_text(view.created_at)
        self.paid_at = china_time_text(view.paid_at)
        self.expires_text = self._t("order.expires", time=china_time_text(view.expires_at)) if view.can_pay else ""
        paid_like = view.status in (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDING)
        self.lines = [{
            "id": str(ln.id),
            "type": ln.item_type,
            "title": ln.title,
            "price": ln.price,
            "original": format_fen(ln.original_price_fen)
            if ln.original_price_fen > ln.unit_price_fen else "",
            "href": urls.course_url(ln.item_id) if ln.item_type == ItemType.COURSE else "",
            "learn": "1" if paid_like and ln.refund_status != LineRefund.REFUNDED
            and ln.item_type == ItemType.COURSE else "",
            "refund": self._t(f"order.line_refund.{ln.refund_status}") if ln.refund_status else "",
            "refundable": "1" if view.can_refund and ln.refund_status == LineRefund.NONE else "",
        } for ln in view.lines]
        self._refundable_line_ids = [ln.id for ln in view.lines
                                     if view.can_refund and ln.refund_status == LineRefund.NONE]
        self.refunds = [{
            "id": str(r.id), "no": r.out_refund_no, "amount": r.amount,
            "status": self._t(f"refund.status.{r.status}"), "status_key": r.status, "reason": r.reason,
            "decision": r.decision_reason, "date": china_time_text(r.created_at),
        } for r in refunds]
        self.extra_payments = [self._extra_payment_row(p) for p in view.extra_payments]
        self.can_pay, self.can_cancel, self.can_refund = view.can_pay, view.can_cancel, view.can_refund
        self.channels = self._offered_channels(manual_enabled) if view.can_pay else []
        self.test_mode = any(c["test"] == "1" for c in self.channels)
        chosen = view.channel if any(c["name"] == view.channel for c in self.channels) else ""
        if not chosen and self._client_kind() == ClientKind.WECHAT.value and any(
                c["name"] == Channel.WECHAT.value for c in self.channels):
            chosen = Channel.WECHAT.value  # inside WeChat its own pay is the one that works
        self.default_channel = chosen or (self.channels[0]["name"] if self.channels else "")
        if not view.can_pay:
            self.pay_kind = self.pay_qr = ""
        self.loaded = True
        self.not_found = False

    def _extra_payment_row(self, p: checkout_service.ExtraPaymentView) -> dict[str, str]:
        channel = self._t(f"pay.channel.{p.channel}") if p.channel in {c.value for c in Channel} else p.channel
        status = p.refund_status or "approved"
        return {"text": self._t(f"order.extra_payment.{p.role}", amount=p.amount, channel=channel),
                "status": self._t(f"order.extra_refund.{status}"), "status_key": status,
                "date": china_time_text(p.paid_at), "refunded": china_time_text(p.refunded_at)}

    async def _reload(self, user_id: int, order_no: str) -> None:
        view, refunds, manual = await asyncio.to_thread(_load_order_work, user_id, order_no)
        self._show(view, refunds, manual)

    @rx.event
    async def load_order(self):
        self.error = self.success = ""
        order_no = self._route_order_no()
        if order_no is None:
            self._reset()
            self.not_found, self.loaded = True, True
            return self._fail("order.not_found")
        user_id = self._actor_id()
        if user_id is None:
            self._reset()
            return rx.redirect(urls.sign_in_url(urls.order_url(order_no)), replace=True)
        if order_no != self.order_no:
            self._reset()
            self.pay_kind = ""
            self.loaded = False
        try:
            await self._reload(user_id, order_no)
        except Exception as exc:  # noqa: BLE001
            self._reset()
            self.not_found, self.loaded = True, True
            return self._failed(exc)
        await track_checkout_view(order_no, user_id)  # analytics funnel (pending orders only; never fails)
        if self._returned_from_oauth(order_no):
            self._wxpay_continued = order_no  # once: a reload of this URL does not pay again
            return await self._start_payment(user_id, order_no, Channel.WECHAT.value, allow_oauth=False)

    def _returned_from_oauth(self, order_no: str) -> bool:
        """/order/<no>?wxpay=1 (back from WeChat OAuth), inside WeChat, still payable by WeChat."""
        flag = self.router.url.query_parameters.get("wxpay", "")
        return (flag == "1" and self.can_pay and self._wxpay_continued != order_no
                and self._client_kind() == ClientKind.WECHAT.value
                and any(c["name"] == Channel.WECHAT.value for c in self.channels))

    def _target(self) -> tuple[int, str] | None:
        order_no = self._route_order_no()
        if order_no is None:
            self._fail("order.not_found")
            return None
        user_id = self._signed_in_actor()
        if user_id is None:
            return None
        return user_id, order_no

    @rx.event
    async def pay(self, form_data: dict):
        channel = form_data.get("channel") if isinstance(form_data, dict) else None
        if not isinstance(channel, str) or channel not in {c.value for c in PAYABLE_CHANNELS}:
            return self._fail("pay.channel_unavailable")
        target = self._target()
        if target is None:
            return
        user_id, order_no = target
        return await self._start_payment(user_id, order_no, channel)

    async def _start_payment(self, user_id: int, order_no: str, channel: str, *, allow_oauth: bool = True):
        """Start paying by `channel`. WeChat: inside the WeChat browser JSAPI with the learner's
        OAuth openid (none yet → full navigation to the OAuth start route), a phone browser H5
        with the payer's IP, a desktop Native QR."""
        kind = self._client_kind()
        client_ip = _payer_ip(self._client_ip())
        jsapi = channel == Channel.WECHAT.value and kind == ClientKind.WECHAT.value
        if jsapi and not wechat_oauth.is_configured():
            return self._fail("wechat.oauth_unavailable")

        def work() -> checkout_service.PayActionView | None:
            with session_scope() as s:
                openid = wechat_oauth.openid_of(s, actor_id=user_id) if jsapi else ""
                if jsapi and not openid:
                    return None  # the openid stays server-side, in this thread only
                return checkout_service.start_payment(s, actor_id=user_id, order_no=order_no, channel=channel,
                                                      client_kind=kind, openid=openid, client_ip=client_ip)

        try:
            action = await asyncio.to_thread(work)
        except Exception as exc:  # noqa: BLE001
            return self._failed(exc)
        if action is None:
            if not allow_oauth:
                return self._fail("pay.openid_required")
            self.error = self.success = ""
            self.pay_kind = "redirect"
            return rx.call_script(_navigate_script(wechat_oauth.start_url(order_no)))
        self.error = self.success = ""
        self.pay_qr = self.manual_qr = self.manual_instructions = ""
        if action.kind == "qr":
            self.pay_kind = "qr"
            self.pay_qr = action.qr_png if action.qr_png.startswith("data:image/png;base64,") else ""
            return
        if action.kind == "manual":
            self.pay_kind = "manual"
            self.manual_qr = _safe_url(action.url)
            instructions = action.params.get("instructions", "")
            self.manual_instructions = instructions if isinstance(instructions, str) else ""
            return
        if action.kind == "jsapi":
            self.pay_kind = "redirect"
            return rx.call_script(_jsapi_script(action.params, urls.order_url(order_no)))
        url = _safe_url(action.url)
        if not url:
            return self._fail("pay.channel_error")
        self.pay_kind = "redirect"
        return rx.redirect(url)

    @rx.event
    async def cancel_order(self):
        target = self._target()
        if target is None:
            return
        user_id, order_no = target
        try:
            await asyncio.to_thread(_in_session, checkout_service.cancel_order, actor_id=user_id,
                                    order_no=order_no)
            await self._reload(user_id, order_no)
        except Exception as exc:  # noqa: BLE001
            return self._failed(exc)
        self._ok("order.cancelled")

    @rx.event
    def edit_proof_reference(self, value: str):
        if isinstance(value, str) and len(value) <= MAX_REFERENCE * 2:
            self.proof_reference = value
        else:
            self._fail("manual.reference_length", min=1, max=MAX_REFERENCE)

    @rx.event
    async def submit_proof(self, files: list[rx.UploadFile]):
        if (not isinstance(files, list) or len(files) != 1
                or not isinstance(files[0], StarletteUploadFile)):
            return self._fail("order.proof_no_file")
        reference = self.proof_reference.strip()
        if not 1 <= len(reference) <= MAX_REFERENCE:
            return self._fail("manual.reference_length", min=1, max=MAX_REFERENCE)
        target = self._target()
        if target is None:
            return
        user_id, order_no = target
        stream = files[0].file
        limit = manual_service.MAX_IMAGE_BYTES

        def work() -> None:
            data = stream.read(limit + 1)  # never more than the service's limit + 1 byte
            if not isinstance(data, (bytes, bytearray)) or not data:
                raise DomainError("manual.not_image")
            if len(data) > limit:
                raise DomainError("manual.image_too_large")
            _in_session(manual_service.submit_manual_proof, actor_id=user_id, order_no=order_no,
                        image=bytes(data), reference=reference)

        try:
            await asyncio.to_thread(work)
            await self._reload(user_id, order_no)
        except Exception as exc:  # noqa: BLE001
            return self._failed(exc)
        self.proof_reference = ""
        self.proof_waiting = True
        self._ok("order.proof_submitted")

    @rx.event
    async def request_refund(self, form_data: dict):
        if not isinstance(form_data, dict) or len(form_data) > 200:
            return self._fail("error.bad_request")
        reason = form_data.get("reason")
        if not isinstance(reason, str) or len(reason) > MAX_FIELD:
            return self._fail("refund.reason_length", min=1, max=MAX_REASON)
        chosen: list[int] = []
        for key, value in form_data.items():
            m = _LINE_KEY.match(key) if isinstance(key, str) else None
            if m is None:
                continue
            if value in ("on", True, "true", "1"):
                chosen.append(int(m.group(1)))
        if not chosen or not set(chosen) <= set(self._refundable_line_ids):
            return self._fail("refund.bad_lines")
        target = self._target()
        if target is None:
            return
        user_id, order_no = target
        try:
            refund = await asyncio.to_thread(
                _in_session, refunds_service.request_refund, actor_id=user_id, order_no=order_no,
                line_ids=sorted(set(chosen)), reason=reason)
            await self._reload(user_id, order_no)
        except Exception as exc:  # noqa: BLE001
            return self._failed(exc)
        self._ok("order.refund_requested", status=self._t(f"refund.status.{refund.status}"))


# ------------------------------------------------------------------------- sandbox cashier

class SandboxCashierState(_ShopMixin, AppState):
    """/pay/sandbox/[order_no]: the test-mode cashier (pay / fail / close)."""

    order_no: str = ""
    total: str = ""
    shop_name: str = ""
    status_text: str = ""
    payable: bool = False
    loaded: bool = False

    @rx.event
    def load_cashier(self):
        self.error = self.success = ""
        self.shop_name = get_settings().shop_name
        order_no = self._route_order_no()
        self.payable = False
        if order_no is None:
            self.order_no, self.total, self.loaded = "", "", True
            return self._fail("order.not_found")
        user_id = self._actor_id()
        if user_id is None:
            return rx.redirect(urls.sign_in_url(urls.sandbox_cashier_url(order_no)), replace=True)
        try:
            view = _in_session(checkout_service.get_my_order, actor_id=user_id, order_no=order_no)
        except Exception as exc:  # noqa: BLE001
            self.order_no, self.total, self.loaded = "", "", True
            return self._failed(exc)
        self.order_no, self.total = view.out_trade_no, view.total
        self.status_text = self._status_text(view.status)
        self.payable = view.can_pay
        if Channel.SANDBOX.value not in registry.enabled_channels():
            self.payable = False  # a switched-off sandbox takes no decisions (the service refuses too)
            self._fail("pay.channel_unavailable")
        elif view.channel not in ("", Channel.SANDBOX.value):
            self.payable = False  # the order was started on a real channel: only that one completes it
            self._fail("pay.wrong_channel")
        elif not view.can_pay:
            self._fail("cashier.not_payable")
        self.loaded = True

    @rx.event
    async def decide(self, outcome: str):
        if not isinstance(outcome, str) or outcome not in SANDBOX_OUTCOMES:
            return self._fail("error.bad_request")
        order_no = self._route_order_no()
        if order_no is None:
            return self._fail("order.not_found")
        user_id = self._signed_in_actor()
        if user_id is None:
            return
        try:
            await asyncio.to_thread(_in_session, payments_service.sandbox_decide, actor_id=user_id,
                                    order_no=order_no, outcome=outcome)
        except Exception as exc:  # noqa: BLE001
            return self._failed(exc)
        return rx.redirect(urls.order_url(order_no))


# ------------------------------------------------------------------------- my orders

class MyOrdersState(_ShopMixin, AppState):
    """/orders[?status=...]: the learner's orders, newest first."""

    orders: list[dict[str, str]] = []
    status_filter: str = ""
    loaded: bool = False

    @rx.event
    def load_orders(self):
        self.error = self.success = ""
        raw = self.router.url.query_parameters.get("status", "")
        status = raw if isinstance(raw, str) and raw in {s.value for s in OrderStatus} else ""
        self.status_filter = status
        user_id = self._actor_id()
        if user_id is None:
            self.orders = []
            return rx.redirect(urls.sign_in_url(urls.ORDERS), replace=True)
        try:
            views = _in_session(checkout_service.list_my_orders, actor_id=user_id, status=status or None,
                                limit=50)
        except Exception as exc:  # noqa: BLE001
            self.orders = []
            return self._failed(exc)
        self.orders = [{
            "no": v.out_trade_no,
            "href": urls.order_url(v.out_trade_no),
            "status": v.status,
            "status_text": self._status_text(v.status),
            "total": v.total,
            "date": china_time_text(v.created_at),
            "summary": (v.lines[0].title if len(v.lines) == 1 else self._t(
                "orders.items", first=v.lines[0].title, count=len(v.lines), more=len(v.lines) - 1))
            if v.lines else "",
        } for v in views]
        self.loaded = True


# ------------------------------------------------------------------------- message centre

class MessageCenterState(_ShopMixin, AppState):
    """/messages: newest first, unread highlighted, mark all read."""

    items: list[dict[str, str]] = []
    loaded: bool = False

    def _load(self, user_id: int) -> None:
        views = _in_session(messages_service.list_messages, actor_id=user_id, limit=50)
        self.items = [{
            "id": str(m.id), "kind": m.kind, "title": m.title, "body": m.body,
            "link": _safe_url(m.link) if m.link.startswith("/") else "",
            "unread": "" if m.read else "1", "date": china_time_text(m.created_at),
        } for m in views]
        self.loaded = True

    @rx.event
    def load_messages(self):
        self.error = self.success = ""
        user_id = self._actor_id()
        if user_id is None:
            self.items = []
            return rx.redirect(urls.sign_in_url(urls.MESSAGES), replace=True)
        try:
            self._load(user_id)
        except Exception as exc:  # noqa: BLE001
            self._failed(exc)

    @rx.event
    def read_all(self):
        user_id = self._signed_in_actor()
        if user_id is None:
            return
        try:
            _in_session(messages_service.mark_read, actor_id=user_id)
            self._load(user_id)
        except Exception as exc:  # noqa: BLE001
            return self._failed(exc)
        self.unread_count = 0
        self._ok("messages.marked")
