"""Catalog services on SQLite and PostgreSQL: search, listings, detail, lesson access."""

from __future__ import annotations

import pytest
from sqlmodel import select

from coursemall.domain.errors import DomainError
from coursemall.domain.search import PAGE_SIZE
from coursemall.models import Course, Entitlement, Lesson, MediaAsset, utcnow
from coursemall.services.catalog import storefront as svc
from coursemall.services.learning.media_access import Access, check_lesson_access, mint_lesson_media_url
from coursemall.services.learning.player import get_lesson_page
from tests.services.catalog_fixture import build_catalog


@pytest.fixture
def cat(session):
    return build_catalog(session)


def titles(result) -> list[str]:
    return [item.title for item in result.items]


def test_chinese_two_character_word_inside_a_title(session, cat):
    result = svc.search_courses(session, query="摄影")
    assert set(titles(result)) == {"手机摄影入门：从构图到后期", "人像摄影进阶"}
    assert result.total == 2
    # hits are marked for the UI, and the pieces re-join to the title
    card = next(i for i in result.items if i.id == cat.ids["phone"])
    assert ("摄影", True) in card.title_segments
    assert "".join(t for t, _ in card.title_segments) == card.title


def test_python_is_case_insensitive_and_finds_only_published(session, cat):
    for q in ("Python", "python", "PYTHON", "Ｐｙｔｈｏｎ"):
        assert set(titles(svc.search_courses(session, query=q))) == {
            "Python 数据分析实战", "零基础学 Python"}, q


def test_search_by_instructor_tag_and_subtitle(session, cat):
    assert {i.id for i in svc.search_courses(session, query="李明").items} == {
        cat.ids["phone"], cat.ids["portrait"]}
    assert {i.id for i in svc.search_courses(session, query="入门").items} == {
        cat.ids["phone"], cat.ids["zero"]}  # title word and tag
    assert {i.id for i in svc.search_courses(session, query="后期").items} == {cat.ids["phone"]}
    assert {i.id for i in svc.search_courses(session, query="pandas").items} == {cat.ids["pandas"]}
    assert {i.id for i in svc.search_courses(session, query="guido").items} == {
        cat.ids["pandas"], cat.ids["zero"], cat.ids["growth"]}


def test_all_terms_must_match(session, cat):
    assert titles(svc.search_courses(session, query="Python 入门")) == ["零基础学 Python"]
    assert titles(svc.search_courses(session, query="摄影  手机")) == ["手机摄影入门：从构图到后期"]
    assert svc.search_courses(session, query="摄影 Python").total == 0


@pytest.mark.parametrize("q", ["%", "_", "\\", "'", '"', "--", "*", "MATCH", "' OR 1=1 --",
                               "\"摄影 AND*", "📷🎓😀", "\x00\x1f", "%%%", "_ _", "a'b\"c"])
def test_syntax_characters_are_literal(session, cat, q):
    result = svc.search_courses(session, query=q)
    for item in result.items:  # whatever is found really contains every term
        text = next(c.search_text for c in session.exec(select(Course).where(Course.id == item.id)))
        for term in result.terms:
            assert term in text


def test_percent_and_underscore_match_only_literally(session, cat):
    assert titles(svc.search_courses(session, query="%")) == ["增长黑客 100% 实战_手册"]
    assert titles(svc.search_courses(session, query="_")) == ["增长黑客 100% 实战_手册"]
    assert titles(svc.search_courses(session, query='"quoted"')) == ["增长黑客 100% 实战_手册"]
    assert titles(svc.search_courses(session, query="*match*")) == ["增长黑客 100% 实战_手册"]
    assert svc.search_courses(session, query="📷").total == 0


def test_very_long_and_odd_queries_do_not_fail(session, cat):
    long = svc.search_courses(session, query="摄" * 1000)
    assert long.truncated and long.total == 0 and len(long.query) == 50
    for odd in ({"q": "x"}, ["摄影"], 42, None):
        result = svc.search_courses(session, query=odd, sort={"x": 1}, page=["2"])
        assert result.total == 5 and result.page == 1  # lists everything public


def test_empty_query_lists_all_published(session, cat):
    result = svc.search_courses(session, query="   ")
    assert result.total == 5
    assert cat.ids["draft"] not in {i.id for i in result.items}
    assert cat.ids["gone"] not in {i.id for i in result.items}


def test_sort_orders(session, cat):
    def order(sort):
        return [i.id for i in svc.search_courses(session, query="", sort=sort).items]

    ids = cat.ids
    assert order("newest") == [ids["growth"], ids["zero"], ids["pandas"], ids["portrait"], ids["phone"]]
    assert order("best") == [ids["zero"], ids["pandas"], ids["phone"], ids["portrait"], ids["growth"]]
    assert order("price_asc") == [ids["zero"], ids["growth"], ids["phone"], ids["portrait"], ids["pandas"]]
    assert order("price_desc") == [ids["pandas"], ids["portrait"], ids["phone"], ids["growth"], ids["zero"]]
    # 4.9, 4.5, 4.0, then the unrated ones (ties by id, newest id first)
    assert order("rating") == [ids["zero"], ids["phone"], ids["pandas"], ids["growth"], ids["portrait"]]
    assert order("nonsense") == order("newest")


