"""One authorisation matrix: every public event handler of every State and every API route,
called as each of nine actors with valid ids of other people's objects.

The world (tests/security/authz.py): every private object belongs to learner A ("learner") or to
instructor A ("teacher"): A's orders, refund request, transfer proof, comment, note, question,
check-in, homework, review, cart, second session; A's instructor's course, chapters, lessons,
media job and upload. So "learner" and "teacher" act on their own things, everyone else on
someone else's. Staff and owner appear twice: on a password-only session (`staff_pw`,
`owner_pw`) and after the TOTP step (`staff`, `owner`).

TABLE below is the one source of truth: one row per handler ("State.handler") and per route
("METHOD /path"). A row names who may act (`allow`); everyone else is refused. A refused
password-only staff/owner whose verified self is allowed must be refused *with the TOTP step*
(`totp`), unless the row says `totp=False`. For every call:
- `allow`: not refused (no refusal message), no exception, nothing logged as broken, and the
  writes go only to the row's `writes` tables (at least one of them when `writes` is given and
  `optional` is not set);
- `deny` / `totp`: no row written (the row's `logs` excepted: a trail of refusals such as the
  payment event log), no exception, the state's data vars keep their defaults or are emptied (the
  row's `public` vars excepted: what the page shows anyone), and a refusal or no message; `totp`
  also shows the TOTP step (`mfa_needed`, or the TOTP message where a state has no such flag);
- outsiders (anonymous, learner2, teacher2, staff_pw, owner_pw) never see learner A's private
  text (notes, questions, homework, refund reason, transfer reference, order numbers), unless the
  row says `shows_all` (the demo's outbox).
API routes (ROUTES) follow the same rules with HTTP statuses: admitted < 400 (or the row's
`answers`), refused >= 300.

A handler or route missing from TABLE fails `test_every_handler_and_route_has_a_row` with the row
to add. tests/security/test_state_handlers.py takes its allow-list of handlers from TABLE.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import pytest

import coursemall.db
from coursemall.i18n import CATALOG, t
from coursemall.state.dashboard.base import DashboardBaseState
from coursemall.state.guards import guard_of
from tests.security.authz import (
    ACTORS,
    OUTSIDERS,
    World,
    all_handlers,
    authz_lab,
    all_routes,
    call,
    handler_fn,
    owner_totp_code,
    png_upload,
    table_digest,
    unclear_messages,
    visible_text,
)

# ---------------------------------------------------------------------------------- vocabulary

EVERYONE = frozenset(ACTORS)
SIGNED_IN = EVERYONE - {"anon"}
LEARNER = frozenset({"learner"})  # learner A: the owner of the objects
BUYERS = frozenset({"learner", "learner2"})  # both bought A's instructor's course
MANAGERS = frozenset({"teacher", "staff", "owner"})  # manage A's instructor's course
STAFF = frozenset({"staff", "owner"})
OWNER = frozenset({"owner"})
INSTRUCTORS = frozenset({"teacher", "teacher2"})
DASHBOARD = INSTRUCTORS | STAFF  # every dashboard user (instructors see their own rows)
DASHBOARD_USERS = DASHBOARD | {"staff_pw", "owner_pw"}  # the TOTP pages themselves
READERS = BUYERS | MANAGERS  # may open the paid lesson (managers preview it)

# Messages that say "no" (for a refused call) — anything else is an answer to an admitted call.
REFUSAL_KEYS = ("admin.forbidden", "admin.mfa_required", "admin.owner_only", "error.forbidden",
                "error.sign_in_required", "lesson.locked", "checkin.not_learner", "review.buyers_only",
                *(key for key in CATALOG if key.endswith("not_found")))  # foreign objects are "not found"
REFUSALS = {text for key in REFUSAL_KEYS for text in CATALOG[key]}
MFA_TEXTS = set(CATALOG["admin.mfa_required"])
GUARD_REFUSALS = {text for key in ("admin.forbidden", "admin.mfa_required") for text in CATALOG[key]}
# Vars that steer the page, never data (and echoes of the route): they may change on a refused call.
FLAG_VARS = {"error", "success", "section", "allowed", "loaded", "is_owner", "is_staff", "mfa_needed", "admitted",
             "denied", "needs_sign_in", "not_found", "form_key", "note_form_key", "note_error", "note_message",
             "reply_to", "gate_loaded", "gate_error", "gate_success", "teach_loaded",
             "lesson_id", "course_id", "lesson_href", "course_href"}


@dataclass(frozen=True)
class Row:
    allow: frozenset[str]
    writes: frozenset[str] = frozenset()  # tables an admitted call may write
    optional: bool = False  # an admitted call may also write nothing
    args: Callable[[World], tuple] = lambda w: ()
    params: Callable[[World], dict] | None = None  # route segments (default: A's objects, see PARAMS)
    pre: Callable[[World], dict] | None = None  # vars an earlier (admitted) load left behind
    public: tuple[str, ...] = ()  # vars a refused caller may still be shown (public page data)
    totp: bool = True  # refused staff_pw/owner_pw see the TOTP step when staff/owner may act
    logs: frozenset[str] = frozenset()  # tables a refused call still writes (a trail of refusals)
    shows_all: bool = False  # shows everyone's data to everyone (demo only): no secrets check
    why: str = ""

    def expected(self, actor: str) -> str:
        if actor in self.allow:
            return "allow"
        verified = {"staff_pw": "staff", "owner_pw": "owner"}.get(actor)
        if self.totp and verified in self.allow:
            return "totp"
        return "deny"


def row(allow, writes: str = "", logs: str = "", **kw) -> Row:
    return Row(frozenset(allow), frozenset(writes.split()), logs=frozenset(logs.split()), **kw)


def form(**fields) -> Callable[[World], tuple]:
    """One form payload; a value may be a function of the world."""
    return lambda w: ({k: (v(w) if callable(v) else v) for k, v in fields.items()},)


def arg(*values) -> Callable[[World], tuple]:
    return lambda w: tuple(v(w) if callable(v) else v for v in values)


def PARAMS(w: World) -> dict[str, str]:
    """Route segments of every call: learner A's and instructor A's objects."""
    return {"lesson_id": str(w.lesson), "course_id": str(w.course), "order_no": w.pending_order,
            "learner_id": str(w.learner), "code": w.certificate, "kind": "refund", "slug": w.category_slug,
            "bundle_id": str(w.bundle)}


PNG = lambda w: [png_upload()]  # noqa: E731
COMMENT = lambda w: w.comment  # noqa: E731
LESSON_PUBLIC = ("lesson_id", "course_id", "course_title", "course_href", "title", "kind", "duration", "access",
                 "free_seconds", "partial_text", "prev_href", "next_href", "unlock_text", "chapters", "outline",
                 "entitled", "preview_mode")
MAIL = "messages outbox_messages"  # a message in the centre, and its e-mail
COMMERCE = f"orders order_lines order_events payments payment_events entitlements refunds courses {MAIL}"

# ---------------------------------------------------------------------------------- THE TABLE
#
# Adding a handler: one line, e.g.
#     "OrderState.cancel_order": row(LEARNER, "orders order_events", why="own order"),
# - who may act (a set above, or a set literal); everyone else must be refused;
# - the tables an admitted call writes (space-separated; `optional=True` if it may write none);
# - the arguments: `args=arg(...)` / `args=form(field=...)` with ids of the world's objects (`w.`),
#   `params=` for route segments other than PARAMS, `pre=` for vars an earlier load sets;
# - `logs=` for tables a refused call still writes (a trail of refusals), `public=` for vars a
#   refused caller may still see, `totp=False` where a password-only owner/staff is refused
#   without the TOTP step, `why=` when the rule is not obvious.
# A new table the world should hold (a new kind of object) goes into authz.build_world.

TABLE: dict[str, Row] = {
    # ---- every page
    "AppState.load_viewer": row(EVERYONE, why="the header's own viewer"),
    "AppState.toggle_lang": row(EVERYONE),
    # ---- catalogue (public)
    "HomeState.load": row(EVERYONE, "page_views", optional=True, why="funnel statistics"),
    "SearchState.load": row(EVERYONE, "page_views", optional=True),
    "SearchState.submit": row(EVERYONE, args=form(q="摄影")),
    "SearchState.change_sort": row(EVERYONE, args=arg("price_asc")),
    "CategoryState.load": row(EVERYONE, "page_views", optional=True),
    "CategoryState.change_sort": row(EVERYONE, args=arg("newest")),
    "BundleState.load": row(EVERYONE),
    "CourseState.load": row(EVERYONE, "page_views", optional=True),
    "BrandState.load_brand": row(EVERYONE),
    "HomeLayoutState.load_home_layout": row(EVERYONE),
    "PolicyState.load_policy": row(EVERYONE),
    "CertificateState.load_certificate": row(EVERYONE, why="public verification by code"),
    # ---- player and learning
    "PlayerState.load_player": row(READERS, public=LESSON_PUBLIC),
    "PlayerState.heartbeat": row(BUYERS, "lesson_progress study_days", args=lambda w: (json.dumps(
        {"lesson_id": w.lesson, "position": 20, "from": 10, "to": 20}),),
        why="own progress; a manager's preview keeps none"),
    "PlayerState.refresh_media": row(READERS, args=lambda w: (json.dumps({"lesson_id": w.lesson}),),
                                     pre=lambda w: {"lesson_id": w.lesson, "access": "full"}, public=LESSON_PUBLIC,
                                     totp=False, why="the player script's quiet refresh: no message"),
    "PlayerState.article_read": row(SIGNED_IN, "lesson_progress study_days", optional=True,
                                    args=lambda w: (json.dumps({"lesson_id": w.article, "percent": 100}),),
                                    why="the article is a free trial lesson: anyone signed in keeps progress"),
    "PlayerState.save_note": row(BUYERS | {"teacher"}, "lesson_notes", args=form(text="我的笔记", at="12", kind="note"),
                                 pre=lambda w: {"lesson_id": w.lesson},
                                 why="own notes; the instructor previews the lesson (staff preview only with TOTP "
                                     "in the player)"),
    "LearningState.load_learning": row(SIGNED_IN, why="own learning"),
    # ---- comments on A's instructor's paid lesson
    "LessonCommentsState.load_comments": row(READERS),
    "LessonCommentsState.load_more_comments": row(READERS, pre=lambda w: {"lesson_id": w.lesson,
                                                                           "next_before": w.comment + 1}),
    "LessonCommentsState.load_replies": row(READERS, args=arg(COMMENT)),
    "LessonCommentsState.post_comment": row(BUYERS | {"teacher"}, "lesson_comments", args=form(text="说两句")),
    "LessonCommentsState.post_reply": row(BUYERS | {"teacher"}, "lesson_comments",
                                          args=form(text="回复一下", parent_id=lambda w: str(w.comment))),
    "LessonCommentsState.open_reply": row(EVERYONE, args=arg(COMMENT), why="opens a form"),
    "LessonCommentsState.toggle_like": row(BUYERS | {"teacher"}, "comment_likes lesson_comments", args=arg(COMMENT)),
    "LessonCommentsState.delete_comment": row(LEARNER | MANAGERS, "lesson_comments audit_log", args=arg(COMMENT),
                                              why="the author, or moderation through the dashboard guard"),
    "LessonCommentsState.hide_comment": row(MANAGERS, "lesson_comments audit_log", args=arg(COMMENT)),
    # ---- reviews of A's instructor's course
    "ReviewState.load_reviews": row(EVERYONE),
    "ReviewState.pick_review_star": row(EVERYONE, args=arg(4)),
    "ReviewState.submit_review": row(BUYERS, "reviews courses", args=form(content="很好"), pre=lambda w: {"my_rating": 4},
                                     why="each buyer writes or edits their own review"),
    "ReviewState.open_review_reply": row(EVERYONE, args=arg(lambda w: w.review)),
    "ReviewState.reply_review": row(MANAGERS, "reviews", args=form(text="谢谢", review_id=lambda w: str(w.review))),
    "ReviewState.hide_review": row(MANAGERS, "reviews courses audit_log", args=arg(lambda w: w.review)),
    # ---- check-in and homework
    "CheckinState.load_checkin": row(READERS),
    "CheckinState.edit_checkin_text": row(EVERYONE, args=arg("今天学了构图")),
    "CheckinState.submit_checkin": row(BUYERS, "checkins", args=arg(PNG), pre=lambda w: {"text": "打卡"}),
    "HomeworkState.load_homework": row(BUYERS | {"teacher"}, why="own homework; the instructor previews"),
    "HomeworkState.edit_homework_text": row(EVERYONE, args=arg("作业")),
    "HomeworkState.submit_homework": row(BUYERS | {"teacher"}, "homework_submissions", args=arg(PNG),
                                         pre=lambda w: {"text": "我的作业"}),
    "HomeworkReviewState.load_homework_queue": row(DASHBOARD, why="teacher2's queue is empty"),
    "HomeworkReviewState.grade_homework": row(MANAGERS, f"homework_submissions {MAIL}", args=form(
        submission_id=lambda w: str(w.homework), score="90", feedback="不错")),
    # ---- buying (own cart and orders)
    "BuyState.add_to_cart": row(SIGNED_IN, "cart_items", optional=True, args=arg("course", lambda w: w.zero)),
    "BuyState.buy_now": row(SIGNED_IN, COMMERCE, optional=True, args=arg("course", lambda w: w.zero)),
    "BuyState.clear_message": row(EVERYONE),
    "CartState.load_cart": row(SIGNED_IN, why="own cart"),
    "CartState.remove_item": row(SIGNED_IN, "cart_items", optional=True, args=arg("bundle", lambda w: str(w.bundle))),
    "CartState.checkout": row(SIGNED_IN, COMMERCE + " cart_items", optional=True, why="own cart (A's holds a bundle)"),
    "OrderState.load_order": row(LEARNER, "page_views", optional=True),
    "OrderState.pay": row(LEARNER, COMMERCE, optional=True, args=form(channel="sandbox")),
    "OrderState.cancel_order": row(LEARNER, COMMERCE),
    "OrderState.edit_proof_reference": row(EVERYONE, args=arg("尾号 1234")),
    "OrderState.submit_proof": row(LEARNER, "manual_payments orders order_events", args=arg(PNG),
                                   pre=lambda w: {"proof_reference": "尾号 9"}),
    "OrderState.request_refund": row(LEARNER, f"refunds order_lines orders order_events {MAIL}",
                                     args=lambda w: ({"reason": "不想学了", f"line-{w.refundable_line}": "on"},),
                                     params=lambda w: {**PARAMS(w), "order_no": w.refundable_order},
                                     pre=lambda w: {"_refundable_line_ids": [w.refundable_line]}),
    "SandboxCashierState.load_cashier": row(LEARNER, public=("shop_name",)),
    "SandboxCashierState.decide": row(LEARNER, COMMERCE, args=arg("pay")),
    "MyOrdersState.load_orders": row(SIGNED_IN, why="own orders"),
    "MessageCenterState.load_messages": row(SIGNED_IN, why="own messages"),
    "MessageCenterState.read_all": row(SIGNED_IN, "messages", optional=True, why="own messages"),
    # ---- accounts
    "SignInState.clear_message": row(EVERYONE),
    "SignInState.sign_in": row(EVERYONE, "login_attempts", args=form(account="learner-a@example.com",
                                                                     password="wrong-password-1"),
                               why="a wrong password for A's account: recorded, refused"),
    "RegisterState.clear_message": row(EVERYONE),
    "RegisterState.register": row(EVERYONE, "users user_sessions login_tickets", optional=True,
                                  args=form(account="new-user@example.com", nickname="新人", password="pass-word-1")),
    "CodeSignInState.clear_message": row(EVERYONE),
    "CodeSignInState.set_account": row(EVERYONE, args=arg("learner-a@example.com")),
    "CodeSignInState.send_code": row(EVERYONE, "one_time_codes outbox_messages", optional=True,
                                     pre=lambda w: {"account": "learner-a@example.com"}),
    "CodeSignInState.sign_in_with_code": row(EVERYONE, "one_time_codes login_attempts", optional=True,
                                             args=form(account="learner-a@example.com", code="000000")),
    "ResetPasswordState.clear_message": row(EVERYONE),
    "ResetPasswordState.set_account": row(EVERYONE, args=arg("learner-a@example.com")),
    "ResetPasswordState.send_code": row(EVERYONE, "one_time_codes outbox_messages", optional=True,
                                        pre=lambda w: {"account": "learner-a@example.com"}),
    "ResetPasswordState.reset_password": row(EVERYONE, "one_time_codes login_attempts", optional=True,
                                             args=form(account="learner-a@example.com", code="000000",
                                                       password="new-pass-word-2")),
    "ProfileState.load_profile": row(SIGNED_IN, why="own profile"),
    "ProfileState.set_nickname_input": row(EVERYONE, args=arg("新名字")),
    "ProfileState.save_nickname": row(SIGNED_IN, "users", args=form(nickname="新名字")),
    "ProfileState.change_password": row(SIGNED_IN, "login_attempts", optional=True,
                                        args=form(old_password="wrong-password-1", new_password="pass-word-9")),
    "ProfileState.revoke_session": row(LEARNER, "user_sessions", args=arg(lambda w: str(w.learner_session)),
                                       why="A's other device"),
    "ProfileState.sign_out": row(SIGNED_IN, "user_sessions", why="own session"),
    "ProfileState.sign_out_everywhere": row(SIGNED_IN, "user_sessions", why="own sessions"),
    "ProfileState.upload_avatar": row(SIGNED_IN, "users", args=arg(PNG)),
    "OutboxState.load_outbox": row(EVERYONE, shows_all=True,
                                   why="the demo's outbox shows every mail to anyone; a production shop has none"),
    # ---- the one-time setup link: its token is the key; the world's shop is set up, so every step
    # is refused for everyone (services/shop/setup.py and tests/services/shop/test_setup.py hold the rules)
    "SetupState.load_setup": row(EVERYONE),
    "SetupState.submit_account": row(EVERYONE, args=form(email="x@example.com", nickname="店主", password="pass-word-1",
                                                         password_again="pass-word-1")),
    "SetupState.back_to_account": row(EVERYONE),
    "SetupState.finish_setup": row(EVERYONE, args=form(code="123456")),
    "SetupState.open_dashboard": row(EVERYONE),
    "TeachApplyState.load_teach": row(SIGNED_IN, why="own application"),
    "TeachApplyState.submit_application": row(SIGNED_IN, "instructor_applications users", optional=True,
                                              args=form(name="新老师", title="讲师", bio="经验丰富")),
    # ---- owner area (staff)
    "AdminOrdersState.load_orders": row(STAFF),
    "AdminOrdersState.filter_orders": row(STAFF, args=arg("paid")),
    "AdminOrdersState.search_orders": row(STAFF, args=form(q=lambda w: w.paid_order)),
    "AdminOrdersState.goto_orders_page": row(STAFF, args=arg(1)),
    "AdminRefundsState.load_refunds": row(STAFF),
    "AdminRefundsState.approve_refund": row(STAFF, COMMERCE + " audit_log", args=arg(lambda w: w.refund)),
    "AdminRefundsState.reject_refund": row(STAFF, COMMERCE + " audit_log",
                                           args=form(refund_id=lambda w: str(w.refund), reason="超过期限")),
    "AdminRefundsState.save_policy": row(OWNER, "refund_policies audit_log", args=form(
        auto_approve="on", within_days="7", max_progress_pct="20", request_window_days="30"), totp=False,
        why="staff_required page, owner-only service: staff are told 'owner only'"),
    "AdminRefundsState.retry_refund": row(STAFF, COMMERCE + " audit_log", optional=True, args=arg(lambda w: w.refund),
                                          why="A's refund is still a request: staff are told it is not waiting"),
    "AdminRefundsState.mark_refunded_by_hand": row(STAFF, COMMERCE + " audit_log", optional=True,
                                                   args=arg(lambda w: w.refund)),
    "AdminManualState.load_manual": row(STAFF),
    "AdminManualState.confirm_manual": row(STAFF, COMMERCE + " manual_payments audit_log",
                                           args=arg(lambda w: w.manual_payment)),
    "AdminManualState.reject_manual": row(STAFF, COMMERCE + " manual_payments audit_log",
                                          args=form(manual_payment_id=lambda w: str(w.manual_payment), reason="金额不符")),
    "AdminPaymentSettingsState.load_payment_settings": row(STAFF),
    "AdminPaymentSettingsState.save_payment_settings": row(OWNER, "shop_payment_settings audit_log", totp=False,
                                                           args=form(enabled="on", instructions="备注"),
                                                           why="owner-only service (staff are told so)"),
    "AdminPaymentSettingsState.upload_qr": row(OWNER, "shop_payment_settings audit_log", args=arg(PNG), totp=False,
                                               why="owner-only service (staff are told so)"),
    "AdminOrderDetailState.load_order_detail": row(STAFF, params=lambda w: {**PARAMS(w), "order_no": w.paid_order}),
    "AdminOrderDetailState.refund_order": row(STAFF, COMMERCE + " audit_log", args=lambda w: (
        {"reason": "客户要求", f"line_{w.refundable_line}": "on"},),
                                              params=lambda w: {**PARAMS(w), "order_no": w.refundable_order}),
    "AdminLearnersState.load_learners": row(STAFF),
    "AdminLearnersState.search_learners": row(STAFF, args=form(q="learner-a")),
    "AdminLearnersState.goto_learners_page": row(STAFF, args=arg(1)),
    "AdminLearnerState.load_learner": row(STAFF),
    "AdminLearnerState.grant_access": row(STAFF, f"entitlements audit_log {MAIL}",
                                          args=form(course_id=lambda w: str(w.portrait), reason="补偿")),
    "AdminLearnerState.revoke_access": row(STAFF, f"entitlements audit_log {MAIL}",
                                           args=form(entitlement_id=lambda w: str(w.entitlement), reason="违规"),
                                           pre=lambda w: {"grants": [{"id": str(w.entitlement)}]}),
    "AdminInstructorsState.load_instructors": row(STAFF),
    # instructor decisions are the owner's (permissions.py); the page is staff_required, staff are told so
    "AdminInstructorsState.approve_application": row(OWNER, f"instructor_applications instructors users audit_log "
                                                     f"{MAIL}", args=arg(lambda w: w.application), totp=False),
    "AdminInstructorsState.reject_application": row(OWNER, f"instructor_applications audit_log {MAIL}", totp=False,
                                                    args=form(application_id=lambda w: str(w.application),
                                                              reason="资料不全")),
    "AdminInstructorsState.save_instructor_profile": row(OWNER, "instructors audit_log", totp=False, args=form(
        instructor_id=lambda w: str(w.teacher_instructor), name="李老师", title="讲师", bio="简介")),
    "AdminInstructorsState.save_share": row(OWNER, "instructors audit_log", totp=False, args=form(
        instructor_id=lambda w: str(w.teacher_instructor), percent="50")),
    "InstructorProfileState.load_my_profile": row(DASHBOARD, why="own profile"),
    "InstructorProfileState.save_my_profile": row(DASHBOARD, "instructors audit_log", optional=True,
                                                  args=form(name="我", title="讲师", bio="简介"),
                                                  why="own profile; owner/staff without one are told so"),
    "ModerationState.load_moderation": row(DASHBOARD, why="each sees their own courses' comments"),
    "ModerationState.filter_moderation": row(DASHBOARD, args=arg("hidden")),
    "ModerationState.hide_comment": row(MANAGERS, "lesson_comments audit_log", args=arg(COMMENT)),
    "ModerationState.unhide_comment": row(MANAGERS, "lesson_comments audit_log", optional=True, args=arg(COMMENT)),
    "ModerationState.delete_comment": row(MANAGERS, "lesson_comments audit_log", args=arg(COMMENT)),
    "ModerationState.hide_review": row(MANAGERS, "reviews courses audit_log", args=arg(lambda w: w.review)),
    "ModerationState.unhide_review": row(MANAGERS, "reviews courses audit_log", optional=True,
                                         args=arg(lambda w: w.review)),
    "ModerationState.save_blocked_words": row(STAFF, "shop_settings audit_log", args=form(words="优惠券")),
    "LeakState.load_leak": row(STAFF),
    "LeakState.trace": row(STAFF, "audit_log", optional=True, args=form(code=lambda w: w.learner_watermark)),
    "LeakState.ask_action": row(STAFF, args=arg("freeze"), pre=lambda w: {"_target_user_id": w.learner}),
    "LeakState.cancel_action": row(STAFF),
    "LeakState.confirm_action": row(STAFF, f"users user_sessions audit_log {MAIL}",
                                    args=form(action="freeze", reason="分享账号"),
                                    pre=lambda w: {"_target_user_id": w.learner, "pending": "freeze"}),
    # ---- dashboard
    "DashboardHomeState.load_dashboard_home": row(DASHBOARD),
    "AnalyticsState.load_analytics": row(DASHBOARD),
    "AnalyticsState.pick_preset": row(DASHBOARD, args=arg("30")),
    "AnalyticsState.apply_range": row(DASHBOARD, args=form(start="2026-01-01", end="2026-01-31")),
    "AnalyticsState.pick_lesson": row(MANAGERS, args=arg(lambda w: str(w.lesson)), why="A's instructor's lesson"),
    "AnalyticsState.save_fees": row(OWNER, "shop_settings audit_log",
                                    args=form(sandbox="0", alipay="0.6", wechat="0.6", manual="0")),
    "ShopSettingsState.load_shop_settings": row(OWNER),
    "ShopSettingsState.save_brand": row(OWNER, "shop_settings audit_log", args=form(shop_name="新店名",
                                                                                     accent="orange")),
    "ShopSettingsState.upload_logo": row(OWNER, "shop_settings audit_log", args=arg(PNG)),
    "ShopSettingsState.remove_logo": row(OWNER, "shop_settings audit_log", optional=True),
    "ShopSettingsState.move_block": row(OWNER, "shop_settings audit_log", args=arg("newest", -1)),
    "ShopSettingsState.toggle_block": row(OWNER, "shop_settings audit_log", args=arg("series")),
    "ShopSettingsState.save_featured": row(OWNER, "courses audit_log", optional=True,
                                           args=lambda w: ({f"rank_{w.course}": "1"},)),
    "ShopSettingsState.save_policy_text": row(OWNER, "shop_settings audit_log", args=form(kind="refund",
                                                                                           text="七天无理由")),
    "ShopSettingsState.save_payment_channels": row(OWNER, "shop_settings audit_log", optional=True, args=lambda w: (
        {"enable_sandbox": "on", "enable_alipay": "", "enable_wechat": "", "enable_manual": "on",
         **{f"{sec}_{f}": "" for sec, fs in (("alipay", ("app_id", "seller_id", "private_key", "public_key")),
                                             ("wechat", ("app_id", "mch_id", "api_key", "app_secret", "cert_pem",
                                                         "key_pem"))) for f in fs},
         "clear_alipay_private_key": "", "clear_wechat_api_key": "", "clear_wechat_app_secret": "",
         "clear_wechat_key_pem": ""},)),
    "ShopSettingsState.pick_template": row(OWNER, args=arg("msg.homework_graded")),
    "ShopSettingsState.save_template": row(OWNER, "shop_settings message_templates audit_log", args=form(
        key="msg.homework_graded", subject_zh="作业已批改", body_zh="你的作业已批改", subject_en="Graded",
        body_en="Your homework was graded")),
    "ShopSettingsState.reset_template": row(OWNER, "shop_settings message_templates audit_log", optional=True,
                                            args=arg("msg.homework_graded")),
    "SecurityState.load_security": row(DASHBOARD_USERS, why="own authenticator (this page is the TOTP step)"),
    "SecurityState.start_enrol": row(DASHBOARD_USERS, optional=True, why="own authenticator"),
    "SecurityState.cancel_enrol": row(DASHBOARD_USERS),
    "SecurityState.confirm_enrol": row(DASHBOARD_USERS, "users user_sessions mfa_recovery_codes", optional=True,
                                       args=form(code="000000")),
    "SecurityState.verify_device": row(DASHBOARD_USERS, "users user_sessions login_attempts", optional=True,
                                       args=form(code=lambda w: owner_totp_code()),
                                       why="the owner's current code: it verifies only the owner's own device"),
    "SecurityState.regenerate_codes": row(DASHBOARD_USERS, "mfa_recovery_codes users audit_log", optional=True),
    "SecurityState.hide_codes": row(DASHBOARD_USERS),
    "MfaGateState.load_gate": row(DASHBOARD_USERS),
    "MfaGateState.submit_gate": row(DASHBOARD_USERS, "users user_sessions login_attempts", optional=True,
                                    args=form(code=lambda w: owner_totp_code()),
                                    why="the owner's current code: it verifies only the owner's own device"),
    "StaffState.load_staff": row(OWNER),
    "StaffState.promote_staff": row(OWNER, "users audit_log", args=form(account="learner-a@example.com")),
    "StaffState.demote_staff": row(OWNER, "users user_sessions audit_log", args=arg(lambda w: w.staff)),
    "StaffState.reset_staff_mfa": row(OWNER, "users user_sessions mfa_recovery_codes audit_log", optional=True,
                                      args=arg(lambda w: w.staff)),
    "AuditState.load_audit": row(OWNER),
    "AuditState.filter_audit": row(OWNER, args=form(action="course.publish", actor="")),
    "AuditState.next_audit_page": row(OWNER),
    "AuditState.prev_audit_page": row(OWNER),
    # ---- CMS: A's instructor's course and lesson (backend ids as an admitted load leaves them)
    "CmsCoursesState.load_courses": row(DASHBOARD),
    "CmsCoursesState.filter_courses": row(DASHBOARD, args=arg("published")),
    "CmsCoursesState.search_courses": row(DASHBOARD, args=form(q="摄影")),
    "CmsCoursesState.create_course": row(DASHBOARD, "courses audit_log", args=form(title="新课程")),
    "CmsCourseState.load_course": row(MANAGERS),
    "CmsCourseState.save_course": row(MANAGERS, "courses course_tags audit_log", optional=True, args=lambda w: ({
        "title": "手机摄影入门", "subtitle": "副标题", "intro": "介绍", "audience": "", "price": "99",
        "original_price": "199", "category_id": "", "tags": "手机", "instructor_id": str(w.teacher_instructor)},),
        pre=lambda w: {"_course_id": w.course}),
    "CmsCourseState.upload_cover": row(MANAGERS, "courses audit_log", args=arg(PNG),
                                       pre=lambda w: {"_course_id": w.course}),
    "CmsCourseState.publish_course": row(MANAGERS, "courses audit_log", optional=True,
                                         pre=lambda w: {"_course_id": w.course}),
    "CmsCourseState.unpublish_course": row(MANAGERS, "courses audit_log", pre=lambda w: {"_course_id": w.course}),
    "CmsCourseState.archive_course": row(MANAGERS, "courses audit_log", pre=lambda w: {"_course_id": w.course}),
    "CmsCourseState.add_chapter": row(MANAGERS, "chapters courses audit_log", args=form(title="第三章"),
                                      pre=lambda w: {"_course_id": w.course}),
    "CmsCourseState.rename_chapter": row(MANAGERS, "chapters courses audit_log", args=form(
        chapter_id=lambda w: str(w.chapter), title="新章名"), pre=lambda w: {"_course_id": w.course}),
    "CmsCourseState.delete_chapter": row(MANAGERS, "chapters lessons courses audit_log", optional=True,
                                         args=arg(lambda w: str(w.chapter)), pre=lambda w: {"_course_id": w.course}),
    "CmsCourseState.move_chapter": row(MANAGERS, "chapters courses audit_log", optional=True,
                                       args=arg(lambda w: str(w.chapter), "down"),
                                       pre=lambda w: {"_course_id": w.course}),
    "CmsCourseState.add_lesson": row(MANAGERS, "lessons courses audit_log", args=form(
        chapter_id=lambda w: str(w.chapter), kind="video", title="新课时"), pre=lambda w: {"_course_id": w.course}),
    "CmsCourseState.move_lesson": row(MANAGERS, "lessons courses audit_log", optional=True,
                                      args=arg(lambda w: str(w.lesson), "up"), pre=lambda w: {"_course_id": w.course}),
    "CmsCourseState.delete_lesson": row(MANAGERS, "lessons courses audit_log", optional=True,
                                        args=arg(lambda w: str(w.lesson)), pre=lambda w: {"_course_id": w.course}),
    "CmsLessonState.load_lesson": row(MANAGERS),
    "CmsLessonState.save_lesson": row(MANAGERS, "lessons courses audit_log", args=form(
        title="构图的高级技巧", is_free_trial="", free_seconds="0", article="", reading_minutes="", drip="none",
        release_at="", release_days=""), pre=lambda w: {"_lesson_id": w.lesson}),
    "CmsLessonState.move_to_chapter": row(MANAGERS, "lessons courses audit_log", args=form(
        chapter_id=lambda w: str(w.chapter)), pre=lambda w: {"_lesson_id": w.lesson}),
    "LessonMediaState.load_lesson_media": row(MANAGERS),
    "LessonMediaState.refresh_lesson_media": row(MANAGERS, pre=lambda w: {"media_lesson_id": w.lesson}),
    "LessonMediaState.retry_lesson_job": row(MANAGERS, "media_jobs audit_log", args=arg(lambda w: str(w.media_job)),
                                             pre=lambda w: {"media_lesson_id": w.lesson}),
    "MediaJobsState.load_media_jobs": row(DASHBOARD),
    "MediaJobsState.filter_media_jobs": row(DASHBOARD, args=arg("failed")),
    "MediaJobsState.refresh_media_jobs": row(DASHBOARD),
    "MediaJobsState.retry_media_job": row(MANAGERS, "media_jobs audit_log", args=arg(lambda w: str(w.media_job))),
}


# ---------------------------------------------------------------------------------- API routes

@dataclass(frozen=True)
class RouteCall:
    path: Callable[[World], str]
    body: Callable[[World], bytes] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    setup: Callable[[World], None] | None = None  # runs on the fresh world before the call
    answers: tuple[int, ...] = ()  # statuses >= 400 that still answer an admitted caller


UPLOAD_HEADERS = {"X-CourseMall-Upload": "1", "Origin": "http://localhost:3000"}


def _route(allow, writes: str = "", call: RouteCall | None = None, **kw) -> tuple[Row, RouteCall]:
    return row(allow, writes, totp=False, **kw), call


def _fresh_ticket(w: World) -> None:
    """Sign-in tickets live 60 s: mint A's right before the call."""
    from sqlmodel import Session

    from coursemall.services.accounts import sessions

    with Session(coursemall.db.get_engine()) as s:
        w.ids["fresh_ticket"] = sessions.create_login_ticket(
            s, user_id=w.learner, browser_hash=sessions.browser_hash_of(w.browsers["learner"]))
        s.commit()


