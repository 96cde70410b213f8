"""Stateless UI functions."""
