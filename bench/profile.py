"""Profile the workers under one kind of load with py-spy (requirements-dev.txt):

    python -m bench.profile chat [--seconds 10] [--clients 4] [--out DIR]

Starts the fake provider and the service as `python -m bench` does, drives the load for
--seconds, and meanwhile samples every gunicorn worker with `py-spy record`: DIR gets one
flame graph (SVG) and one collapsed-stack file per worker, plus a summary of the functions
that hold the most samples (own time and with callees). Loads: get, post, status, chat, stream."""
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
from .scenarios import STATUS_PATH, Context, Size

LOADS = ("get", "post", "status", "chat", "stream")


def request_factory(ctx: Context, load: str, clients: int):
    agent_id = ctx.new_assistant()
    create = json.dumps({"details": {"name": "p", "model": "gpt-4o-mini"}, "type": "CUSTOM"}).encode()
    if load == "get":
        return lambda w, i: ("GET", f"/assistants/{agent_id}", None)
    if load == "post":
        return lambda w, i: ("POST", "/assistants", create)
    if load == "status":
        return lambda w, i: ("GET", STATUS_PATH + agent_id, None)
    threads = ctx.new_threads(agent_id, clients)
    stream = load == "stream"

    def chat(w, i):
        if i and i % 10 == 0:  # keep the history short, as the latency pairs do
            threads[w] = ctx.api.call("POST", "/openai/initialize", {"agent_id": agent_id})["thread_id"]
        body = {"agent_id": agent_id, "thread_id": threads[w], "user_input": f"Question {i}",
                "stream": stream}
        return "POST", "/openai/chat", json.dumps(body).encode()
    return chat


def summarize(collapsed_path: str, top: int = 25) -> str:
    own, total = collections.Counter(), collections.Counter()
    samples = 0
    with open(collapsed_path) as f:
        for line in f:
            stack, _, count = line.rstrip().rpartition(" ")
            count = int(count)
            samples += count
            frames = stack.split(";")
            own[frames[-1]] += count
            for frame in set(frames):
                total[frame] += count
    lines = [f"{collapsed_path}: {samples} samples", "  own time:"]
    lines += [f"    {100 * n / samples:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    lines.append("  with callees:")
    lines += [f"    {100 * n / samples:5.1f}%  {frame}" for frame, n in total.most_common(top)]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("load", choices=LOADS)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds the fake provider waits per answer")
    parser.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "assistants-profile"))
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    fake = FakeProvider()
    with tempfile.TemporaryDirectory(prefix="assistants-profile-") as workdir:
        service = bench_service("sqlite:///" + os.path.join(workdir, "profile.sqlite3"), fake.base_url, workdir)
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
            print(f"{args.load}: {tally.completed / tally.elapsed:.0f} req/s, {tally.errors} errors, workers "
                  f"{(service.workers_cpu() - cpu) / tally.elapsed:.2f} cores, generator "
                  f"{tally.generator_cpu / tally.elapsed:.2f} cores")
            for spy, _ in spies:
                spy.wait(args.seconds + 30)
            for _, path in spies:
                if path.endswith(".collapsed") and os.path.exists(path):
                    print(summarize(path))
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
