"""The one rate limiter, and the sign-in back-off built on it.

## Counters
Every limit is a set of fixed-window counters in `rate_counters`, one row per (bucket, window).
`take(session, (rule, key), ...)` counts one action against every window of every named rule, all
or nothing: each window is one atomic `INSERT .. ON CONFLICT DO UPDATE SET count = count + 1 WHERE
count < limit RETURNING count` (a row back = counted, no row = the window is full). The database
serialises concurrent increments of one row, so several web workers on PostgreSQL (or threads on
SQLite) admit exactly `limit` actions per window; no per-process memory is involved. When one
window is full, the windows already counted by this call are given back and the caller gets
`limit.<family>_<unit>` with the wait until that window ends ("try again in N minutes").

`take` commits at once (the caller's session must not hold other work yet: services call it
first, after validating their input), so a refused or failed action still counts even when the
caller rolls back, and PostgreSQL row locks are held for milliseconds. Keys (IPs, accounts, user
ids) are stored only as SHA-256 prefixes. Rows outlive their window by a day at most:
`purge_expired` runs with the periodic jobs.

Limits are per rule in RULES: register, one-time codes and password reset per IP and per target
address; posts (comments and replies, notes, check-ins, homework, reviews) per user.

## Sign-in back-off (no owner lockout)
A lockout that counts failures per account lets anyone keep the owner out by typing wrong
passwords. Instead (OWASP "device cookies"):

- A browser that signed in to an account gets an HttpOnly `cm_device` cookie,
  `<user id>.<nonce>.<HMAC(secret key, user id, nonce)>`, set by /api/auth/complete. When it
  signs in to that account again, only its own budget counts (`signin.device`: 10 attempts per
  15 minutes, 30 a day). Other people's failures, from any IP, never touch that budget: the owner
  signs in from a known browser during any flood. A stolen device cookie gives an attacker that
  small budget and nothing more (and still needs the password).
- Any other browser (no cookie, another account's, a forged one) is an untrusted device. Each
  attempt counts against three budgets whose windows grow, so the wait grows with the failures
  (back-off rather than a fixed lock):
  `signin.ip_account` (this IP on this account: LOGIN_MAX_FAILS per LOGIN_WINDOW, twice that per
  4 windows, four times that per day), `signin.ip` (this IP on all accounts: 4x, for spraying),
  and `signin.account` (all untrusted devices on this account: slows a distributed guesser,
  twice LOGIN_MAX_FAILS per window, 30 an hour, 100 a day). The account-wide budget only slows
  untrusted devices; the owner still has the known browser, and the one-time code sign-in, which
  has its own per-IP budget and per-code tries (and then makes that browser trusted).
- Attempts are counted before the password is hashed (so refused attempts cost nothing and a
  burst cannot slip through concurrently) and given back when the password was right.
Every attempt is also written to `login_attempts` for leak tracing (services/dashboard/leak.py).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from coursemall.domain.errors import DomainError
from coursemall.models.accounts import LoginAttempt
from coursemall.models.base import utcnow
from coursemall.models.limits import RateCounter
from coursemall.settings import get_settings

IP_FACTOR = 4
DEVICE_COOKIE = "cm_device"
DEVICE_MAX_AGE = 365 * 86400
HOUR, DAY = 3600, 86400


@dataclass(frozen=True)
class Window:
    limit: int
    seconds: int


@dataclass(frozen=True)
class Rule:
    family: str  # picks the message: signin | code | register | reset | post
    windows: tuple[Window, ...]


def rules() -> dict[str, Rule]:
    """Every limit of the shop (sign-in windows follow LOGIN_MAX_FAILS / LOGIN_WINDOW_SECONDS)."""
    s = get_settings()
    fails, window = s.login_max_fails, s.login_window_seconds
    return {
        "signin.device": Rule("signin", (Window(10, 900), Window(30, DAY))),
        "signin.ip_account": Rule("signin", (Window(fails, window), Window(2 * fails, 4 * window),
                                             Window(4 * fails, DAY))),
        "signin.ip": Rule("signin", (Window(IP_FACTOR * fails, window), Window(100, DAY))),
        "signin.account": Rule("signin", (Window(2 * fails, window), Window(30, HOUR), Window(100, DAY))),
        "signin.code_ip": Rule("signin", (Window(IP_FACTOR * fails, window), Window(100, DAY))),
        "password.change": Rule("signin", (Window(fails, window), Window(IP_FACTOR * fails, DAY))),
        "mfa.user": Rule("signin", (Window(fails, window), Window(IP_FACTOR * fails, DAY))),
        "register.ip": Rule("register", (Window(20, HOUR), Window(100, DAY))),
        "register.account": Rule("register", (Window(5, HOUR),)),
        "code.ip": Rule("code", (Window(20, HOUR), Window(100, DAY))),
        "code.target": Rule("code", (Window(5, HOUR), Window(10, DAY))),
        "reset.ip": Rule("reset", (Window(20, HOUR), Window(100, DAY))),
        "reset.account": Rule("reset", (Window(10, HOUR), Window(20, DAY))),
        "post.comment": Rule("post", (Window(5, 60), Window(200, DAY))),
        "post.note": Rule("post", (Window(20, 60), Window(500, DAY))),
        "post.checkin": Rule("post", (Window(3, 60), Window(20, DAY))),
        "post.homework": Rule("post", (Window(5, 60), Window(30, DAY))),
        "post.review": Rule("post", (Window(10, 60), Window(30, DAY))),
    }


@dataclass(frozen=True)
class Taken:
    """The windows one `take` counted, so a success can give them back (`refund`)."""

    slots: tuple[tuple[str, int], ...] = ()


def _bucket(rule: str, seconds: int, key: str) -> str:
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"{rule}/{seconds}:{digest}"


def wait_error(family: str, seconds: int) -> DomainError:
    """'try again in N seconds/minutes/hours' in the family's words."""
    seconds = max(1, int(seconds))
    if seconds < 90:
        return DomainError(f"limit.{family}_seconds", n=seconds, seconds=seconds)
    if seconds < 90 * 60:
        return DomainError(f"limit.{family}_minutes", n=math.ceil(seconds / 60), seconds=seconds)
    return DomainError(f"limit.{family}_hours", n=math.ceil(seconds / 3600), seconds=seconds)