def _empty_upload_file(w: World) -> None:
    from coursemall.services.media.uploads import part_path
    from coursemall.settings import get_settings

    path = part_path(get_settings().media_dir, w.upload_key)  # an earlier DELETE removes it
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


ROUTES: dict[str, tuple[Row, RouteCall]] = {
    "GET /api/health": _route(EVERYONE, call=RouteCall(lambda w: "/api/health")),
    "GET /api/auth/complete": _route(LEARNER, "login_tickets user_sessions", call=RouteCall(
        lambda w: f"/api/auth/complete?ticket={w.fresh_ticket}&next=/", setup=_fresh_ticket),
        why="A's ticket signs in only in the browser it was minted for (A's `cm_browser` secret)"),
    "GET /api/auth/browser": _route(EVERYONE, call=RouteCall(lambda w: "/api/auth/browser?next=/login"),
                                    why="hands this browser its own secret; writes nothing"),
    "GET /api/auth/signout": _route(EVERYONE, "user_sessions", optional=True,
                                    call=RouteCall(lambda w: "/api/auth/signout"), why="own cookie only"),
    "GET /api/media/{token}": _route(frozenset(), call=RouteCall(lambda w: f"/api/media/{'x' * 40}")),
    "GET /api/public/{name:path}": _route(frozenset(), call=RouteCall(lambda w: "/api/public/..%2F..%2Fsettings.py"),
                                          why="public files only: a path out of the public folder is refused"),
    "POST /api/pay/notify/{channel}": _route(frozenset(), logs="payment_events", call=RouteCall(
        lambda w: "/api/pay/notify/sandbox",
        body=lambda w: json.dumps({"out_trade_no": w.pending_order, "outcome": "pay", "amount_fen": 1}).encode()),
        why="a forged notification for A's order: refused, kept in the append-only event log"),
    "GET /api/pay/return/{channel}": _route(EVERYONE, call=RouteCall(
        lambda w: f"/api/pay/return/alipay?out_trade_no={w.pending_order}"), why="only redirects to the order page"),
    "GET /api/admin/manual-proof/{mp_id}": _route(STAFF, call=RouteCall(
        lambda w: f"/api/admin/manual-proof/{w.manual_payment}")),
    "GET /api/wechat/oauth/start": _route(frozenset(), call=RouteCall(
        lambda w: f"/api/wechat/oauth/start?order_no={w.pending_order}"), why="WeChat is not configured here"),
    "GET /api/wechat/oauth/callback": _route(frozenset(), call=RouteCall(
        lambda w: "/api/wechat/oauth/callback?code=x&state=forged")),
    "GET /api/certificate/{code}.png": _route(EVERYONE, why="public verification", call=RouteCall(
        lambda w: f"/api/certificate/{w.certificate}.png")),
    "POST /api/uploads": _route(MANAGERS, "upload_sessions audit_log", call=RouteCall(
        lambda w: "/api/uploads", body=lambda w: json.dumps({"lesson_id": w.lesson, "filename": "a.mp4",
                                                             "size": 1000}).encode(),
        headers={**UPLOAD_HEADERS, "Content-Type": "application/json"})),
    "GET /api/uploads/{key}": _route({"teacher"}, call=RouteCall(lambda w: f"/api/uploads/{w.upload_key}",
                                                                 headers=UPLOAD_HEADERS, setup=_empty_upload_file),
                                     why="the uploader only"),
    "PUT /api/uploads/{key}": _route({"teacher"}, "upload_sessions", call=RouteCall(
        lambda w: f"/api/uploads/{w.upload_key}?offset=0", body=lambda w: b"\0" * 100, headers=UPLOAD_HEADERS,
        setup=_empty_upload_file)),
    "DELETE /api/uploads/{key}": _route({"teacher"}, "upload_sessions", call=RouteCall(
        lambda w: f"/api/uploads/{w.upload_key}", headers=UPLOAD_HEADERS, setup=_empty_upload_file)),
    "POST /api/uploads/{key}/complete": _route({"teacher"}, "upload_sessions", optional=True, call=RouteCall(
        lambda w: f"/api/uploads/{w.upload_key}/complete", headers=UPLOAD_HEADERS, answers=(409,),
        setup=_empty_upload_file),
        why="incomplete: the uploader gets 'not complete', others 'not found'"),
    "GET /api/admin/export/orders.csv": _route(STAFF, "audit_log", optional=True,
                                               call=RouteCall(lambda w: "/api/admin/export/orders.csv")),
    "GET /api/admin/export/learners.csv": _route(STAFF, "audit_log", optional=True,
                                                 call=RouteCall(lambda w: "/api/admin/export/learners.csv")),
    "GET /api/hls/{lesson_id}/{asset_id}/{variant}/{name}": _route(frozenset(), call=RouteCall(
        lambda w: f"/api/hls/{w.lesson}/{w.media_asset}/hd/index.m3u8"),
        why="a playlist URL without the player's session-bound token: refused for everyone "
            "(tests/security/test_media_tokens.py covers the tokens)"),
}


