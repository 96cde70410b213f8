"""Operator commands. Each returns a process exit code and prints a clear message on failure."""

from __future__ import annotations

import argparse

from coursemall.settings import PROJECT_ROOT, SettingsError, get_settings


def migrate() -> int:
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    get_settings().data_dir.mkdir(parents=True, exist_ok=True)
    command.upgrade(cfg, "head")
    print("database migrated:", _safe_url(get_settings().db_url))
    return 0


def seed() -> int:
    from coursemall.demo.seed import seed_all

    summary = seed_all()
    print("seed:", summary)
    return 0


def banner() -> int:
    import os

    s = get_settings()
    password = ("(the value of COURSEMALL_OWNER_PASSWORD)" if "COURSEMALL_OWNER_PASSWORD" in os.environ
                else s.owner_password)
    print("=" * 64)
    print(f" CourseMall shop:  {s.public_base_url}")
    print(f" Owner sign-in:    {s.owner_email} / {password}")
    if s.demo:
        from coursemall.demo.security import DEMO_OWNER_TOTP_SECRET

        print(f" Owner 2FA (TOTP): seed {DEMO_OWNER_TOTP_SECRET} (add it to an authenticator app)")
        print(" Demo learner:     learner1@coursemall.local / learner-demo-2026")
        print(f" One-time codes:   {s.public_base_url}/outbox and this console")
    print("=" * 64, flush=True)
    return 0


def _safe_url(url: str) -> str:
    """Database URL without its password, for logs."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _data_command(name: str):
    """backup / restore / export live in coursemall.ops.data (imported only when used)."""
    def run(rest: list[str]) -> int:
        from coursemall.ops import data

        return data.main(name, rest)
    return run


COMMANDS = {"migrate": migrate, "seed": seed, "banner": banner}
ARG_COMMANDS = {"backup": _data_command("backup"), "restore": _data_command("restore"),
                "export": _data_command("export")}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursemall", add_help=False)
    parser.add_argument("-h", "--help", action="store_true")
    parser.add_argument("command", nargs="?", choices=sorted({*COMMANDS, *ARG_COMMANDS}))
    args, rest = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help()
        return 0 if args.help else 2
    if args.help:
        rest = [*rest, "--help"]  # per-command help (backup/restore/export parse their own)
        if args.command in COMMANDS:
            parser.print_help()
            return 0
    try:
        get_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}")
        return 2
    if args.command in ARG_COMMANDS:
        return ARG_COMMANDS[args.command](rest)
    return COMMANDS[args.command]()


__all__ = ["main"]