def _increment(session: Session, bucket: str, start: int, window: Window) -> bool:
    """Count one in this window unless it is full (atomic); True when counted."""
    table = RateCounter.__table__
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (insert(table)
            .values(bucket=bucket, window_start=start, expires_at=start + window.seconds, count=1)
            .on_conflict_do_update(index_elements=[table.c.bucket, table.c.window_start],
                                   set_={"count": table.c.count + 1}, where=table.c.count < window.limit)
            .returning(table.c.count))
    return session.exec(stmt).first() is not None


def _give_back(session: Session, slots) -> None:
    table = RateCounter.__table__
    for bucket, start in slots:
        session.exec(update(table).where(table.c.bucket == bucket, table.c.window_start == start,
                                            table.c.count > 0).values(count=table.c.count - 1))


def take(session: Session, *checks: tuple[str, str], now: datetime | None = None) -> Taken:
    """Count one action for each (rule, key) in `checks`, or raise the wait of the first full window
    (and count nothing). An empty key (no IP known) skips its rule. Commits."""
    all_rules = rules()
    now_s = int((now or utcnow()).timestamp())
    slots = []
    for name, key in checks:
        if not key:
            continue
        rule = all_rules[name]
        for window in rule.windows:
            start = now_s - now_s % window.seconds
            slots.append((_bucket(name, window.seconds, key), start, window, rule))
    slots.sort(key=lambda slot: (slot[0], slot[1]))  # one lock order for every caller
    counted: list[tuple[str, int]] = []
    for bucket, start, window, rule in slots:
        if not _increment(session, bucket, start, window):
            _give_back(session, counted)
            session.commit()
            raise wait_error(rule.family, _longest_wait(session, slots, now_s))
        counted.append((bucket, start))
    session.commit()
    return Taken(tuple(counted))


def _longest_wait(session: Session, slots, now_s: int) -> int:
    """Seconds until every full window among `slots` has ended (the real wait to show)."""
    table = RateCounter.__table__
    wait = 1
    for bucket, start, window, _rule in slots:
        count = session.exec(select(table.c.count).where(table.c.bucket == bucket,
                                                         table.c.window_start == start)).scalar()
        if count is not None and count >= window.limit:
            wait = max(wait, start + window.seconds - now_s)
    return wait


def refund(session: Session, taken: Taken) -> None:
    """Give back what `take` counted (a sign-in that succeeded is not a failure). Not committed:
    it belongs to the caller's unit of work."""
    _give_back(session, taken.slots)


def purge_expired(session: Session, *, now: datetime | None = None) -> int:
    """Delete counters whose window ended more than a day ago (idempotent; any worker)."""
    cutoff = int((now or utcnow()).timestamp()) - DAY
    return session.exec(delete(RateCounter).where(RateCounter.expires_at < cutoff)).rowcount or 0


# ---- sign-in ---------------------------------------------------------------------------------

def _device_sig(user_id: int, nonce: str) -> str:
    key = get_settings().secret_key.encode("utf-8")
    return hmac.new(key, f"cm-device:{user_id}:{nonce}".encode(), hashlib.sha256).hexdigest()[:40]


def device_nonce(value: object, user_id: int | None) -> str | None:
    """The nonce of a genuine device cookie issued to `user_id`, else None."""
    if user_id is None or not isinstance(value, str) or len(value) > 120:
        return None
    uid, _, rest = value.partition(".")
    nonce, _, sig = rest.partition(".")
    if uid != str(user_id) or not 16 <= len(nonce) <= 40 or len(sig) != 40:
        return None
    return nonce if hmac.compare_digest(sig, _device_sig(user_id, nonce)) else None


def device_cookie_for(user_id: int, current: object) -> str:
    """The device cookie for a browser that just signed in: its current one if genuine for this
    account, else a new one (a browser holds the device cookie of its last account)."""
    if device_nonce(current, user_id) is not None:
        return current  # type: ignore[return-value]
    nonce = secrets.token_urlsafe(16)
    return f"{user_id}.{nonce}.{_device_sig(user_id, nonce)}"


def begin_sign_in(session: Session, *, account: str, user_id: int | None, ip: str, device: object,
                  now: datetime | None = None) -> Taken:
    """Count a password sign-in attempt before the password is checked (see the module doc):
    a known device counts against its own budget only; any other against this IP on this
    account, this IP overall, and this account from untrusted devices. Raises the wait."""
    nonce = device_nonce(device, user_id)
    if nonce is not None:
        return take(session, ("signin.device", f"{user_id}:{nonce}"), now=now)
    return take(session, ("signin.ip_account", f"{ip}|{account}" if ip else ""), ("signin.ip", ip),
                ("signin.account", account), now=now)


def record_login_attempt(session: Session, *, identifier: str, ip: str, success: bool,
                         now: datetime | None = None) -> None:
    """Every sign-in attempt, for leak tracing (who tried which account from where)."""
    session.add(LoginAttempt(identifier=identifier[:254], ip=(ip or "")[:64], success=success,
                             created_at=now or utcnow()))
    session.flush()
