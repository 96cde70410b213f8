"""Pages of the shop itself: settings (brand, home layout, policies, channels), one-time setup, go-live check."""

from coursemall.pages.shop import policy, setup  # noqa: F401
