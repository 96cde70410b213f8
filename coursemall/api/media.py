"""Private media behind signed tokens (filled in by the catalog/player work)."""

ROUTES: list = []
