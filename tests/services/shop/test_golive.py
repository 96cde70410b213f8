"""The go-live check: the findings for a set of configurations, their texts in both languages,
and `python -m coursemall check`'s output and exit code (SQLite and PostgreSQL)."""

from __future__ import annotations

import pyotp
import pytest
from sqlmodel import Session

from coursemall import cli
from coursemall.i18n import CATALOG
from coursemall.models import ShopPaymentSetting, User
from coursemall.services.shop import golive, setup
from coursemall.services.accounts import mfa
from coursemall.settings import get_settings, load_settings
from tests.payments.factories import make_user, rsa_pair

SECRET_KEY = "go-live-secret-key-" + "g" * 30


@pytest.fixture
def env(tmp_path):
    """A production shop's environment with its own data folder (add settings per test)."""
    return {"COURSEMALL_DATA_DIR": str(tmp_path / "data"), "COURSEMALL_SECRET_KEY": SECRET_KEY}


@pytest.fixture
def ready_env(env, tmp_path):
    """Everything a production shop needs, with Alipay keys on disk."""
    private, public = rsa_pair()
    (tmp_path / "app_private.pem").write_text(private)
    (tmp_path / "alipay_public.pem").write_text(public)
    return {**env, "COURSEMALL_PUBLIC_BASE_URL": "https://shop.example.com", "COURSEMALL_TRUSTED_PROXY_HOPS": "1",
            "COURSEMALL_SMTP_URL": "smtp://mailer:pw@mail.example.com:587", "COURSEMALL_PAY_CHANNELS": "alipay",
            "COURSEMALL_ALIPAY_APP_ID": "2021000000000000",
            "COURSEMALL_ALIPAY_PRIVATE_KEY_PATH": str(tmp_path / "app_private.pem"),
            "COURSEMALL_ALIPAY_PUBLIC_KEY_PATH": str(tmp_path / "alipay_public.pem")}


def open_shop(session: Session) -> User:
    owner = make_user(session, role="owner", email="boss@shop.example")
    mfa.enrol_with_secret(session, user_id=owner.id, secret=pyotp.random_base32())
    session.commit()
    return owner


def codes(findings: list[golive.Finding]) -> dict[str, str]:
    return {f.code: f.severity for f in findings}


# ---- configurations ------------------------------------------------------------------------------


def test_the_demo_says_plainly_it_is_not_a_production_shop(session, env):
    settings = load_settings({**env, "COURSEMALL_DEMO": "1"})
    found = codes(golive.collect_findings(session, settings))
    assert found["demo_on"] == "blocking"
    for code in ("sandbox_on", "outbox_sender", "smtp_missing", "public_url_not_https"):
        assert found[code] == "blocking", code
    assert "setup_pending" not in found  # the demo is open from the start


def test_a_fresh_production_shop_lists_what_to_do(session, env):
    found = codes(golive.collect_findings(session, load_settings(env)))
    assert found == {"public_url_not_https": "blocking", "smtp_missing": "blocking", "no_channel": "blocking",
                     "setup_pending": "blocking"}


def test_a_ready_shop_has_nothing_left(session, ready_env):
    open_shop(session)
    assert golive.collect_findings(session, load_settings(ready_env)) == []


def test_blocking_findings_come_first(session, env):
    session.add(ShopPaymentSetting(id=1, manual_enabled=False))
    session.commit()
    findings = golive.collect_findings(session, load_settings({**env, "COURSEMALL_PAY_CHANNELS": "manual"}))
    assert [f.blocking for f in findings] == sorted((f.blocking for f in findings), reverse=True)
    assert codes(findings)["manual_incomplete"] == "warning"


@pytest.mark.parametrize(("extra", "code"), [
    ({"COURSEMALL_SECRET_KEY": ""}, "secret_key_generated"),
    ({"COURSEMALL_PUBLIC_BASE_URL": "http://shop.example.com"}, "public_url_not_https"),
    ({"COURSEMALL_TRUSTED_PROXY_HOPS": "0"}, "trusted_proxy_missing"),
    ({"COURSEMALL_SANDBOX_PAY": "1"}, "sandbox_on"),
    ({"COURSEMALL_CODE_SENDER": "outbox"}, "outbox_sender"),
    ({"COURSEMALL_SMTP_URL": ""}, "smtp_missing"),
])
def test_each_setting_a_production_shop_gets_wrong_blocks(session, ready_env, extra, code):
    open_shop(session)
    env = {k: v for k, v in {**ready_env, **extra}.items() if v != ""}
    findings = golive.collect_findings(session, load_settings(env))
    assert codes(findings) == {code: "blocking"}
    assert golive.has_blocking(findings)


def test_a_channel_whose_keys_do_not_load_is_named_without_its_secrets(session, ready_env, tmp_path):
    open_shop(session)
    junk = "-----BEGIN RSA PRIVATE KEY-----\nTOP-SECRET-MATERIAL\n-----END RSA PRIVATE KEY-----\n"
    (tmp_path / "app_private.pem").write_text(junk)
    findings = golive.collect_findings(session, load_settings(ready_env))
    assert codes(findings) == {"channel_broken": "blocking", "no_channel": "blocking"}
    broken = next(f for f in findings if f.code == "channel_broken")
    for lang in ("zh_CN", "en"):
        text = broken.problem(lang) + broken.fix(lang)
        assert "alipay" in text and "TOP-SECRET" not in text
    assert "cannot be read" in broken.problem("en")


