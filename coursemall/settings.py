"""Typed settings read from the environment once, validated at start-up.

Every setting is listed in SETTINGS (name, default, meaning) so the README table and the
validation come from one place. A bad value stops the app with a clear message.
"""

from __future__ import annotations

import functools
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# (env var, default, meaning) — the README's settings table is generated from this list.
SETTINGS: list[tuple[str, str, str]] = [
    ("COURSEMALL_DATA_DIR", "data", "Folder for the SQLite database, private media and the generated secret key."),
    ("COURSEMALL_DB_URL", "sqlite:///<DATA_DIR>/coursemall.db", "SQLAlchemy database URL; e.g. postgresql://user@127.0.0.1:5432/coursemall in production."),
    ("COURSEMALL_PUBLIC_BASE_URL", "http://localhost:3000", "The shop's public origin. Used for CORS (websockets from other origins are refused), links and payment callbacks."),
    ("COURSEMALL_SECRET_KEY", "(generated into DATA_DIR/secret_key)", "Key for signed media tokens, session hashing and the encryption of TOTP seeds and payment keys; set a long random value in production (the go-live check blocks a generated one)."),
    ("COURSEMALL_OWNER_EMAIL", "owner@coursemall.local", "Demo only: e-mail of the demo owner created by `python -m coursemall seed`. A production shop's owner chooses theirs on the one-time setup page."),
    ("COURSEMALL_OWNER_PASSWORD", "", "Demo only: password of the demo owner when first created (empty = the demo password in coursemall/demo/accounts.py). Never used by a production shop."),
    ("COURSEMALL_SHOP_NAME", "知行课堂", "Shop name shown in the header."),
    ("COURSEMALL_MEDIA_DIR", "<DATA_DIR>/media", "Private media root (paid video/audio). Never served directly; only through /api/media with a signed token."),
    ("COURSEMALL_PUBLIC_DIR", "<DATA_DIR>/public", "Public images (covers, avatars, article images), served at /api/public/..."),
    ("COURSEMALL_MEDIA_TOKEN_TTL", "600", "Seconds a signed media URL stays valid."),
    ("COURSEMALL_CODE_SENDER", "smtp", "How one-time codes are sent: `smtp` (needs COURSEMALL_SMTP_URL; until it is set, sending is refused with a message) or `outbox` (the demo's default: shown on /outbox and the console; outside the demo only written to the server log, which the go-live check blocks)."),
    ("COURSEMALL_SMTP_URL", "", "smtp://user:pass@host:port (or smtps://) for e-mail codes when CODE_SENDER=smtp."),
    ("COURSEMALL_LOGIN_MAX_FAILS", "5", "Password guesses allowed from one IP on one account per window for browsers that never signed in to it (twice that per account from all such browsers, four times per IP; the waits grow up to a day). A browser that signed in before keeps its own budget, so nobody can lock the owner out."),
    ("COURSEMALL_LOGIN_WINDOW_SECONDS", "900", "First window of the sign-in back-off (seconds)."),
    ("COURSEMALL_SESSION_DAYS", "30", "Days a sign-in session lasts."),
    ("COURSEMALL_AVATAR_MAX_BYTES", "5242880", "Largest accepted avatar upload in bytes."),
    ("COURSEMALL_DEMO", "0", "1 = the demo shop (demo content and accounts, sandbox cashier, /outbox); `make run` and the tests set it. 0 = a production shop, closed until the owner's one-time setup."),
    ("COURSEMALL_ORDER_TTL_MINUTES", "15", "Minutes an unpaid order stays open before the expiry job closes it."),
    ("COURSEMALL_PAY_CHANNELS", "", "Enabled payment channels, comma-separated: sandbox, alipay, wechat, manual (the demo's default: sandbox,manual; a production shop has none until configured here or in the dashboard)."),
    ("COURSEMALL_SANDBOX_PAY", "0", "1 = allow the sandbox (test-mode) cashier (the demo's default). Outside the demo only for a staging shop: the go-live check blocks it."),
    ("COURSEMALL_PAY_TIMEOUT_SECONDS", "10", "Timeout for every payment-gateway call (query, close, refund, unified order)."),
    ("COURSEMALL_ALIPAY_APP_ID", "", "Alipay app id (required when alipay is enabled)."),
    ("COURSEMALL_ALIPAY_PRIVATE_KEY_PATH", "", "PEM file: the app's RSA2 private key."),
    ("COURSEMALL_ALIPAY_PUBLIC_KEY_PATH", "", "PEM file: Alipay's RSA public key (verifies notifications and answers)."),
    ("COURSEMALL_ALIPAY_GATEWAY", "https://openapi.alipay.com/gateway.do", "Alipay gateway URL (sandbox: https://openapi-sandbox.dl.alipaydev.com/gateway.do)."),
    ("COURSEMALL_ALIPAY_SELLER_ID", "", "Alipay seller id (PID); when set, notifications for another seller are refused."),
    ("COURSEMALL_WECHAT_APP_ID", "", "WeChat appid bound to the merchant (required when wechat is enabled)."),
    ("COURSEMALL_WECHAT_MCH_ID", "", "WeChat Pay merchant id (mch_id)."),
    ("COURSEMALL_WECHAT_API_KEY", "", "WeChat Pay API v2 key (32 chars); signs requests and notifications."),
    ("COURSEMALL_WECHAT_API_BASE", "https://api.mch.weixin.qq.com/", "WeChat Pay API base URL."),
    ("COURSEMALL_WECHAT_CERT_PATH", "", "PEM file: merchant API certificate (needed for refunds)."),
    ("COURSEMALL_WECHAT_KEY_PATH", "", "PEM file: merchant API certificate key (needed for refunds)."),
    ("COURSEMALL_WECHAT_APP_SECRET", "", "AppSecret of the WeChat official account (same appid); needed for OAuth (openid) and JSAPI pay inside the WeChat browser."),
    ("COURSEMALL_WECHAT_OAUTH_BASE", "https://api.weixin.qq.com/", "WeChat OAuth API base URL (code → openid exchange)."),
    ("COURSEMALL_UPLOAD_MAX_BYTES", "4294967296", "Largest media upload accepted by the dashboard (bytes; uploaded in chunks)."),
    ("COURSEMALL_MEDIA_WORKER", "1", "1 = this process also runs the transcoding job loop (safe with several workers); 0 = not."),
    ("COURSEMALL_TRANSCODE_TIMEOUT_SECONDS", "7200", "Longest one transcoding step may run before the job fails with a timeout."),
    ("COURSEMALL_TRUSTED_PROXY_HOPS", "0", "Reverse proxies in front of the app that append to X-Forwarded-For (0 = clients connect directly: the socket peer is the client IP; N = take the N-th address from the right). Used for rate limits, sign-in records and payments; set it (usually 1) when a proxy terminates TLS, or every visitor shares the proxy's IP."),
    ("COURSEMALL_REMINDER_DAYS", "7", "Send a \"continue learning\" message to learners who have not studied a bought course for this many days (0 = off)."),
    ("COURSEMALL_AUTO_REFUND_LIMIT", "2", "Automatic refunds a learner may get within 90 days; after that every refund request goes to the owner's review queue (0 = every refund is reviewed)."),
]

