"""Shop settings stored as one JSON object per key (table `shop_settings`).

Low-level access for every service: `get_value(session, key)` returns the stored dict merged over
the defaults in DEFAULTS, `set_value` replaces it (callers check permissions and write the audit
log). The owner's settings page uses the typed functions below:

- brand: shop name, logo (a cleaned PNG in the public dir), accent colour from a fixed list;
- home blocks: which storefront sections show and in which order; featured courses and their order;
- policy texts (privacy, refund rules, terms): plain text with a little markdown, shown at /policy/<kind>;
- payment channels: which channels are on, Alipay/WeChat ids and keys. Secrets are stored
  encrypted (services/crypto) and never leave this module except decrypted for the payment
  registry (`stored_payment_config`) or as a masked hint for the form.
Message templates live in services/community/messages.py (key "message_templates").
Every change is audit-logged without secret values.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
import secrets as _secrets
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlmodel import Session, col, select

from coursemall.domain.catalog import CourseStatus
from coursemall.domain.errors import DomainError
from coursemall.models import Course, ShopSetting, utcnow
from coursemall.services import audit
from coursemall.services.crypto import decrypt, encrypt
from coursemall.services.permissions import require_dashboard
from coursemall.settings import get_settings
from coursemall.urls import public_url

# ------------------------------------------------------------------------------ fixed choices

# Radix accent colours offered to the owner (a fixed list: no free CSS reaches the page).
ACCENT_COLORS = ("orange", "tomato", "red", "ruby", "crimson", "pink", "plum", "purple", "violet", "iris",
                 "indigo", "blue", "cyan", "teal", "jade", "green", "grass", "brown", "sky", "mint", "lime",
                 "yellow", "amber", "gold", "bronze")
DEFAULT_ACCENT = "orange"
SHOP_NAME_MAX = 30
LOGO_MAX_BYTES = 5 * 1024 * 1024
LOGO_MAX_SIDE = 256
LOGO_DIR = "brand"

HOME_BLOCKS = ("banner", "categories", "featured", "newest", "best_sellers", "series")
DEFAULT_HIDDEN = ("featured",)  # the banner already shows the featured courses by default
FEATURED_MAX = 20
FEATURED_RANK_MAX = 99

POLICY_KINDS = ("privacy", "refund", "terms")
POLICY_MAX = 20_000

PAY_CHANNELS = ("sandbox", "alipay", "wechat", "manual")
ALIPAY_FIELDS = ("app_id", "seller_id", "private_key", "public_key")
WECHAT_FIELDS = ("app_id", "mch_id", "api_key", "app_secret", "cert_pem", "key_pem")
SECRET_FIELDS = {"alipay": ("private_key", "public_key"), "wechat": ("api_key", "app_secret", "cert_pem", "key_pem")}
PEM_MAX = 8192
MIN_RSA_BITS = 2048

# key -> default value (a dict). Add a key here before using it.
DEFAULTS: dict[str, dict] = {
    # channel fee rates in basis points of the paid amount (0.6 % = 60 bp), for net revenue
    "channel_fees": {"sandbox": 0, "alipay": 60, "wechat": 60, "manual": 0, "free": 0},
    # words refused in comments/reviews (community moderation), in addition to the built-in list
    "blocked_words": {"words": []},
    # storefront brand; '' name = COURSEMALL_SHOP_NAME, '' logo = none
    "brand": {"shop_name": "", "logo": "", "accent": DEFAULT_ACCENT},
    # home sections in display order and the hidden ones
    "home_blocks": {"order": list(HOME_BLOCKS), "hidden": list(DEFAULT_HIDDEN)},
    # owner-written policy texts ('' = the built-in default text)
    "policies": {kind: "" for kind in POLICY_KINDS},
    # enabled: None = COURSEMALL_PAY_CHANNELS; secrets are 'enc1:...' (services/crypto)
    "payment_channels": {"enabled": None, "alipay": {}, "wechat": {}},
    # {message key: {lang: {"title": str, "body": str}}} (services/community/messages.py)
    "message_templates": {},
}


def get_value(session: Session, key: str) -> dict:
    default = copy.deepcopy(DEFAULTS.get(key, {}))
    row = session.get(ShopSetting, key)
    if row is None or not isinstance(row.value, dict):
        return default
    return {**default, **copy.deepcopy(row.value)}


def set_value(session: Session, key: str, value: dict, *, actor_id: int | None) -> None:
    if key not in DEFAULTS:
        raise KeyError(f"unknown shop setting {key!r}")
    row = session.get(ShopSetting, key)
    if row is None:
        row = ShopSetting(key=key)
    row.value = dict(value)
    row.updated_by = actor_id
    row.updated_at = utcnow()
    session.add(row)
    session.flush()


def _owner(session: Session, actor_id: object) -> int:
    return require_dashboard(session, actor_id, owner_only=True).user_id


# ------------------------------------------------------------------------------ text checks

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_TAG = re.compile(r"</?[A-Za-z][^<>]{0,500}>")


def clean_line(value: object, *, max_len: int, code: str, min_len: int = 0) -> str:
    """One line of text: no control characters, trimmed, min..max characters."""
    if not isinstance(value, str) or len(value) > max_len * 4 + 16:
        raise DomainError(code, max=max_len)
    text = value.strip()
    if _CONTROL.search(text) or "\n" in text or "\r" in text or not min_len <= len(text) <= max_len:
        raise DomainError(code, max=max_len)
    return text


def clean_multiline(value: object, *, max_len: int, code: str) -> str:
    """Owner-written text: line endings normalised, HTML tags removed (the text is never rendered
    as HTML; this keeps stray markup out of e-mails too), other control characters refused."""
    if not isinstance(value, str) or len(value) > max_len * 2:
        raise DomainError(code, max=max_len)
    text = value.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    if _CONTROL.search(text):
        raise DomainError(code, max=max_len)
    text = _TAG.sub("", text).strip()
    if len(text) > max_len:
        raise DomainError(code, max=max_len)
    return text


# ------------------------------------------------------------------------------ brand


@dataclass(frozen=True)
class BrandView:
    shop_name: str
    logo_url: str
    accent: str
    custom_name: str  # '' when the name comes from COURSEMALL_SHOP_NAME


def get_brand(session: Session) -> BrandView:
    value = get_value(session, "brand")
    name = value.get("shop_name") if isinstance(value.get("shop_name"), str) else ""
    accent = value.get("accent") if value.get("accent") in ACCENT_COLORS else DEFAULT_ACCENT
    logo = value.get("logo") if isinstance(value.get("logo"), str) else ""
    return BrandView(shop_name=name or get_settings().shop_name, logo_url=public_url(logo), accent=accent,
                     custom_name=name)


def update_brand(session: Session, *, actor_id: object, shop_name: object, accent: object) -> BrandView:
    """Name ('' = back to the configured default) and accent colour."""
    owner = _owner(session, actor_id)
    name = clean_line(shop_name, max_len=SHOP_NAME_MAX, code="shopset.brand.name_invalid")
    if not isinstance(accent, str) or accent not in ACCENT_COLORS:
        raise DomainError("shopset.brand.accent_invalid")
    value = get_value(session, "brand")
    before = {"shop_name": value.get("shop_name", ""), "accent": value.get("accent", DEFAULT_ACCENT)}
    value.update(shop_name=name, accent=accent)
    set_value(session, "brand", value, actor_id=owner)
    audit.record(session, actor_id=owner, action="settings.brand", target="brand",
                 detail={"before": before, "after": {"shop_name": name, "accent": accent}})
    session.commit()
    return get_brand(session)


def update_logo(session: Session, *, actor_id: object, image: object) -> BrandView:
    """A new logo from untrusted bytes: sniffed, re-encoded (no metadata), server-side name."""
    from coursemall.media.images import clean_photo, save_public_image

    owner = _owner(session, actor_id)
    if not isinstance(image, bytes | bytearray) or not image:
        raise DomainError("shopset.logo.not_image")
    if len(image) > LOGO_MAX_BYTES:
        raise DomainError("shopset.logo.too_large", mb=LOGO_MAX_BYTES // (1024 * 1024))
    try:
        png = clean_photo(bytes(image), max_side=LOGO_MAX_SIDE)
    except DomainError:
        raise DomainError("shopset.logo.not_image") from None
    name = f"{LOGO_DIR}/{_secrets.token_hex(16)}.png"
    save_public_image(get_settings().public_dir, name, png)
    value = get_value(session, "brand")
    previous = value.get("logo", "")
    value["logo"] = name
    set_value(session, "brand", value, actor_id=owner)
    audit.record(session, actor_id=owner, action="settings.logo", target="brand",
                 detail={"before": previous, "after": name})
    session.commit()
    return get_brand(session)


def remove_logo(session: Session, *, actor_id: object) -> BrandView:
    owner = _owner(session, actor_id)
    value = get_value(session, "brand")
    if value.get("logo"):
        audit.record(session, actor_id=owner, action="settings.logo", target="brand",
                     detail={"before": value["logo"], "after": ""})
        value["logo"] = ""
        set_value(session, "brand", value, actor_id=owner)
        session.commit()
    return get_brand(session)


# ------------------------------------------------------------------------------ home blocks


@dataclass(frozen=True)
class HomeBlockView:
    name: str
    shown: bool


def home_layout(session: Session) -> tuple[HomeBlockView, ...]:
    """Every block in display order with its visibility (unknown stored names are dropped and
    blocks missing from the stored order are appended, so a new block kind never vanishes)."""
    value = get_value(session, "home_blocks")
    stored = value.get("order") if isinstance(value.get("order"), list) else []
    order = [b for b in dict.fromkeys(stored) if b in HOME_BLOCKS]
    order += [b for b in HOME_BLOCKS if b not in order]
    hidden = set(value.get("hidden") or ()) if isinstance(value.get("hidden"), list) else set(DEFAULT_HIDDEN)
    return tuple(HomeBlockView(b, b not in hidden) for b in order)


def visible_home_blocks(session: Session) -> tuple[str, ...]:
    return tuple(b.name for b in home_layout(session) if b.shown)


def _save_layout(session: Session, owner: int, blocks: list[HomeBlockView], what: str) -> tuple[HomeBlockView, ...]:
    before = [(b.name, b.shown) for b in home_layout(session)]
    set_value(session, "home_blocks", {"order": [b.name for b in blocks],
                                       "hidden": [b.name for b in blocks if not b.shown]}, actor_id=owner)
    audit.record(session, actor_id=owner, action="settings.home_blocks", target=what,
                 detail={"before": before, "after": [(b.name, b.shown) for b in blocks]})
    session.commit()
    return home_layout(session)


def _block_name(value: object) -> str:
    if not isinstance(value, str) or value not in HOME_BLOCKS:
        raise DomainError("shopset.home.unknown_block")
    return value


def move_home_block(session: Session, *, actor_id: object, block: object, delta: object) -> tuple[HomeBlockView, ...]:
    """Move one block up (delta -1) or down (+1); at an end it stays where it is."""
    owner = _owner(session, actor_id)
    name = _block_name(block)
    if delta not in (-1, 1) or isinstance(delta, bool):
        raise DomainError("error.bad_request")
    blocks = list(home_layout(session))
    i = next(i for i, b in enumerate(blocks) if b.name == name)
    j = i + delta
    if not 0 <= j < len(blocks):
        return tuple(blocks)
    blocks[i], blocks[j] = blocks[j], blocks[i]
    return _save_layout(session, owner, blocks, name)


def set_home_block_shown(session: Session, *, actor_id: object, block: object,
                         shown: object) -> tuple[HomeBlockView, ...]:
    owner = _owner(session, actor_id)
    name = _block_name(block)
    if not isinstance(shown, bool):
        raise DomainError("error.bad_request")
    blocks = [HomeBlockView(b.name, shown if b.name == name else b.shown) for b in home_layout(session)]
    return _save_layout(session, owner, blocks, name)


@dataclass(frozen=True)
class FeaturedChoice:
    course_id: int
    title: str
    rank: int  # 0 = not featured


def featured_choices(session: Session, *, actor_id: object) -> tuple[FeaturedChoice, ...]:
    """Published courses, featured ones first in their order."""
    _owner(session, actor_id)
    rows = session.exec(select(Course.id, Course.title, Course.is_featured, Course.featured_rank)
                        .where(Course.status == CourseStatus.PUBLISHED.value)
                        .order_by(col(Course.id).desc()).limit(300)).all()
    choices = [FeaturedChoice(cid, title, (rank or 1) if featured else 0) for cid, title, featured, rank in rows]
    return tuple(sorted(choices, key=lambda c: (c.rank == 0, c.rank, -c.course_id)))


def set_featured(session: Session, *, actor_id: object, ranks: object) -> tuple[FeaturedChoice, ...]:
    """`ranks` = {course id: position 1..99}; every course not in it stops being featured."""
    owner = _owner(session, actor_id)
    if not isinstance(ranks, dict) or len(ranks) > FEATURED_MAX:
        raise DomainError("shopset.featured.too_many", max=FEATURED_MAX)
    for cid, rank in ranks.items():
        if (not isinstance(cid, int) or isinstance(cid, bool) or not isinstance(rank, int)
                or isinstance(rank, bool) or not 1 <= rank <= FEATURED_RANK_MAX):
            raise DomainError("shopset.featured.rank_invalid", max=FEATURED_RANK_MAX)
    published = set(session.exec(select(Course.id).where(col(Course.id).in_(list(ranks)),
                                                         Course.status == CourseStatus.PUBLISHED.value)).all())
    if published != set(ranks):
        raise DomainError("shopset.featured.not_published")
    before = sorted((c.course_id, c.rank) for c in featured_choices(session, actor_id=owner) if c.rank)
    touched = select(Course).where((Course.is_featured == True) | col(Course.id).in_(list(ranks)))  # noqa: E712
    for course in session.exec(touched).all():
        course.is_featured = course.id in ranks
        course.featured_rank = ranks.get(course.id, 0)
        session.add(course)
    session.flush()
    audit.record(session, actor_id=owner, action="settings.featured", target="home",
                 detail={"before": before, "after": sorted(ranks.items())})
    session.commit()
    return featured_choices(session, actor_id=owner)


# ------------------------------------------------------------------------------ policies


@dataclass(frozen=True)
class PolicyBlock:
    kind: str  # h | li | p
    text: str


def parse_policy(text: str) -> tuple[PolicyBlock, ...]:
    """A little markdown: '# ' / '## ' headings, '- ' / '* ' / '1. ' list items, blank-line
    separated paragraphs. The result is rendered as text nodes (never HTML)."""
    blocks: list[PolicyBlock] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            blocks.append(PolicyBlock("p", "\n".join(para)))  # shown with white-space: pre-line
            para.clear()

    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            flush()
            continue
        heading = re.match(r"^#{1,4}\s+(.*)$", line)
        item = re.match(r"^(?:[-*•]|\d{1,3}[.)、])\s+(.*)$", line)
        if heading:
            flush()
            blocks.append(PolicyBlock("h", heading.group(1).strip()))
        elif item:
            flush()
            blocks.append(PolicyBlock("li", line if re.match(r"^\d", line) else item.group(1).strip()))
        else:
            para.append(line)
    flush()
    return tuple(b for b in blocks if b.text)


@dataclass(frozen=True)
class PolicyView:
    kind: str
    text: str  # the owner's text ('' = the built-in default is shown)
    custom: bool


def policy_kind(value: object) -> str:
    if not isinstance(value, str) or value not in POLICY_KINDS:
        raise DomainError("shopset.policy.unknown")
    return value


def get_policy(session: Session, kind: object) -> PolicyView:
    k = policy_kind(kind)
    stored = get_value(session, "policies").get(k)
    text = stored if isinstance(stored, str) else ""
    return PolicyView(kind=k, text=text, custom=bool(text))


def update_policy(session: Session, *, actor_id: object, kind: object, text: object) -> PolicyView:
    """Save a policy text ('' = back to the built-in default)."""
    owner = _owner(session, actor_id)
    k = policy_kind(kind)
    clean = clean_multiline(text, max_len=POLICY_MAX, code="shopset.policy.too_long")
    value = get_value(session, "policies")
    before_len = len(value.get(k) or "")
    value[k] = clean
    set_value(session, "policies", value, actor_id=owner)
    audit.record(session, actor_id=owner, action="settings.policy", target=k,
                 detail={"before_chars": before_len, "after_chars": len(clean)})
    session.commit()
    return get_policy(session, k)


# ------------------------------------------------------------------------------ payment channels


@dataclass(frozen=True)
class StoredPaymentConfig:
    """The owner's payment settings, secrets decrypted ('' = not set here: use the environment)."""

    enabled: tuple[str, ...] | None  # None = the environment's COURSEMALL_PAY_CHANNELS
    alipay: dict[str, str]
    wechat: dict[str, str]


