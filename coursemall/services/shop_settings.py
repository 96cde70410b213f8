"""Shop settings stored as one JSON object per key (table `shop_settings`).

Low-level access for every service: `get_value(session, key)` returns the stored dict merged over
the defaults in DEFAULTS, `set_value` replaces it (callers check permissions and write the audit
log). The owner's settings page and the typed getters live here too (issue 5).
"""

from __future__ import annotations

import copy

from sqlmodel import Session

from coursemall.models import ShopSetting, utcnow

# key -> default value (a dict). Add a key here before using it.
DEFAULTS: dict[str, dict] = {
    # channel fee rates in basis points of the paid amount (0.6 % = 60 bp), for net revenue
    "channel_fees": {"sandbox": 0, "alipay": 60, "wechat": 60, "manual": 0, "free": 0},
    # words refused in comments/reviews (community moderation), in addition to the built-in list
    "blocked_words": {"words": []},
}


def get_value(session: Session, key: str) -> dict:
    default = copy.deepcopy(DEFAULTS.get(key, {}))
    row = session.get(ShopSetting, key)
    if row is None or not isinstance(row.value, dict):
        return default
    return {**default, **row.value}


def set_value(session: Session, key: str, value: dict, *, actor_id: int | None) -> None:
    if key not in DEFAULTS:
        raise KeyError(f"unknown shop setting {key!r}")
    row = session.get(ShopSetting, key)
    if row is None:
        row = ShopSetting(key=key)
    row.value = dict(value)
    row.updated_by = actor_id
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
