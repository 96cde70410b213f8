"""Series (专栏): only published bundles with published courses are shown, in series order."""

from __future__ import annotations

import pytest

from coursemall.domain.errors import DomainError
from coursemall.models import Bundle, BundleCourse
from coursemall.services.catalog import storefront
from tests.services.catalog_fixture import build_catalog


@pytest.fixture
def shop(session):
    cat = build_catalog(session)
    published = [cat.ids[key] for key in ("phone", "portrait", "pandas")]
    live = Bundle(slug="live", title="摄影全能专栏", subtitle="三门课一次学完", price_fen=29900,
                  original_price_fen=45000, status="published")
    draft = Bundle(slug="draft", title="草稿专栏", price_fen=100, status="draft")
    session.add_all([live, draft])
    session.flush()
    for pos, cid in enumerate(reversed(published)):
        session.add(BundleCourse(bundle_id=live.id, course_id=cid, position=pos))
    session.add(BundleCourse(bundle_id=draft.id, course_id=published[0], position=0))
    session.commit()
    return {"live": live.id, "draft": draft.id, "order": list(reversed(published))}


def test_bundle_detail_lists_its_courses_in_series_order(session, shop):
    detail = storefront.get_bundle_detail(session, bundle_id=str(shop["live"]))
    assert detail.bundle.title == "摄影全能专栏"
    assert detail.bundle.price_text == "¥299.00" and detail.bundle.original_price_text == "¥450.00"
    assert [c.id for c in detail.courses] == shop["order"]
    assert detail.bundle.course_count == len(shop["order"])


def test_home_lists_only_published_bundles(session, shop):
    assert [b.id for b in storefront.get_home(session).bundles] == [shop["live"]]


@pytest.mark.parametrize("bad", [None, "", "abc", -1, 0, 10**12, {"id": 1}, [1], True, "1" * 50])
def test_bad_ids_are_refused(session, shop, bad):
    with pytest.raises(DomainError) as err:
        storefront.get_bundle_detail(session, bundle_id=bad)
    assert err.value.code == "error.bad_request"


def test_draft_and_unknown_bundles_are_not_found(session, shop):
    for bundle_id in (shop["draft"], 999_999):
        with pytest.raises(DomainError) as err:
            storefront.get_bundle_detail(session, bundle_id=bundle_id)
        assert err.value.code == "error.not_found"