def _decrypted(section: str, raw: object) -> dict[str, str]:
    fields = ALIPAY_FIELDS if section == "alipay" else WECHAT_FIELDS
    data = raw if isinstance(raw, dict) else {}
    out: dict[str, str] = {}
    for name in fields:
        value = data.get(name) if isinstance(data.get(name), str) else ""
        out[name] = decrypt(value) if value and name in SECRET_FIELDS[section] else value
    return out


def stored_payment_config(session: Session) -> StoredPaymentConfig:
    """For the payment registry only (decrypted secrets: never put them in a view)."""
    value = get_value(session, "payment_channels")
    enabled = value.get("enabled")
    names = tuple(c for c in enabled if c in PAY_CHANNELS) if isinstance(enabled, list) else None
    return StoredPaymentConfig(enabled=names, alipay=_decrypted("alipay", value.get("alipay")),
                               wechat=_decrypted("wechat", value.get("wechat")))


def mask_secret(plain: str) -> str:
    """'····abcd': the last four letters/digits of the key material (PEM armour skipped)."""
    body = "".join(ch for line in plain.splitlines() if not line.startswith("-----") for ch in line if ch.isalnum())
    return "····" + body[-4:] if len(body) >= 8 else "····"


@dataclass(frozen=True)
class PaymentSettingsView:
    """What the form may show: channel switches, plain ids, and for secrets only a mask."""

    enabled: tuple[str, ...]
    from_env: bool  # channels still follow COURSEMALL_PAY_CHANNELS
    sandbox_allowed: bool
    plain: dict[str, str]  # "alipay.app_id" -> value
    masks: dict[str, str]  # "wechat.api_key" -> "····abcd" ('' = not set in the dashboard)


