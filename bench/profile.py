"""Profile the workers under one kind of load with py-spy (requirements-dev.txt):

    python -m bench.profile chat [--seconds 10] [--clients 4] [--out DIR] [--database-url URL]

Starts the fake provider and the service as `python -m bench` does, drives the load for
--seconds, and meanwhile samples every gunicorn worker with `py-spy record`: DIR gets one
flame graph (SVG) and one collapsed-stack file per worker, plus a summary of where the busy
samples went (the gevent hub waiting and idle threadpool threads left out): the functions holding
the most (own time, and with callees) and the share of each top-level module.

Loads: get (GET /assistants/{id}), post, status (an agent's status, its models list cached), chat and
stream (/openai/chat), agents (the agents API's chat/completions), responses (POST /v1/responses in a
conversation), v2run (an Assistants v2 run, streamed, on a new thread each)."""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

from .loadgen import closed_loop
from .processes import VENV_BIN, FakeProvider, bench_service, start_service
from .scenarios import MODEL, STATUS_PATH, Context, Size

LOADS = ("get", "post", "status", "chat", "stream", "agents", "responses", "v2run")
# Leaf frames of a worker that waits: the hub's loop, and gevent's threadpool threads waiting for work.
IDLE_LEAVES = ("Hub.run (gevent/hub.py", "acquire_with_timeout (gevent/_threading.py")


def request_factory(ctx: Context, load: str, clients: int):
    agent_id = ctx.new_assistant()
    create = json.dumps({"details": {"name": "p", "model": MODEL}, "type": "CUSTOM"}).encode()
    if load == "get":
        return lambda w, i: ("GET", f"/assistants/{agent_id}", None)
    if load == "post":
        return lambda w, i: ("POST", "/assistants", create)
    if load == "status":
        return lambda w, i: ("GET", STATUS_PATH + agent_id, None)
    if load == "agents":
        return lambda w, i: ("POST", f"{STATUS_PATH}{agent_id}/chat/completions", json.dumps(
            {"model": MODEL, "messages": [{"role": "user", "content": f"Question {i}?"}]}).encode())
    if load == "responses":
        return _responses(ctx, clients)
    if load == "v2run":
        v2_assistant = ctx.api.call("POST", "/v1/assistants", {"model": MODEL})["id"]
        return lambda w, i: ("POST", "/v1/threads/runs", json.dumps(
            {"assistant_id": v2_assistant, "stream": True,
             "thread": {"messages": [{"role": "user", "content": f"Question {i}?"}]}}).encode())
    threads = ctx.new_threads(agent_id, clients)
    stream = load == "stream"

    def chat(w, i):
        if i and i % 10 == 0:  # keep the history short, as the latency pairs do
            threads[w] = ctx.api.call("POST", "/openai/initialize", {"agent_id": agent_id})["thread_id"]
        body = {"agent_id": agent_id, "thread_id": threads[w], "user_input": f"Question {i}",
                "stream": stream}
        return "POST", "/openai/chat", json.dumps(body).encode()
    return chat


def _responses(ctx: Context, clients: int):
    """Each client continues a conversation of its own (POST /v1/conversations), a new one every 10 turns
    as the chats do: a Responses turn on stored history."""
    conversations = [ctx.api.call("POST", "/v1/conversations", {})["id"] for _ in range(max(64, clients))]

    def respond(w, i):
        conversation = conversations[(w + clients * (i // 10)) % len(conversations)]
        return "POST", "/v1/responses", json.dumps({"model": MODEL, "input": f"Question {i}",
                                                    "conversation": conversation}).encode()
    return respond


def summarize(collapsed_paths: list[str], top: int = 25) -> str:
    """Where the busy samples of these workers went: functions (own, with callees) and modules."""
    own, total, modules = collections.Counter(), collections.Counter(), collections.Counter()
    samples = idle = 0
    for path in collapsed_paths:
        with open(path) as f:
            for line in f:
                stack, _, count = line.rstrip().rpartition(" ")
                count, frames = int(count), stack.split(";")
                if frames[-1].startswith(IDLE_LEAVES):
                    idle += count
                    continue
                samples += count
                own[frames[-1]] += count
                for frame in set(frames):
                    total[frame] += count
                modules[module_of(frames[-1])] += count
    if not samples:
        return "no busy samples"
    lines = [f"{samples} busy samples ({idle} idle left out)", "  own time:"]
    lines += [f"    {100 * n / samples:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    lines.append("  with callees:")
    lines += [f"    {100 * n / samples:5.1f}%  {frame}" for frame, n in total.most_common(top)]
    lines.append("  own time by module:")
    lines += [f"    {100 * n / samples:5.1f}%  {name}" for name, n in modules.most_common(12)]
    return "\n".join(lines)


def module_of(frame: str) -> str:
    """'Session.execute (sqlalchemy/orm/session.py:2555)' -> 'sqlalchemy'; the standard library's
    single-file modules by their name ('json/encoder.py' -> 'json', 'threading.py:376' -> 'threading');
    a frame without a file (C code py-spy could not name) as '(native)'."""
    where = frame[frame.rfind("(") + 1:].rstrip(")").rsplit(":", 1)[0] if "(" in frame else ""
    if not where:
        return "(native)"
    top = where.split("/", 1)[0]
    return top.split(".py", 1)[0] if "/" not in where else top


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("load", choices=LOADS)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds the fake provider waits per answer")
    parser.add_argument("--database-url", help="a scratch database (default: SQLite in a temporary one)")
    parser.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "assistants-profile"))
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    fake = FakeProvider()
    with tempfile.TemporaryDirectory(prefix="assistants-profile-") as workdir:
        url = args.database_url or "sqlite:///" + os.path.join(workdir, "profile.sqlite3")
        service = bench_service(url, fake.base_url, workdir)
        spies = []
        try:
            start_service(service)
            ctx = Context(service, fake, Size())
            make = request_factory(ctx, args.load, args.clients)
            fake.configure(delay=args.delay)
            asyncio.run(closed_loop(ctx.host, ctx.port, ctx.headers, make, concurrency=args.clients,
                                    duration=1.0))
            for pid in service.worker_pids():
                base = os.path.join(args.out, f"{args.load}-{pid}")
                for fmt, suffix in (("raw", ".collapsed"), ("flamegraph", ".svg")):
                    spies.append((subprocess.Popen(
                        [os.path.join(VENV_BIN, "py-spy"), "record", "--pid", str(pid),
                         "--rate", str(args.rate), "--duration", str(int(args.seconds)), "--format", fmt,
                         "--output", base + suffix, "--nonblocking"] + (["--idle"] if fmt == "raw" else []),
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), base + suffix))
            time.sleep(0.5)
            cpu = service.workers_cpu()
            tally = asyncio.run(closed_loop(ctx.host, ctx.port, ctx.headers, make, concurrency=args.clients,
                                            duration=args.seconds))
            used = service.workers_cpu() - cpu
            print(f"{args.load}: {tally.completed / tally.elapsed:.0f} req/s, {tally.errors} errors "
                  f"{dict(tally.failures) or ''}, workers {used / tally.elapsed:.2f} cores, "
                  f"{1000 * used / max(1, tally.completed):.2f} ms CPU a request, generator "
                  f"{tally.generator_cpu / tally.elapsed:.2f} cores")
            for spy, _ in spies:
                spy.wait(args.seconds + 30)
            collapsed = [path for _, path in spies if path.endswith(".collapsed") and os.path.exists(path)]
            print(summarize(collapsed))
        finally:
            for spy, _ in spies:
                if spy.poll() is None:
                    spy.kill()
                    spy.wait()
            service.stop()
            fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
