"""Idempotent seeding of the demo shop (COURSEMALL_DEMO=1): the demo owner, accounts and content.

A production shop seeds nothing: it has no demo accounts and no owner with a known password;
its owner is created by the one-time setup link (services/shop/setup.py).

Rows are found by their unique keys (user e-mail, category/course/bundle slug, tag name, media
storage key, ...). Only what is missing is created; nothing is ever deleted or overwritten, so a
course the owner edited keeps its edits and a second run reports zero creations.
"""

from __future__ import annotations

import base64
import html
import secrets
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from coursemall.db import get_engine, session_scope
from coursemall.demo import accounts, content
from coursemall.demo.covers import draw_avatar, draw_cover, draw_figure, ensure_image, stable_name
from coursemall.demo.media_gen import DEMO_MEDIA, ensure_demo_media, probe_duration
from coursemall.domain.catalog import CourseStatus, EntitlementSource, LessonKind, Role, build_search_text
from coursemall.models import (
    Bundle,
    BundleCourse,
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
from coursemall.services.accounts.passwords import hash_password
from coursemall.settings import Settings, get_settings

DEMO_SOURCE_REF = "demo"
PARTIAL_TRIAL_SECONDS = 30
_KINDS = {"v": LessonKind.VIDEO, "a": LessonKind.AUDIO, "t": LessonKind.ARTICLE}


def seed_all(engine: Engine | None = None, settings: Settings | None = None) -> dict:
    """Create the demo shop with its owner (demo mode only). Safe to run any number of times."""
    settings = settings or get_settings()
    engine = engine or get_engine()
    started = time.monotonic()
    summary: dict = {}
    if not settings.demo:
        summary["owner"] = "created by the setup link"
    else:
        with session_scope(engine) as session:
            summary["owner"] = ensure_owner(session, settings)
        # Media files are made outside the transaction: ffmpeg takes seconds, the DB lock should not.
        summary["media_files_generated"] = ensure_demo_media(settings.media_dir)
        with session_scope(engine) as session:
            summary.update(seed_demo_shop(session, settings))
        summary.update(_seed_demo_extras(engine, settings))
    summary["seconds"] = round(time.monotonic() - started, 1)
    return summary


def _seed_demo_extras(engine: Engine, settings: Settings) -> dict:
    """Demo-only additions: the owner's known TOTP seed (printed in the banner), the renditions and
    encrypted HLS of the demo media, the free-seconds clips of the lessons that have them, a month
    of study history for the learners and a month of sales (with funnel page views) for the
    dashboard."""
    from coursemall.demo.renditions import ensure_demo_previews, ensure_demo_renditions
    from coursemall.demo.sales import ensure_demo_sales
    from coursemall.demo.security import ensure_demo_owner_totp
    from coursemall.demo.study import ensure_demo_study

    out: dict = {}
    with session_scope(engine) as session:
        owner = _user_by_email(session, settings.owner_email)
        out["owner_totp_enrolled"] = bool(owner and ensure_demo_owner_totp(session, owner))
    with session_scope(engine) as session:
        out["demo_renditions"] = ensure_demo_renditions(session, settings.media_dir, settings.public_dir)
    with session_scope(engine) as session:
        # partial-trial viewers get these clips, never a byte of the rest of a paid lesson
        out["demo_previews"] = ensure_demo_previews(session, settings.media_dir)
    with session_scope(engine) as session:
        out["demo_study"] = ensure_demo_study(session)
    with session_scope(engine) as session:
        out.update(ensure_demo_sales(session, new_watermark_code))
    return out


# ------------------------------------------------------------------------------------------ users


def new_watermark_code(session: Session) -> str:
    """8 upper-case base32 characters (5 random bytes), unique among users."""
    while True:
        code = base64.b32encode(secrets.token_bytes(5)).decode()
        if session.exec(select(User.id).where(User.watermark_code == code)).first() is None:
            return code


def _user_by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email)).first()


def _ensure_user(session: Session, *, email: str, password: str, nickname: str, role: str,
                 phone: str | None = None) -> tuple[User, bool]:
    """The user with this e-mail, created if missing. An existing account is returned untouched."""
    user = _user_by_email(session, email)
    if user is not None:
        return user, False
    if phone and session.exec(select(User.id).where(User.phone == phone)).first() is not None:
        phone = None  # someone registered this number meanwhile: keep theirs
    user = User(email=email, phone=phone, password_hash=hash_password(password), nickname=nickname,
                role=role, watermark_code=new_watermark_code(session))
    session.add(user)
    session.flush()
    return user, True


