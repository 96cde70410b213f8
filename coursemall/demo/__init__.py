"""Demo shop content and idempotent seeding (`python -m coursemall seed`)."""
