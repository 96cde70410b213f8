"""The shared machinery of the authorisation matrix and the handler fuzzing (tests/security).

- **Discovery**: every public event handler of every State of the app (all pages imported) and
  every API route (path × method) of `coursemall.api.build_api()`.
- **The world**: one shop built once per test session in a SQLite file. Every private object in it
  belongs to *learner A* (orders, a refund request, a transfer proof, comment, note, question,
  check-in, homework, review, cart, sessions, messages, certificate) or to *instructor A* (the
  course, its chapters and lessons, a media job, an upload), so every other actor calls the
  handlers with valid ids of other people's objects.
- **Nine actors**: anonymous, learner (A), learner2 (B), teacher (A), teacher2 (B),
  staff_pw / owner_pw (password-only sessions: no TOTP step), staff, owner (TOTP passed).
- **Writes**: the world file carries a trigger on every table that logs each INSERT, UPDATE and
  DELETE into `_authz_writes` (stricter than comparing snapshots: a write that stores the same
  values still counts). After a call that wrote, the pristine world (kept in memory) is copied
  back over the working database with SQLite's backup API, so every call starts from the same
  rows and the engine (with its statement cache) stays; `table_digest` (row count + a hash of each
  table's rows) proves the copy is the world.
- **A call**: a fresh state tree with the actor's cookie and route, optional backend/frontend
  vars set beforehand (`pre`: what an earlier admitted load would have left, the worst case),
  the handler run like Reflex runs it (coroutines awaited, generators drained); the outcome
  records an escaped exception, exceptions logged by the app, the writes and the state's vars.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import io
import logging
import re
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlencode
from pathlib import Path
from typing import Any

import pyotp
import reflex as rx
from argon2 import PasswordHasher
from PIL import Image
from reflex.istate.data import RouterData
from sqlalchemy import event
from sqlalchemy import select as sa_select
from sqlalchemy import update
from sqlmodel import Session, SQLModel, select
from starlette.datastructures import UploadFile
from starlette.routing import Route

import coursemall.coursemall  # noqa: F401  (imports every page and so every state)
import coursemall.db
from coursemall.db import make_engine
from coursemall.i18n import CATALOG
from coursemall.models import (
    Certificate,
    Chapter,
    Course,
    Entitlement,
    HomeworkSubmission,
    Instructor,
    Lesson,
    LessonComment,
    LessonNote,
    ManualPayment,
    Order,
    OrderLine,
    Review,
    User,
    utcnow,
)
from coursemall.models.accounts import UserSession
from coursemall.models.media_pipeline import MediaJob
from coursemall.services import audit
from coursemall.services.commerce import cart, checkout, manual_pay, payments, refunds
from coursemall.services.learning import checkins, homework, notes
from coursemall.services.community import comments
from coursemall.services.catalog import instructors
from coursemall.services.accounts import mfa, passwords, sessions
from coursemall.services.media import uploads
from coursemall.settings import get_settings
from coursemall.state.base import AppState

ACTORS = ("anon", "learner", "learner2", "teacher", "teacher2", "staff_pw", "staff", "owner_pw", "owner")
# Actors that must never see learner A's private text (A's instructor and TOTP-verified staff may).
OUTSIDERS = ("anon", "learner2", "teacher2", "staff_pw", "owner_pw")
REFLEX_BUILTINS = {"setvar"}
WRITES_TABLE = "_authz_writes"


# ---------------------------------------------------------------------------------- discovery

def app_states() -> list[type[AppState]]:
    """Every state class of the app, parents first."""
    seen: list[type[AppState]] = []

    def walk(cls):
        if cls not in seen:
            seen.append(cls)
            for sub in cls.__subclasses__():
                walk(sub)

    walk(AppState)
    return seen


def own_handlers(cls: type) -> set[str]:
    """The public event handlers a state class defines itself (inherited ones belong to the parent)."""
    inherited = set().union(*(getattr(b, "event_handlers", {}).keys() for b in cls.__mro__[1:]
                              if isinstance(b, type) and issubclass(b, rx.State)))
    return set(cls.event_handlers) - REFLEX_BUILTINS - inherited


def all_handlers() -> dict[str, tuple[type, str]]:
    """{"State.handler": (state class, handler name)} for every public handler of the app."""
    out = {}
    for cls in app_states():
        for name in own_handlers(cls):
            out[f"{cls.__name__}.{name}"] = (cls, name)
    return out


def handler_fn(cls: type, name: str) -> Callable:
    return cls.event_handlers[name].fn


def all_routes() -> dict[str, Route]:
    """{"METHOD /path": route} for every API route. HEAD is left out where GET exists: Starlette
    answers HEAD with the GET endpoint."""
    from coursemall.api import build_api

    out = {}
    for route in build_api().routes:
        methods = getattr(route, "methods", None) or {"GET"}
        for method in sorted(methods):
            if not (method == "HEAD" and "GET" in methods):
                out[f"{method} {route.path}"] = route
    return out


# ---------------------------------------------------------------------------------- the world

MARK = "密"  # every private text of learner A carries it, with a tag saying what it is
OWNER_TOTP_SECRET = "AUTHZMATRIXOWNERTOTPSEED234567AB"  # the owner's authenticator (base32)


def owner_totp_code() -> str:
    return pyotp.TOTP(OWNER_TOTP_SECRET).now()


@dataclass
class World:
    ids: dict[str, Any] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    browsers: dict[str, str] = field(default_factory=dict)  # each actor's `cm_browser` secret
    secrets: tuple[str, ...] = ()  # learner A's private text: outsiders never see any of it

    def __getattr__(self, name: str) -> Any:
        try:
            return self.ids[name]
        except KeyError:
            raise AttributeError(name) from None


def png_bytes(size: tuple[int, int] = (40, 40), color=(10, 120, 90)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def png_upload(name: str = "photo.png") -> UploadFile:
    return UploadFile(file=io.BytesIO(png_bytes()), filename=name)


def build_world(engine) -> World:
    """The shop every call runs against (see the module docstring)."""
    from tests.payments.factories import make_bundle, make_course
    from tests.services.learning_fixture import make_world

    w = World()
    with Session(engine, expire_on_commit=False) as s:
        base = make_world(s)
        ids = w.ids
        ids.update(course=base.course, lesson=base.paid, article=base.article, trial=base.trial,
                   learner=base.buyer, learner2=base.buyer2, teacher=base.teacher, teacher2=base.other_teacher,
                   staff=base.staff, owner=base.owner, stranger=base.stranger, other_course=base.other_course)
        learner = s.get(User, base.buyer)
        learner.email = "learner-a@example.com"
        learner.nickname = "学员甲"
        s.add(learner)
        ids["learner_watermark"] = learner.watermark_code
        mfa.enrol_with_secret(s, user_id=base.owner, secret=OWNER_TOTP_SECRET)  # staff has none yet
        s.commit()
        course = s.get(Course, base.course)
        ids["teacher_instructor"] = course.instructor_id
        ids["teacher2_instructor"] = s.get(Course, base.other_course).instructor_id
        ids["chapter"], ids["chapter2"] = [c.id for c in s.exec(select(Chapter).where(Chapter.course_id == base.course)
                                                                 .order_by(Chapter.position)).all()][:2]
        others = {c.slug.split("-", 1)[1]: c.id for c in s.exec(select(Course)).all()}
        ids.update(portrait=others["portrait"], growth=others["growth"], zero=others["zero"],
                   draft=others["draft"])
        ids["review"] = s.exec(select(Review.id).where(Review.user_id == base.buyer,
                                                       Review.course_id == base.course)).one()
        ids["category_slug"] = "photo"
        bundle = make_bundle(s, [s.get(Course, others["portrait"]), s.get(Course, others["growth"])], price_fen=20000)
        ids["bundle"] = bundle.id

        # the shop's rules: refunds reviewed by staff, transfers accepted
        refunds.update_refund_policy(s, actor_id=base.owner, auto_approve=False, within_days=7, max_progress_pct=20,
                                     request_window_days=30)
        manual_pay.update_manual_settings(s, actor_id=base.owner, enabled=True, instructions="备注订单号",
                                          qr_image=png_bytes())
        # learner A's orders: a paid one with a refund requested, a pending one, a transfer waiting
        paid = checkout.buy_now(s, actor_id=base.buyer, item_type="course", item_id=others["growth"])
        payments.sandbox_decide(s, actor_id=base.buyer, order_no=paid.out_trade_no, outcome="pay")
        refund = refunds.request_refund(s, actor_id=base.buyer, order_no=paid.out_trade_no,
                                        reason=f"{MARK}退款理由R1")
        pending = checkout.buy_now(s, actor_id=base.buyer, item_type="course", item_id=others["portrait"])
        transfer = checkout.buy_now(s, actor_id=base.buyer, item_type="course", item_id=base.other_course)
        proof = manual_pay.submit_manual_proof(s, actor_id=base.buyer, order_no=transfer.out_trade_no,
                                               image=png_bytes(), reference=f"{MARK}转账T1")
        extra = make_course(s, price_fen=3000, title="可退款的课")
        refundable = checkout.buy_now(s, actor_id=base.buyer, item_type="course", item_id=extra.id)
        payments.sandbox_decide(s, actor_id=base.buyer, order_no=refundable.out_trade_no, outcome="pay")
        ids["refundable_order"] = refundable.out_trade_no
        ids["refundable_line"] = s.exec(select(OrderLine.id).join(Order, Order.id == OrderLine.order_id)
                                        .where(Order.out_trade_no == refundable.out_trade_no)).one()
        ids.update(paid_order=paid.out_trade_no, pending_order=pending.out_trade_no,
                   transfer_order=transfer.out_trade_no, refund=refund.id, manual_payment=proof.id)
        cart.add_to_cart(s, actor_id=base.buyer, item_type="bundle", item_id=bundle.id)
        ids["entitlement"] = s.exec(select(Entitlement.id).where(Entitlement.user_id == base.buyer,
                                                                 Entitlement.course_id == base.course)).one()

        # learner A's community objects on the paid lesson of instructor A's course
        comment = comments.add_comment(s, actor_id=base.buyer, lesson_id=base.paid, text=f"{MARK}评论C1")
        reply = comments.add_comment(s, actor_id=base.buyer2, lesson_id=base.paid, text="同学二的回复",
                                      parent_id=comment.id)
        note = notes.add_note(s, actor_id=base.buyer, lesson_id=base.paid, at_seconds=30, text=f"{MARK}笔记N1",
                              kind="note")
        question = notes.add_note(s, actor_id=base.buyer, lesson_id=base.paid, at_seconds=40,
                                  text=f"{MARK}提问Q1", kind="question")
        checkin = checkins.check_in(s, actor_id=base.buyer, course_id=base.course, text="打卡第一天",
                                    now=utcnow() - timedelta(days=1))  # today's is still open
        submission = homework.submit_homework(s, actor_id=base.buyer, lesson_id=base.paid, text=f"{MARK}作业H1")
        ids.update(comment=comment.id, reply=reply.id, note=note.id, question=question.id, checkin=checkin.id,
                   homework=submission.id)
        s.add(Certificate(user_id=base.buyer, course_id=base.course, code="A2B3-C4D5-E6F7-G8H9", learner_name="学员甲",
                          course_title=course.title))
        ids["certificate"] = "A2B3-C4D5-E6F7-G8H9"

        # a learner's application to teach, a media job and an upload of instructor A's lesson
        application = instructors.apply_to_teach(s, actor_id=base.stranger, name="申请人", title="摄影师",
                                                 bio="十年经验")
        ids["application"] = application.id
        lesson = s.get(Lesson, base.paid)
        job = MediaJob(media_asset_id=lesson.media_asset_id, lesson_id=lesson.id, status="failed", attempts=1,
                       error="decode failed", finished_at=utcnow())
        s.add(job)
        settings = get_settings()
        upload = uploads.create_upload(s, actor_id=base.teacher, lesson_id=lesson.id, filename="clip.mp4",
                                       size_bytes=1000, media_dir=settings.media_dir,
                                       max_bytes=settings.upload_max_bytes)
        audit.record(s, actor_id=base.owner, action="course.publish", target=f"course:{base.course}")
        s.commit()
        ids.update(media_job=job.id, media_asset=lesson.media_asset_id, upload_key=upload.upload_key)

        # sessions: every actor's cookie, and a second device of learner A (for "revoke my session")
        for actor, user_id, verified in (("learner", base.buyer, False), ("learner2", base.buyer2, False),
                                    ("teacher", base.teacher, False), ("teacher2", base.other_teacher, False),
                                    ("staff_pw", base.staff, False), ("staff", base.staff, True),
                                    ("owner_pw", base.owner, False), ("owner", base.owner, True)):
            w.tokens[actor] = sessions.create_session(s, user_id=user_id, mfa_verified=verified, user_agent="pytest")
        other_device = sessions.create_session(s, user_id=base.buyer, user_agent="A's phone")
        w.browsers = {actor: f"browser-of-{actor}-".ljust(43, "x") for actor in ("anon", *w.tokens)}
        ids["ticket"] = sessions.create_login_ticket(s, user_id=base.buyer,
                                                     browser_hash=sessions.browser_hash_of(w.browsers["learner"]))
        s.commit()
        ids["learner_session"] = s.exec(sa_select(UserSession.id).where(
            UserSession.token_hash == sessions.token_hash(other_device))).scalar_one()
        # the bookkeeping touch of `last_seen_at` (every 5 minutes) must not fire during the run
        s.execute(update(UserSession).values(last_seen_at=utcnow().replace(year=2099)))
        s.commit()
        for name in ("comment", "note", "question", "homework"):
            assert ids[name]
        assert s.get(HomeworkSubmission, ids["homework"]) and s.get(LessonNote, ids["note"])
        assert s.get(LessonComment, ids["comment"]) and s.get(ManualPayment, ids["manual_payment"])
        assert s.get(Instructor, ids["teacher_instructor"]).user_id == base.teacher
    w.cookies = {"anon": f"cm_lang=zh_CN; cm_browser={w.browsers['anon']}",
                 **{a: f"cm_lang=zh_CN; cm_session={t}; cm_browser={w.browsers[a]}" for a, t in w.tokens.items()}}
    w.secrets = (f"{MARK}笔记N1", f"{MARK}提问Q1", f"{MARK}作业H1", f"{MARK}退款理由R1", f"{MARK}转账T1",
                 w.paid_order, w.pending_order, w.transfer_order, w.refundable_order)
    return w


# ---------------------------------------------------------------------------------- the database

def table_digest(engine) -> dict[str, tuple[int, str]]:
    """Row count and a hash of every row of every table."""
    out = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            rows = sorted(repr(tuple(r)) for r in conn.execute(sa_select(table)).all())
            out[table.name] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    return out


def _install_write_log(path: Path) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute(f"CREATE TABLE {WRITES_TABLE} (tbl TEXT NOT NULL, op TEXT NOT NULL)")
        for table in SQLModel.metadata.sorted_tables:
            for op in ("INSERT", "UPDATE", "DELETE"):
                conn.execute(f'CREATE TRIGGER "_authz_{table.name}_{op.lower()}" AFTER {op} ON "{table.name}" '
                             f"BEGIN INSERT INTO {WRITES_TABLE} VALUES ('{table.name}', '{op.lower()}'); END")
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _no_fsync(dbapi_conn, _record) -> None:
    """A throwaway copy: no fsync per commit (thousands of calls restore and write it)."""
    dbapi_conn.execute("PRAGMA synchronous=OFF")


# Tables any call may write, admitted or refused: the abuse limiter's counters (services/rate_limit.py;
# tests/security/test_code_and_registration_floods.py holds its rules).
BOOKKEEPING = frozenset({"rate_counters"})


class Lab:
    """The pristine world file and the working copy every call runs against."""

    def __init__(self, directory: Path):
        self.pristine = directory / "world.db"
        self.work = directory / "work.db"
        self.engine = None
        self.dirty = False
        self._pristine_copy: sqlite3.Connection | None = None

    def build(self, builder: Callable[[Any], World]) -> World:
        engine = make_engine(f"sqlite:///{self.pristine}")
        SQLModel.metadata.create_all(engine)
        original = coursemall.db.get_engine
        coursemall.db.get_engine = lambda: engine  # services called while building use this file
        try:
            world = builder(engine)
        finally:
            coursemall.db.get_engine = original
            engine.dispose()
        _install_write_log(self.pristine)
        self._pristine_copy = sqlite3.connect(":memory:", check_same_thread=False)
        source = sqlite3.connect(self.pristine)
        try:
            source.backup(self._pristine_copy)
        finally:
            source.close()
        shutil.copyfile(self.pristine, self.work)
        self.engine = make_engine(f"sqlite:///{self.work}")
        event.listen(self.engine, "connect", _no_fsync)
        reset_process_caches()
        self.pristine_digest = table_digest(self.engine)
        return world

    def restore(self) -> None:
        """The pristine world again (only when the last call wrote something)."""
        if not self.dirty:
            return
        raw = self.engine.raw_connection()
        try:
            self._pristine_copy.backup(raw.driver_connection)
        finally:
            raw.close()
        reset_process_caches()
        self.dirty = False

    def writes(self) -> dict[str, set[str]]:
        """{table: {insert/update/delete}} written since the last restore (page views included: the
        handlers write them in their own unit of work, so they are in the file once the call returns)."""
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql(f"SELECT DISTINCT tbl, op FROM {WRITES_TABLE}").all()
        if rows:
            self.dirty = True
        out: dict[str, set[str]] = {}
        for table, op in rows:
            if table not in BOOKKEEPING:
                out.setdefault(table, set()).add(op)
        return out

    def forget_writes(self) -> None:
        """After a test's own setup writes (the world is restored before the next call anyway)."""
        self.dirty = True
        with self.engine.begin() as conn:
            conn.exec_driver_sql(f"DELETE FROM {WRITES_TABLE}")

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
        if self._pristine_copy is not None:
            self._pristine_copy.close()


