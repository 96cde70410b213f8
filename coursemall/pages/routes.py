"""The pages' name for coursemall.urls (the app's paths live there, importable without Reflex)."""

from coursemall.urls import *  # noqa: F401,F403
