"""An A/B of one change, interleaved in one run: the service of another commit (A, the "before") and of
this work tree (B) side by side, in front of the same fake provider, their requests taking turns.

    python -m bench.ab BASE [--load chat] [--pairs 300] [--database-url URL] [--output PATH]

BASE is a commit (``HEAD``, ``HEAD~1``, a hash): its files (``git archive``) go to a temporary directory
and run under this venv. Each round sends the same request to A, to B and (for a turn) straight to the
fake, in an order that rotates round by round, so the machine's drift hits every side alike. It reports
per side the added latency (a turn: minus the direct request of its round) or the latency (a GET), and
the workers' CPU per request, measured over the same minutes for both. Loads: chat, stream (time to
the first delta), agents (chat/completions with the lean client), get (GET /assistants/{id}), status
(an agent's, its models list cached). ``--stored N``: the chats go on one thread per side that already
holds N messages. ``--database-url``: both services on that scratch database (PostgreSQL), each with its
own rows."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from .__main__ import cpu_available
from .api import Api, ms, percentile, save_json
from .processes import ROOT, FakeProvider, bench_service, start_service
from .scenarios import (DIRECT_END, DIRECT_FIRST_TEXT, INSTRUCTIONS, MODEL, STATUS_PATH, TURNS_PER_THREAD,
                        Context, Size)

LOADS = ("chat", "stream", "agents", "get", "status")
SIDES = ("A", "B")


def checkout(commit: str, directory: str) -> str:
    """The commit's files in ``directory``; its short hash."""
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", directory], input=archive, check=True)
    return subprocess.run(["git", "rev-parse", "--short", commit], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()


class Side:
    """One service and what a load needs of it: an agent, the thread of the current chat."""

    def __init__(self, ctx: Context, load: str):
        self.ctx, self.load = ctx, load
        self.agent_id = ctx.new_assistant()
        self.thread_id = None

    def new_thread(self) -> None:
        started = self.ctx.api.call("POST", "/openai/initialize", {"agent_id": self.agent_id})
        self.thread_id = started["thread_id"]

    def send(self, text: str) -> float:
        """One request of the load; its seconds (to the first delta, streamed)."""
        api = self.ctx.api
        if self.load in ("chat", "stream"):
            body = {"agent_id": self.agent_id, "thread_id": self.thread_id, "user_input": text}
            if self.load == "stream":
                return api.stream("/openai/chat", {**body, "stream": True})[0]
            return _timed(lambda: api.call("POST", "/openai/chat", body))
        if self.load == "agents":
            body = {"model": MODEL, "messages": [{"role": "user", "content": text}]}
            return _timed(lambda: api.call("POST", f"{STATUS_PATH}{self.agent_id}/chat/completions", body))
        path = f"/assistants/{self.agent_id}" if self.load == "get" else STATUS_PATH + self.agent_id
        return _timed(lambda: api.call("GET", path))


def _timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def direct_request(direct: Api, load: str, history: list, text: str) -> float:
    """The request the service sends the provider for this turn, sent straight to the fake."""
    if load == "agents":
        history = []
    body = {"model": MODEL, "messages": [{"role": "system", "content": INSTRUCTIONS}, *history,
                                         {"role": "user", "content": text}]}
    if load == "stream":
        return direct.stream("/chat/completions", {**body, "stream": True,
                                                   "stream_options": {"include_usage": True}},
                             first_text=DIRECT_FIRST_TEXT, end=DIRECT_END)[0]
    return _timed(lambda: direct.call("POST", "/chat/completions", body))


def measure(sides: dict[str, Side], direct: Api | None, load: str, warmup: int, pairs: int,
            stored: int = 0) -> dict:
    names = [*sides, *(["direct"] if direct else [])]
    times: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, float] = {}
    history: list = []
    if stored:  # one long thread per side instead of a new one every 10 turns
        for side in sides.values():
            side.new_thread()
            for turn in range(stored // 2):
                side.send(f"Earlier question {turn}?")
        for turn in range(stored // 2):
            text = f"Earlier question {turn}?"
            history += [{"role": "user", "content": text}, {"role": "assistant", "content": "Echo: " + text}]
    for i in range(warmup + pairs):
        if i == warmup:
            cpu = {name: side.ctx.service.workers_cpu() for name, side in sides.items()}
        if load in ("chat", "stream") and not stored and i % TURNS_PER_THREAD == 0:
            for side in sides.values():
                side.new_thread()
            history = []
        text = f"Question {i}: how are things today?"
        took = {}
        for name in names[i % len(names):] + names[:i % len(names)]:  # each side first as often
            took[name] = (direct_request(direct, load, history, text) if name == "direct"
                          else sides[name].send(text))
        history += [{"role": "user", "content": text}, {"role": "assistant", "content": "Echo: " + text}]
        if i >= warmup:
            for name, seconds in took.items():
                times[name].append(seconds - (took["direct"] if direct and name != "direct" else 0))
    out = {}
    for name, side in sides.items():
        values = times[name]
        out[name] = {"median_ms": ms(percentile(values, 50), 3), "p99_ms": ms(percentile(values, 99), 3),
                     "worker_cpu_ms": ms((side.ctx.service.workers_cpu() - cpu[name]) / pairs, 3)}
    if direct:
        out["direct"] = {"median_ms": ms(percentile(times["direct"], 50), 3)}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", help="the commit to compare this work tree with (A)")
    parser.add_argument("--load", choices=LOADS, default="chat")
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--stored", type=int, default=0, help="chat on threads holding this many messages")
    parser.add_argument("--database-url", help="a scratch database both services use (default: SQLite each)")
    parser.add_argument("--output", help="also write the figures there (JSON)")
    args = parser.parse_args(argv)
    fake = FakeProvider()
    services = []
    with tempfile.TemporaryDirectory(prefix="assistants-ab-") as workdir:
        try:
            roots = {"A": os.path.join(workdir, "A"), "B": ROOT}
            os.makedirs(roots["A"])
            commits = {"A": checkout(args.base, roots["A"]), "B": "work tree"}
            sides = {}
            for name in SIDES:
                os.makedirs(os.path.join(workdir, f"run-{name}"))
                url = args.database_url or "sqlite:///" + os.path.join(workdir, f"run-{name}", "ab.sqlite3")
                service = bench_service(url, fake.base_url, os.path.join(workdir, f"run-{name}"), roots[name])
                services.append(service)
                sides[name] = Side(Context(start_service(service), fake, Size()), args.load)
            direct = Api(fake.base_url, "sk-bench") if args.load in ("chat", "stream", "agents") else None
            before = cpu_available()
            figures = measure(sides, direct, args.load, args.warmup, args.pairs, args.stored)
            result = {"load": args.load, "pairs": args.pairs, "stored": args.stored, "commits": commits,
                      "database": "postgresql" if args.database_url else "sqlite",
                      "cpu_available_before": before, "cpu_available_after": cpu_available(), **figures}
        finally:
            for service in services:
                service.stop()
            fake.stop()
    print(json.dumps(result))
    what = "added" if direct else "latency"
    a, b = result["A"], result["B"]
    print(f"{args.load} ({result['database']}, {args.pairs} rounds, CPU free "
          f"{result['cpu_available_before']} / {result['cpu_available_after']}): {what} median "
          f"A {a['median_ms']} -> B {b['median_ms']} ms, p99 {a['p99_ms']} -> {b['p99_ms']} ms; workers' CPU "
          f"{a['worker_cpu_ms']} -> {b['worker_cpu_ms']} ms a request "
          f"({b['worker_cpu_ms'] / a['worker_cpu_ms']:.2f}x)", file=sys.stderr)
    save_json(args.output, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
