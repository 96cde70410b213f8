"""Pages of accounts: users, sign-in sessions and tickets, passwords and one-time codes, TOTP, WeChat sign-in."""

from coursemall.pages.accounts import auth, outbox, profile  # noqa: F401
