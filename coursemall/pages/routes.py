"""Route constants and URL builders: the only place paths are spelled out."""

from __future__ import annotations

from urllib.parse import urlencode

HOME = "/"
SEARCH = "/search"
CATEGORY = "/category/[slug]"
COURSE = "/course/[course_id]"
LESSON = "/lesson/[lesson_id]"
SIGN_IN = "/login"
REGISTER = "/register"
CODE_SIGN_IN = "/login/code"
RESET_PASSWORD = "/reset-password"
PROFILE = "/me"
OUTBOX = "/outbox"


def category_url(slug: str) -> str:
    return f"/category/{slug}"


def course_url(course_id: int) -> str:
    return f"/course/{course_id}"


def lesson_url(lesson_id: int) -> str:
    return f"/lesson/{lesson_id}"


def search_url(q: str = "", **params: object) -> str:
    query = {"q": q, **{k: v for k, v in params.items() if v not in (None, "")}}
    return f"{SEARCH}?{urlencode(query)}"
