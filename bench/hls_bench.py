"""Benchmark: the per-request cost of serving encrypted HLS segments (the hot path: every viewer
asks for one every few seconds), on SQLite and PostgreSQL.

What one segment request does, in one worker-thread call with one database session
(coursemall/api/hls.py): resolve the `cm_session` cookie, check access to the lesson now
(lesson + course, the viewer's entitlement), find the asset, and record the segment once
(insert-or-ignore on a UNIQUE key). Measured in process (Starlette TestClient, sequential, so the
figures are the server's work without network), with the statements per request counted:
- "new segment": a learner's first request for each segment (the insert writes a row);
- "repeat": the same segments again (the insert is skipped by the UNIQUE key);
- "raw route": a Starlette route returning a file, as the floor of the stack.

    .venv/bin/python -m bench.hls_bench                   # N=300 per database
    BENCH_N=1000 .venv/bin/python -m bench.hls_bench --write-results
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

N = int(os.environ.get("BENCH_N", "300"))
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _engine(kind: str, tmp: Path):
    from sqlalchemy import create_engine, text
    from sqlmodel import SQLModel

    import coursemall.models  # noqa: F401

    tmp.mkdir(parents=True, exist_ok=True)
    from coursemall.db import make_engine  # the shop's own engine settings (SQLite: WAL)

    if kind == "SQLite":
        engine = make_engine(f"sqlite:///{tmp / 'bench.db'}")
        SQLModel.metadata.create_all(engine)
        return engine, None
    schema = f"hls_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine = create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"}, pool_pre_ping=True,
                           pool_size=10)
    SQLModel.metadata.create_all(engine)

    def drop():
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()

    return engine, drop


def _run(kind: str, tmp: Path) -> list[dict]:
    from sqlalchemy import event
    from sqlmodel import Session
    from starlette.applications import Starlette
    from starlette.responses import FileResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from coursemall.api import hls as hls_api
    from coursemall.models import MediaAsset
    from coursemall.services.accounts import sessions
    from coursemall.services.learning.media_access import mint_player_media
    from tests.api.test_hls import write_variant
    from tests.services.catalog_fixture import build_catalog

    engine, drop = _engine(kind, tmp)
    try:
        segments = N
        with Session(engine, expire_on_commit=False) as s:
            ids = build_catalog(s, media_prefix="bench").ids
            asset = s.get(MediaAsset, ids["asset_paid"])
            asset.renditions = {"hls_hd": "bench/hls/hd"}
            s.add(asset)
            token = sessions.create_session(s, user_id=ids["buyer"])
            s.commit()
        media_dir = tmp / "media"
        write_variant(media_dir / "bench/hls/hd", segments=tuple(4.0 for _ in range(segments)))
        with Session(engine) as s:
            url = mint_player_media(s, actor_id=ids["buyer"], lesson_id=ids["lesson_paid"],
                                    session_token_hash=sessions.token_hash(token)).sources[0].url
        base = url.split("index.m3u8", 1)[0]

        @contextmanager
        def scope():
            with Session(engine, expire_on_commit=False) as s:
                yield s
                s.commit()

        hls_api.session_scope = scope
        import dataclasses

        from coursemall.settings import get_settings

        settings = dataclasses.replace(get_settings(), media_dir=media_dir)
        hls_api.get_settings = lambda: settings
        statements = {"n": 0}
        event.listen(engine, "before_cursor_execute", lambda *a, **k: statements.__setitem__("n", statements["n"] + 1))
        raw_file = media_dir / "bench/hls/hd/seg0000.ts"

        async def raw(_request):
            return FileResponse(raw_file, media_type="video/mp2t")

        client = TestClient(Starlette(routes=[*hls_api.ROUTES, Route("/raw", raw)]))
        client.cookies.set(sessions.SESSION_COOKIE, token)
        assert client.get(url).status_code == 200

        def measure(label: str, urls: list[str]) -> dict:
            times, before = [], statements["n"]
            for u in urls:
                t = time.perf_counter()
                resp = client.get(u)
                times.append((time.perf_counter() - t) * 1000)
                assert resp.status_code == 200, (u, resp.status_code)
            times.sort()
            return {"db": kind, "request": label, "n": len(urls), "p50": statistics.median(times),
                    "p95": times[int(len(times) * 0.95) - 1], "stmts": (statements["n"] - before) / len(urls)}

        seg_urls = [f"{base}seg{i:04d}.ts" for i in range(segments)]
        rows = [measure("raw route (FileResponse)", ["/raw"] * segments),
                measure("segment, new (access check + insert)", seg_urls),
                measure("segment, repeat (insert skipped)", seg_urls)]
        from sqlmodel import func, select

        from coursemall.models.media_pipeline import ServedSegment

        with Session(engine) as s:
            assert s.exec(select(func.count()).select_from(ServedSegment)).one() == segments
        return rows
    finally:
        engine.dispose()
        if drop:
            drop()


def main() -> None:
    started = time.monotonic()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("SQLite", "PostgreSQL"):
            rows += _run(kind, Path(tmp) / kind)
    lines = [f"HLS segment requests: N={N} per row, sequential, in process (TestClient), 2 cores shared with "
             f"other work; total {time.monotonic() - started:.0f}s",
             "",
             "| database | request | requests | p50 ms | p95 ms | SQL statements / request |",
             "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['db']} | {r['request']} | {r['n']} | {r['p50']:.2f} | {r['p95']:.2f} | {r['stmts']:.1f} |")
    lines += ["", "Each segment request: session by token hash (indexed), lesson + course (primary keys), "
              "the viewer's active entitlement (user, course), the asset (primary key + lesson), one "
              "`INSERT … ON CONFLICT DO NOTHING RETURNING` on the (user, lesson, segment) UNIQUE key, commit. "
              "`bench/hls_bench.py`."]
    table = "\n".join(lines)
    print(table)
    if "--write-results" in sys.argv:
        results = ROOT / "bench" / "RESULTS.md"
        text = results.read_text()
        block = f"<!-- hls:start -->\n## Encrypted HLS segment requests\n\n{table}\n<!-- hls:end -->"
        if "<!-- hls:start -->" in text:
            head, rest = text.split("<!-- hls:start -->", 1)
            text = head + block + rest.split("<!-- hls:end -->", 1)[1]
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
        results.write_text(text)


if __name__ == "__main__":
    main()