def payment_settings_view(session: Session, *, actor_id: object) -> PaymentSettingsView:
    _owner(session, actor_id)
    settings = get_settings()
    stored = stored_payment_config(session)
    plain, masks = {}, {}
    for section, values in (("alipay", stored.alipay), ("wechat", stored.wechat)):
        for name, value in values.items():
            if name in SECRET_FIELDS[section]:
                masks[f"{section}.{name}"] = mask_secret(value) if value else ""
            else:
                plain[f"{section}.{name}"] = value
    enabled = stored.enabled if stored.enabled is not None else settings.pay_channels
    return PaymentSettingsView(enabled=tuple(enabled), from_env=stored.enabled is None,
                               sandbox_allowed=settings.sandbox_pay, plain=plain, masks=masks)


_FORMATS = {
    ("alipay", "app_id"): (re.compile(r"^\d{16}$"), "shopset.pay.alipay_app_id_invalid"),
    ("alipay", "seller_id"): (re.compile(r"^2088\d{12}$"), "shopset.pay.alipay_seller_invalid"),
    ("wechat", "app_id"): (re.compile(r"^wx[0-9A-Za-z]{16}$"), "shopset.pay.wechat_app_id_invalid"),
    ("wechat", "mch_id"): (re.compile(r"^\d{8,12}$"), "shopset.pay.wechat_mch_id_invalid"),
    ("wechat", "api_key"): (re.compile(r"^[0-9A-Za-z]{32}$"), "shopset.pay.wechat_api_key_invalid"),
    ("wechat", "app_secret"): (re.compile(r"^[0-9A-Za-z]{32}$"), "shopset.pay.wechat_app_secret_invalid"),
}