def reset_process_caches() -> None:
    """Caches that outlive a database restore (a write rolled back by the restore must not stay
    visible through them). Add new process-wide caches here."""
    from coursemall.services.community import comments as community_service
    from coursemall.state.dashboard import shop_settings as shop_settings_state

    community_service._shop_words_cache = ()
    shop_settings_state.forget_brand_cache()


# ---------------------------------------------------------------------------------- calling

def make_state(cls: type, cookie: str, params: dict[str, str] | None = None, path: str = "/",
               query: dict[str, str] | None = None):
    """A fresh state tree for one call: the actor's cookie, the route segments (`params`) and the
    URL's query string (`query`, e.g. ?q=...&page=...)."""
    root = rx.State(_reflex_internal_init=True)
    as_path = f"{path}?{urlencode(query)}" if query else path
    root.router = RouterData.from_router_data({
        "headers": {"cookie": cookie, "user-agent": "Mozilla/5.0 (pytest)", "origin": "http://localhost:3000"},
        "ip": "127.0.0.1", "pathname": path, "asPath": as_path, "query": params or {},
    })
    state = root
    for name in cls.get_full_name().split(".")[1:]:
        state = state.substates[name]
    return state


async def run_handler(state, fn: Callable, args: tuple) -> None:
    result = fn(state, *args)
    if inspect.isawaitable(result):
        await result
    elif inspect.isasyncgen(result):
        async for _ in result:
            pass
    elif inspect.isgenerator(result):
        for _ in result:
            pass