# Defaults that differ in the demo shop (COURSEMALL_DEMO=1); SETTINGS holds the production ones.
DEMO_DEFAULTS: dict[str, str] = {
    "COURSEMALL_CODE_SENDER": "outbox",
    "COURSEMALL_PAY_CHANNELS": "sandbox,manual",
    "COURSEMALL_SANDBOX_PAY": "1",
}


def _default(name: str) -> str:
    return next(d for n, d, _ in SETTINGS if n == name)


class SettingsError(RuntimeError):
    """A setting has a value the app cannot run with."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    db_url: str
    public_base_url: str
    secret_key: str
    owner_email: str
    owner_password: str
    shop_name: str
    media_dir: Path
    public_dir: Path
    media_token_ttl: int
    code_sender: str
    smtp_url: str
    login_max_fails: int
    login_window_seconds: int
    session_days: int
    avatar_max_bytes: int
    demo: bool
    # payments; the field defaults are a production shop's (no channel, no sandbox)
    order_ttl_minutes: int = 15
    pay_channels: tuple[str, ...] = ()
    sandbox_pay: bool = False
    pay_timeout_seconds: int = 10
    alipay_app_id: str = ""
    alipay_private_key_path: str = ""
    alipay_public_key_path: str = ""
    alipay_gateway: str = "https://openapi.alipay.com/gateway.do"
    alipay_seller_id: str = ""
    wechat_app_id: str = ""
    wechat_mch_id: str = ""
    wechat_api_key: str = ""
    wechat_api_base: str = "https://api.mch.weixin.qq.com/"
    wechat_cert_path: str = ""
    wechat_key_path: str = ""
    wechat_app_secret: str = ""
    wechat_oauth_base: str = "https://api.weixin.qq.com/"
    # dashboard and learning reminders
    upload_max_bytes: int = 4 * 1024**3
    media_worker: bool = True
    transcode_timeout_seconds: int = 7200
    reminder_days: int = 7
    trusted_proxy_hops: int = 0
    # True when the secret key was generated into DATA_DIR/secret_key (not set in the environment)
    secret_key_generated: bool = False
    auto_refund_limit: int = 2


def _demo_on(env: dict) -> bool:
    return env.get("COURSEMALL_DEMO", _default("COURSEMALL_DEMO")) == "1"


def _get(env: dict, name: str) -> str:
    """The environment's value, else the default (the demo's own default in a demo shop)."""
    if name in env:
        return env[name]
    if name in DEMO_DEFAULTS and _demo_on(env):
        return DEMO_DEFAULTS[name]
    return _default(name)


def _int(env: dict, name: str, lo: int, hi: int) -> int:
    raw = env.get(name, _default(name))
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if not lo <= value <= hi:
        raise SettingsError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _secret_key(env: dict, data_dir: Path) -> str:
    key = env.get("COURSEMALL_SECRET_KEY", "")
    if key:
        if len(key) < 32:
            raise SettingsError("COURSEMALL_SECRET_KEY must be at least 32 characters")
        return key
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def load_settings(env: dict | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    data_dir = Path(env.get("COURSEMALL_DATA_DIR", "data"))
    if not data_dir.is_absolute():
        data_dir = PROJECT_ROOT / data_dir
    db_url = env.get("COURSEMALL_DB_URL") or f"sqlite:///{data_dir / 'coursemall.db'}"
    if not (db_url.startswith("sqlite") or db_url.startswith("postgresql")):
        raise SettingsError(f"COURSEMALL_DB_URL must be sqlite:// or postgresql://, got {db_url!r}")
    base = env.get("COURSEMALL_PUBLIC_BASE_URL", _default("COURSEMALL_PUBLIC_BASE_URL")).rstrip("/")
    parsed = urlparse(base)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise SettingsError(f"COURSEMALL_PUBLIC_BASE_URL must be an http(s) origin, got {base!r}")
    sender = _get(env, "COURSEMALL_CODE_SENDER")
    if sender not in ("outbox", "smtp"):
        raise SettingsError("COURSEMALL_CODE_SENDER must be 'outbox' or 'smtp'")
    smtp_url = env.get("COURSEMALL_SMTP_URL", "").strip()
    if smtp_url and urlparse(smtp_url).scheme not in ("smtp", "smtps"):
        raise SettingsError("COURSEMALL_SMTP_URL must be an smtp:// or smtps:// URL")
    # Chosen explicitly, smtp without a server is a mistake to catch now. The production default
    # (smtp, nothing configured yet) starts: sending is refused and the go-live check blocks.
    if sender == "smtp" and not smtp_url and "COURSEMALL_CODE_SENDER" in env:
        raise SettingsError("COURSEMALL_SMTP_URL must be set (smtp://...) when CODE_SENDER=smtp")

    def path_setting(name: str, fallback: Path) -> Path:
        raw = env.get(name)
        return Path(raw).resolve() if raw else fallback

    return Settings(
        data_dir=data_dir,
        db_url=db_url,
        public_base_url=base,
        secret_key=_secret_key(env, data_dir),
        owner_email=env.get("COURSEMALL_OWNER_EMAIL", _default("COURSEMALL_OWNER_EMAIL")).strip().lower(),
        owner_password=env.get("COURSEMALL_OWNER_PASSWORD", ""),
        shop_name=env.get("COURSEMALL_SHOP_NAME", _default("COURSEMALL_SHOP_NAME")),
        media_dir=path_setting("COURSEMALL_MEDIA_DIR", data_dir / "media"),
        public_dir=path_setting("COURSEMALL_PUBLIC_DIR", data_dir / "public"),
        media_token_ttl=_int(env, "COURSEMALL_MEDIA_TOKEN_TTL", 30, 86400),
        code_sender=sender,
        smtp_url=smtp_url,
        login_max_fails=_int(env, "COURSEMALL_LOGIN_MAX_FAILS", 1, 1000),
        login_window_seconds=_int(env, "COURSEMALL_LOGIN_WINDOW_SECONDS", 10, 86400),
        session_days=_int(env, "COURSEMALL_SESSION_DAYS", 1, 365),
        avatar_max_bytes=_int(env, "COURSEMALL_AVATAR_MAX_BYTES", 10_000, 50_000_000),
        demo=_demo_on(env),
        upload_max_bytes=_int(env, "COURSEMALL_UPLOAD_MAX_BYTES", 1_000_000, 64 * 1024**3),
        media_worker=env.get("COURSEMALL_MEDIA_WORKER", "1") == "1",
        transcode_timeout_seconds=_int(env, "COURSEMALL_TRANSCODE_TIMEOUT_SECONDS", 10, 86400),
        reminder_days=_int(env, "COURSEMALL_REMINDER_DAYS", 0, 365),
        trusted_proxy_hops=_int(env, "COURSEMALL_TRUSTED_PROXY_HOPS", 0, 10),
        secret_key_generated=not env.get("COURSEMALL_SECRET_KEY", ""),
        auto_refund_limit=_int(env, "COURSEMALL_AUTO_REFUND_LIMIT", 0, 1000),
        **_payment_settings(env),
    )


_KNOWN_CHANNELS = ("sandbox", "alipay", "wechat", "manual")


def _payment_settings(env: dict) -> dict:
    def get(name: str) -> str:
        return _get(env, name).strip()

    channels = tuple(dict.fromkeys(c.strip() for c in get("COURSEMALL_PAY_CHANNELS").split(",") if c.strip()))
    unknown = [c for c in channels if c not in _KNOWN_CHANNELS]
    if unknown:
        raise SettingsError(f"COURSEMALL_PAY_CHANNELS has unknown channels {unknown}; use {_KNOWN_CHANNELS}")
    sandbox_pay = get("COURSEMALL_SANDBOX_PAY") == "1"
    if not sandbox_pay:
        channels = tuple(c for c in channels if c != "sandbox")
    out = {
        "order_ttl_minutes": _int(env, "COURSEMALL_ORDER_TTL_MINUTES", 1, 7 * 24 * 60),
        "pay_channels": channels,
        "sandbox_pay": sandbox_pay,
        "pay_timeout_seconds": _int(env, "COURSEMALL_PAY_TIMEOUT_SECONDS", 1, 120),
        "alipay_app_id": get("COURSEMALL_ALIPAY_APP_ID"),
        "alipay_private_key_path": get("COURSEMALL_ALIPAY_PRIVATE_KEY_PATH"),
        "alipay_public_key_path": get("COURSEMALL_ALIPAY_PUBLIC_KEY_PATH"),
        "alipay_gateway": get("COURSEMALL_ALIPAY_GATEWAY"),
        "alipay_seller_id": get("COURSEMALL_ALIPAY_SELLER_ID"),
        "wechat_app_id": get("COURSEMALL_WECHAT_APP_ID"),
        "wechat_mch_id": get("COURSEMALL_WECHAT_MCH_ID"),
        "wechat_api_key": get("COURSEMALL_WECHAT_API_KEY"),
        "wechat_api_base": get("COURSEMALL_WECHAT_API_BASE"),
        "wechat_cert_path": get("COURSEMALL_WECHAT_CERT_PATH"),
        "wechat_key_path": get("COURSEMALL_WECHAT_KEY_PATH"),
        "wechat_app_secret": get("COURSEMALL_WECHAT_APP_SECRET"),
        "wechat_oauth_base": get("COURSEMALL_WECHAT_OAUTH_BASE"),
    }
    if "alipay" in channels:
        for name in ("COURSEMALL_ALIPAY_APP_ID", "COURSEMALL_ALIPAY_PRIVATE_KEY_PATH",
                     "COURSEMALL_ALIPAY_PUBLIC_KEY_PATH"):
            if not get(name):
                raise SettingsError(f"{name} must be set when alipay is in COURSEMALL_PAY_CHANNELS")
        for name in ("COURSEMALL_ALIPAY_PRIVATE_KEY_PATH", "COURSEMALL_ALIPAY_PUBLIC_KEY_PATH"):
            if not Path(get(name)).is_file():
                raise SettingsError(f"{name} points to a missing file")
    if "wechat" in channels:
        for name in ("COURSEMALL_WECHAT_APP_ID", "COURSEMALL_WECHAT_MCH_ID", "COURSEMALL_WECHAT_API_KEY"):
            if not get(name):
                raise SettingsError(f"{name} must be set when wechat is in COURSEMALL_PAY_CHANNELS")
    for name in ("COURSEMALL_ALIPAY_GATEWAY", "COURSEMALL_WECHAT_API_BASE", "COURSEMALL_WECHAT_OAUTH_BASE"):
        if urlparse(get(name)).scheme not in ("http", "https"):
            raise SettingsError(f"{name} must be an http(s) URL")
    for key in ("wechat_api_base", "wechat_oauth_base"):
        if not out[key].endswith("/"):
            out[key] += "/"
    return out


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
