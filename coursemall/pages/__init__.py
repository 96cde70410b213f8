"""One module per route, grouped by domain; importing this package registers every page (@rx.page)."""

from coursemall.pages import accounts, admin, catalog, commerce, community, learning, shop  # noqa: F401
