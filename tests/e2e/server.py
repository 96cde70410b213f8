"""Start and stop a production build of a Reflex app for browser tests and benchmarks.

Shared by `tests/e2e/conftest.py`, the security tests that need a running shop, and
`bench/page_weight.py`. No pytest import here: failures raise `ServerStartError` with the tail of
the server log, and the callers turn that into a test failure.

The shop is served exactly as `make run` serves it: `reflex run --env prod --single-port` in the
checkout, with its own data dir and port. Process-wide singletons (`acquire_shop` /
`release_shop`, `acquire_browser` / `release_browser`) let fixtures defined in several test
modules share one build and one Chromium.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("COURSEMALL_VENV", ROOT / ".venv"))
PYTHON = VENV / "bin" / "python"
REFLEX = VENV / "bin" / "reflex"
BUN = ROOT / ".tools" / "node_modules" / "bun" / "bin" / "bun.exe"
CHROMIUM = os.environ.get("COURSEMALL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IN_CI = os.environ.get("CI", "").lower() == "true"
START_TIMEOUT = float(os.environ.get("COURSEMALL_E2E_START_TIMEOUT", "420"))


class ServerStartError(RuntimeError):
    """The app did not come up; the message carries the tail of its log."""


def tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def port_is_free(port: int) -> bool:
    """Nothing listens on the port (IPv4 or IPv6 loopback: the server may bind either) and it can be
    bound. A bind probe alone is not enough: a server on ::1 leaves 0.0.0.0 bindable, and two test
    runs then shared one port."""
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            try:
                if s.connect_ex((host, port)) == 0:
                    return False
            except OSError:
                pass
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def free_port(preferred: int) -> int:
    """The preferred port if free, else the next free one above it."""
    for port in range(preferred, preferred + 200):
        if port_is_free(port):
            return port
    raise ServerStartError(f"no free port in {preferred}..{preferred + 200}")


def http_status(url: str, timeout: float = 5.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (loopback only)
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError, TimeoutError):
        return None


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("REFLEX_BUN_PATH", str(BUN))
    env["REFLEX_TELEMETRY_ENABLED"] = "false"
    env["PYTHONUNBUFFERED"] = "1"
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    # One worker and the in-memory state manager unless the caller asks for Redis.
    env.pop("REFLEX_REDIS_URL", None)
    return env


def run_step(cmd: list[str], *, cwd: Path, env: dict, log: Path, timeout: float = 600) -> int:
    with log.open("a") as fh:
        fh.write(f"\n$ {' '.join(map(str, cmd))}\n")
        fh.flush()
        proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT,
                              timeout=timeout, check=False)
    return proc.returncode


@dataclass
class RunningApp:
    base_url: str
    port: int
    log: Path
    proc: subprocess.Popen | None = None
    data_dir: Path | None = None
    external: bool = False
    env: dict = field(default_factory=dict)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            pgid = os.getpgid(self.proc.pid)
        except ProcessLookupError:
            return
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=wait)
                # Reflex spawns children (granian workers); give the group a moment to exit.
                time.sleep(0.5)
                try:
                    os.killpg(pgid, 0)
                except ProcessLookupError:
                    return
            except subprocess.TimeoutExpired:
                continue


def start_reflex_prod(app_dir: Path, *, port: int, env: dict, log: Path,
                      ready_paths: tuple[str, ...] = ("/",),
                      timeout: float = START_TIMEOUT) -> RunningApp:
    """`reflex run --env prod --single-port` in app_dir (own process group); wait for ready_paths."""
    base_url = f"http://localhost:{port}"
    log.parent.mkdir(parents=True, exist_ok=True)
    fh = log.open("a")
    fh.write(f"\n$ reflex run --env prod --single-port  (cwd={app_dir}, port={port})\n")
    fh.flush()
    proc = subprocess.Popen(
        [str(REFLEX), "run", "--env", "prod", "--single-port", "--frontend-port", str(port),
         "--backend-port", str(port), "--loglevel", "info"],
        cwd=app_dir, env=env, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    fh.close()
    app = RunningApp(base_url=base_url, port=port, log=log, proc=proc, env=env)
    deadline = time.monotonic() + timeout
    pending = list(ready_paths)
    while pending:
        if proc.poll() is not None:
            raise ServerStartError(
                f"reflex exited with code {proc.returncode} before serving {base_url}.\n"
                f"--- last 60 lines of {log} ---\n{tail(log)}")
        if time.monotonic() > deadline:
            app.stop()
            raise ServerStartError(
                f"{base_url}{pending[0]} not ready after {timeout:.0f}s.\n"
                f"--- last 60 lines of {log} ---\n{tail(log)}")
        if http_status(base_url + pending[0]) == 200:
            pending.pop(0)
            continue
        time.sleep(1.0)
    return app


# ---------------------------------------------------------------- the shop


def shop_env(port: int, data_dir: Path) -> dict[str, str]:
    env = base_env()
    env["COURSEMALL_DATA_DIR"] = str(data_dir)
    env["COURSEMALL_PUBLIC_BASE_URL"] = f"http://localhost:{port}"
    env["COURSEMALL_DB_URL"] = os.environ.get(
        "COURSEMALL_E2E_DB_URL", f"sqlite:///{data_dir / 'coursemall.db'}")
    env["COURSEMALL_DEMO"] = "1"  # the shared shop is the demo (production is the default)
    # Media, public dir and secret key follow the data dir unless the caller pinned them.
    for name in ("COURSEMALL_MEDIA_DIR", "COURSEMALL_PUBLIC_DIR"):
        env.pop(name, None)
    env["COURSEMALL_SECRET_KEY"] = "e2e-secret-key-" + "k" * 40
    return env


_CREATE_ALL = (
    "import coursemall.models\n"
    "from sqlmodel import SQLModel\n"
    "from coursemall.db import get_engine\n"
    "SQLModel.metadata.create_all(get_engine())\n"
    "print('tables created with SQLModel.metadata.create_all (no migrations yet)')\n"
)


def _has_migrations(repo: Path) -> bool:
    versions = repo / "alembic" / "versions"
    return versions.is_dir() and any(versions.glob("*.py"))


def prepare_shop_data(repo: Path, env: dict, log: Path) -> None:
    """Migrate (fallback: create_all while no migration exists) and seed the demo data."""
    if _has_migrations(repo):
        if run_step([str(PYTHON), "-m", "coursemall", "migrate"], cwd=repo, env=env, log=log):
            raise ServerStartError(f"`python -m coursemall migrate` failed.\n{tail(log)}")
    if not _has_migrations(repo) or os.environ.get("COURSEMALL_E2E_CREATE_ALL") == "1":
        # No migration yet, or (developer aid only) tables newer than the last migration.
        if run_step([str(PYTHON), "-c", _CREATE_ALL], cwd=repo, env=env, log=log):
            raise ServerStartError(f"create_all failed.\n{tail(log)}")
    if run_step([str(PYTHON), "-m", "coursemall", "seed"], cwd=repo, env=env, log=log):
        if os.environ.get("COURSEMALL_E2E_ALLOW_NO_SEED") == "1":
            with log.open("a") as fh:
                fh.write("seed failed; continuing (COURSEMALL_E2E_ALLOW_NO_SEED=1)\n")
        else:
            raise ServerStartError(f"`python -m coursemall seed` failed.\n{tail(log)}")


def start_shop(repo: Path = ROOT, *, port: int | None = None,
               data_dir: Path | None = None) -> RunningApp:
    """Wipe data/e2e, migrate, seed, build and serve this checkout in production mode."""
    external = os.environ.get("COURSEMALL_E2E_BASE_URL", "").rstrip("/")
    if external:  # an already running shop (for quick iteration); nothing is started or wiped
        return RunningApp(base_url=external, port=int(external.rsplit(":", 1)[-1]),
                          log=Path(os.devnull), external=True)
    port = free_port(port or int(os.environ.get("COURSEMALL_E2E_PORT", "3107")))
    data_dir = data_dir or repo / "data" / "e2e"
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    log = data_dir / "server.log"
    env = shop_env(port, data_dir)
    prepare_shop_data(repo, env, log)
    app = start_reflex_prod(repo, port=port, env=env, log=log, ready_paths=("/api/health", "/"))
    app.data_dir = data_dir
    return app


# ------------------------------------------------ a fresh production shop


# What a copy of the checkout needs to build and serve the app (plus .web, copied when present so
# the JavaScript packages need not be installed again).
_APP_FILES = ("rxconfig.py", "alembic.ini", "alembic", "coursemall", "assets", "requirements.txt")


@dataclass
class FreshShop:
    app: RunningApp
    setup_url: str  # the one-time setup link the start-up banner printed
    banner: str
    db_url: str


def copy_checkout(repo: Path, app_dir: Path) -> None:
    """The app's files in `app_dir` (a second build there never touches repo/.web)."""
    if app_dir.exists():
        shutil.rmtree(app_dir)
    app_dir.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in _APP_FILES:
        src = repo / name
        if src.is_dir():
            shutil.copytree(src, app_dir / name, ignore=ignore, symlinks=True)
        elif src.exists():
            shutil.copy2(src, app_dir / name)
    web = repo / ".web"
    if (web / "node_modules").is_dir():
        def skip_outputs(folder: str, names: list[str]) -> set[str]:  # the old build, top level only
            return {"build", ".react-router"} & set(names) if Path(folder) == web else set()

        shutil.copytree(web, app_dir / ".web", symlinks=True, ignore=skip_outputs)