# ---------------------------------------------------------------------------------- the world

@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with authz_lab(tmp_path_factory.mktemp("authz")) as lab_world:
        yield lab_world


# ---------------------------------------------------------------------------------- the checks

def _check_state_call(key: str, r: Row, actor: str, outcome, cls, world: World) -> list[str]:
    problems = []
    expected = r.expected(actor)
    if outcome.raised is not None:
        return [f"raised {type(outcome.raised).__name__}: {outcome.raised}"]
    if outcome.logged:
        problems.append(f"logged an exception: {outcome.logged[0]}")
    state = outcome.state
    if unclear := unclear_messages(state):
        problems.append(f"no clear message: {unclear}")
    error = getattr(state, "error", "") or getattr(state, "note_error", "") or getattr(state, "gate_error", "")
    written = set(outcome.writes)
    if expected == "allow":
        if error in REFUSALS:
            problems.append(f"refused: {error!r}")
        if not written <= r.writes:
            problems.append(f"wrote {sorted(written - r.writes)} (row allows {sorted(r.writes)})")
        if r.writes and not r.optional and not written:
            problems.append(f"wrote nothing (expected one of {sorted(r.writes)})")
    else:
        if written - r.logs:
            problems.append(f"refused call wrote {sorted(written - r.logs)}")
        if error and error not in REFUSALS:
            problems.append(f"answered instead of refusing: {error!r}")
        if expected == "totp":
            # the TOTP message, or the flag that shows the TOTP step (which carries the message)
            if hasattr(state, "mfa_needed"):
                if not state.mfa_needed or (error and error not in MFA_TEXTS):
                    problems.append(f"no TOTP step (mfa_needed={state.mfa_needed}, error={error!r})")
            elif error not in MFA_TEXTS:
                problems.append(f"no TOTP message (error={error!r})")
        if issubclass(cls, DashboardBaseState) and error in GUARD_REFUSALS and getattr(state, "allowed", False):
            problems.append("refused by the guard but allowed is true")
        for var, default in outcome.defaults.items():
            if var in FLAG_VARS or var in r.public:
                continue
            value = getattr(state, var)
            if value != default and value:  # emptied is fine, filled is not
                problems.append(f"data var {var} filled: {str(value)[:60]!r}")
    if actor in OUTSIDERS and not r.shows_all:
        shown = visible_text(state, cls)
        leaked = [s for s in world.secrets if s in shown]
        if leaked:
            problems.append(f"shows learner A's private data: {leaked}")
    return problems


