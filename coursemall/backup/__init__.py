"""Operator tasks: backup, restore, export."""
