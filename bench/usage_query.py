"""python -m bench.usage_query [--rows N] [--database-url URL]: GET /usage over a year of usage.

Fills a scratch database (a temporary SQLite file; with --database-url or BENCH_DATABASE_URL a
PostgreSQL database too, which it migrates and whose token_usage rows it replaces) with N rows
(default 1,000,000) spread evenly over 365 days, all of one tenant (the worst case: every row is
the caller's), then times GET /usage for one month grouped by day, assistant, model and API key
through the Flask test client (routing, auth, the query, JSON), 20 times each after 3 warm-ups.
Target: a month grouped by day in under 100 ms. Not a test: prints a table."""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

from cryptography.fernet import Fernet
from flask_migrate import upgrade
from sqlalchemy import delete, insert

from assistants_app import create_app
from assistants_app.auth import create_api_key
from assistants_app.extensions import db
from assistants_app.models import TokenUsage

END = datetime(2026, 11, 1, tzinfo=timezone.utc)
BATCH = 20_000


def fill(rows: int) -> None:
    """``rows`` usage rows of tenant "bench" over the 365 days before END, in time order."""
    db.session.execute(delete(TokenUsage))
    db.session.commit()
    rng = random.Random(14)
    step = timedelta(days=365) / rows
    start = END - timedelta(days=365)
    assistants = [f"assistant-{n:02d}" for n in range(20)]
    models = ["gpt-4o", "gpt-4o-mini", "llama3.1:8b"]
    for first in range(0, rows, BATCH):
        db.session.execute(insert(TokenUsage), [
            {"created_at": start + step * n, "tenant": "bench", "api_key_id": rng.randint(1, 5),
             "api": "conversations", "assistant_id": rng.choice(assistants), "model": rng.choice(models),
             "prompt_tokens": rng.randint(10, 4000), "completion_tokens": rng.randint(1, 800)}
            for n in range(first, min(rows, first + BATCH))])
        db.session.commit()


def measure(client, headers, query: str, repeat: int = 20) -> dict:
    times = []
    for attempt in range(3 + repeat):
        started = time.perf_counter()
        response = client.get("/usage?" + query, headers=headers)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"/usage?{query} answered {response.status_code}: "
                               f"{response.get_data()[:300]!r}")
        if attempt >= 3:
            times.append(elapsed)
    return {"median_ms": round(statistics.median(times) * 1000, 2), "max_ms": round(max(times) * 1000, 2),
            "groups": len(response.json["data"]), "turns": sum(g["turns"] for g in response.json["data"])}


def run(name: str, url: str, rows: int) -> list[tuple]:
    app = create_app({"DATABASE_URL": url, "ASSISTANTS_SECRET_KEYS": Fernet.generate_key().decode(),
                      "REDIS_URL": None, "RATELIMIT_ENABLED": False})
    out = []
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        fill(rows)
        print(f"[usage_query] {name}: {rows:,} rows written in {time.perf_counter() - started:.1f} s",
              file=sys.stderr)
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as connection:
                connection.exec_driver_sql("ANALYZE token_usage")
                connection.commit()
        key = create_api_key("bench", "bench")[1]
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    month = f"start={int((END - timedelta(days=30)).timestamp())}&end={int(END.timestamp())}"
    for group_by in ("day", "assistant", "model", "api_key"):
        result = measure(client, headers, f"{month}&group_by={group_by}")
        out.append((name, f"a month by {group_by}", result))
    out.append((name, "a year by day",
                measure(client, headers, f"start={int((END - timedelta(days=365)).timestamp())}"
                                         f"&end={int(END.timestamp())}&group_by=day", 5)))
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.usage_query", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="assistants-usage-") as directory:
        results += run("SQLite", "sqlite:///" + os.path.join(directory, "usage.sqlite3"), args.rows)
    if args.database_url:
        results += run("PostgreSQL", args.database_url, args.rows)
    print(f"GET /usage over {args.rows:,} rows of one tenant (a year), target: a month by day < 100 ms\n")
    print("| database | query | median | max | groups | turns |\n|---|---|---|---|---|---|")
    for name, what, r in results:
        print(f"| {name} | {what} | {r['median_ms']} ms | {r['max_ms']} ms | {r['groups']} | "
              f"{r['turns']:,} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
