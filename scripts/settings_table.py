"""Rewrite the settings table in README.md from coursemall.settings.SETTINGS.

Usage: .venv/bin/python scripts/settings_table.py   (tests/test_readme.py checks it is current)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from coursemall.settings import SETTINGS  # noqa: E402

HEADER = "| Setting (env var) | Default | Meaning |\n|---|---|---|\n"


def render() -> str:
    return HEADER + "".join(f"| `{n}` | `{d}` | {m} |\n" for n, d, m in SETTINGS)


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(HEADER) + r"(?:\|.*\|\n)*")
    if not pattern.search(text):
        raise SystemExit("settings table not found in README.md")
    readme.write_text(pattern.sub(lambda _m: render(), text, count=1), encoding="utf-8")


if __name__ == "__main__":
    main()
