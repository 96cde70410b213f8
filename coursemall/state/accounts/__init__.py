"""States of accounts: users, sign-in sessions and tickets, passwords and one-time codes, TOTP, WeChat sign-in."""
