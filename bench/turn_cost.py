"""What metrics and usage records cost one chat turn (issue 14's target: under 0.1 ms).

Measured in a process of its own (``python -m bench.turn_cost DATABASE_URL [--quick]``, run by
``make bench`` once per database), with PROMETHEUS_MULTIPROC_DIR set as gunicorn.conf.py sets it,
so every metric update writes the memory-mapped files a worker writes:

- metrics: the exact calls one blocking turn makes (its request's counter and histogram, the
  turn's meter with its counter, histogram and tokens, one provider request's histogram, the
  budget check of a key without a budget), N times in a loop; "off" is the same loop without them.
- usage: a turn's closing commit (two messages, the thread's update) without and with its
  usage row, in interleaved pairs, the order alternating; the difference of the medians.

Prints one JSON object; bench/__main__.py puts it in results.json and the table."""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def measure(database_url: str, quick: bool) -> dict:
    """Run this module in a child process (the metrics mode is chosen at import) and read its figures."""
    with tempfile.TemporaryDirectory(prefix="assistants-turn-cost-") as directory:
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": directory}
        done = subprocess.run([sys.executable, "-m", "bench.turn_cost", database_url,
                               *(["--quick"] if quick else [])],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def _metrics_loop(app, usage, metrics, done, count: int, on: bool) -> float:
    from assistants_app.services import tenant_limits

    with app.test_request_context("/openai/chat", method="POST"):
        from flask import g

        g.api_key_id, g.daily_token_budget, g.tenant = 1, None, "bench"
        assistant = _Assistant()
        caller = tenant_limits.Caller.of_request("conversations")
        started = time.perf_counter()
        for _ in range(count):
            if on:
                tenant_limits.check_budget(caller)
                meter = usage.TurnMeter(caller, assistant, "chat_completions")
                metrics.observe_provider_request("chat_completions", 0.002)
                meter.ended(done)
                metrics.observe_request("POST", "/openai/chat", 200, 0.003)
        return (time.perf_counter() - started) / count


class _Assistant:
    """What a TurnMeter reads of an assistant."""

    tenant, id, model, credential = "bench", "assistant-1", "gpt-4o-mini", None


def _commit_pairs(app, count: int) -> tuple[list[float], list[float]]:
    from assistants_app.extensions import db
    from assistants_app.models import Assistant, Message, Thread, utcnow
    from assistants_app.openai_adapter import TurnDone, Usage
    from assistants_app.services import commit_keeping_loaded, usage

    done = TurnDone(text="Echo", usage=Usage(120, 30, 150))
    off, on = [], []
    with app.test_request_context("/openai/chat", method="POST"):
        from flask import g

        g.api_key_id, g.tenant = 1, "bench"
        assistant = Assistant(tenant="bench", details={"model": "gpt-4o-mini"}, details_id="asst_bench")
        thread = Thread(tenant="bench", assistant=assistant)
        db.session.add_all([assistant, thread])
        commit_keeping_loaded()
        position = 0
        for n in range(count * 2):
            with_usage = (n % 2 == 0) == (n // 2 % 2 == 0)  # pairs, the order alternating pair by pair
            started = time.perf_counter()
            for role in ("user", "assistant"):
                db.session.add(Message(thread_id=thread.id, position=position, role=role,
                                       content="hello there"))
                position += 1
            thread.last_active_at = utcnow()
            if with_usage:
                usage.add_usage(tenant="bench", assistant_id=assistant.id, model="gpt-4o-mini", done=done,
                                api_key_id=1, api="conversations")
            commit_keeping_loaded()
            (on if with_usage else off).append(time.perf_counter() - started)
    return off, on


def main(argv: list[str]) -> int:
    from cryptography.fernet import Fernet
    from flask_migrate import upgrade

    from assistants_app import create_app, metrics
    from assistants_app.extensions import db
    from assistants_app.openai_adapter import TurnDone, Usage
    from assistants_app.services import usage

    url, quick = argv[0], "--quick" in argv
    app = create_app({"DATABASE_URL": url, "ASSISTANTS_SECRET_KEYS": Fernet.generate_key().decode(),
                      "REDIS_URL": None, "LOG_LEVEL": "WARNING"})
    with app.app_context():
        upgrade()  # the service's database, already migrated by it: a thread of its own is added there
    done = TurnDone(text="Echo", usage=Usage(120, 30, 150))
    count = 2_000 if quick else 50_000
    samples_off, samples_on = [], []
    for _ in range(3 if quick else 7):  # alternate the loops, keep each one's best: the least disturbed
        samples_off.append(_metrics_loop(app, usage, metrics, done, count, on=False))
        samples_on.append(_metrics_loop(app, usage, metrics, done, count, on=True))
    metrics_us = (min(samples_on) - min(samples_off)) * 1e6
    with app.app_context():
        off, on = _commit_pairs(app, 30 if quick else 1_000)
        db.session.remove()
        db.engine.dispose()
    commit_off, commit_on = statistics.median(off) * 1e6, statistics.median(on) * 1e6
    print(json.dumps({
        "metrics_us_per_turn": round(metrics_us, 2), "metrics_loops": count,
        "commit_without_usage_us": round(commit_off, 1), "commit_with_usage_us": round(commit_on, 1),
        "usage_us_per_turn": round(commit_on - commit_off, 1), "commit_pairs": len(on),
        "total_ms_per_turn": round((metrics_us + commit_on - commit_off) / 1000, 4),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
