"""Operator tasks (issue 5): backup, restore, export."""
