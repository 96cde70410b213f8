"""Settings fail fast with a clear message and default to a production shop; the demo only when asked."""

import pytest

from coursemall.settings import SettingsError, load_settings


def test_defaults_make_a_closed_production_shop(tmp_path):
    s = load_settings({"COURSEMALL_DATA_DIR": str(tmp_path)})
    assert s.db_url == f"sqlite:///{tmp_path / 'coursemall.db'}"
    assert s.public_base_url == "http://localhost:3000"
    assert s.demo is False
    assert s.sandbox_pay is False and s.pay_channels == ()  # no channel until configured
    assert s.code_sender == "smtp" and s.smtp_url == ""  # sending refused until SMTP is set
    assert s.owner_password == ""  # no published default password
    assert s.trusted_proxy_hops == 0
    assert len(s.secret_key) >= 32 and s.secret_key_generated
    # the generated key is kept, so signed tokens survive a restart
    assert load_settings({"COURSEMALL_DATA_DIR": str(tmp_path)}).secret_key == s.secret_key


def test_the_demo_is_switched_on_explicitly(tmp_path):
    s = load_settings({"COURSEMALL_DATA_DIR": str(tmp_path), "COURSEMALL_DEMO": "1"})
    assert s.demo is True
    assert s.sandbox_pay is True and s.pay_channels == ("sandbox", "manual")
    assert s.code_sender == "outbox"
    assert s.owner_password == ""  # the demo password comes from coursemall/demo/accounts.py


def test_explicit_values_win_over_the_demo_defaults(tmp_path):
    s = load_settings({"COURSEMALL_DATA_DIR": str(tmp_path), "COURSEMALL_DEMO": "1",
                       "COURSEMALL_SANDBOX_PAY": "0", "COURSEMALL_PAY_CHANNELS": "manual",
                       "COURSEMALL_CODE_SENDER": "smtp", "COURSEMALL_SMTP_URL": "smtp://mail.example.com:587"})
    assert s.sandbox_pay is False and s.pay_channels == ("manual",)
    assert s.code_sender == "smtp"


def test_a_staging_shop_may_allow_the_sandbox_explicitly(tmp_path):
    """Outside the demo the sandbox exists only when asked for (the go-live check blocks it)."""
    s = load_settings({"COURSEMALL_DATA_DIR": str(tmp_path), "COURSEMALL_SANDBOX_PAY": "1",
                       "COURSEMALL_PAY_CHANNELS": "sandbox"})
    assert s.demo is False and s.sandbox_pay is True and s.pay_channels == ("sandbox",)
    # without COURSEMALL_SANDBOX_PAY=1 a listed sandbox is dropped
    s = load_settings({"COURSEMALL_DATA_DIR": str(tmp_path), "COURSEMALL_PAY_CHANNELS": "sandbox,manual"})
    assert s.pay_channels == ("manual",)


def test_secret_key_from_the_environment_is_not_generated(tmp_path):
    s = load_settings({"COURSEMALL_DATA_DIR": str(tmp_path), "COURSEMALL_SECRET_KEY": "k" * 40})
    assert s.secret_key == "k" * 40 and not s.secret_key_generated
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("COURSEMALL_DB_URL", "mysql://x", "sqlite:// or postgresql://"),
        ("COURSEMALL_PUBLIC_BASE_URL", "localhost:3000", "http(s) origin"),
        ("COURSEMALL_SECRET_KEY", "short", "at least 32"),
        ("COURSEMALL_LOGIN_MAX_FAILS", "many", "must be an integer"),
        ("COURSEMALL_SESSION_DAYS", "0", "between 1 and 365"),
        ("COURSEMALL_CODE_SENDER", "pigeon", "'outbox' or 'smtp'"),
        ("COURSEMALL_SMTP_URL", "http://mail.example.com", "smtp:// or smtps://"),
        ("COURSEMALL_TRUSTED_PROXY_HOPS", "11", "between 0 and 10"),
        ("COURSEMALL_TRUSTED_PROXY_HOPS", "one", "must be an integer"),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(tmp_path, name, value, message):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings({"COURSEMALL_DATA_DIR": str(tmp_path), name: value})


def test_smtp_sender_chosen_explicitly_needs_a_url(tmp_path):
    with pytest.raises(SettingsError, match="SMTP_URL"):
        load_settings({"COURSEMALL_DATA_DIR": str(tmp_path), "COURSEMALL_CODE_SENDER": "smtp"})