def fresh_shop_env(port: int, data_dir: Path) -> dict[str, str]:
    """A production shop as an operator would start it: nothing but the data folder, the public
    URL and a secret key (no COURSEMALL_DEMO, no channel, no SMTP)."""
    env = base_env()
    for name in [n for n in env if n.startswith("COURSEMALL_")]:
        env.pop(name)
    env["COURSEMALL_DATA_DIR"] = str(data_dir)
    env["COURSEMALL_PUBLIC_BASE_URL"] = f"http://localhost:{port}"
    env["COURSEMALL_SECRET_KEY"] = "e2e-fresh-secret-key-" + "f" * 40
    return env


def start_fresh_shop(repo: Path = ROOT, *, port: int | None = None) -> FreshShop:
    """Build and serve a production (non-demo) copy of this checkout with its own folder, data and
    port, after `migrate`, `seed` and `banner` exactly as `make serve` runs them; the setup link is
    read from the banner. The shared demo shop (`acquire_shop`) is not disturbed."""
    root = repo / "data" / "e2e-fresh"
    app_dir, data_dir = root / "app", root / "data"
    port = free_port(port or int(os.environ.get("COURSEMALL_E2E_PORT", "3107")) + 1)
    if root.exists():  # a previous run's copy, data and log
        shutil.rmtree(root)
    copy_checkout(repo, app_dir)
    data_dir.mkdir(parents=True)
    log = root / "server.log"
    env = fresh_shop_env(port, data_dir)
    for command in ("migrate", "seed"):
        if run_step([str(PYTHON), "-m", "coursemall", command], cwd=app_dir, env=env, log=log):
            raise ServerStartError(f"`python -m coursemall {command}` failed.\n{tail(log)}")
    banner = subprocess.run([str(PYTHON), "-m", "coursemall", "banner"], cwd=app_dir, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    with log.open("a") as fh:
        fh.write(f"\n$ python -m coursemall banner\n{banner.stdout}{banner.stderr}")
    links = [w for w in banner.stdout.split() if "/setup/" in w]
    if banner.returncode or len(links) != 1:
        raise ServerStartError(f"the banner printed no setup link.\n{tail(log)}")
    app = start_reflex_prod(app_dir, port=port, env=env, log=log, ready_paths=("/api/health", "/"))
    app.data_dir = data_dir
    return FreshShop(app=app, setup_url=links[0], banner=banner.stdout,
                     db_url=f"sqlite:///{data_dir / 'coursemall.db'}")


# ------------------------------------------------ process-wide shared instances

_lock = threading.Lock()
_shop: RunningApp | None = None
_shop_error: Exception | None = None
_shop_users = 0


def acquire_shop() -> RunningApp:
    """The one shop server of this test process (started on first use)."""
    global _shop, _shop_error, _shop_users
    with _lock:
        if _shop_error is not None:
            raise ServerStartError(f"the shop failed to start earlier: {_shop_error}")
        if _shop is None:
            try:
                _shop = start_shop()
            except Exception as exc:
                _shop_error = exc
                raise
            atexit.register(_shop.stop)  # also when pytest is interrupted before teardown
        _shop_users += 1
        return _shop


def shop_db_url() -> str | None:
    """Database URL of the running shop (to look up ids), or None when it is not known."""
    if _shop is not None and not _shop.external:
        return _shop.env["COURSEMALL_DB_URL"]
    return os.environ.get("COURSEMALL_E2E_DB_URL") or None


def release_shop() -> None:
    global _shop, _shop_users
    with _lock:
        _shop_users -= 1
        if _shop_users <= 0 and _shop is not None:
            _shop.stop()
            _shop = None


_pw = None
_browser = None
_browser_users = 0


def chromium_available() -> bool:
    return Path(CHROMIUM).exists()


def acquire_browser():
    """The one headless Chromium of this test process (Playwright's sync API allows one driver)."""
    global _pw, _browser, _browser_users
    with _lock:
        if _browser is None:
            from playwright.sync_api import sync_playwright

            _pw = sync_playwright().start()
            _browser = _pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                           args=CHROMIUM_ARGS)
        _browser_users += 1
        return _browser


def release_browser() -> None:
    global _pw, _browser, _browser_users
    with _lock:
        _browser_users -= 1
        if _browser_users <= 0 and _browser is not None:
            try:
                _browser.close()
            finally:
                _pw.stop()
                _browser = _pw = None


PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
    "user_agent": ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
                   "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"),
}
DESKTOP = {"viewport": {"width": 1366, "height": 900}, "locale": "zh-CN"}


if __name__ == "__main__":  # manual use: python -m tests.e2e.server  (Ctrl-C stops it)
    shop = start_shop()
    print("serving", shop.base_url, "log:", shop.log, flush=True)
    try:
        shop.proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        shop.stop()
    sys.exit(0)
