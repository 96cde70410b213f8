"""Pages of the owner's dashboard (/admin/...)."""

from coursemall.pages.admin import analytics, audit, courses, homework, leak, media, operations, orders, overview, security, shop_settings  # noqa: F401