async def _run_handler_row(lab_world, key: str) -> dict[str, str]:
    lab, world = lab_world
    cls, name = all_handlers()[key]
    r = TABLE[key]
    failures = {}
    for actor in ACTORS:
        args = r.args(world)
        params = (r.params or PARAMS)(world)
        outcome = await call(lab, world, cls, name, actor, args, params, r.pre(world) if r.pre else None)
        problems = _check_state_call(key, r, actor, outcome, cls, world)
        if problems:
            failures[actor] = f"expected {r.expected(actor)}: " + "; ".join(problems)
    return failures


async def _call_route(lab, world, key: str, actor: str):
    from coursemall.api import build_api

    lab.restore()
    r, spec = ROUTES[key]
    if spec.setup is not None:
        spec.setup(world)
        lab.forget_writes()
    method = key.split(" ", 1)[0]
    cookies = {"cm_browser": world.browsers[actor]}
    if actor != "anon":
        cookies["cm_session"] = world.tokens[actor]
    transport = httpx.ASGITransport(app=build_api())
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:3000", cookies=cookies) as client:
        response = await client.request(method, spec.path(world), content=spec.body(world) if spec.body else None,
                                        headers=spec.headers)
    return response, lab.writes()


async def _run_route_row(lab_world, key: str) -> dict[str, str]:
    lab, world = lab_world
    r, spec = ROUTES[key]
    failures = {}
    for actor in ACTORS:
        response, writes = await _call_route(lab, world, key, actor)
        expected = r.expected(actor)
        problems = []
        written = set(writes)
        if expected == "allow":
            if response.status_code >= 400 and response.status_code not in spec.answers:
                problems.append(f"refused with {response.status_code}")
            if not written <= r.writes:
                problems.append(f"wrote {sorted(written - r.writes)}")
            if r.writes and not r.optional and not written:
                problems.append("wrote nothing")
        else:
            if response.status_code < 300:
                problems.append(f"answered {response.status_code}")
            if written - r.logs:
                problems.append(f"refused call wrote {sorted(written - r.logs)}")
        if actor in OUTSIDERS and (leaked := [s for s in world.secrets if s in response.text]):
            problems.append(f"shows learner A's private data: {leaked}")
        if problems:
            failures[actor] = f"expected {expected}: " + "; ".join(problems)
    return failures


