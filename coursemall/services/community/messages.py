"""In-app message centre (payment success, order closed, refund result, manual-payment decision,
homework graded, question answered, and any other `msg.<kind>` pair in the catalogs).

Messages are rendered in the recipient's language when they are created: from the owner's
template for that message (shop setting "message_templates", edited on /admin/settings) when one
is set, else from the message catalog. Templates may use the placeholders of the default text plus
{nickname} and {shop}; anything else is refused when the owner saves it. E-mail: when COURSEMALL_SMTP_URL is set, a message for a user with an e-mail address is
queued (`email_state='queued'`) and delivered by `jobs.orders.deliver_queued_emails` outside any
transaction; otherwise a copy lands in the demo outbox (`OutboxMessage`, shown on /outbox).
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, select

from coursemall.domain.errors import DomainError
from coursemall.domain.validation import parse_id, parse_ids
from coursemall.i18n import CATALOG, LANGS, t
from coursemall.models import Message, OutboxMessage, User, utcnow
from coursemall.services import audit
from coursemall.services.shop import shop_settings
from coursemall.services.actors import require_actor
from coursemall.services.permissions import require_dashboard
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


TITLE_MAX = 120
BODY_MAX = 2000
COMMON_PLACEHOLDERS = ("nickname", "shop")  # offered to every template


def template_keys() -> tuple[str, ...]:
    """Every message the shop sends: catalog pairs `<key>.title` / `<key>.body` under `msg.`."""
    return tuple(sorted(k[: -len(".title")] for k in CATALOG
                        if k.startswith("msg.") and k.endswith(".title") and k[: -len(".title")] + ".body" in CATALOG))


def _fields(text: str) -> list[str]:
    """Placeholder names in `text`; ValueError for unbalanced braces."""
    return [name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name is not None]


def template_placeholders(key: str) -> tuple[str, ...]:
    """The placeholders a template for `key` may use: those of its default texts, plus the common ones."""
    names: list[str] = []
    for part in ("title", "body"):
        for text in CATALOG[f"{key}.{part}"]:
            names += _fields(text)
    return tuple(dict.fromkeys([*names, *COMMON_PLACEHOLDERS]))


def _check_template_text(key: str, text: str, *, max_len: int) -> None:
    if len(text) > max_len:
        raise DomainError("shopset.tpl.too_long", max=max_len)
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        raise DomainError("shopset.tpl.bad_braces") from None
    allowed = template_placeholders(key)
    for _lit, name, spec, conv in parsed:
        if name is None:
            continue
        # a bare known name only: no attribute/index access ({x.__class__}), no conversions or specs
        if name not in allowed or spec or conv:
            raise DomainError("shopset.tpl.unknown_placeholder", name="{" + name[:40] + "}",
                              allowed=" ".join("{" + a + "}" for a in allowed))


def _stored_templates(session: Session) -> dict:
    value = shop_settings.get_value(session, "message_templates")
    return value if isinstance(value, dict) else {}


def _render(session: Session, key: str, lang: str, params: dict[str, object]) -> tuple[str, str]:
    """(title, body) from the owner's template when set and renderable, else from the catalog."""
    custom = _stored_templates(session).get(key, {})
    custom = custom.get(lang) if isinstance(custom, dict) else None
    if isinstance(custom, dict) and isinstance(custom.get("title"), str) and isinstance(custom.get("body"), str):
        try:
            return custom["title"].format(**params), custom["body"].format(**params)
        except (KeyError, IndexError, ValueError, AttributeError):
            pass  # a caller that stopped passing a placeholder: never lose the message
    return t(f"{key}.title", lang, **params), t(f"{key}.body", lang, **params)