def _pem_body(text: str) -> bytes:
    """PEM as given, or Alipay's bare base64 (its key tool prints keys without armour)."""
    return text.encode("ascii") if "-----BEGIN" in text else b""


def _der(text: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return b""


def _rsa_bits_ok(key: object, code: str) -> None:
    if not isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        raise DomainError(code)
    if key.key_size < MIN_RSA_BITS:
        raise DomainError("shopset.pay.key_too_short", bits=MIN_RSA_BITS)


def normalize_private_key(text: str, code: str) -> str:
    """An RSA private key (PEM or bare base64, PKCS#1 or PKCS#8) as PKCS#1 PEM; DomainError(code)."""
    try:
        key = (serialization.load_pem_private_key(_pem_body(text), password=None) if _pem_body(text)
               else serialization.load_der_private_key(_der(text), password=None))
    except (ValueError, TypeError, UnicodeEncodeError):
        raise DomainError(code) from None
    _rsa_bits_ok(key, code)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode("ascii")


def normalize_public_key(text: str, code: str) -> str:
    try:
        key = (serialization.load_pem_public_key(_pem_body(text)) if _pem_body(text)
               else serialization.load_der_public_key(_der(text)))
    except (ValueError, TypeError, UnicodeEncodeError):
        raise DomainError(code) from None
    _rsa_bits_ok(key, code)
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def normalize_certificate(text: str) -> str:
    try:
        cert = x509.load_pem_x509_certificate(text.encode("ascii"))
    except (ValueError, TypeError, UnicodeEncodeError):
        raise DomainError("shopset.pay.cert_invalid") from None
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _check_field(section: str, name: str, raw: object) -> str:
    """A submitted field, trimmed and validated; '' = left empty."""
    limit = PEM_MAX if name in ("private_key", "public_key", "cert_pem", "key_pem") else 64
    if not isinstance(raw, str) or len(raw) > limit:
        raise DomainError("shopset.pay.field_too_long", field=f"{section}.{name}")
    text = raw.strip()
    if not text:
        return ""
    if "\x00" in text:
        raise DomainError("error.bad_request")
    fmt = _FORMATS.get((section, name))
    if fmt and not fmt[0].match(text):
        raise DomainError(fmt[1])
    if name == "private_key":
        return normalize_private_key(text, "shopset.pay.private_key_invalid")
    if name == "public_key":
        return normalize_public_key(text, "shopset.pay.public_key_invalid")
    if name == "cert_pem":
        return normalize_certificate(text)
    if name == "key_pem":
        return normalize_private_key(text, "shopset.pay.cert_key_invalid")
    return text


def _merge_section(section: str, current: dict[str, str], form: dict,
                   clear: set[str]) -> tuple[dict[str, str], list[str]]:
    """New decrypted values of one section: an empty secret field keeps the stored secret."""
    fields = ALIPAY_FIELDS if section == "alipay" else WECHAT_FIELDS
    out, changed = dict(current), []
    for name in fields:
        value = _check_field(section, name, form.get(name, ""))
        if f"{section}.{name}" in clear:
            value = ""
        elif not value and name in SECRET_FIELDS[section]:
            continue  # empty secret input = keep
        if value != current.get(name, ""):
            changed.append(f"{section}.{name}")
        out[name] = value
    return out, changed


def _check_wechat_pair(values: dict[str, str]) -> None:
    cert, key = values.get("cert_pem", ""), values.get("key_pem", "")
    if bool(cert) != bool(key):
        raise DomainError("shopset.pay.cert_pair_incomplete")
    if cert:
        public = x509.load_pem_x509_certificate(cert.encode()).public_key()
        private = serialization.load_pem_private_key(key.encode(), password=None)
        fmt, enc = serialization.PublicFormat.SubjectPublicKeyInfo, serialization.Encoding.DER
        if public.public_bytes(enc, fmt) != private.public_key().public_bytes(enc, fmt):
            raise DomainError("shopset.pay.cert_key_mismatch")


def _complete(section: str, values: dict[str, str]) -> bool:
    """Enough to build the channel, from the dashboard values or the environment's."""
    s = get_settings()
    if section == "alipay":
        return bool((values["app_id"] or s.alipay_app_id) and (values["private_key"] or s.alipay_private_key_path)
                    and (values["public_key"] or s.alipay_public_key_path))
    return bool((values["app_id"] or s.wechat_app_id) and (values["mch_id"] or s.wechat_mch_id)
                and (values["api_key"] or s.wechat_api_key))


def update_payment_channels(session: Session, *, actor_id: object, enabled: object, alipay: object,
                            wechat: object, clear: object = ()) -> PaymentSettingsView:
    """Channel switches and keys. Secrets are encrypted at rest; an empty secret field keeps the
    stored value; `clear` names fields ("wechat.cert_pem") to drop (back to the environment's)."""
    owner = _owner(session, actor_id)
    if (not isinstance(enabled, (list, tuple)) or len(enabled) > len(PAY_CHANNELS)
            or any(c not in PAY_CHANNELS for c in enabled) or not isinstance(alipay, dict)
            or not isinstance(wechat, dict) or not isinstance(clear, (list, tuple, set))
            or any(not isinstance(c, str) for c in clear)):
        raise DomainError("error.bad_request")
    names = [c for c in PAY_CHANNELS if c in enabled]
    if "sandbox" in names and not get_settings().sandbox_pay:
        raise DomainError("shopset.pay.sandbox_off")
    current = stored_payment_config(session)
    ali, ali_changed = _merge_section("alipay", current.alipay, alipay, set(clear))
    wx, wx_changed = _merge_section("wechat", current.wechat, wechat, set(clear))
    _check_wechat_pair(wx)
    for section, values in (("alipay", ali), ("wechat", wx)):
        if section in names and not _complete(section, values):
            raise DomainError(f"shopset.pay.{section}_incomplete")

    def sealed(section: str, values: dict[str, str]) -> dict[str, str]:
        return {k: encrypt(v) if k in SECRET_FIELDS[section] else v for k, v in values.items()}

    before = list(current.enabled) if current.enabled is not None else None
    set_value(session, "payment_channels", {"enabled": names, "alipay": sealed("alipay", ali),
                                            "wechat": sealed("wechat", wx)}, actor_id=owner)
    # Field names only: secret values never reach the audit log.
    audit.record(session, actor_id=owner, action="settings.payment_channels", target="payments",
                 detail={"enabled_before": before, "enabled": names, "changed": ali_changed + wx_changed})
    session.commit()
    return payment_settings_view(session, actor_id=owner)