# ---------------------------------------------------------------------------------- the tests

def test_every_handler_and_route_has_a_row():
    handlers, routes = set(all_handlers()), set(all_routes())
    missing = sorted(handlers - set(TABLE))
    stale = sorted(set(TABLE) - handlers)
    missing_routes = sorted(routes - set(ROUTES))
    stale_routes = sorted(set(ROUTES) - routes)
    hint = ("every public State method is a remote endpoint: add a row to TABLE in "
            "tests/security/test_authorization_matrix.py saying who may call it (allow=...), which tables an "
            "admitted call writes, and the arguments to call it with (ids of other people's objects)")
    assert not missing, f"handlers without a row: {missing}\n{hint}"
    assert not stale, f"rows for handlers that no longer exist (remove them): {stale}"
    assert not missing_routes, f"API routes without a row in ROUTES: {missing_routes}\n{hint}"
    assert not stale_routes, f"rows for routes that no longer exist: {stale_routes}"


# The most a guard lets through; a row may allow fewer (the service narrows it further).
GUARD_REACH = {"owner_required": OWNER, "staff_required": STAFF, "dashboard_required": DASHBOARD,
               "dashboard_user_required": DASHBOARD_USERS}


def test_rows_agree_with_the_guards():
    """A guarded handler's row never lets more people act than its guard does, and every guard
    refuses a password-only owner/staff with the TOTP step (except the TOTP pages themselves)."""
    problems = []
    for key, (cls, name) in sorted(all_handlers().items()):
        guard = guard_of(handler_fn(cls, name))
        if guard is None:
            continue
        reach = GUARD_REACH.get(guard)
        if reach is None:
            problems.append(f"{key}: unknown guard {guard!r} (add it to GUARD_REACH)")
        elif not TABLE[key].allow <= reach:
            problems.append(f"{key}: row allows {sorted(TABLE[key].allow - reach)} beyond its guard {guard}")
    assert not problems, "\n".join(problems)


