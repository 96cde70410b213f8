"""In-app message centre (payment success, order closed, refund result, manual-payment decision).

Messages are rendered from the commerce message catalog in the recipient's language when they are
created. E-mail: when COURSEMALL_SMTP_URL is set, a message for a user with an e-mail address is
queued (`email_state='queued'`) and delivered by `jobs.orders.deliver_queued_emails` outside any
transaction; otherwise a copy lands in the demo outbox (`OutboxMessage`, shown on /outbox).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, select

from coursemall.domain.orders import parse_id, parse_ids
from coursemall.i18n import t
from coursemall.models import Message, OutboxMessage, User, utcnow
from coursemall.services._commerce import require_actor
from coursemall.settings import get_settings

MAX_PAGE = 50


@dataclass(frozen=True)
class MessageView:
    id: int
    kind: str
    title: str
    body: str
    link: str
    read: bool
    created_at: datetime


def _view(m: Message) -> MessageView:
    return MessageView(id=m.id or 0, kind=m.kind, title=m.title, body=m.body, link=m.link,
                       read=m.read_at is not None, created_at=m.created_at)


def create_message(session: Session, *, user_id: int, kind: str, key: str, link: str = "",
                   **params: object) -> Message:
    """Add a message for `user_id` (flushed, not committed: it belongs to the caller's transaction).

    `key` names a pair of catalog entries `<key>.title` and `<key>.body` formatted with `params`.
    """
    user = session.get(User, user_id)
    lang = user.locale if user else "zh_CN"
    title = t(f"{key}.title", lang, **params)[:120]
    body = t(f"{key}.body", lang, **params)[:2000]
    email_state = ""
    if user is not None and user.email:
        if get_settings().smtp_url:
            email_state = "queued"
        else:
            session.add(OutboxMessage(channel="email", target=user.email, subject=title[:200], body=body))
            email_state = "outbox"
    message = Message(user_id=user_id, kind=kind[:24], title=title, body=body, link=link[:255],
                      email_state=email_state)
    session.add(message)
    session.flush()
    return message


def list_messages(session: Session, *, actor_id: object, unread_only: bool = False,
                  before_id: object = None, limit: object = 20) -> list[MessageView]:
    user = require_actor(session, actor_id)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE:
        limit = 20
    query = select(Message).where(Message.user_id == user.id)
    if unread_only is True:
        query = query.where(Message.read_at.is_(None))  # type: ignore[union-attr]
    if before_id is not None:
        query = query.where(Message.id < parse_id(before_id))  # type: ignore[operator]
    rows = session.exec(query.order_by(Message.id.desc()).limit(limit)).all()  # type: ignore[union-attr]
    return [_view(m) for m in rows]


def unread_count(session: Session, *, actor_id: object) -> int:
    user = require_actor(session, actor_id)
    return int(session.exec(select(func.count()).select_from(Message).where(
        Message.user_id == user.id, Message.read_at.is_(None))).one())  # type: ignore[union-attr]


def mark_read(session: Session, *, actor_id: object, message_ids: object = None) -> int:
    """Mark the actor's messages read (all of them when `message_ids` is None). Returns how many
    changed. Ids of other users' messages are silently ignored (WHERE user_id = actor)."""
    user = require_actor(session, actor_id)
    stmt = update(Message).where(Message.user_id == user.id, Message.read_at.is_(None))  # type: ignore[union-attr]
    if message_ids is not None:
        stmt = stmt.where(Message.id.in_(parse_ids(message_ids)))  # type: ignore[union-attr]
    result = session.execute(stmt.values(read_at=utcnow()).execution_options(synchronize_session=False))
    session.commit()
    return result.rowcount
