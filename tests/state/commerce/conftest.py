"""The shop world of the learner-side commerce state tests (checkout, WeChat Pay)."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from coursemall.services.accounts import sessions
from tests.payments.factories import make_course, make_user


@pytest.fixture
def shop(engine):
    """Two learners (with sessions), two paid courses and a free one."""
    with Session(engine, expire_on_commit=False) as s:
        alice, bob = make_user(s), make_user(s)
        c1, c2 = make_course(s, price_fen=9900), make_course(s, price_fen=4900)
        free = make_course(s, price_fen=0)
        cookies = {}
        for u in (alice, bob):
            cookies[u.id] = f"cm_lang=zh_CN; cm_session={sessions.create_session(s, user_id=u.id)}"
        s.commit()
    return {"alice": alice.id, "bob": bob.id, "c1": c1.id, "c2": c2.id, "free": free.id,
            "cookie": cookies}