async def test_authorization_matrix(lab):
    """Every (handler, actor) and (route, actor) pair as the table says; run time printed."""
    started = time.perf_counter()
    failures: dict[str, dict[str, str]] = {}
    for key in sorted(TABLE):
        if key in all_handlers():
            if found := await _run_handler_row(lab, key):
                failures[key] = found
    for key in sorted(ROUTES):
        if key in all_routes():
            if found := await _run_route_row(lab, key):
                failures[key] = found
    elapsed = time.perf_counter() - started
    calls = (len(TABLE) + len(ROUTES)) * len(ACTORS)
    print(f"\nauthorisation matrix: {len(TABLE)} handlers + {len(ROUTES)} routes × {len(ACTORS)} actors = "
          f"{calls} calls in {elapsed:.1f} s")
    report = "\n".join(f"{key} as {actor}: {why}" for key, by_actor in sorted(failures.items())
                       for actor, why in sorted(by_actor.items()))
    assert not failures, f"{sum(len(v) for v in failures.values())} calls broke the matrix:\n{report}"


def test_the_world_is_restored_after_every_write(lab):
    lab_, _ = lab
    lab_.dirty = True
    lab_.restore()
    assert table_digest(lab_.engine) == lab_.pristine_digest


def test_refused_managers_get_the_totp_message_in_both_languages():
    assert t("admin.mfa_required", "zh_CN") in MFA_TEXTS and t("admin.mfa_required", "en") in MFA_TEXTS