def test_wechat_settings_are_checked(session, ready_env):
    open_shop(session)
    wechat = {**ready_env, "COURSEMALL_PAY_CHANNELS": "wechat", "COURSEMALL_WECHAT_APP_ID": "wx123",
              "COURSEMALL_WECHAT_MCH_ID": "1900000109", "COURSEMALL_WECHAT_API_KEY": "k" * 31}
    findings = golive.collect_findings(session, load_settings(wechat))
    assert codes(findings) == {"channel_broken": "blocking", "no_channel": "blocking"}
    assert "32 characters" in findings[0].problem("en")
    # a right key works; without the merchant certificate refunds cannot go through WeChat
    found = codes(golive.collect_findings(session, load_settings({**wechat, "COURSEMALL_WECHAT_API_KEY": "k" * 32})))
    assert found == {"wechat_no_cert": "warning"}


def test_manual_transfer_counts_once_its_qr_is_uploaded(session, ready_env):
    open_shop(session)
    manual = {**ready_env, "COURSEMALL_PAY_CHANNELS": "manual"}
    assert codes(golive.collect_findings(session, load_settings(manual))) == {
        "manual_incomplete": "warning", "no_channel": "blocking"}
    session.add(ShopPaymentSetting(id=1, manual_enabled=True, manual_qr_image="payqr/x.png"))
    session.commit()
    assert golive.collect_findings(session, load_settings(manual)) == []


def test_owner_without_authenticator_and_demo_accounts_block(session, ready_env):
    make_user(session, role="owner", email="owner@coursemall.local")
    make_user(session, email="learner1@coursemall.local")
    found = codes(golive.collect_findings(session, load_settings(ready_env)))
    assert found == {"owner_without_totp": "blocking", "setup_pending": "blocking", "demo_accounts": "blocking"}


def test_every_finding_has_a_problem_and_a_fix_in_both_languages():
    for key in [k for k in CATALOG if k.startswith("golive.") and k.count(".") == 1]:
        code = key.split(".", 1)[1]
        if code in ("title", "all_clear", "blocking", "warning", "summary", "how"):
            continue
        finding = golive.Finding(code, golive.BLOCKING, {"path": "/p", "url": "http://x", "channel": "alipay",
                                                          "reason": "golive.reason.app_id_missing", "email": "e"})
        for lang in ("zh_CN", "en"):
            assert finding.problem(lang) and finding.fix(lang), code
        assert finding.problem("zh_CN") != finding.problem("en")


def test_the_dashboard_report_is_for_the_owner_only(session, production_settings):
    owner = open_shop(session)
    staff = make_user(session, role="staff")
    assert any(f.code == "smtp_missing" for f in golive.go_live_report(session, actor_id=owner.id))
    from coursemall.domain.errors import DomainError

    with pytest.raises(DomainError, match="error.forbidden"):
        golive.go_live_report(session, actor_id=staff.id)


@pytest.fixture
def production_settings(monkeypatch):
    monkeypatch.setenv("COURSEMALL_DEMO", "0")
    get_settings.cache_clear()
    yield get_settings()
    monkeypatch.undo()
    get_settings.cache_clear()


# ---- the commands ----------------------------------------------------------------------------------


@pytest.fixture
def shop_cli(db_engine, monkeypatch):
    """Run `python -m coursemall ...` in this process against the test database."""
    import coursemall.db

    def run(env: dict, *argv: str) -> int:
        for name in [n for n in list(__import__("os").environ) if n.startswith("COURSEMALL_")]:
            monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        return cli.main(list(argv))

    monkeypatch.setattr(coursemall.db, "get_engine", lambda: db_engine)
    yield run
    get_settings.cache_clear()


def test_check_prints_each_problem_and_exits_non_zero_while_one_blocks(shop_cli, env, capsys, session):
    assert shop_cli(env, "check", "--lang", "en") == 1
    out = capsys.readouterr().out
    assert "[Blocking] setup_pending" in out and "python -m coursemall setup-link" in out
    assert "[Blocking] no_channel" in out and "Fix: " in out
    assert "4 blocking, 0 warnings" in out
    assert shop_cli(env, "check", "--lang", "zh_CN") == 1
    assert "[必须处理] setup_pending" in capsys.readouterr().out


def test_check_exits_zero_for_a_ready_shop(shop_cli, ready_env, capsys, session):
    open_shop(session)
    assert shop_cli(ready_env, "check", "--lang", "en") == 0
    assert "Nothing found: ready to go live." in capsys.readouterr().out


def test_banner_prints_the_setup_link_once_and_setup_link_prints_a_new_one(shop_cli, env, capsys, session):
    assert shop_cli(env, "banner") == 0
    out = capsys.readouterr().out
    first = next(line.strip() for line in out.splitlines() if "/setup/" in line)
    assert first.startswith("http://localhost:3000/setup/") and "NOT OPEN" in out
    # a restart does not replace the printed link (only its hash is kept: it says how to get one)
    assert shop_cli(env, "banner") == 0
    out = capsys.readouterr().out
    assert "/setup/" not in out and "setup-link" in out
    session.expire_all()
    setup.check_setup_token(session, token=first.rsplit("/", 1)[-1])
    assert shop_cli(env, "setup-link") == 0
    second = next(line.strip() for line in capsys.readouterr().out.splitlines() if "/setup/" in line)
    assert second != first
    from coursemall.domain.errors import DomainError

    session.expire_all()
    with pytest.raises(DomainError, match="setup.token_replaced"):
        setup.check_setup_token(session, token=first.rsplit("/", 1)[-1])


def test_setup_link_is_refused_once_the_shop_is_open(shop_cli, env, capsys, session):
    open_shop(session)
    assert shop_cli(env, "setup-link", ) == 1
    assert "/setup/" not in capsys.readouterr().out
    assert shop_cli(env, "banner") == 0
    assert "The shop is open" in capsys.readouterr().out