def test_paging_and_clamping(session, cat):
    from datetime import timedelta

    from tests.services.catalog_fixture import T0
    for n in range(30):
        session.add(Course(slug=f"bulk-{n}", title=f"批量课程 {n}", status="published",
                           published_at=T0 + timedelta(days=100 + n), search_text=f"批量课程 {n}",
                           price_fen=100))
    session.commit()
    first = svc.search_courses(session, query="批量")
    assert first.total == 30 and first.pages == 3 and len(first.items) == PAGE_SIZE
    third = svc.search_courses(session, query="批量", page=3)
    assert len(third.items) == 6
    seen = {i.id for p in (1, 2, 3) for i in svc.search_courses(session, query="批量", page=p).items}
    assert len(seen) == 30  # no duplicates or gaps across pages
    clamped = svc.search_courses(session, query="批量", page="999")
    assert clamped.page == 3 and [i.id for i in clamped.items] == [i.id for i in third.items]
    assert svc.search_courses(session, query="批量", page="-3").page == 1


def test_card_prices_and_rating_text(session, cat):
    phone = next(i for i in svc.search_courses(session, query="手机").items)
    assert phone.price_text == "¥99.00" and phone.original_price_text == "¥199.00"
    assert phone.rating_text == "4.5" and phone.instructor_name == "李明"
    assert phone.cover_url == "/api/public/phone.png"
    zero = next(i for i in svc.search_courses(session, query="零基础").items)
    assert zero.price_text == "¥0.00" and zero.original_price_text == ""
    portrait = next(i for i in svc.search_courses(session, query="人像").items)
    assert portrait.rating_text == ""


def test_home_sections(session, cat):
    home = svc.get_home(session)
    assert [b.id for b in home.banners] == [cat.ids["portrait"], cat.ids["phone"]]  # by featured_rank
    assert [c.slug for c in home.categories] == ["code", "photo", "empty"]
    assert home.newest[0].id == cat.ids["growth"]
    assert home.best_sellers[0].id == cat.ids["zero"]
    assert all(c.id not in (cat.ids["draft"], cat.ids["gone"]) for c in home.newest + home.best_sellers)


def test_category_listing(session, cat):
    photo = svc.list_category(session, slug="photo", sort="price_desc")
    assert [i.id for i in photo.items] == [cat.ids["portrait"], cat.ids["phone"]]
    assert photo.category.name == "摄影" and photo.category.name_en == "Photography"
    assert svc.list_category(session, slug="empty").total == 0
    for bad in ("nope", "", {"slug": "photo"}, "x" * 500):
        with pytest.raises(DomainError):
            svc.list_category(session, slug=bad)


def test_course_detail_outline_order_and_totals(session, cat):
    d = svc.get_course_detail(session, course_id=cat.ids["phone"])
    assert [ch.title for ch in d.chapters] == ["第一章 基础", "第二章 进阶"]
    assert [ls.title for ls in d.chapters[0].lessons] == ["为什么手机也能拍大片", "光线的秘密", "器材清单（图文）"]
    assert [ls.kind for ls in d.chapters[0].lessons] == ["video", "audio", "article"]
    assert d.lesson_count == 4 and d.trial_count == 3
    assert d.total_duration_seconds == 125 + 420 + 300 + 600
    assert d.total_duration_text == "24:05"
    trial, partial, article = d.chapters[0].lessons
    assert trial.is_free_trial and trial.duration_text == "02:05" and trial.playable
    assert partial.free_seconds == 30 and partial.playable and not partial.is_free_trial
    paid = d.chapters[1].lessons[0]
    assert not paid.playable and not paid.is_free_trial
    assert "<script" not in d.intro_html and "onerror" not in d.intro_html and "好课" in d.intro_html
    assert d.audience_lines == ("摄影爱好者", "想用手机拍好照片的人")
    assert d.instructor.name == "李明" and d.instructor.title == "资深摄影师"
    assert d.price_text == "¥99.00" and d.original_price_text == "¥199.00"
    assert set(d.tags) == {"手机", "入门", "后期"}


def test_course_detail_reviews_and_related(session, cat):
    d = svc.get_course_detail(session, course_id=cat.ids["phone"])
    # the hidden 1-star review counts nowhere
    assert d.rating_count == 3 and d.rating_text == "4.7"
    assert [(b.stars, b.count) for b in d.rating_bars] == [(5, 2), (4, 1), (3, 0), (2, 0), (1, 0)]
    assert [r.nickname for r in d.reviews] == ["学员2", "学员1", "学员0"]  # newest first
    assert d.reviews[0].content == "评价2 <b>不是HTML</b>"  # plain text, rendered as text
    related = {c.id for c in d.related}
    assert cat.ids["portrait"] in related  # same category
    assert cat.ids["zero"] in related  # shares the 入门 tag
    assert cat.ids["phone"] not in related and cat.ids["draft"] not in related


