"""Every public State method is a remote endpoint: the set of them is pinned here.

A browser can call any event handler of any state by name with any payload (ARCHITECTURE.md,
rule 1). This test lists them all; a new handler fails it until it is added to EXPECTED on
purpose (after checking that it validates its arguments and takes no prices, user ids or roles).
"""

from __future__ import annotations

import inspect

import pytest
import reflex as rx
from reflex_base.config import get_config

import coursemall.coursemall  # noqa: F401  (imports every page and so every state)
from coursemall.state.base import AppState

# Reflex 0.10.1 adds `setvar` to every state. It only calls `set_<name>` methods, and there are
# none (no auto setters; see test_no_setters_reachable_through_setvar), so it can set nothing.
REFLEX_BUILTINS = {"setvar"}

# {state class name: its own event handlers}. Update deliberately, with review.
EXPECTED: dict[str, set[str]] = {
    "AppState": {"load_viewer", "toggle_lang"},
    # storefront
    "CatalogBaseState": set(),
    "HomeState": {"load"},
    "ListingState": set(),
    "SearchState": {"change_sort", "load", "submit"},
    "CategoryState": {"change_sort", "load"},
    "CourseState": {"load"},
    "BundleState": {"load"},
    "LessonState": {"load"},
    # accounts
    "SignInState": {"clear_message", "sign_in"},
    "RegisterState": {"clear_message", "register"},
    "CodeSignInState": {"clear_message", "send_code", "set_account", "sign_in_with_code"},
    "ResetPasswordState": {"clear_message", "reset_password", "send_code", "set_account"},
    "ProfileState": {"change_password", "load_profile", "revoke_session", "save_nickname",
                     "set_nickname_input", "sign_out", "sign_out_everywhere", "upload_avatar"},
    "OutboxState": {"load_outbox"},
    # learner checkout
    "BuyState": {"add_to_cart", "buy_now", "clear_message"},
    "CartState": {"checkout", "load_cart", "remove_item"},
    "OrderState": {"cancel_order", "edit_proof_reference", "load_order", "pay", "request_refund",
                   "submit_proof"},
    "SandboxCashierState": {"decide", "load_cashier"},
    "MyOrdersState": {"load_orders"},
    "MessageCenterState": {"load_messages", "read_all"},
    # player and learning
    "PlayerState": {"article_read", "heartbeat", "load_player", "refresh_media", "save_note"},
    "LearningState": {"load_learning"},
    "CertificateState": {"load_certificate"},
    # community (homework grading carries @dashboard_required)
    "CommunityBaseState": set(),
    "LessonCommentsState": {"delete_comment", "hide_comment", "load_comments", "load_more_comments",
                            "load_replies", "open_reply", "post_comment", "post_reply", "toggle_like"},
    "ReviewState": {"hide_review", "load_reviews", "open_review_reply", "pick_review_star",
                    "reply_review", "submit_review"},
    "CheckinState": {"edit_checkin_text", "load_checkin", "submit_checkin"},
    "HomeworkState": {"edit_homework_text", "load_homework", "submit_homework"},
    "HomeworkReviewState": {"grade_homework", "load_homework_queue"},
    # owner area (every handler also carries @staff_required; see tests/state/test_admin_state.py)
    "AdminBaseState": set(),
    "AdminHomeState": {"load_admin_home"},
    "AdminOrdersState": {"filter_orders", "goto_orders_page", "load_orders", "search_orders"},
    "AdminRefundsState": {"approve_refund", "load_refunds", "mark_refunded_by_hand", "reject_refund", "retry_refund",
                          "save_policy"},
    "AdminManualState": {"confirm_manual", "load_manual", "reject_manual"},
    "AdminPaymentSettingsState": {"load_payment_settings", "save_payment_settings", "upload_qr"},
    # dashboard (issue 5): every handler carries a guard from coursemall.state.guards (checked by
    # tests/security/test_dashboard_access.py, which also calls each one as the wrong people)
    "DashboardBaseState": set(),
    "DashboardHomeState": {"load_dashboard_home"},
    "AnalyticsState": {"apply_range", "load_analytics", "pick_lesson", "pick_preset", "save_fees"},
    "ShopSettingsState": {"load_shop_settings", "move_block", "pick_template", "remove_logo", "reset_template",
                          "save_brand", "save_featured", "save_payment_channels", "save_policy_text",
                          "save_template", "toggle_block", "upload_logo"},
    "SecurityState": {"cancel_enrol", "confirm_enrol", "hide_codes", "load_security", "regenerate_codes",
                      "start_enrol", "verify_device"},
    "MfaGateState": {"load_gate", "submit_gate"},
    "StaffState": {"demote_staff", "load_staff", "promote_staff", "reset_staff_mfa"},
    "AuditState": {"filter_audit", "load_audit", "next_audit_page", "prev_audit_page"},
    "AdminOrderDetailState": {"load_order_detail", "refund_order"},
    "AdminLearnersState": {"goto_learners_page", "load_learners", "search_learners"},
    "AdminLearnerState": {"grant_access", "load_learner", "revoke_access"},
    "AdminInstructorsState": {"approve_application", "load_instructors", "reject_application",
                              "save_instructor_profile", "save_share"},
    "InstructorProfileState": {"load_my_profile", "save_my_profile"},
    "ModerationState": {"delete_comment", "filter_moderation", "hide_comment", "hide_review", "load_moderation",
                        "save_blocked_words", "unhide_comment", "unhide_review"},
    "CmsPageState": set(),
    "CmsCoursesState": {"create_course", "filter_courses", "load_courses", "search_courses"},
    "CmsCourseState": {"add_chapter", "add_lesson", "archive_course", "delete_chapter", "delete_lesson",
                       "load_course", "move_chapter", "move_lesson", "publish_course", "rename_chapter",
                       "save_course", "unpublish_course", "upload_cover"},
    "CmsLessonState": {"load_lesson", "move_to_chapter", "save_lesson"},
    "MediaAdminBaseState": set(),
    "LessonMediaState": {"load_lesson_media", "refresh_lesson_media", "retry_lesson_job"},
    "MediaJobsState": {"filter_media_jobs", "load_media_jobs", "refresh_media_jobs", "retry_media_job"},
    "LeakState": {"ask_action", "cancel_action", "confirm_action", "load_leak", "trace"},
    # storefront parts of issue 5 (public, read-only or the learner's own application)
    "BrandState": {"load_brand"},
    "HomeLayoutState": {"load_home_layout"},
    "PolicyState": {"load_policy"},
    "TeachApplyState": {"load_teach", "submit_application"},
    # the one-time setup of a production shop: every step needs the setup link's token, held in a
    # backend var since load_setup checked it (services/setup.py re-checks it on every step)
    "SetupState": {"back_to_account", "finish_setup", "load_setup", "open_dashboard", "submit_account"},
}

