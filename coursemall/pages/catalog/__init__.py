"""Pages of the catalogue: what the storefront shows, course authoring, instructors."""

from coursemall.pages.catalog import bundle, category, course, home, search  # noqa: F401
