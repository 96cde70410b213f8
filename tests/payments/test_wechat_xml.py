"""WeChat XML with a DOCTYPE or entity declaration is refused before any parser sees it —
notifications, refund notifications and gateway answers — and nothing is recorded as verified.
Real wechatpy code against the loopback fake gateway; SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import xmltodict
from sqlmodel import select

from coursemall.domain.errors import DomainError
from coursemall.models import PaymentEvent
from coursemall.payments.xml_guard import UnsafeXml, check_xml
from coursemall.services.commerce import checkout, payments
from tests.payments.factories import active_grants, make_course, make_user, order_row, payments_of
from tests.payments.fakes import wx_xml
from tests.payments.fixtures import wechat  # noqa: F401

BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "ha">'
                  + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
                  + ']><xml><return_code>&j;</return_code></xml>')
EXTERNAL_ENTITY = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                   '<xml><return_code>SUCCESS</return_code><out_trade_no>&xxe;</out_trade_no></xml>')
PARAMETER_ENTITY = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/x.dtd">'
                    '%remote;]><xml><return_code>SUCCESS</return_code></xml>')
EXTERNAL_DTD = '<?xml version="1.0"?><!DOCTYPE xml SYSTEM "http://127.0.0.1:9/evil.dtd">'
PAYLOADS = {
    "billion_laughs": BILLION_LAUGHS.encode(),
    "external_entity": EXTERNAL_ENTITY.encode(),
    "parameter_entity": PARAMETER_ENTITY.encode(),
    "utf16_external_entity": EXTERNAL_ENTITY.replace('version="1.0"', 'version="1.0" encoding="UTF-16"').encode("utf-16"),
    "latin1_declared": EXTERNAL_ENTITY.replace('version="1.0"', 'version="1.0" encoding="ISO-8859-1"').encode(),
}


@pytest.fixture
def parses(monkeypatch):
    """Every call of xmltodict.parse (wechatpy's and ours) from here on."""
    calls: list[object] = []
    real = xmltodict.parse

    def spy(xml_input, *args, **kwargs):
        calls.append(xml_input)
        return real(xml_input, *args, **kwargs)

    monkeypatch.setattr(xmltodict, "parse", spy)
    return calls


def _pending_wechat_order(session):
    user = make_user(session)
    order = checkout.buy_now(session, actor_id=user.id, item_type="course",
                             item_id=make_course(session, price_fen=990).id)
    checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="wechat")
    return user, order


@pytest.mark.parametrize("name", sorted(PAYLOADS))
@pytest.mark.parametrize("route", ["wechat", "wechat-refund"])
def test_hostile_notifications_are_refused_unparsed(session, wechat, parses, name, route):
    user, order = _pending_wechat_order(session)
    parses.clear()  # from here on
    ack = payments.handle_notification(session, channel=route, body=PAYLOADS[name], headers={})
    assert ack.status_code == 400 and "FAIL" in ack.body and "unsafe_xml" in ack.body
    assert parses == []  # nothing parsed
    (event,) = session.exec(select(PaymentEvent)).all()
    assert (event.verified, event.outcome) == (False, "rejected:unsafe_xml")
    assert order_row(session, order.out_trade_no).status == "pending"
    assert payments_of(session, order.out_trade_no) == [] and active_grants(session, user.id) == []


def test_a_signed_notification_behind_an_external_dtd_is_refused(session, wechat, parses):
    """The body is a genuine, correctly signed payment — only the DOCTYPE in front is foreign.
    Without the guard wechatpy would accept it (expat does not fetch external DTDs)."""
    user, order = _pending_wechat_order(session)
    body = wechat.fake.notification_body(wechat.fake.buyer_pays(order.out_trade_no))
    parses.clear()  # from here on
    ack = payments.handle_notification(session, channel="wechat", body=EXTERNAL_DTD.encode() + body, headers={})
    assert ack.status_code == 400 and parses == []
    assert order_row(session, order.out_trade_no).status == "pending"
    # the same body without the DOCTYPE is accepted
    ack = payments.handle_notification(session, channel="wechat", body=body, headers={})
    assert ack.status_code == 200 and order_row(session, order.out_trade_no).status == "paid"


@pytest.mark.parametrize("prefix", [EXTERNAL_DTD, BILLION_LAUGHS.split("<xml>")[0]])
def test_gateway_answers_with_a_dtd_are_not_trusted(session, wechat, prefix):
    user, order = _pending_wechat_order(session)
    wechat.fake.buyer_pays(order.out_trade_no)  # paid; notification lost
    wechat.fake.answer_prefix = prefix  # a man in the middle answering "SUCCESS" behind a DOCTYPE
    view = checkout.refresh_order_status(session, actor_id=user.id, order_no=order.out_trade_no)
    assert view.status == "pending" and active_grants(session, user.id) == []
    assert not session.exec(select(PaymentEvent).where(PaymentEvent.verified.is_(True))).all()
    with pytest.raises(DomainError, match="pay.channel_error"):  # unified order answers too
        checkout.start_payment(session, actor_id=user.id, order_no=order.out_trade_no, channel="wechat",
                               client_kind="mobile")
    wechat.fake.answer_prefix = ""  # the genuine answer is accepted
    assert checkout.refresh_order_status(session, actor_id=user.id, order_no=order.out_trade_no).status == "paid"


@pytest.mark.parametrize("body", [
    wx_xml({"return_code": "SUCCESS", "note": "<b>x</b> & y"}).encode(),
    b'<?xml version="1.0" encoding="UTF-8"?><xml><a><![CDATA[1]]></a></xml>',
    "\ufeff<xml><a>中文</a></xml>".encode(),
])
def test_ordinary_wechat_xml_passes_the_guard(body):
    assert check_xml(body) == body


@pytest.mark.parametrize("body", [b"<!-- c --><xml/>", b"<xml/>\x00", b"<xml>\xff</xml>",
                                  b'<?xml version="1.0" encoding="utf-7"?><xml/>', "<!doctype x><xml/>"])
def test_the_guard_refuses_anything_else(body):
    with pytest.raises(UnsafeXml):
        check_xml(body)
