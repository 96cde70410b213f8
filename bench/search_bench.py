"""Search latency over 10,000 generated courses: the search service vs the bare SQL it runs.

    .venv/bin/python -m bench.search_bench [--courses 10000] [--queries 200] [--no-pg]

Builds a fresh SQLite file and a throw-away PostgreSQL schema (database `test`, schema
`bench_search`, dropped afterwards), runs the same ~200 mixed queries (Chinese two-character
words, "Python", multi-term AND, no-hit, sort variants, paging) through
`services.catalog.search_courses` (COUNT + page query + DTO mapping + highlighting, one session
per call like a handler) and through the bare `SELECT ... WHERE search_text LIKE ... ORDER BY ...
LIMIT 12`, and prints p50/p95 in ms plus a Markdown table for bench/RESULTS.md.
On PostgreSQL it also measures with a pg_trgm GIN index on search_text when the extension exists.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("COURSEMALL_DATA_DIR", tempfile.mkdtemp(prefix="cm-bench-"))
os.environ.setdefault("COURSEMALL_DEMO", "1")  # measured on the demo shop (production is the default)

from sqlalchemy import event, insert, text  # noqa: E402
from sqlmodel import Session, SQLModel  # noqa: E402

import coursemall.models  # noqa: E402,F401
from coursemall.db import make_engine  # noqa: E402
from coursemall.domain.catalog import build_search_text  # noqa: E402
from coursemall.domain.search import contains_pattern, normalize_query  # noqa: E402
from coursemall.models import Category, Course, Instructor  # noqa: E402
from coursemall.services.catalog.storefront import search_courses  # noqa: E402

PG_URL = os.environ.get("COURSEMALL_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
PG_SCHEMA = "bench_search"

TOPICS = ["摄影", "编程", "理财", "英语", "写作", "设计", "健身", "育儿", "职场", "数据", "绘画", "音乐",
          "烘焙", "心理", "演讲", "剪辑", "营销", "法律", "历史", "哲学"]
LEVELS = ["零基础", "入门", "进阶", "实战", "精讲", "训练营", "大师课", "30天"]
ENGLISH = ["Python", "Excel", "Photoshop", "JavaScript", "SQL", "Figma", "Premiere", "Go", "Rust",
           "AI", "ChatGPT", "Lightroom"]
SUFFIX = ["从入门到精通", "系统课", "技巧全解", "高效学习法", "案例拆解", "一本通", "必修课", "私房课"]
SUBTITLES = ["手把手带你掌握核心方法", "每天 15 分钟，轻松学会", "适合上班族的碎片化学习",
             "老师亲授实战经验", "配套练习与答疑", "从原理到落地的完整路径"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ["明", "芳", "伟", "静", "磊", "婷", "强", "雪", "洋", "敏", "晨", "宇"]
TAGS = ["入门", "实战", "职场", "副业", "考证", "亲子", "Python", "AI", "设计", "效率", "手机", "后期"]


def generate(n: int, seed: int = 7):
    rnd = random.Random(seed)
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    instructors = [{"id": i + 1, "name": rnd.choice(SURNAMES) + rnd.choice(GIVEN) + rnd.choice(GIVEN),
                    "title": "讲师", "bio": "", "avatar_path": "", "status": "approved",
                    "revenue_share_bp": 0, "created_at": t0} for i in range(200)]
    categories = [{"id": i + 1, "slug": f"c{i}", "name": TOPICS[i], "name_en": f"Cat {i}",
                   "icon": "book-open", "position": i} for i in range(10)]
    courses = []
    for i in range(n):
        topic = rnd.choice(TOPICS)
        if rnd.random() < 0.3:
            title = f"{rnd.choice(ENGLISH)} {topic}{rnd.choice(SUFFIX)}"
        else:
            title = f"{rnd.choice(LEVELS)}{topic}{rnd.choice(SUFFIX)}"
        subtitle = rnd.choice(SUBTITLES)
        instructor = rnd.choice(instructors)
        tags = rnd.sample(TAGS, 2)
        price = rnd.choice([0, 990, 1990, 4990, 9900, 19900, 29900, 59900])
        rcount = rnd.randint(0, 300)
        courses.append({
            "id": i + 1, "slug": f"b{i}", "title": title[:80], "subtitle": subtitle,
            "intro_html": "", "audience": "", "cover_path": "",
            "category_id": rnd.randint(1, 10), "instructor_id": instructor["id"],
            "price_fen": price, "original_price_fen": price * 2,
            "status": "published" if rnd.random() < 0.95 else "draft",
            "published_at": t0 + timedelta(minutes=rnd.randint(0, 500_000)),
            "is_featured": False, "featured_rank": 0, "member_only": False,
            "no_seek_first_watch": False, "learners_count": rnd.randint(0, 50_000),
            "sales_count": rnd.randint(0, 50_000), "rating_sum": rcount * rnd.randint(3, 5),
            "rating_count": rcount, "lesson_count": rnd.randint(4, 60),
            "total_duration_seconds": rnd.randint(600, 60_000),
            "search_text": build_search_text(title, subtitle, instructor["name"], tags),
            "created_at": t0, "updated_at": t0,
        })
    return instructors, categories, courses


def make_queries(count: int, seed: int = 11) -> list[tuple[str, str, int]]:
    rnd = random.Random(seed)
    sorts = ["newest", "best", "price_asc", "price_desc", "rating"]
    kinds = [
        lambda: rnd.choice(TOPICS),                                   # Chinese 2-char word
        lambda: "Python",
        lambda: rnd.choice(ENGLISH).lower(),
        lambda: f"{rnd.choice(ENGLISH)} {rnd.choice(TOPICS)}",        # multi-term AND
        lambda: f"{rnd.choice(LEVELS)} {rnd.choice(TOPICS)}",
        lambda: rnd.choice(["量子纠缠", "zzzqqq", "不存在的课", "%_%"]),  # no hit
        lambda: "",                                                   # list all
        lambda: SURNAMES[rnd.randrange(len(SURNAMES))] + rnd.choice(GIVEN),  # instructor
    ]
    out = []
    for i in range(count):
        q = kinds[i % len(kinds)]()
        out.append((q, sorts[(i // len(kinds)) % len(sorts)], 1 if i % 10 else 2))
    return out


ORDER_SQL = {
    "newest": "published_at DESC, id DESC",
    "best": "sales_count DESC, id DESC",
    "price_asc": "price_fen ASC, id DESC",
    "price_desc": "price_fen DESC, id DESC",
    "rating": "CASE WHEN rating_count > 0 THEN 0 ELSE 1 END, "
              "CASE WHEN rating_count > 0 THEN CAST(rating_sum AS FLOAT) / rating_count END DESC, "
              "rating_count DESC, id DESC",
}


def bare_sql(q: str, sort: str, page: int) -> tuple[str, dict]:
    terms = normalize_query(q).terms
    where = ["status = 'published'"]
    params: dict = {}
    for i, term in enumerate(terms):
        where.append(f"search_text LIKE :t{i} ESCAPE '\\'")
        params[f"t{i}"] = contains_pattern(term)
    sql = (f"SELECT id, title FROM courses WHERE {' AND '.join(where)} "
           f"ORDER BY {ORDER_SQL[sort]} LIMIT 12 OFFSET {(page - 1) * 12}")
    return sql, params


def load(engine, n: int) -> float:
    started = time.perf_counter()
    SQLModel.metadata.create_all(engine)
    instructors, categories, courses = generate(n)
    with engine.begin() as conn:
        conn.execute(insert(Instructor.__table__), instructors)
        conn.execute(insert(Category.__table__), categories)
        for i in range(0, len(courses), 2000):
            conn.execute(insert(Course.__table__), courses[i:i + 2000])
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE courses"))
    return time.perf_counter() - started


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run(engine, queries) -> dict:
    service_ms, sql_ms, hits = [], [], 0
    prepared = [bare_sql(*q) for q in queries]
    for q, sort, page in queries[:10]:  # warm caches for both paths
        with Session(engine) as s:
            search_courses(s, query=q, sort=sort, page=page)
    for q, sort, page in queries:
        t = time.perf_counter()
        with Session(engine) as s:
            result = search_courses(s, query=q, sort=sort, page=page)
        service_ms.append((time.perf_counter() - t) * 1000)
        hits += result.total
    for sql, params in prepared:
        t = time.perf_counter()
        with engine.connect() as conn:
            conn.execute(text(sql), params).fetchall()
        sql_ms.append((time.perf_counter() - t) * 1000)
    return {
        "service_p50": statistics.median(service_ms), "service_p95": pct(service_ms, 95),
        "sql_p50": statistics.median(sql_ms), "sql_p95": pct(sql_ms, 95),
        "avg_hits": hits / len(queries),
    }


def pg_engine():
    engine = make_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
    engine.dispose()
    bench = make_engine(PG_URL)

    @event.listens_for(bench, "connect")
    def _search_path(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute(f"SET search_path TO {PG_SCHEMA}, public")
        cur.close()
        dbapi_conn.commit()

    return bench


def drop_pg_schema() -> None:
    engine = make_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
    engine.dispose()


def try_trgm(engine) -> bool:
    try:
        with engine.begin() as conn:
            available = conn.execute(
                text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")).first()
            if not available:
                return False
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public"))
            conn.execute(text("CREATE INDEX ix_courses_search_trgm ON courses "
                              "USING gin (search_text public.gin_trgm_ops)"))
            conn.execute(text("ANALYZE courses"))
        return True
    except Exception as exc:  # noqa: BLE001 - reported, benchmark continues without it
        print(f"  pg_trgm unavailable: {type(exc).__name__}: {exc}".splitlines()[0])
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--courses", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args(argv)
    queries = make_queries(args.queries)
    rows: list[tuple[str, dict]] = []
    started = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="cm-search-bench-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        print(f"SQLite: loading {args.courses} courses ... {load(engine, args.courses):.1f}s")
        rows.append(("SQLite", run(engine, queries)))
        engine.dispose()

    if not args.no_pg:
        try:
            engine = pg_engine()
            print(f"PostgreSQL: loading {args.courses} courses ... {load(engine, args.courses):.1f}s")
            rows.append(("PostgreSQL (B-tree indexes only)", run(engine, queries)))
            if try_trgm(engine):
                rows.append(("PostgreSQL + pg_trgm GIN on search_text", run(engine, queries)))
            engine.dispose()
        except Exception as exc:  # noqa: BLE001
            print(f"PostgreSQL skipped: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        finally:
            try:
                drop_pg_schema()
            except Exception:  # noqa: BLE001
                pass

    print()
    print(f"Search over {args.courses:,} courses, {len(queries)} mixed queries "
          f"(service = COUNT + page of 12 + DTOs + highlighting, one session per call; "
          f"bare SQL = the page SELECT only). Total bench time {time.perf_counter() - started:.0f}s.")
    print()
    print("| Database | service p50 ms | service p95 ms | bare SQL p50 ms | bare SQL p95 ms | "
          "ratio p50 | ratio p95 | avg hits |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in rows:
        print(f"| {name} | {r['service_p50']:.2f} | {r['service_p95']:.2f} | {r['sql_p50']:.2f} | "
              f"{r['sql_p95']:.2f} | {r['service_p50'] / r['sql_p50']:.1f}× | "
              f"{r['service_p95'] / r['sql_p95']:.1f}× | {r['avg_hits']:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
