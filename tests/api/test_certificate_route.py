"""GET /api/certificate/{code}.png and the public verification state: a real certificate renders
a PNG; malformed or unknown codes are 404 without rendering."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

import coursemall.coursemall  # noqa: F401  (registers pages and states)
from coursemall.api import certificate as certificate_api
from coursemall.services.learning.certificates import issue_for_completed_course
from coursemall.state.learning import player as player_state
from coursemall.state.learning.player import CertificateState
from tests.services.catalog_fixture import build_catalog
from tests.state.helpers import call_sync, route_state


@pytest.fixture
def issued(sqlite_engine, monkeypatch):
    with Session(sqlite_engine, expire_on_commit=False) as s:
        ids = build_catalog(s).ids
        view = issue_for_completed_course(s, user_id=ids["buyer"], course_id=ids["phone"])

    @contextmanager
    def scope():
        with Session(sqlite_engine, expire_on_commit=False) as s:
            yield s
            s.commit()

    monkeypatch.setattr(certificate_api, "session_scope", scope)
    monkeypatch.setattr(player_state, "session_scope", scope)
    return view


def test_png_for_a_real_code(issued):
    client = TestClient(Starlette(routes=certificate_api.ROUTES))
    resp = client.get(f"/api/certificate/{issued.code}.png")
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/png"
    assert resp.content[:8] == b"\x89PNG\r\n\x1a\n"
    # lower case is accepted (codes are case-insensitive on the verification page too)
    assert client.get(f"/api/certificate/{issued.code.lower()}.png").status_code == 200


@pytest.mark.parametrize("code", ["AAAA-BBBB-CCCC-DDDD", "x", "..%2F..%2Fetc", "A" * 500, "%00"])
def test_unknown_or_malformed_codes_are_404(issued, code):
    client = TestClient(Starlette(routes=certificate_api.ROUTES))
    resp = client.get(f"/api/certificate/{code}.png")
    assert resp.status_code == 404 and b"PNG" not in resp.content


def test_verification_page_state(issued):
    s = route_state(CertificateState, "/certificate/[code]", f"/certificate/{issued.code}", params={"code": issued.code})
    call_sync(s, "load_certificate")
    assert s.found and s.learner_name == "学员0" and s.course_title.startswith("手机摄影")
    assert s.image_url == f"/api/certificate/{issued.code}.png" and s.issued_on == issued.issued_on
