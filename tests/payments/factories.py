"""Rows and keys for commerce tests (imported by tests/payments, tests/services, tests/security)."""

from __future__ import annotations

import itertools
import secrets

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlmodel import Session, select

from coursemall.models import Bundle, BundleCourse, Course, Entitlement, Message, Order, Payment, User

_seq = itertools.count(1)


def make_user(session: Session, *, role: str = "learner", email: str | None = None) -> User:
    n = next(_seq)
    user = User(email=email or f"u{n}-{secrets.token_hex(3)}@example.com", nickname=f"用户{n}", role=role,
                watermark_code=secrets.token_hex(5))
    session.add(user)
    session.commit()
    return user


def make_course(session: Session, *, price_fen: int = 9900, status: str = "published", title: str = "") -> Course:
    n = next(_seq)
    course = Course(slug=f"c{n}-{secrets.token_hex(3)}", title=title or f"课程{n}", price_fen=price_fen,
                    original_price_fen=price_fen * 2, status=status)
    session.add(course)
    session.commit()
    return course


def make_bundle(session: Session, courses: list[Course], *, price_fen: int = 19900,
                status: str = "published") -> Bundle:
    n = next(_seq)
    bundle = Bundle(slug=f"b{n}-{secrets.token_hex(3)}", title=f"专栏{n}", price_fen=price_fen,
                    original_price_fen=price_fen * 2, status=status)
    session.add(bundle)
    session.commit()
    for i, c in enumerate(courses):
        session.add(BundleCourse(bundle_id=bundle.id, course_id=c.id, position=i))
    session.commit()
    return bundle


def active_grants(session: Session, user_id: int) -> list[Entitlement]:
    return list(session.exec(select(Entitlement).where(Entitlement.user_id == user_id,
                                                       Entitlement.revoked_at.is_(None))).all())


def payments_of(session: Session, order_no: str) -> list[Payment]:
    order = session.exec(select(Order).where(Order.out_trade_no == order_no)).one()
    return list(session.exec(select(Payment).where(Payment.order_id == order.id)).all())


def order_row(session: Session, order_no: str) -> Order:
    return session.exec(select(Order).where(Order.out_trade_no == order_no)
                        .execution_options(populate_existing=True)).one()


def messages_of(session: Session, user_id: int, kind: str | None = None) -> list[Message]:
    q = select(Message).where(Message.user_id == user_id)
    if kind:
        q = q.where(Message.kind == kind)
    return list(session.exec(q).all())


def rsa_pair() -> tuple[str, str]:
    """(private PEM PKCS#1, public PEM) generated for the test run."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public
