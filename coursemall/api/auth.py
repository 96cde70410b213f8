"""Session cookie routes (filled in by the accounts work)."""

ROUTES: list = []
