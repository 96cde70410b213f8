"""Pages of community: comments, reviews and the message centre."""

from coursemall.pages.community import messages  # noqa: F401
