"""Certificates of completion ★: issued once per learner and course at 100 % progress, verifiable
by a random code on a public page.

- `issue_certificate` (learner asks) and `issue_for_completed_course` (called by the progress
  service when a heartbeat completes the course) are idempotent: UNIQUE (user, course) and a
  duplicate-key race returns the existing row.
- The code is 16 characters from an unambiguous alphabet (≈ 80 bits), shown as XXXX-XXXX-XXXX-XXXX.
- The name and the course title are snapshots taken when the certificate is issued.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from coursemall import urls
from coursemall.domain.catalog import open_to_buyers
from coursemall.domain.errors import DomainError
from coursemall.domain.time import china_date
from coursemall.domain.validation import parse_id
from coursemall.media.certificate import CERT_SIZE, render_png
from coursemall.models import Certificate, Course, User, utcnow
from coursemall.services.actors import require_actor
from coursemall.services.learning.media_access import has_active_entitlement
from coursemall.services.learning.progress import course_progress_map

_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I
_CODE = re.compile(r"^[2-9A-HJ-NP-Z]{4}(-[2-9A-HJ-NP-Z]{4}){3}$")

__all__ = ["CERT_SIZE", "CertificateView", "issue_certificate", "issue_for_completed_course", "verify_certificate",
           "my_certificates", "render_certificate_png", "certificate_png"]


@dataclass(frozen=True)
class CertificateView:
    code: str
    learner_name: str
    course_id: int
    course_title: str
    issued_on: str  # ISO date (Asia/Shanghai)
    issued_at: datetime
    verify_path: str


def new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    return "-".join(raw[i:i + 4] for i in range(0, 16, 4))


def _view(cert: Certificate) -> CertificateView:
    return CertificateView(cert.code, cert.learner_name, cert.course_id, cert.course_title,
                           china_date(cert.issued_at).isoformat(), cert.issued_at,
                           urls.certificate_url(cert.code))


def _existing(session: Session, user_id: int, course_id: int) -> Certificate | None:
    return session.exec(select(Certificate).where(Certificate.user_id == user_id,
                                                  Certificate.course_id == course_id)).first()


def issue_for_completed_course(session: Session, *, user_id: int, course_id: int,
                               now: datetime | None = None) -> CertificateView:
    """Issue (or return) the certificate; the caller has checked progress and entitlement."""
    found = _existing(session, user_id, course_id)
    if found is not None:
        return _view(found)
    user = session.get(User, user_id)
    course = session.get(Course, course_id)
    assert user is not None and course is not None
    cert = Certificate(user_id=user_id, course_id=course_id, code=new_code(), learner_name=user.nickname[:40],
                       course_title=course.title[:80], issued_at=now or utcnow())
    try:
        session.add(cert)
        session.commit()
    except IntegrityError:
        session.rollback()  # issued concurrently (or, astronomically rarely, a code collision)
        found = _existing(session, user_id, course_id)
        if found is None:
            raise DomainError("learning.busy") from None
        return _view(found)
    return _view(cert)


def issue_certificate(session: Session, *, actor_id: object, course_id: object,
                      now: datetime | None = None) -> CertificateView:
    """The actor's certificate for a course they own and completed (100 %)."""
    user = require_actor(session, actor_id)
    cid = parse_id(course_id)
    found = _existing(session, user.id, cid)
    if found is not None:
        return _view(found)
    course = session.get(Course, cid)
    if course is None or not open_to_buyers(course.status):
        raise DomainError("error.not_found")
    if not has_active_entitlement(session, user_id=user.id, course_id=cid):
        raise DomainError("lesson.locked")
    if course_progress_map(session, user.id, [cid]).get(cid, 0) < 100:
        raise DomainError("certificate.not_complete")
    return issue_for_completed_course(session, user_id=user.id, course_id=cid, now=now)


def verify_certificate(session: Session, code: object) -> CertificateView | None:
    """Public check by code: the certificate, or None (also for malformed codes)."""
    if not isinstance(code, str) or len(code) > 24:
        return None
    normalized = code.strip().upper()
    if not _CODE.match(normalized):
        return None
    cert = session.exec(select(Certificate).where(Certificate.code == normalized)).first()
    return _view(cert) if cert else None


def my_certificates(session: Session, *, actor_id: object) -> tuple[CertificateView, ...]:
    user = require_actor(session, actor_id)
    rows = session.exec(select(Certificate).where(Certificate.user_id == user.id)
                        .order_by(col(Certificate.issued_at).desc())).all()
    return tuple(_view(c) for c in rows)


def render_certificate_png(view: CertificateView, *, shop_name: str = "CourseMall", base_url: str = "") -> bytes:
    """The certificate as a PNG of CERT_SIZE pixels."""
    from datetime import date

    return render_png(learner_name=view.learner_name, course_title=view.course_title,
                      issued_on=date.fromisoformat(view.issued_on), code=view.code, shop_name=shop_name,
                      verify_url=f"{base_url.rstrip('/')}{view.verify_path}" if base_url else "")


def certificate_png(session: Session, code: object, **kwargs) -> bytes | None:
    """PNG for a verification code (what the public page shows), or None when unknown."""
    view = verify_certificate(session, code)
    return render_certificate_png(view, **kwargs) if view else None
