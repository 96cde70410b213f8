"""Page weight of the shop's home and course pages beside a trivial Reflex page, same run.

    .venv/bin/python -m bench.page_weight            # from the repo root; under a minute warm,
                                                     # a few minutes on a fresh machine
    .venv/bin/python -m bench.page_weight --write-results   # also update bench/RESULTS.md

Both apps are production builds served by `reflex run --env prod --single-port` (the shop from
this checkout with its demo data in data/bench, the trivial app from a temp copy of
bench/trivial_app so its .web does not clash). Each page is loaded once in a fresh headless
Chromium context (cold cache) and measured over the DevTools protocol:

- transferred = sum of `encodedDataLength` at `Network.loadingFinished` (bytes on the wire, after
  gzip/brotli, headers included);
- decoded = sum of `Network.dataReceived.dataLength` (bytes after decompression);
- grouped by resource type (JS, CSS, images, fonts, document, other); websocket frames (the
  initial state) are counted apart.

Prints a Markdown table and writes it to bench/out/page_weight.md.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.e2e import server  # noqa: E402

COMMAND = ".venv/bin/python -m bench.page_weight"
GROUPS = {"Script": "js", "Stylesheet": "css", "Image": "img", "Font": "font",
          "Document": "doc"}


@dataclass
class Weight:
    name: str
    url: str
    transferred: int = 0
    decoded: int = 0
    requests: int = 0
    ws_bytes: int = 0
    by_type: dict = field(default_factory=lambda: defaultdict(lambda: [0, 0]))  # [transferred, decoded]
    load_ms: float = 0.0


def measure(browser, name: str, url: str, ready_selector: str | None) -> Weight:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                              locale="zh-CN")
    page = ctx.new_page()
    cdp = ctx.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    types: dict[str, str] = {}
    decoded: dict[str, int] = defaultdict(int)
    finished: dict[str, int] = {}
    ws = [0]

    cdp.on("Network.requestWillBeSent",
           lambda p: types.setdefault(p["requestId"], p.get("type", "Other")))
    cdp.on("Network.responseReceived",
           lambda p: types.__setitem__(p["requestId"], p.get("type", "Other")))
    cdp.on("Network.dataReceived",
           lambda p: decoded.__setitem__(p["requestId"], decoded[p["requestId"]] + p["dataLength"]))
    cdp.on("Network.loadingFinished",
           lambda p: finished.__setitem__(p["requestId"], int(p["encodedDataLength"])))
    cdp.on("Network.webSocketFrameReceived",
           lambda p: ws.__setitem__(0, ws[0] + len(p["response"].get("payloadData", "").encode())))

    started = time.perf_counter()
    page.goto(url, wait_until="load")
    if ready_selector:
        page.locator(ready_selector).first.wait_for(state="visible", timeout=30_000)
    page.wait_for_load_state("networkidle")
    # Lazy images below the fold count too: scroll to the end and let them arrive.
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_timeout(800)
    page.wait_for_load_state("networkidle")
    w = Weight(name=name, url=url, load_ms=(time.perf_counter() - started) * 1000)
    ctx.close()

    for rid, enc in finished.items():
        group = GROUPS.get(types.get(rid, "Other"), "other")
        w.transferred += enc
        w.decoded += decoded.get(rid, 0)
        w.requests += 1
        w.by_type[group][0] += enc
        w.by_type[group][1] += decoded.get(rid, 0)
    w.ws_bytes = ws[0]
    return w


def start_trivial(tmp: Path) -> server.RunningApp:
    app_dir = tmp / "trivial_app"
    shutil.copytree(ROOT / "bench" / "trivial_app", app_dir,
                    ignore=shutil.ignore_patterns(".web", ".states", "__pycache__"))
    port = server.free_port(3190)
    env = server.base_env()
    env["TRIVIAL_PORT"] = str(port)
    for name in list(env):
        if name.startswith("COURSEMALL_"):
            env.pop(name)
    return server.start_reflex_prod(app_dir, port=port, env=env, log=tmp / "trivial.log")


def kb(n: int) -> str:
    return f"{n / 1024:,.1f}"


def table(rows: list[Weight], base: Weight) -> str:
    out = [
        "| page | transferred KB | decoded KB | × trivial (transf./decoded) | JS KB (tr/dec) "
        "| CSS KB (tr/dec) | images KB (tr/dec) | fonts KB (tr) | requests | ws state KB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for w in rows:
        ratio = f"{w.transferred / base.transferred:.2f} / {w.decoded / base.decoded:.2f}"
        t = w.by_type
        out.append(
            f"| {w.name} | {kb(w.transferred)} | {kb(w.decoded)} | {ratio} "
            f"| {kb(t['js'][0])} / {kb(t['js'][1])} | {kb(t['css'][0])} / {kb(t['css'][1])} "
            f"| {kb(t['img'][0])} / {kb(t['img'][1])} | {kb(t['font'][0])} | {w.requests} "
            f"| {kb(w.ws_bytes)} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep-data", action="store_true", help="keep data/bench afterwards")
    parser.add_argument("--write-results", action="store_true",
                        help="also replace the page-weight section of bench/RESULTS.md")
    args = parser.parse_args(argv)
    if not server.chromium_available():
        print(f"Chromium not found at {server.CHROMIUM}; run `make browser`.", file=sys.stderr)
        return 2

    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="cm-page-weight-"))
    shop = trivial = None
    try:
        print("building and starting the trivial app ...", flush=True)
        trivial = start_trivial(tmp)
        print(f"  {trivial.base_url} (log {trivial.log})", flush=True)
        print("migrating, seeding, building and starting the shop ...", flush=True)
        shop = server.start_shop(data_dir=ROOT / "data" / "bench",
                                 port=server.free_port(3150))
        print(f"  {shop.base_url} (log {shop.log})", flush=True)

        from sqlalchemy import create_engine, text

        engine = create_engine(shop.env["COURSEMALL_DB_URL"])
        with engine.connect() as conn:
            course_id = conn.execute(text(
                "SELECT id FROM courses WHERE status = 'published' "
                "ORDER BY is_featured DESC, id LIMIT 1")).scalar()
        engine.dispose()

        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=server.CHROMIUM, headless=True,
                                         args=server.CHROMIUM_ARGS)
            # One warm-up load per server so build-time lazy work is not measured.
            for url in (trivial.base_url + "/", shop.base_url + "/"):
                measure(browser, "warm-up", url, None)
            base = measure(browser, "trivial Reflex page `/`", trivial.base_url + "/",
                           "#trivial-button")
            rows = [
                base,
                measure(browser, "shop home `/`", shop.base_url + "/", "[id^=course-card-]"),
            ]
            if course_id:
                rows.append(measure(browser, f"shop course `/course/{course_id}`",
                                    f"{shop.base_url}/course/{course_id}", "#course-title"))
            browser.close()
    except server.ServerStartError as exc:
        print(f"a server did not start:\n{exc}", file=sys.stderr)
        return 1
    finally:
        for app in (shop, trivial):
            if app is not None:
                app.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        if not args.keep_data:
            shutil.rmtree(ROOT / "data" / "bench", ignore_errors=True)

    md = table(rows, base)
    notes = (
        f"\nMeasured {time.strftime('%Y-%m-%d %H:%M')} with `{COMMAND}` "
        f"({time.perf_counter() - t0:.0f} s including both builds). Phone viewport, cold cache, "
        "headless Chromium; transferred = encoded bytes incl. headers (CDP "
        "Network.loadingFinished), decoded = body bytes after decompression "
        "(Network.dataReceived); ws state = websocket frames received (initial state).\n")
    print()
    print(md)
    print(notes)
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "page_weight.md").write_text(md + "\n" + notes)
    if args.write_results:
        write_results_section(md + "\n" + notes)
    return 0


START, END = "<!-- page-weight:start -->", "<!-- page-weight:end -->"


def write_results_section(body: str) -> None:
    """Replace (or append) the marked page-weight section of bench/RESULTS.md."""
    path = ROOT / "bench" / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    section = f"{START}\n## Page weight\n\n{body.strip()}\n{END}"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    path.write_text(text)
    print(f"updated {path.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
