"""Server-side sessions and single-use login tickets (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from coursemall.domain.errors import DomainError
from coursemall.models.accounts import UserSession
from coursemall.models.base import utcnow
from coursemall.services.accounts import sessions, users
from tests.concurrency import run_n


BROWSER = "browser-secret-" + "s" * 30
BROWSER_HASH = sessions.token_hash(BROWSER)


@pytest.fixture
def user(session):
    view = users.register_user(session, account="sam@example.com", password="pass-word-1",
                                  nickname="Sam")
    session.commit()
    return view


def test_session_create_resolve_revoke(session, user):
    token = sessions.create_session(session, user_id=user.id, user_agent="UA", ip="1.2.3.4")
    session.commit()
    row = session.exec(select(UserSession)).one()
    assert row.token_hash == sessions.token_hash(token) and token not in row.token_hash
    resolved = sessions.resolve_session(session, token_hash_hex=sessions.token_hash(token))
    assert resolved.user_id == user.id
    sessions.revoke_session_by_hash(session, token_hash_hex=sessions.token_hash(token))
    session.commit()
    assert sessions.resolve_session(session, token_hash_hex=sessions.token_hash(token)) is None


def test_session_expiry(session, user):
    token = sessions.create_session(session, user_id=user.id, now=utcnow() - timedelta(days=31))
    session.commit()
    assert sessions.resolve_session(session, token_hash_hex=sessions.token_hash(token)) is None


def test_revoke_one_session_only_own(session, user):
    other = users.register_user(session, account="eve@example.com", password="pass-word-1",
                                   nickname="Eve")
    token = sessions.create_session(session, user_id=user.id)
    session.commit()
    sid = sessions.resolve_session(session, token_hash_hex=sessions.token_hash(token)).session_id
    with pytest.raises(DomainError):  # Eve cannot revoke Sam's session
        sessions.revoke_session(session, user_id=other.id, session_id=sid)
    sessions.revoke_session(session, user_id=user.id, session_id=sid)
    session.commit()
    assert sessions.resolve_session(session, token_hash_hex=sessions.token_hash(token)) is None


def test_sign_out_everywhere_and_list(session, user):
    tokens = [sessions.create_session(session, user_id=user.id, user_agent=f"UA{i}")
              for i in range(3)]
    session.commit()
    listed = sessions.list_sessions(session, user_id=user.id,
                                    current_hash=sessions.token_hash(tokens[0]))
    assert len(listed) == 3 and sum(v.current for v in listed) == 1
    assert sessions.revoke_all_sessions(session, user_id=user.id) == 3
    session.commit()
    assert all(sessions.resolve_session(session, token_hash_hex=sessions.token_hash(t)) is None
               for t in tokens)
    assert sessions.list_sessions(session, user_id=user.id) == []


def test_ticket_single_use(session, user):
    ticket = sessions.create_login_ticket(session, user_id=user.id, browser_hash=BROWSER_HASH)
    session.commit()
    token, uid = sessions.redeem_login_ticket(session, ticket=ticket, browser_secret=BROWSER,
                                             user_agent="UA", ip="::1")
    session.commit()
    assert uid == user.id and sessions.resolve_session(
        session, token_hash_hex=sessions.token_hash(token)).user_id == user.id
    with pytest.raises(DomainError) as err:
        sessions.redeem_login_ticket(session, ticket=ticket, browser_secret=BROWSER)
    assert err.value.code == "auth.ticket_invalid"


@pytest.mark.parametrize("bad", ["", "x", "A" * 500, None, {"a": 1}, "bad ticket with spaces!!"])
def test_ticket_garbage_refused(session, bad):
    with pytest.raises(DomainError):
        sessions.redeem_login_ticket(session, ticket=bad)


def test_ticket_expires(session, user):
    ticket = sessions.create_login_ticket(session, user_id=user.id, browser_hash=BROWSER_HASH,
                                          now=utcnow() - timedelta(seconds=61))
    session.commit()
    with pytest.raises(DomainError):
        sessions.redeem_login_ticket(session, ticket=ticket, browser_secret=BROWSER)


def test_ticket_redeemed_concurrently_works_once(db_engine, session, user):
    ticket = sessions.create_login_ticket(session, user_id=user.id, browser_hash=BROWSER_HASH)
    session.commit()

    def redeem(_):
        with Session(db_engine) as s:
            try:
                sessions.redeem_login_ticket(s, ticket=ticket, browser_secret=BROWSER)
                s.commit()
                return "ok"
            except DomainError:
                s.rollback()
                return "refused"
            except OperationalError as exc:  # SQLite may report the loser as busy/locked
                s.rollback()
                return f"error:{type(exc).__name__}"

    results = run_n(2, redeem, timeout=30)
    assert results.count("ok") == 1, results
    session.expire_all()
    assert len(session.exec(select(UserSession)).all()) == 1
