"""The go-live check: what a production shop must still fix, with what to set.

`collect_findings` returns the findings of this shop (settings + database), each with a stable
code, a severity (blocking / warning) and translated texts (the problem, and what to set). The
same list is printed by `python -m coursemall check` (non-zero exit while anything blocks) and
shown to the owner on the dashboard home. In the demo it says plainly that the demo is not a
production shop. Secrets are never part of a finding: a channel whose keys do not load is named
with the kind of failure only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select

from coursemall.domain.catalog import Role
from coursemall.i18n import t
from coursemall.models import ShopPaymentSetting, User
from coursemall.services.shop import setup
from coursemall.services.permissions import require_dashboard
from coursemall.settings import Settings, get_settings

BLOCKING = "blocking"
WARNING = "warning"
GATEWAYS = ("alipay", "wechat")
WECHAT_API_KEY_LEN = 32


@dataclass(frozen=True)
class Finding:
    code: str  # stable: e.g. "sandbox_on", "channel_broken"
    severity: str  # BLOCKING | WARNING
    params: dict[str, str] = field(default_factory=dict)

    @property
    def blocking(self) -> bool:
        return self.severity == BLOCKING

    def _params(self, lang: str) -> dict[str, str]:
        params = dict(self.params)
        if "reason" in params:  # a message key of its own
            params["reason"] = t(params["reason"], lang)
        return params

    def problem(self, lang: str) -> str:
        return t(f"golive.{self.code}", lang, **self._params(lang))

    def fix(self, lang: str) -> str:
        return t(f"golive.{self.code}.fix", lang, **self._params(lang))


def has_blocking(findings: list[Finding]) -> bool:
    return any(f.blocking for f in findings)


# ---- settings alone --------------------------------------------------------------------------------

def settings_findings(settings: Settings) -> list[Finding]:
    """What the environment gets wrong (no database needed)."""
    out: list[Finding] = []
    if settings.demo:
        out.append(Finding("demo_on", BLOCKING))
    if settings.secret_key_generated:
        out.append(Finding("secret_key_generated", BLOCKING, {"path": str(settings.data_dir / "secret_key")}))
    https = settings.public_base_url.startswith("https://")
    if not https:
        out.append(Finding("public_url_not_https", BLOCKING, {"url": settings.public_base_url}))
    elif settings.trusted_proxy_hops == 0:
        # CourseMall serves plain HTTP: an https origin means a proxy terminates TLS in front.
        out.append(Finding("trusted_proxy_missing", BLOCKING))
    if settings.sandbox_pay:
        out.append(Finding("sandbox_on", BLOCKING))
    if settings.code_sender == "outbox":
        out.append(Finding("outbox_sender", BLOCKING))
    if not settings.smtp_url:
        out.append(Finding("smtp_missing", BLOCKING))
    return out


# ---- payment channels ------------------------------------------------------------------------------

def _gateway_problem(name: str, settings: Settings, config) -> str | None:
    """Why channel `name` cannot take money (a message key), or None when it builds."""
    from coursemall.payments import registry

    if name == "alipay" and not (config.alipay_app_id or settings.alipay_app_id):
        return "golive.reason.app_id_missing"
    if name == "wechat":
        if not (config.wechat_app_id or settings.wechat_app_id) or not (config.wechat_mch_id or settings.wechat_mch_id):
            return "golive.reason.merchant_missing"
        if len(config.wechat_api_key or settings.wechat_api_key) != WECHAT_API_KEY_LEN:
            return "golive.reason.api_key_length"
    try:
        registry.build_channel(name, settings, config)
    except Exception:  # noqa: BLE001 - any failure to load keys; its text may hold key material
        return "golive.reason.keys_unreadable"
    return None


def _wechat_has_cert(settings: Settings, config) -> bool:
    if config.wechat_cert_pem and config.wechat_key_pem:
        return True
    return bool(settings.wechat_cert_path and settings.wechat_key_path)


def channel_findings(session: Session, settings: Settings) -> list[Finding]:
    """Each enabled channel is built as checkout would build it; none usable is blocking."""
    from coursemall.payments import registry

    config = registry.channel_config(settings, session)
    out: list[Finding] = []
    usable = 0
    for name in config.enabled:
        if name == "sandbox":
            continue  # reported by settings_findings (sandbox_on); never real money
        if name == "manual":
            row = session.get(ShopPaymentSetting, 1)
            if row is not None and row.manual_enabled and row.manual_qr_image:
                usable += 1
            else:
                out.append(Finding("manual_incomplete", WARNING))
            continue
        problem = _gateway_problem(name, settings, config)
        if problem:
            out.append(Finding("channel_broken", BLOCKING, {"channel": name, "reason": problem}))
            continue
        usable += 1
        if name == "wechat" and not _wechat_has_cert(settings, config):
            out.append(Finding("wechat_no_cert", WARNING))
    if usable == 0:
        out.append(Finding("no_channel", BLOCKING))
    return out


# ---- accounts --------------------------------------------------------------------------------------

def _demo_emails() -> list[str]:
    from coursemall.demo.accounts import DEMO_INSTRUCTORS, DEMO_LEARNERS

    return [a.email for a in (*DEMO_LEARNERS, *DEMO_INSTRUCTORS)]


def account_findings(session: Session, settings: Settings) -> list[Finding]:
    out: list[Finding] = []
    no_totp = session.exec(select(User.id).where(User.role == Role.OWNER, User.totp_secret == "")
                           .limit(1)).first()
    if no_totp is not None:
        out.append(Finding("owner_without_totp", BLOCKING))
    if not setup.shop_is_open(session, settings):
        out.append(Finding("setup_pending", BLOCKING))
    if not settings.demo:
        demo = session.exec(select(User.email).where(User.email.in_(_demo_emails())).limit(1)).first()
        if demo is not None:
            out.append(Finding("demo_accounts", BLOCKING, {"email": demo}))
    return out


# ---- all of it -------------------------------------------------------------------------------------

def collect_findings(session: Session, settings: Settings | None = None) -> list[Finding]:
    """Every finding of this shop, blocking ones first (stable order within each group)."""
    settings = settings or get_settings()
    findings = settings_findings(settings)
    try:
        findings += channel_findings(session, settings)
        findings += account_findings(session, settings)
    except SQLAlchemyError:
        session.rollback()
        findings.append(Finding("database_unready", BLOCKING))
    return sorted(findings, key=lambda f: not f.blocking)


def go_live_report(session: Session, *, actor_id: object) -> list[Finding]:
    """The findings for the dashboard home: the owner only."""
    require_dashboard(session, actor_id, owner_only=True)
    return collect_findings(session)
