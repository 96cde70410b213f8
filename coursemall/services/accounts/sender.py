"""Pluggable sender for one-time codes.

`OutboxSender` (the demo default) stores every message in `outbox_messages` (shown on /outbox)
and logs it to the console; outside the demo it only writes to the console/log (no page, no rows;
the go-live check blocks it). `SmtpSender` sends e-mail through smtplib with a timeout; there is
no SMS gateway, so SMS messages are refused with a clear error under SMTP. A production shop whose
SMTP server is not configured yet refuses to send (`UnconfiguredSender`).
Senders block (SMTP is network I/O): callers on the event loop run them in a thread.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import unquote, urlparse

from sqlmodel import Session, select

from coursemall.domain.errors import DomainError
from coursemall.models.accounts import OutboxMessage
from coursemall.settings import get_settings

log = logging.getLogger("coursemall.sender")


class CodeSender(Protocol):
    def send(self, session: Session, *, channel: str, target: str, subject: str,
             body: str) -> None: ...


class OutboxSender:
    """Demo sender: the message lands in the outbox table (demo only) and on the console."""

    def send(self, session: Session, *, channel: str, target: str, subject: str,
             body: str) -> None:
        if get_settings().demo:
            session.add(OutboxMessage(channel=channel, target=target[:254], subject=subject[:200],
                                      body=body[:4000]))
            session.flush()
        print(f"[coursemall outbox] {channel} to {target}: {body}", flush=True)
        log.info("outbox %s to %s: %s", channel, target, subject)


class SmtpSender:
    """E-mail through SMTP (smtp://user:pass@host:port, or smtps:// for implicit TLS)."""

    def __init__(self, url: str, *, timeout: float = 10.0, sender: str | None = None) -> None:
        parsed = urlparse(url)
        self.host = parsed.hostname or "localhost"
        self.ssl = parsed.scheme == "smtps"
        self.port = parsed.port or (465 if self.ssl else 25)
        self.user = unquote(parsed.username or "")
        self.password = unquote(parsed.password or "")
        self.timeout = timeout
        self.sender = sender or (self.user if "@" in self.user else f"no-reply@{self.host}")

    def send(self, session: Session, *, channel: str, target: str, subject: str,
             body: str) -> None:
        if channel != "email":
            raise DomainError("auth.sms_unavailable")
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = target
        msg["Subject"] = subject
        msg.set_content(body)
        cls = smtplib.SMTP_SSL if self.ssl else smtplib.SMTP
        try:
            with cls(self.host, self.port, timeout=self.timeout) as smtp:
                if not self.ssl:
                    smtp.ehlo()
                    if smtp.has_extn("starttls"):
                        smtp.starttls()
                        smtp.ehlo()
                if self.user:
                    smtp.login(self.user, self.password)
                smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("SMTP send to %s failed: %s", target, type(exc).__name__)
            raise DomainError("auth.send_failed") from exc


class UnconfiguredSender:
    """CODE_SENDER=smtp (a production shop's default) before COURSEMALL_SMTP_URL is set."""

    def send(self, session: Session, *, channel: str, target: str, subject: str,
             body: str) -> None:
        log.warning("code to %s not sent: COURSEMALL_SMTP_URL is not set", channel)
        raise DomainError("auth.send_unconfigured")


def get_sender() -> CodeSender:
    settings = get_settings()
    if settings.code_sender == "smtp":
        return SmtpSender(settings.smtp_url) if settings.smtp_url else UnconfiguredSender()
    return OutboxSender()


@dataclass(frozen=True)
class OutboxView:
    id: int
    channel: str
    target: str
    subject: str
    body: str
    created_at: datetime


def list_outbox(session: Session, *, limit: int = 30) -> list[OutboxView]:
    """Latest outbox messages; none outside the demo (nothing is shown there, whatever the table
    holds, e.g. rows left from a demo run)."""
    if not get_settings().demo:
        return []
    rows = session.exec(select(OutboxMessage).order_by(OutboxMessage.id.desc())
                        .limit(max(1, min(limit, 100)))).all()
    return [OutboxView(id=r.id, channel=r.channel, target=r.target, subject=r.subject,
                       body=r.body, created_at=r.created_at) for r in rows]