class _LogTrap(logging.Handler):
    """Collects records the app logs with a traceback (a handler's "something broke" path)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.name.startswith("coursemall"):
            self.records.append(record)


@dataclass
class Outcome:
    raised: BaseException | None
    logged: list[str]
    writes: dict[str, set[str]]
    state: Any
    defaults: dict[str, Any]


def state_vars(cls: type) -> list[str]:
    """The frontend vars a state shows (its own and its parents' below AppState)."""
    inherited = set(AppState.base_vars)
    return [name for name in cls.base_vars if name not in inherited]


async def call(lab: Lab, world: World, cls: type, name: str, actor: str, args: tuple = (),
               params: dict[str, str] | None = None, pre: dict[str, Any] | None = None,
               query: dict[str, str] | None = None) -> Outcome:
    """Run one handler as one actor against a fresh world (restored first if the last call wrote)."""
    lab.restore()
    state = make_state(cls, world.cookies[actor], params, query=query)
    for var, value in (pre or {}).items():
        setattr(state, var, value)
    defaults = {var: getattr(state, var) for var in state_vars(cls)}
    trap = _LogTrap()
    logger = logging.getLogger("coursemall")
    logger.addHandler(trap)
    raised = None
    try:
        await run_handler(state, handler_fn(cls, name), args)
    except Exception as exc:  # noqa: BLE001 - reported by the tests
        raised = exc
    finally:
        logger.removeHandler(trap)
    logged = [f"{r.getMessage()} ({r.exc_info[0].__name__}: {r.exc_info[1]})" for r in trap.records]
    return Outcome(raised, logged, lab.writes(), state, defaults)


def visible_text(state, cls: type) -> str:
    """Everything a state would send to the browser, as one string (to look for secrets)."""
    names = list(state_vars(cls)) + list(cls.computed_vars)
    return "\n".join(repr(getattr(state, n, "")) for n in names)


@contextlib.contextmanager
def authz_lab(directory: Path) -> Iterator[tuple[Lab, World]]:
    """The world, built once, with the app's engine pointed at the working copy. Password hashing
    is made cheap meanwhile (the matrix calls sign-in, register and password change 27 times;
    argon2's strength is not what it tests)."""
    lab = Lab(directory)
    saved = coursemall.db.get_engine, passwords._hasher, passwords._DUMMY_HASH
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    passwords._DUMMY_HASH = passwords._hasher.hash("not-a-real-password")
    try:
        world = lab.build(build_world)
        coursemall.db.get_engine = lambda: lab.engine
        yield lab, world
    finally:
        coursemall.db.get_engine, passwords._hasher, passwords._DUMMY_HASH = saved
        lab.close()


MESSAGE_VARS = ("error", "success", "note_error", "note_message", "gate_error", "gate_success")
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def unclear_messages(state) -> list[str]:
    """Messages a user could not act on: the generic "something went wrong" (an unknown code or an
    unexpected error) or a text with an unfilled {placeholder}."""
    generic = set(CATALOG["error.generic"])
    out = []
    for name in MESSAGE_VARS:
        text = getattr(state, name, "")
        if isinstance(text, str) and text and (text in generic or PLACEHOLDER.search(text)):
            out.append(f"{name} = {text!r}")
    return out
