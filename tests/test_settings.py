"""Settings fail fast with a clear message and default to a working demo."""

import pytest

from coursemall.settings import SettingsError, load_settings


def test_defaults_make_a_demo_shop(tmp_path):
    s = load_settings({"COURSEMALL_DATA_DIR": str(tmp_path)})
    assert s.db_url == f"sqlite:///{tmp_path / 'coursemall.db'}"
    assert s.public_base_url == "http://localhost:3000"
    assert s.demo is True
    assert len(s.secret_key) >= 32
    # the generated key is kept, so signed tokens survive a restart
    assert load_settings({"COURSEMALL_DATA_DIR": str(tmp_path)}).secret_key == s.secret_key


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("COURSEMALL_DB_URL", "mysql://x", "sqlite:// or postgresql://"),
        ("COURSEMALL_PUBLIC_BASE_URL", "localhost:3000", "http(s) origin"),
        ("COURSEMALL_SECRET_KEY", "short", "at least 32"),
        ("COURSEMALL_LOGIN_MAX_FAILS", "many", "must be an integer"),
        ("COURSEMALL_SESSION_DAYS", "0", "between 1 and 365"),
        ("COURSEMALL_CODE_SENDER", "pigeon", "'outbox' or 'smtp'"),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(tmp_path, name, value, message):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings({"COURSEMALL_DATA_DIR": str(tmp_path), name: value})


def test_smtp_sender_needs_a_url(tmp_path):
    with pytest.raises(SettingsError, match="SMTP_URL"):
        load_settings({"COURSEMALL_DATA_DIR": str(tmp_path), "COURSEMALL_CODE_SENDER": "smtp"})