# Words that must never name a frontend var (those are sent to the browser on every change).
SECRET_WORDS = ("password", "passwd", "hash", "secret", "token", "totp", "otp_", "session_id",
                "_sa_instance_state", "watermark")


def _all_app_states() -> list[type[rx.State]]:
    seen: list[type[rx.State]] = []

    def walk(cls):
        if cls not in seen:
            seen.append(cls)
            for sub in cls.__subclasses__():
                walk(sub)

    walk(AppState)
    return seen


def _all_coursemall_states() -> list[type[rx.State]]:
    found = []

    def walk(cls):
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("coursemall") and not sub._mixin:
                found.append(sub)
            walk(sub)

    walk(rx.State)
    return found


STATES = _all_app_states()


def _own_handlers(cls) -> set[str]:
    return set(cls.event_handlers) - REFLEX_BUILTINS


def test_expected_handlers_exactly():
    actual = {cls.__name__: _own_handlers(cls) for cls in STATES}
    # Two states with the same class name in different modules would hide each other here.
    assert len(actual) == len(STATES), "state class names must be unique"
    added = {k: sorted(v - EXPECTED.get(k, set())) for k, v in actual.items()
             if v - EXPECTED.get(k, set())}
    removed = {k: sorted(v - actual.get(k, set())) for k, v in EXPECTED.items()
               if v - actual.get(k, set())}
    assert not added, (
        f"new event handlers (remote endpoints!) — review them and add to EXPECTED: {added}")
    assert not removed, f"handlers gone — remove them from EXPECTED: {removed}"