def create_message(session: Session, *, user_id: int, kind: str, key: str, link: str = "",
                   **params: object) -> Message:
    """Add a message for `user_id` (flushed, not committed: it belongs to the caller's transaction).

    `key` names a pair of catalog entries `<key>.title` and `<key>.body` formatted with `params`
    (or the owner's template for it); {nickname} and {shop} are always available.
    """
    user = session.get(User, user_id)
    lang = user.locale if user else "zh_CN"
    lang = lang if lang in LANGS else "zh_CN"
    params = {"nickname": (user.nickname if user else "") or "", "shop": shop_settings.get_brand(session).shop_name,
              **params}
    title, body = _render(session, key, lang, params)
    title, body = title[:TITLE_MAX], body[:BODY_MAX]
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


# ---------------------------------------------------------------------------------- templates (owner)


@dataclass(frozen=True)
class TemplateView:
    key: str
    placeholders: tuple[str, ...]
    texts: dict[str, dict[str, str]]  # lang -> {"title", "body"} as shown in the form
    custom: dict[str, bool]  # lang -> the owner's text is in use


def _template_key(value: object) -> str:
    if not isinstance(value, str) or value not in template_keys():
        raise DomainError("shopset.tpl.unknown")
    return value


def template_view(session: Session, *, actor_id: object, key: object) -> TemplateView:
    require_dashboard(session, actor_id, owner_only=True)
    k = _template_key(key)
    stored = _stored_templates(session).get(k, {})
    texts, custom = {}, {}
    for i, lang in enumerate(LANGS):
        own = stored.get(lang) if isinstance(stored, dict) else None
        custom[lang] = isinstance(own, dict)
        texts[lang] = dict(own) if isinstance(own, dict) else {"title": CATALOG[f"{k}.title"][i],
                                                               "body": CATALOG[f"{k}.body"][i]}
    return TemplateView(key=k, placeholders=template_placeholders(k), texts=texts, custom=custom)


def update_template(session: Session, *, actor_id: object, key: object, texts: object) -> TemplateView:
    """Save the owner's texts for one message: `texts` = {lang: {"title", "body"}}. A language
    whose texts equal the defaults (or are both empty) goes back to the catalog."""
    owner = require_dashboard(session, actor_id, owner_only=True).user_id
    k = _template_key(key)
    if not isinstance(texts, dict) or set(texts) - set(LANGS):
        raise DomainError("error.bad_request")
    entry: dict[str, dict[str, str]] = {}
    for i, lang in enumerate(LANGS):
        pair = texts.get(lang)
        if not isinstance(pair, dict):
            raise DomainError("error.bad_request")
        title = shop_settings.clean_line(pair.get("title"), max_len=TITLE_MAX, code="shopset.tpl.title_invalid")
        body = shop_settings.clean_multiline(pair.get("body"), max_len=BODY_MAX, code="shopset.tpl.too_long")
        if not title and not body:
            continue
        if not title or not body:
            raise DomainError("shopset.tpl.empty")
        _check_template_text(k, title, max_len=TITLE_MAX)
        _check_template_text(k, body, max_len=BODY_MAX)
        if (title, body) != (CATALOG[f"{k}.title"][i], CATALOG[f"{k}.body"][i]):
            entry[lang] = {"title": title, "body": body}
    value = _stored_templates(session)
    before = sorted(value.get(k, {})) if isinstance(value.get(k), dict) else []
    if entry:
        value[k] = entry
    else:
        value.pop(k, None)
    shop_settings.set_value(session, "message_templates", value, actor_id=owner)
    audit.record(session, actor_id=owner, action="settings.template", target=k,
                 detail={"custom_before": before, "custom_after": sorted(entry)})
    session.commit()
    return template_view(session, actor_id=owner, key=k)


def reset_template(session: Session, *, actor_id: object, key: object) -> TemplateView:
    owner = require_dashboard(session, actor_id, owner_only=True).user_id
    k = _template_key(key)
    value = _stored_templates(session)
    if value.pop(k, None) is not None:
        shop_settings.set_value(session, "message_templates", value, actor_id=owner)
        audit.record(session, actor_id=owner, action="settings.template_reset", target=k)
        session.commit()
    return template_view(session, actor_id=owner, key=k)


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