def test_unpublished_courses_are_invisible(session, cat):
    for key in ("draft", "gone"):
        with pytest.raises(DomainError):
            svc.get_course_detail(session, course_id=cat.ids[key])
    for bad in (0, -1, "abc", {"id": 1}, [1], 10**30, "1" * 40, True, None):
        with pytest.raises(DomainError):
            svc.get_course_detail(session, course_id=bad)


def test_entitlement_marks_everything_playable(session, cat):
    d = svc.get_course_detail(session, course_id=cat.ids["phone"], actor_id=cat.ids["buyer"])
    assert d.entitled and all(ls.playable for ch in d.chapters for ls in ch.lessons)
    expired = svc.get_course_detail(session, course_id=cat.ids["phone"], actor_id=cat.ids["expired_buyer"])
    assert not expired.entitled


def test_lesson_access_rules(session, cat):
    ids = cat.ids
    assert check_lesson_access(session, actor_id=None, lesson_id=ids["lesson_trial"]).access is Access.FULL
    assert check_lesson_access(session, actor_id=None, lesson_id=ids["lesson_partial"]).access is Access.PARTIAL
    assert check_lesson_access(session, actor_id=None, lesson_id=ids["lesson_paid"]).access is Access.LOCKED
    assert check_lesson_access(session, actor_id=ids["stranger"], lesson_id=ids["lesson_paid"]).access \
        is Access.LOCKED
    assert check_lesson_access(session, actor_id=ids["expired_buyer"], lesson_id=ids["lesson_paid"]).access \
        is Access.LOCKED
    assert check_lesson_access(session, actor_id=ids["buyer"], lesson_id=ids["lesson_paid"]).access is Access.FULL


def _ready_media(session, ids) -> None:
    """What the media pipeline leaves: encrypted HLS variants and the partial lesson's clip."""
    for key in ("asset_paid", "asset_video"):
        asset = session.get(MediaAsset, ids[key])
        asset.renditions = {"hls_hd": "x/hls/hd", "hls_sd": "x/hls/sd"}
        session.add(asset)
    lesson = session.get(Lesson, ids["lesson_partial"])
    lesson.preview_key, lesson.preview_asset_id, lesson.preview_seconds = "x/clip.m4a", ids["asset_audio"], 30
    session.add(lesson)
    session.commit()


def test_mint_media_url_only_after_the_check(session, cat):
    ids = cat.ids
    with pytest.raises(DomainError) as err:
        mint_lesson_media_url(session, actor_id=None, lesson_id=ids["lesson_paid"])
    assert err.value.code == "lesson.locked"
    with pytest.raises(DomainError) as err:  # nothing to play until the pipeline made it
        mint_lesson_media_url(session, actor_id=ids["buyer"], lesson_id=ids["lesson_paid"])
    assert err.value.code == "lesson.media_preparing"
    _ready_media(session, ids)
    minted = mint_lesson_media_url(session, actor_id=ids["buyer"], lesson_id=ids["lesson_paid"])
    assert minted.url.startswith("/api/hls/") and minted.access is Access.FULL
    assert minted.mime == "application/vnd.apple.mpegurl"
    partial = mint_lesson_media_url(session, actor_id=None, lesson_id=ids["lesson_partial"])
    assert partial.access is Access.PARTIAL and partial.free_seconds == 30 and partial.mime == "audio/mp4"
    assert partial.url.startswith("/api/media/")


def _media_url(page) -> str:
    """The player's default source (what PlayerState.load_player shows first)."""
    return page.media.sources[0].url if page.media and page.media.sources else ""


def test_lesson_pages(session, cat):
    """The lesson page (services/player.get_lesson_page, the player's loader) for an anonymous viewer."""
    ids = cat.ids
    _ready_media(session, ids)
    trial = get_lesson_page(session, actor_id=None, lesson_id=ids["lesson_trial"])
    assert trial.access == "full" and _media_url(trial).startswith("/api/hls/")
    assert trial.prev_lesson_id == 0 and trial.next_lesson_id == ids["lesson_partial"]
    paid = get_lesson_page(session, actor_id=None, lesson_id=ids["lesson_paid"])
    assert paid.access == "locked" and _media_url(paid) == "" and paid.next_lesson_id == 0
    article = get_lesson_page(session, actor_id=None, lesson_id=ids["lesson_article"])
    assert article.access == "full" and "三脚架" in article.article_html
    assert "<script" not in article.article_html and "onclick" not in article.article_html
    partial = get_lesson_page(session, actor_id=None, lesson_id=ids["lesson_partial"])
    assert partial.access == "partial" and partial.free_seconds == 30 and _media_url(partial)


def test_revoked_entitlement_locks_again(session, cat):
    ids = cat.ids
    ent = session.exec(select(Entitlement).where(Entitlement.user_id == ids["buyer"])).one()
    ent.revoked_at = utcnow()
    session.add(ent)
    session.commit()
    assert _media_url(get_lesson_page(session, actor_id=ids["buyer"], lesson_id=ids["lesson_paid"])) == ""
