"""The README documents every setting and opens with the two commands."""

from pathlib import Path

from coursemall.settings import SETTINGS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_readme_table():
    for name, default, _meaning in SETTINGS:
        assert f"| `{name}` | `{default}` |" in README, name


def test_readme_starts_with_the_two_commands():
    head = README[:600]
    assert "make run" in head and "make test" in head