def test_every_app_state_derives_from_appstate():
    strays = [f"{c.__module__}.{c.__name__}" for c in _all_coursemall_states()
              if not issubclass(c, AppState)]
    assert not strays, f"states must derive from AppState (session + language): {strays}"


def test_only_reflex_builtins_besides_own_handlers():
    for cls in STATES:
        assert REFLEX_BUILTINS <= set(cls.event_handlers), cls.__name__


def test_auto_setters_are_off():
    assert get_config().state_auto_setters is False


@pytest.mark.parametrize("cls", STATES, ids=lambda c: c.__name__)
def test_no_auto_setters(cls):
    for name, handler in cls.event_handlers.items():
        qualname = getattr(handler.fn, "__qualname__", "")
        assert "_get_setter" not in qualname, f"{cls.__name__}.{name} is an auto setter"
    # A hand-written `set_<var>` is allowed (it is pinned in EXPECTED and must validate), but it
    # must be a function of the state's own module, not something Reflex generated.
    for name in {f"set_{v}" for v in cls.base_vars} & set(cls.event_handlers):
        fn = cls.event_handlers[name].fn
        assert getattr(fn, "__module__", "").startswith("coursemall"), f"{cls.__name__}.{name}"


@pytest.mark.parametrize("cls", STATES, ids=lambda c: c.__name__)
def test_no_setters_reachable_through_setvar(cls):
    """setvar(name, value) calls getattr(state, 'set_' + name): no such attribute may exist."""
    for name, f in cls.__fields__.items():
        if not f._owner.__module__.startswith("coursemall"):
            continue  # Reflex's own (is_hydrated, router_*): handled by Reflex
        setter = f"set_{name}"
        if not hasattr(cls, setter):
            continue
        # Only a deliberate, pinned handler may answer setvar(name, ...); never for backend vars.
        assert not name.startswith("_"), f"{cls.__name__}.{setter} makes backend var {name} settable"
        assert setter in EXPECTED.get(cls.__name__, set()), (
            f"{cls.__name__}.{setter} exists: setvar('{name}', ...) from the browser calls it")


@pytest.mark.parametrize("cls", STATES, ids=lambda c: c.__name__)
def test_handler_names_are_public_functions(cls):
    for name, handler in cls.event_handlers.items():
        assert not name.startswith("_"), f"{cls.__name__}.{name}"
        if name in REFLEX_BUILTINS:
            continue
        assert inspect.isfunction(handler.fn), f"{cls.__name__}.{name}"


@pytest.mark.parametrize("cls", STATES, ids=lambda c: c.__name__)
def test_identity_lives_in_backend_vars(cls):
    fields = cls.__fields__
    assert "_user_id" in fields, f"{cls.__name__} lost the backend identity var"
    assert fields["_user_id"]._backend, "_user_id must be a backend var"
    frontend = set(cls.base_vars) | set(cls.computed_vars) | set(cls.vars)
    assert "_user_id" not in frontend
    assert "user_id" not in frontend, f"{cls.__name__} exposes user_id to the browser"
    for name in cls.base_vars:
        assert not name.startswith("_")


@pytest.mark.parametrize("cls", STATES, ids=lambda c: c.__name__)
def test_no_secret_named_frontend_vars(cls):
    names = set(cls.base_vars) | set(cls.computed_vars)
    bad = sorted(n for n in names for w in SECRET_WORDS if w in n.lower())
    assert not bad, f"{cls.__name__} sends {bad} to the browser; keep them in backend vars (_name)"
