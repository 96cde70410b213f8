"""Use-cases of the shop itself: settings (brand, home layout, policies, channels), one-time setup, go-live check."""
