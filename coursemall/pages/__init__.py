"""One module per route; importing this package registers every page (via @rx.page)."""

from coursemall.pages import home  # noqa: F401
