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
    """Where the shop runs; the demo's sign-ins, or a production shop's setup state."""
    s = get_settings()
    print("=" * 64)
    print(f" CourseMall shop:  {s.public_base_url}")
    if s.demo:
        _demo_banner(s)
    else:
        _production_banner(s)
    print("=" * 64, flush=True)
    return 0


def _demo_banner(s) -> None:
    import os

    from coursemall.demo.accounts import LEARNER_PASSWORD, OWNER_PASSWORD
    from coursemall.demo.security import DEMO_OWNER_TOTP_SECRET

    password = ("(the value of COURSEMALL_OWNER_PASSWORD)" if os.environ.get("COURSEMALL_OWNER_PASSWORD")
                else OWNER_PASSWORD)
    print(" This is the DEMO shop (COURSEMALL_DEMO=1), not a production shop.")
    print(f" Owner sign-in:    {s.owner_email} / {password}")
    print(f" Owner 2FA (TOTP): seed {DEMO_OWNER_TOTP_SECRET} (add it to an authenticator app)")
    print(f" Demo learner:     learner1@coursemall.local / {LEARNER_PASSWORD}")
    print(f" One-time codes:   {s.public_base_url}/outbox and this console")


def _production_banner(s) -> None:
    """A shop not set up yet gets its first setup link here (once: later starts say how to get a
    new one, since only the link's hash is kept); then a summary of the go-live check."""
    from coursemall.db import session_scope
    from coursemall.services.shop import golive, setup

    with session_scope() as session:
        is_open = setup.shop_is_open(session, s)
        expiry = None if is_open else setup.live_link_expiry(session)
    link = None
    if is_open:
        print(" The shop is open. The owner signs in with e-mail, password and authenticator.")
    elif expiry is None:
        with session_scope() as session:  # its own unit of work: the write comes first
            link = setup.mint_setup_token(session, settings=s)
    with session_scope() as session:
        findings = golive.collect_findings(session, s)
    if link is not None:
        print(" The shop is NOT OPEN yet. Open this one-time setup link to create the owner account")
        print(f" (works once, until {_local(link.expires_at)}):")
        print(f"   {link.url}")
    elif expiry is not None:
        print(f" The shop is NOT OPEN yet. A setup link was printed earlier (valid until {_local(expiry)}).")
        print(" Lost it? `python -m coursemall setup-link` prints a new one (the older one stops working).")
    blocking = sum(1 for f in findings if f.blocking)
    print(f" Go-live check:    {blocking} blocking, {len(findings) - blocking} warnings"
          " (details: python -m coursemall check)")


def _local(when) -> str:
    return when.astimezone().strftime("%Y-%m-%d %H:%M %Z")


def setup_link() -> int:
    """Print a new one-time setup link (older ones stop working); refused once the shop is open."""
    from coursemall.db import session_scope
    from coursemall.domain.errors import DomainError
    from coursemall.i18n import t
    from coursemall.services.shop import setup

    try:
        with session_scope() as session:
            link = setup.mint_setup_token(session)
    except DomainError as exc:
        print(t(exc.code, _cli_lang()))
        return 1
    print(f"One-time setup link (works once, until {_local(link.expires_at)}; older links no longer work):")
    print(f"  {link.url}")
    return 0


def _cli_lang() -> str:
    """Chinese on a Chinese console, else English (`--lang zh_CN|en` for `check`)."""
    import os

    value = os.environ.get("LC_ALL") or os.environ.get("LC_MESSAGES") or os.environ.get("LANG") or ""
    return "zh_CN" if value.lower().startswith("zh") else "en"


def check(rest: list[str]) -> int:
    """The go-live check: every finding with its severity and what to set; exit 1 while any
    blocking one remains."""
    from coursemall.db import session_scope
    from coursemall.i18n import t
    from coursemall.services.shop import golive

    parser = argparse.ArgumentParser(prog="python -m coursemall check")
    parser.add_argument("--lang", choices=("zh_CN", "en"), default=_cli_lang())
    lang = parser.parse_args(rest).lang
    settings = get_settings()
    with session_scope() as session:
        findings = golive.collect_findings(session, settings)
    print(f"{t('golive.title', lang)}: {settings.public_base_url}")
    for f in findings:
        label = t("golive.blocking" if f.blocking else "golive.warning", lang)
        print(f"\n[{label}] {f.code}\n  {f.problem(lang)}\n  {t('golive.how', lang)}{f.fix(lang)}")
    blocking = sum(1 for f in findings if f.blocking)
    print()
    print(t("golive.summary", lang, blocking=blocking, warnings=len(findings) - blocking) if findings
          else t("golive.all_clear", lang))
    return 1 if blocking else 0


def _safe_url(url: str) -> str:
    """Database URL without its password, for logs."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _data_command(name: str):
    """backup / restore / export live in coursemall.backup.data (imported only when used)."""
    def run(rest: list[str]) -> int:
        from coursemall.backup import data

        return data.main(name, rest)
    return run


COMMANDS = {"migrate": migrate, "seed": seed, "banner": banner, "setup-link": setup_link}
ARG_COMMANDS = {"backup": _data_command("backup"), "restore": _data_command("restore"),
                "export": _data_command("export"), "check": check}


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
