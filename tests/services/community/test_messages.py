"""Message centre: list, unread count, mark read (own messages only), outbox copy for e-mail."""

from __future__ import annotations

import pytest
from sqlmodel import select

from coursemall.domain.errors import DomainError
from coursemall.models import OutboxMessage
from coursemall.services.community import messages
from tests.payments.factories import make_user


def test_unread_count_and_mark_read(session):
    user = make_user(session)
    other = make_user(session)
    ids = [messages.create_message(session, user_id=user.id, kind="payment_succeeded", key="msg.payment_succeeded",
                                   order_no=f"CM{i}", amount="¥1.00").id for i in range(3)]
    theirs = messages.create_message(session, user_id=other.id, kind="order_closed", key="msg.order_closed",
                                     order_no="CMX").id
    session.commit()
    assert messages.unread_count(session, actor_id=user.id) == 3
    listed = messages.list_messages(session, actor_id=user.id)
    assert [m.id for m in listed] == ids[::-1] and listed[0].title == "支付成功" and "CM2" in listed[0].body
    assert messages.mark_read(session, actor_id=user.id, message_ids=[ids[0], theirs]) == 1  # not theirs
    assert messages.unread_count(session, actor_id=user.id) == 2
    assert messages.unread_count(session, actor_id=other.id) == 1
    assert [m.id for m in messages.list_messages(session, actor_id=user.id, unread_only=True)] == ids[:0:-1]
    assert messages.mark_read(session, actor_id=user.id) == 2
    assert messages.unread_count(session, actor_id=user.id) == 0
    # paging
    assert [m.id for m in messages.list_messages(session, actor_id=user.id, before_id=ids[2], limit=1)] == [ids[1]]


def test_language_and_outbox_copy(session):
    user = make_user(session, email="learner@example.com")
    user.locale = "en"
    session.add(user)
    session.commit()
    m = messages.create_message(session, user_id=user.id, kind="refund_result", key="msg.refund_succeeded",
                                order_no="CM1", amount="¥2.00")
    session.commit()
    assert m.title == "Refund completed" and m.email_state == "outbox"
    box = session.exec(select(OutboxMessage).where(OutboxMessage.target == "learner@example.com")).one()
    assert box.subject == "Refund completed"


@pytest.mark.parametrize("bad", [None, 0, -1, 2**40, "1; drop", 1.5, True, {"id": 1}])
def test_bad_actor_or_ids(session, bad):
    user = make_user(session)
    with pytest.raises(DomainError):
        messages.unread_count(session, actor_id=bad)
    with pytest.raises(DomainError):
        messages.mark_read(session, actor_id=user.id, message_ids=[bad])


def test_smtp_configured_queues_and_job_delivers_once(session, monkeypatch):
    import dataclasses

    import coursemall.services.community.messages as messages_mod
    import coursemall.settings as settings_mod
    from coursemall.jobs.orders import deliver_queued_emails
    from coursemall.services.accounts.sender import SmtpSender

    smtp_settings = dataclasses.replace(settings_mod.get_settings(), smtp_url="smtp://mailer@127.0.0.1:2525")
    monkeypatch.setattr(messages_mod, "get_settings", lambda: smtp_settings)
    monkeypatch.setattr(settings_mod, "get_settings", lambda: smtp_settings)
    sent: list[tuple[str, str]] = []
    monkeypatch.setattr(SmtpSender, "send", lambda self, s, *, channel, target, subject, body: sent.append((target, subject)))
    user = make_user(session, email="smtp@example.com")
    m = messages.create_message(session, user_id=user.id, kind="order_closed", key="msg.order_closed", order_no="CM1")
    session.commit()
    assert m.email_state == "queued"
    assert session.exec(select(OutboxMessage)).all() == []
    assert deliver_queued_emails(session) == 1
    assert deliver_queued_emails(session) == 0
    assert sent == [("smtp@example.com", "订单已关闭")]