def ensure_owner(session: Session, settings: Settings) -> str:
    """The demo owner (COURSEMALL_OWNER_PASSWORD, else the published demo password)."""
    if not settings.demo:
        raise ValueError("only the demo shop has a seeded owner")
    _user, created = _ensure_user(session, email=settings.owner_email,
                                  password=settings.owner_password or accounts.OWNER_PASSWORD,
                                  nickname=accounts.OWNER_NICKNAME, role=Role.OWNER)
    return "created" if created else "exists"


# ------------------------------------------------------------------------------------ demo shop


class _Seeder:
    """One demo-seeding pass inside one session; `counts` becomes the returned summary."""

    def __init__(self, session: Session, settings: Settings):
        self.s = session
        self.public_dir: Path = settings.public_dir
        self.media_dir: Path = settings.media_dir
        self.now = datetime.now(timezone.utc)
        self.counts: Counter = Counter()
        self.users: dict[str, User] = {}
        self.categories: dict[str, Category] = {}
        self.instructors: list[Instructor] = []
        self.assets: dict[str, list[MediaAsset]] = {"video": [], "audio": []}
        self.courses: dict[str, Course] = {}
        self.tags: dict[str, Tag] = {}

    def run(self) -> dict:
        self.accounts()
        self.category_rows()
        self.instructor_rows()
        self.media_rows()
        for index, spec in enumerate(content.COURSES):
            self.course(index, spec)
        for index, spec in enumerate(content.BUNDLES):
            self.bundle(index, spec)
        self.entitlements()
        self.reviews()
        keys = ["users", "categories", "instructors", "media", "tags", "courses", "chapters", "lessons",
                "bundles", "entitlements", "reviews"]
        summary = {f"{k}_created": self.counts[k] for k in keys}
        summary["images_drawn"] = self.counts["images"]
        return summary

    def _image(self, name: str, draw) -> None:
        if ensure_image(self.public_dir, name, draw):
            self.counts["images"] += 1

    # accounts ---------------------------------------------------------------------------------
    def accounts(self) -> None:
        for acc in accounts.DEMO_LEARNERS:
            user, created = _ensure_user(self.s, email=acc.email, password=accounts.LEARNER_PASSWORD,
                                         nickname=acc.nickname, role=Role.LEARNER, phone=acc.phone)
            self.users[acc.email] = user
            self.counts["users"] += created
        for acc in accounts.DEMO_INSTRUCTORS:
            user, created = _ensure_user(self.s, email=acc.email, password=accounts.INSTRUCTOR_PASSWORD,
                                         nickname=acc.nickname, role=Role.INSTRUCTOR)
            self.users[acc.email] = user
            self.counts["users"] += created

    # catalog vocabulary -----------------------------------------------------------------------
    def category_rows(self) -> None:
        for position, (slug, name, name_en, icon) in enumerate(content.CATEGORIES):
            row = self.s.exec(select(Category).where(Category.slug == slug)).first()
            if row is None:
                row = Category(slug=slug, name=name, name_en=name_en, icon=icon, position=position)
                self.s.add(row)
                self.counts["categories"] += 1
            self.categories[slug] = row
        self.s.flush()

    def tag(self, name: str) -> Tag:
        if name not in self.tags:
            row = self.s.exec(select(Tag).where(Tag.name == name)).first()
            if row is None:
                row = Tag(name=name)
                self.s.add(row)
                self.s.flush()
                self.counts["tags"] += 1
            self.tags[name] = row
        return self.tags[name]

    def instructor_rows(self) -> None:
        """One profile per instructor account; found again through the account, so renames stick."""
        for spec, acc in zip(content.INSTRUCTORS, accounts.DEMO_INSTRUCTORS, strict=True):
            user = self.users[acc.email]
            row = self.s.exec(select(Instructor).where(Instructor.user_id == user.id)).first()
            if row is None:
                avatar = stable_name("avatars", f"instructor:{acc.email}", "png")
                self._image(avatar, lambda spec=spec, acc=acc: draw_avatar(spec.name, acc.email))
                row = Instructor(user_id=user.id, name=spec.name, title=spec.title, bio=spec.bio,
                                 avatar_path=avatar, status="approved")
                self.s.add(row)
                if not user.avatar_path:
                    user.avatar_path = avatar
                    self.s.add(user)
                self.counts["instructors"] += 1
            self.instructors.append(row)
        self.s.flush()

    def media_rows(self) -> None:
        for item in DEMO_MEDIA:
            row = self.s.exec(select(MediaAsset).where(MediaAsset.storage_key == item.key)).first()
            if row is None:
                path = self.media_dir / item.key
                row = MediaAsset(kind=item.kind, storage_key=item.key, mime=item.mime,
                                 size_bytes=path.stat().st_size,
                                 duration_seconds=round(probe_duration(path)), status="ready")
                self.s.add(row)
                self.counts["media"] += 1
            self.assets[item.kind].append(row)
        self.s.flush()

    # courses ----------------------------------------------------------------------------------
    def course(self, index: int, spec: content.CourseSpec) -> None:
        cover = stable_name("covers", f"course:{spec.slug}", "jpg")
        existing = self.s.exec(select(Course).where(Course.slug == spec.slug)).first()
        if existing is not None:
            self.courses[spec.slug] = existing
            if existing.cover_path == cover:  # our generated cover: redraw only if the file went missing
                self._image(cover, lambda: self._draw_course_cover(index, spec))
            return
        instructor = self.instructors[spec.instructor]
        self._image(cover, lambda: self._draw_course_cover(index, spec))
        published = self.now - timedelta(days=spec.days_ago, hours=(index * 7) % 24)
        course = Course(
            slug=spec.slug, title=spec.title, subtitle=spec.subtitle, intro_html=intro_html(spec),
            audience="\n".join(spec.audience), cover_path=cover,
            category_id=self.categories[spec.category].id, instructor_id=instructor.id,
            price_fen=spec.price_fen, original_price_fen=max(spec.original_price_fen, spec.price_fen),
            status=CourseStatus.PUBLISHED, published_at=published,
            is_featured=spec.featured_rank > 0, featured_rank=spec.featured_rank,
            sales_count=spec.sales, learners_count=spec.learners,
            search_text=build_search_text(spec.title, spec.subtitle, instructor.name, spec.tags),
            created_at=published - timedelta(days=3), updated_at=published,
        )
        self.s.add(course)
        self.s.flush()
        for name in spec.tags:
            self.s.add(CourseTag(course_id=course.id, tag_id=self.tag(name).id))
        lessons = self.outline(index, spec, course)
        course.lesson_count = len(lessons)
        course.total_duration_seconds = sum(lesson.duration_seconds for lesson in lessons)
        self.s.add(course)
        self.s.flush()
        self.courses[spec.slug] = course
        self.counts["courses"] += 1

    def _draw_course_cover(self, index: int, spec: content.CourseSpec):
        category = next(name for slug, name, *_ in content.CATEGORIES if slug == spec.category)
        lessons = sum(len(items) for _, items in spec.outline)
        footer = f"{content.INSTRUCTORS[spec.instructor].name} · {lessons} 节课"
        # Golden-ratio hue steps spread the covers around the colour wheel.
        return draw_cover(spec.title, category, footer, f"course:{spec.slug}", hue=(index * 0.618034) % 1.0)

    def outline(self, index: int, spec: content.CourseSpec, course: Course) -> list[Lesson]:
        lessons: list[Lesson] = []
        free_count = 2 if index % 2 == 0 else 1  # the first lesson or two are free to try
        previews_left = 2 if spec.partial_trial and spec.price_fen > 0 else 0
        for c_pos, (chapter_title, items) in enumerate(spec.outline):
            chapter = Chapter(course_id=course.id, title=chapter_title, position=c_pos)
            self.s.add(chapter)
            self.s.flush()
            self.counts["chapters"] += 1
            for l_pos, (code, title) in enumerate(items):
                n = len(lessons)
                lesson = Lesson(course_id=course.id, chapter_id=chapter.id, title=title, kind=_KINDS[code],
                                position=l_pos, is_free_trial=n < free_count)
                if code == "t":
                    lesson.article_html = self.article(spec, title, n)
                    lesson.duration_seconds = 240 + 60 * ((index + n) % 4)  # reading time, 4–7 min
                else:
                    pool = self.assets["video" if code == "v" else "audio"]
                    asset = pool[(index + n) % len(pool)]
                    lesson.media_asset_id = asset.id
                    lesson.duration_seconds = asset.duration_seconds
                    if code == "v" and not lesson.is_free_trial and previews_left:
                        lesson.free_seconds = PARTIAL_TRIAL_SECONDS
                        previews_left -= 1
                self.s.add(lesson)
                lessons.append(lesson)
                self.counts["lessons"] += 1
        self.s.flush()
        return lessons

    def article(self, spec: content.CourseSpec, title: str, n: int) -> str:
        """A short illustrated article: intro, key points, one or two figures, a practice task."""
        figures = []
        for k in range(1 + (n % 2)):
            name = stable_name("articles", f"article:{spec.slug}:{n}:{k}", "png")
            caption = f"图 {k + 1}：{title}"
            self._image(name, lambda caption=caption, name=name: draw_figure(caption, name))
            figures.append(f'<p><img src="/api/public/{name}" alt="{html.escape(caption)}"></p>')
        t, course_title = html.escape(title), html.escape(spec.title)
        points = "".join(f"<li>{html.escape(p)}</li>" for p in spec.highlights[:3])
        return "\n".join([
            f"<p>这是「{course_title}」的图文讲义，本节主题是<strong>{t}</strong>。"
            "建议先通读一遍，再对照图示动手练习，遇到问题可以在讨论区提问。</p>",
            "<p>很多同学在这一步容易只记结论、不练方法。下面先回顾本课程的几个关键点，再看具体做法。</p>",
            f"<p><strong>本节要点</strong></p><ul>{points}</ul>",
            figures[0],
            "<p>图中展示了一个完整的示例。请注意每一步之间的衔接：前一步的输出，正是后一步的输入。"
            "先照着做一遍，再换成你自己的素材或数据重做一次，印象会深刻得多。</p>",
            *figures[1:],
            f"<p><strong>课后小练习：</strong>用 15 分钟把「{t}」的方法应用到你手头的一件实际事情上，"
            "把结果和心得写下来，下一节课我们会用到它。</p>",
        ])

    # bundles ----------------------------------------------------------------------------------
    def bundle(self, index: int, spec: content.BundleSpec) -> None:
        cover = stable_name("covers", f"bundle:{spec.slug}", "jpg")
        if self.s.exec(select(Bundle).where(Bundle.slug == spec.slug)).first() is not None:
            return
        members = [self.courses[slug] for slug in spec.courses if slug in self.courses]
        self._image(cover, lambda: draw_cover(spec.title, "专栏", f"{len(members)} 门课程 · 打包更优惠",
                                              f"bundle:{spec.slug}", hue=(0.08 + index * 0.45) % 1.0))
        bundle = Bundle(slug=spec.slug, title=spec.title, subtitle=spec.subtitle, cover_path=cover,
                        price_fen=spec.price_fen, status=CourseStatus.PUBLISHED,
                        original_price_fen=max(spec.price_fen, sum(c.price_fen for c in members)))
        self.s.add(bundle)
        self.s.flush()
        for position, course in enumerate(members):
            self.s.add(BundleCourse(bundle_id=bundle.id, course_id=course.id, position=position))
        self.counts["bundles"] += 1

    # ownership and reviews --------------------------------------------------------------------
    def entitlements(self) -> None:
        for email, slugs in content.OWNERSHIPS.items():
            user = self.users[email]
            for k, slug in enumerate(slugs):
                course = self.courses[slug]
                found = self.s.exec(select(Entitlement.id).where(
                    Entitlement.user_id == user.id, Entitlement.course_id == course.id,
                    Entitlement.source == EntitlementSource.MANUAL,
                    Entitlement.source_ref == DEMO_SOURCE_REF)).first()
                if found is None:
                    self.s.add(Entitlement(user_id=user.id, course_id=course.id, source=EntitlementSource.MANUAL,
                                           source_ref=DEMO_SOURCE_REF,
                                           granted_at=self._after_publish(course, 0.3 + 0.1 * k)))
                    self.counts["entitlements"] += 1
        self.s.flush()

    def reviews(self) -> None:
        touched: set[int] = set()
        for k, (email, slug, stars, text) in enumerate(content.REVIEWS):
            user, course = self.users[email], self.courses[slug]
            found = self.s.exec(select(Review.id).where(Review.course_id == course.id,
                                                        Review.user_id == user.id)).first()
            if found is None:
                at = self._after_publish(course, 0.7 + 0.02 * k)
                self.s.add(Review(course_id=course.id, user_id=user.id, rating=stars, content=text,
                                  created_at=at, updated_at=at))
                touched.add(course.id)
                self.counts["reviews"] += 1
        self.s.flush()
        for course_id in touched:  # keep the denormalised rating equal to the visible reviews
            total, count = self.s.exec(select(func.coalesce(func.sum(Review.rating), 0), func.count(Review.id))
                                       .where(Review.course_id == course_id, Review.status == "visible")).one()
            course = self.s.get(Course, course_id)
            course.rating_sum, course.rating_count = int(total), int(count)
            self.s.add(course)

    def _after_publish(self, course: Course, fraction: float) -> datetime:
        """A moment `fraction` of the way from the course's publication to now."""
        start = course.published_at or self.now
        return start + (self.now - start) * min(fraction, 0.98)


def intro_html(spec: content.CourseSpec) -> str:
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in spec.intro)
    gains = "".join(f"<li>{html.escape(h)}</li>" for h in spec.highlights)
    return f"{paragraphs}<p><strong>学完这门课，你将：</strong></p><ul>{gains}</ul>"


def seed_demo_shop(session: Session, settings: Settings) -> dict:
    return _Seeder(session, settings).run()
