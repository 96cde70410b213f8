"""Theme tokens. The brand colour is the owner's accent colour (shop settings, `BrandState.accent`):
the page frame sets `--cm-accent` once from the Radix accent scale of its nested theme, and prices,
accents and charts use `ACCENT` (never a hard-coded colour), so they all follow the owner's setting."""

ACCENT = "var(--cm-accent)"
ACCENT_SOFT = "var(--cm-accent-soft)"  # chart fills under an accent line

# Set on the frame inside the owner's theme (components/layout.py page_frame).
ACCENT_VARS = {"--cm-accent": "var(--accent-9)", "--cm-accent-soft": "var(--accent-5)"}
