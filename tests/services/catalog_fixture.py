"""A small catalog built in the test (independent of the demo seed), shared by catalog tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlmodel import Session

from coursemall.domain.catalog import build_search_text
from coursemall.models import (
    Category,
    Chapter,
    Course,
    CourseTag,
    Entitlement,
    Instructor,
    Lesson,
    MediaAsset,
    Review,
    Tag,
    User,
)

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


@dataclass
class Catalog:
    ids: dict[str, int] = field(default_factory=dict)


def build_catalog(session: Session, media_prefix: str = "test") -> Catalog:
    cat = Catalog()
    photo = Category(slug="photo", name="摄影", name_en="Photography", position=2)
    code = Category(slug="code", name="编程", name_en="Programming", position=1)
    empty = Category(slug="empty", name="空分类", name_en="Empty", position=3)
    session.add_all([photo, code, empty])
    li = Instructor(name="李明", title="资深摄影师", bio="十年商业摄影经验")
    guido = Instructor(name="Guido Chen", title="Python 工程师", bio="Writes Python daily")
    session.add_all([li, guido])
    tags = {name: Tag(name=name) for name in ("Python", "入门", "手机", "后期")}
    session.add_all(tags.values())
    users = [User(nickname=f"学员{i}", watermark_code=f"WM{media_prefix[:4]}{i}") for i in range(4)]
    session.add_all(users)
    session.flush()

    def course(key, title, subtitle, instr, category, tag_names, *, price, original=0, sales=0,
               rsum=0, rcount=0, day=0, status="published", featured=0):
        c = Course(
            slug=f"{media_prefix}-{key}", title=title, subtitle=subtitle, category_id=category.id,
            instructor_id=instr.id, price_fen=price, original_price_fen=original, sales_count=sales,
            learners_count=sales, rating_sum=rsum, rating_count=rcount, status=status,
            published_at=T0 + timedelta(days=day) if status == "published" else None,
            is_featured=featured > 0, featured_rank=featured,
            search_text=build_search_text(title, subtitle, instr.name, tag_names),
            intro_html="<p>好课<script>alert(1)</script><img src=x onerror=alert(2)></p>",
            audience="- 摄影爱好者\n- 想用手机拍好照片的人\n\n",
            cover_path=f"{key}.png",
        )
        session.add(c)
        session.flush()
        for name in tag_names:
            session.add(CourseTag(course_id=c.id, tag_id=tags[name].id))
        cat.ids[key] = c.id
        return c

    phone = course("phone", "手机摄影入门：从构图到后期", "用手机拍出大片", li, photo, ["手机", "入门", "后期"],
                   price=9900, original=19900, sales=500, rsum=45, rcount=10, day=1, featured=2)
    course("portrait", "人像摄影进阶", "光线与姿态", li, photo, [], price=19900, sales=200, day=2,
           featured=1)
    course("pandas", "Python 数据分析实战", "pandas 与可视化", guido, code, ["Python"], price=29900,
           sales=800, rsum=40, rcount=10, day=3)
    course("zero", "零基础学 Python", "编程第一课", guido, code, ["Python", "入门"], price=0, sales=1000,
           rsum=49, rcount=10, day=4)
    course("growth", "增长黑客 100% 实战_手册", "it's \"quoted\" -- *MATCH* 案例", guido, code, [],
           price=5000, sales=10, day=5)
    course("draft", "摄影草稿 Python", "未发布", li, photo, ["Python"], price=100, status="draft")
    course("gone", "下架的摄影课 Python", "已下架", li, photo, ["Python"], price=100, status="unpublished")

    # Outline of the phone course: positions deliberately not in insertion order.
    ch2 = Chapter(course_id=phone.id, title="第二章 进阶", position=2)
    ch1 = Chapter(course_id=phone.id, title="第一章 基础", position=1)
    session.add_all([ch2, ch1])
    session.flush()
    assets = {
        "video": MediaAsset(kind="video", storage_key=f"{media_prefix}/trial.mp4", mime="video/mp4",
                            size_bytes=1000),
        "audio": MediaAsset(kind="audio", storage_key=f"{media_prefix}/partial.mp3", mime="audio/mpeg",
                            size_bytes=1000),
        "paid": MediaAsset(kind="video", storage_key=f"{media_prefix}/paid.mp4", mime="video/mp4",
                           size_bytes=1000),
    }
    session.add_all(assets.values())
    session.flush()
    lessons = [
        ("paid", ch2, "构图的高级技巧", "video", 1, 600, False, 0, assets["paid"].id),
        ("article", ch1, "器材清单（图文）", "article", 3, 300, True, 0, None),
        ("partial", ch1, "光线的秘密", "audio", 2, 420, False, 30, assets["audio"].id),
        ("trial", ch1, "为什么手机也能拍大片", "video", 1, 125, True, 0, assets["video"].id),
    ]
    for key, chapter, title, kind, pos, seconds, trial, free_s, asset_id in lessons:
        lesson = Lesson(course_id=phone.id, chapter_id=chapter.id, title=title, kind=kind, position=pos,
                        duration_seconds=seconds, is_free_trial=trial, free_seconds=free_s,
                        media_asset_id=asset_id,
                        article_html="<h2>清单</h2><p onclick='x()'>三脚架</p><script>steal()</script>"
                        if kind == "article" else "")
        session.add(lesson)
        session.flush()
        cat.ids[f"lesson_{key}"] = lesson.id
    for name, asset in assets.items():
        cat.ids[f"asset_{name}"] = asset.id

    ratings = [5, 5, 4, 1]
    for i, (user, rating) in enumerate(zip(users, ratings)):
        session.add(Review(course_id=phone.id, user_id=user.id, rating=rating,
                           content=f"评价{i} <b>不是HTML</b>", created_at=T0 + timedelta(hours=i),
                           status="hidden" if rating == 1 else "visible"))
    cat.ids["buyer"] = users[0].id
    cat.ids["stranger"] = users[1].id
    session.add(Entitlement(user_id=users[0].id, course_id=phone.id, source="order", source_ref="O1"))
    session.add(Entitlement(user_id=users[2].id, course_id=phone.id, source="order", source_ref="O2",
                            expires_at=T0))  # long expired
    cat.ids["expired_buyer"] = users[2].id
    session.commit()
    return cat
