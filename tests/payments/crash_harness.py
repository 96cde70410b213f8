"""Pieces of the crash test (tests/payments/test_crash_recovery.py): a migrated PostgreSQL
database of its own, the shop's real production backend (`reflex run --env prod --backend-only`)
in its own process group configured for Alipay and WeChat Pay against the loopback fake
gateways of this process, learners with server-side sessions, and one learner's browser tab
(bench/reflex_client.py speaks Reflex's websocket protocol).

No pytest import: failures raise with the tail of the server log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from coursemall.db import make_engine
from tests.e2e.server import REFLEX, ROOT, free_port, tail
from tests.payments.fakes import FakeAlipay, FakeWeChat, self_signed_cert
from tests.payments.fixtures import APP_ID, SELLER_ID, WX_APP_ID, WX_KEY, WX_MCH_ID, keys

START_TIMEOUT = float(os.environ.get("COURSEMALL_CRASH_START_TIMEOUT", "180"))


class CrashHarnessError(RuntimeError):
    pass


def create_schema(db_url: str, schema: str) -> str:
    """A fresh schema `schema` in `db_url`'s database, migrated to head with the committed
    migrations (what `python -m coursemall migrate` runs). Returns a URL whose connections use
    it. (A schema, not a database: dropping a database forces a checkpoint, ~10 s here.)"""
    from alembic import command
    from alembic.config import Config

    admin = make_engine(db_url)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    url = make_url(db_url).update_query_dict({"options": f"-csearch_path={schema}"})
    url = url.render_as_string(hide_password=False)
    engine = make_engine(url)
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "alembic"))
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    engine.dispose()
    return url


def drop_schema(db_url: str, schema: str) -> None:
    admin = make_engine(db_url)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


@dataclass
class Gateways:
    alipay: FakeAlipay
    wechat: FakeWeChat
    env: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        self.alipay.stop()
        self.wechat.stop()


def start_gateways(tmp: Path) -> Gateways:
    """Both fake gateways, and the shop's settings that point its real channels at them."""
    app_private, app_public = keys("app")
    ali_private, ali_public = keys("alipay")
    alipay = FakeAlipay(app_id=APP_ID, app_public_pem=app_public, alipay_private_pem=ali_private, seller_id=SELLER_ID)
    wechat = FakeWeChat(app_id=WX_APP_ID, mch_id=WX_MCH_ID, api_key=WX_KEY)
    (tmp / "app_private.pem").write_text(app_private)
    (tmp / "alipay_public.pem").write_text(ali_public)
    cert, key = self_signed_cert(tmp)
    env = {
        "COURSEMALL_PAY_CHANNELS": "alipay,wechat",
        "COURSEMALL_SANDBOX_PAY": "0",
        "COURSEMALL_ALIPAY_APP_ID": APP_ID,
        "COURSEMALL_ALIPAY_SELLER_ID": SELLER_ID,
        "COURSEMALL_ALIPAY_PRIVATE_KEY_PATH": str(tmp / "app_private.pem"),
        "COURSEMALL_ALIPAY_PUBLIC_KEY_PATH": str(tmp / "alipay_public.pem"),
        "COURSEMALL_ALIPAY_GATEWAY": alipay.url,
        "COURSEMALL_WECHAT_APP_ID": WX_APP_ID,
        "COURSEMALL_WECHAT_MCH_ID": WX_MCH_ID,
        "COURSEMALL_WECHAT_API_KEY": WX_KEY,
        "COURSEMALL_WECHAT_API_BASE": wechat.url,
        "COURSEMALL_WECHAT_CERT_PATH": cert,
        "COURSEMALL_WECHAT_KEY_PATH": key,
        "COURSEMALL_PAY_TIMEOUT_SECONDS": "5",
    }
    return Gateways(alipay, wechat, env)


@dataclass
class Backend:
    """`reflex run --env prod --backend-only` in the checkout, in its own process group."""

    port: int
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = START_TIMEOUT) -> float:
        started = time.monotonic()
        with self.log.open("a") as fh:
            fh.write(f"\n$ reflex run --env prod --backend-only --backend-port {self.port}\n")
        self.proc = subprocess.Popen(
            [str(REFLEX), "run", "--env", "prod", "--backend-only", "--backend-port", str(self.port)],
            cwd=ROOT, env=self.env, stdout=self.log.open("a"), stderr=subprocess.STDOUT,
            start_new_session=True)
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                raise CrashHarnessError(f"the backend exited ({self.proc.returncode}):\n{tail(self.log)}")
            if _status(self.base_url + "/api/health") == 200:
                return time.monotonic() - started
            time.sleep(0.25)
        self.kill()
        raise CrashHarnessError(f"the backend did not answer within {timeout:.0f}s:\n{tail(self.log)}")

    def kill(self) -> None:
        """SIGKILL the whole process group (the reflex CLI and its granian worker): no shutdown
        hooks, no rollbacks, open transactions and sockets simply vanish."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the group's workers are gone too
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        self.proc = None


def backend_env(*, db_url: str, data_dir: Path, port: int, gateways: Gateways) -> dict[str, str]:
    env = dict(os.environ)
    for name in list(env):
        if name.startswith(("COURSEMALL_", "REFLEX_")) or name in ("GRANIAN_WORKERS",):
            env.pop(name)
    env.update(gateways.env)
    env.update({
        "COURSEMALL_DB_URL": db_url,
        "COURSEMALL_DATA_DIR": str(data_dir),
        "COURSEMALL_SECRET_KEY": os.environ.get("COURSEMALL_SECRET_KEY", "crash-secret-" + "c" * 40),
        "COURSEMALL_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "COURSEMALL_DEMO": "1",  # the shop is open for orders without the owner's first-run setup
        "COURSEMALL_MEDIA_WORKER": "0",
        "COURSEMALL_ORDER_TTL_MINUTES": "15",
        "REFLEX_TELEMETRY_ENABLED": "false",
        # rxconfig sets the frontend port from the public URL; --backend-only refuses any frontend port
        "REFLEX_FRONTEND_PORT": "0",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 (loopback only)
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError, TimeoutError):
        return None


def in_process_channels(gateways: Gateways, tmp: Path) -> dict:
    """The same channel configuration the backend was started with, for running the jobs here."""
    from coursemall.payments.alipay import AlipayChannel, AlipayConfig
    from coursemall.payments.wechat import WeChatChannel, WeChatConfig

    env = gateways.env
    alipay = AlipayChannel(AlipayConfig(
        app_id=APP_ID, app_private_key_pem=Path(env["COURSEMALL_ALIPAY_PRIVATE_KEY_PATH"]).read_text(),
        alipay_public_key_pem=Path(env["COURSEMALL_ALIPAY_PUBLIC_KEY_PATH"]).read_text(),
        gateway=gateways.alipay.url, notify_url="http://127.0.0.1/api/pay/notify/alipay",
        return_url="http://127.0.0.1/api/pay/return/alipay", seller_id=SELLER_ID, timeout=5))
    wechat = WeChatChannel(WeChatConfig(
        app_id=WX_APP_ID, mch_id=WX_MCH_ID, api_key=WX_KEY, api_base=gateways.wechat.url,
        notify_url="http://127.0.0.1/api/pay/notify/wechat",
        refund_notify_url="http://127.0.0.1/api/pay/notify/wechat-refund",
        return_url="http://127.0.0.1/api/pay/return/wechat", cert_path=env["COURSEMALL_WECHAT_CERT_PATH"],
        key_path=env["COURSEMALL_WECHAT_KEY_PATH"], timeout=5))
    return {"alipay": alipay, "wechat": wechat}
