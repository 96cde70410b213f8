"""The app's paths: route constants and URL builders, the only place paths are spelled out.

Reflex-free, so services, states, API routes and jobs can import it (coursemall.pages.routes, which
the pages use, re-exports it; importing anything under coursemall.pages registers every page)."""

from __future__ import annotations

from urllib.parse import urlencode

HOME = "/"
SEARCH = "/search"
CATEGORY = "/category/[slug]"
COURSE = "/course/[course_id]"
BUNDLE = "/bundle/[bundle_id]"
LESSON = "/lesson/[lesson_id]"
SIGN_IN = "/login"
REGISTER = "/register"
CODE_SIGN_IN = "/login/code"
RESET_PASSWORD = "/reset-password"
PROFILE = "/me"
OUTBOX = "/outbox"
CART = "/cart"
ORDERS = "/orders"
ORDER = "/order/[order_no]"  # api/pay.py's return route lands here
SANDBOX_CASHIER = "/pay/sandbox/[order_no]"
MESSAGES = "/messages"
LEARNING = "/learning"
CERTIFICATE = "/certificate/[code]"
SETUP = "/setup/[token]"  # the one-time setup link


def category_url(slug: str) -> str:
    return f"/category/{slug}"


def bundle_url(bundle_id: int) -> str:
    return f"/bundle/{bundle_id}"


def course_url(course_id: int) -> str:
    return f"/course/{course_id}"


def lesson_url(lesson_id: int, t: int = 0) -> str:
    """A lesson; `t` > 0 opens the player at that second (continue buttons, markers)."""
    return f"/lesson/{lesson_id}?t={int(t)}" if t and int(t) > 0 else f"/lesson/{lesson_id}"


def certificate_url(code: str) -> str:
    return f"/certificate/{code}"


def setup_url(token: str) -> str:
    return f"/setup/{token}"


def certificate_png_url(code: str) -> str:
    return f"/api/certificate/{code}.png"


def search_url(q: str = "", **params: object) -> str:
    query = {"q": q, **{k: v for k, v in params.items() if v not in (None, "")}}
    return f"{SEARCH}?{urlencode(query)}"


def order_url(order_no: str) -> str:
    return f"/order/{order_no}"


def sandbox_cashier_url(order_no: str) -> str:
    return f"/pay/sandbox/{order_no}"


def orders_url(status: str = "") -> str:
    return f"{ORDERS}?{urlencode({'status': status})}" if status else ORDERS


def sign_in_url(next_path: str) -> str:
    return f"{SIGN_IN}?{urlencode({'next': next_path})}"


# owner area (pages hide their UI for non-staff; the handlers and API routes enforce it)
ADMIN = "/admin"
ADMIN_ORDERS = "/admin/orders"
ADMIN_REFUNDS = "/admin/refunds"
ADMIN_MANUAL = "/admin/manual-payments"
ADMIN_PAYMENT_SETTINGS = "/admin/settings/payments"


# community
CHECKIN = "/course/[course_id]/checkin"
HOMEWORK = "/lesson/[lesson_id]/homework"
ADMIN_HOMEWORK = "/admin/homework"


def checkin_url(course_id: int) -> str:
    return f"/course/{course_id}/checkin"


def homework_url(lesson_id: int) -> str:
    return f"/lesson/{lesson_id}/homework"


# dashboard. Instructors see the entries marked "all" in components/dashboard.NAV.
ADMIN_SECURITY = "/admin/security"  # TOTP enrolment / verification, recovery codes
ADMIN_AUDIT = "/admin/audit"
ADMIN_STAFF = "/admin/staff"
ADMIN_COURSES = "/admin/courses"
ADMIN_COURSE_EDIT = "/admin/courses/[course_id]"
ADMIN_LESSON_EDIT = "/admin/lessons/[lesson_id]"
ADMIN_LESSON_MEDIA = "/admin/lessons/[lesson_id]/media"
ADMIN_MEDIA = "/admin/media"
ADMIN_ORDER = "/admin/orders/[order_no]"
ADMIN_LEARNERS = "/admin/learners"
ADMIN_LEARNER = "/admin/learners/[learner_id]"
ADMIN_MODERATION = "/admin/moderation"
ADMIN_INSTRUCTORS = "/admin/instructors"
ADMIN_ANALYTICS = "/admin/analytics"
ADMIN_LEAK = "/admin/leak"
ADMIN_SHOP_SETTINGS = "/admin/settings"
TEACH_APPLY = "/teach"
POLICY = "/policy/[kind]"


def admin_course_url(course_id: int) -> str:
    return f"/admin/courses/{course_id}"


def admin_lesson_url(lesson_id: int) -> str:
    return f"/admin/lessons/{lesson_id}"


def admin_lesson_media_url(lesson_id: int) -> str:
    return f"/admin/lessons/{lesson_id}/media"


def admin_order_url(order_no: str) -> str:
    return f"/admin/orders/{order_no}"


def admin_learner_url(user_id: int) -> str:
    return f"/admin/learners/{user_id}"


def policy_url(kind: str) -> str:
    return f"/policy/{kind}"


# public images (api/public.py serves them)
PUBLIC_PREFIX = "/api/public/"


def public_url(name: str) -> str:
    """URL of a public image by its stored name ('' stays '')."""
    return f"{PUBLIC_PREFIX}{name}" if name else ""
