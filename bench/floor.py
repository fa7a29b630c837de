"""The floor under a request: what gunicorn alone costs, and what the app costs without gunicorn.

    python -m bench.floor [--seconds 6] [--requests 1500] [--output PATH]

Issue 29's short targets ask how much of a request is ours to cut. One run, SQLite, the fake provider in a
process of its own (bench/fake_server.py):

1. **Over HTTP**, one client in a closed loop (bench/loadgen.py, keep-alive), each for --seconds: gunicorn
   with the service's worker settings (gevent, WEB_CONCURRENCY or one worker per core, keep-alive 5 s)
   serving a WSGI callable that answers a constant body (bench/constant_app.py: the server's own cost of
   a request); then the service itself as ``make run`` starts it, ``GET /health`` (Flask, flask-smorest,
   every request hook, one ``SELECT 1``; no API key) and ``GET /assistants/{id}``. Requests per second and
   the workers' CPU per request, side by side.
2. **In process** (bench/in_process.py, a process of its own): the service's app called as a WSGI callable,
   no server and no sockets but the provider's, in a tight loop: CPU per request of the same GETs, an
   agent's status, a conversations turn and an agents chat/completions. Set against the figures of 1, it
   gives how much slower the same code runs under the real load, where the load generator, the fake and
   the other worker share the cores."""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

from tests.live_server import GUNICORN, gunicorn_workers, workers_cpu

from .__main__ import cpu_available
from .api import Api, ms, percentile, save_json
from .loadgen import closed_loop
from .processes import ROOT, FakeProvider, bench_service, start_service
from .scenarios import NEW_ASSISTANT


class BareGunicorn:
    """gunicorn serving bench/constant_app.py with the service's worker settings (gunicorn.conf.py's,
    without the app it preloads)."""

    def __init__(self, workers: int, log_path: str):
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            self.port = listener.getsockname()[1]
            with open(log_path, "ab") as log:
                self.process = subprocess.Popen(
                    # -c /dev/null: not ./gunicorn.conf.py, which preloads the service
                    [*GUNICORN, "-c", "/dev/null", "--worker-class", "gevent", "--workers", str(workers),
                     "--worker-connections", "2000", "--keep-alive", "5", "--no-control-socket",
                     "--bind", f"fd://{listener.fileno()}", "bench.constant_app:app"],
                    cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                    pass_fds=[listener.fileno()])
        self.workers = workers
        self._wait_for_workers()

    def workers_cpu(self) -> float:
        return workers_cpu(self.process.pid)

    def _wait_for_workers(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(gunicorn_workers(self.process.pid)) < self.workers:
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError("the bare gunicorn did not start its workers")
            time.sleep(0.05)
        time.sleep(1.0)  # each worker imports gevent and the callable after it is forked

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 9)
            self.process.wait(10)


def sequential(port: int, headers: dict, path: str, server, seconds: float) -> dict:
    """One client in a closed loop on ``GET path`` (after a second of warm-up): req/s, latency, CPU."""
    make = (lambda w, i: ("GET", path, None))
    asyncio.run(closed_loop("127.0.0.1", port, headers, make, concurrency=1, duration=1.0))
    cpu_before = server.workers_cpu()
    tally = asyncio.run(closed_loop("127.0.0.1", port, headers, make, concurrency=1, duration=seconds))
    cpu = server.workers_cpu() - cpu_before
    return {"requests_per_s": round(tally.completed / tally.elapsed, 1), "errors": tally.errors,
            "p50_ms": ms(percentile(tally.latencies, 50), 3),
            "worker_cpu_ms_per_request": ms(cpu / max(1, tally.completed), 3)}


def over_http(provider: FakeProvider, workdir: str, seconds: float) -> dict:
    workers = int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 1)
    out = {}
    bare = BareGunicorn(workers, os.path.join(workdir, "bare-gunicorn.log"))
    try:
        out["gunicorn alone (a constant body)"] = sequential(bare.port, {}, "/", bare, seconds)
    finally:
        bare.stop()
    database_url = "sqlite:///" + os.path.join(workdir, "floor.sqlite3")
    service = start_service(bench_service(database_url, provider.base_url, workdir))
    try:
        headers = {"Authorization": f"Bearer {service.api_key}"}
        api = Api(service.url, service.api_key)
        agent_id = api.call("POST", "/assistants", NEW_ASSISTANT)["id"]
        out["GET /health"] = sequential(service.port, headers, "/health", service, seconds)
        out["GET /assistants/{id}"] = sequential(service.port, headers, f"/assistants/{agent_id}", service,
                                                 seconds)
    finally:
        service.stop()
    return out


def in_process(provider: FakeProvider, workdir: str, requests: int) -> dict:
    database_url = "sqlite:///" + os.path.join(workdir, "in-process.sqlite3")
    done = subprocess.run([sys.executable, "-m", "bench.in_process", database_url, provider.base_url,
                           str(requests)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise RuntimeError(f"bench.in_process failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(result: dict) -> str:
    free = f"{result['cpu_available_before']} / {result['cpu_available_after']}"
    lines = [f"CPU free {free} of {os.cpu_count()} cores",
             "over HTTP, one client (sequential):"]
    for name, row in result["over_http"].items():
        lines.append(f"  {name}: {row['requests_per_s']:,.0f} req/s, p50 {row['p50_ms']} ms, workers' CPU "
                     f"{row['worker_cpu_ms_per_request']} ms a request, {row['errors']} errors")
    lines.append("in process (the app as a WSGI callable, no server), CPU a request:")
    for name, row in result["in_process"].items():
        lines.append(f"  {name}: {row['cpu_us']} us (blocks of {row['requests']}, median of 5)")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--requests", type=int, default=1500,
                        help="GETs per block in process (turns: a fifth as many)")
    parser.add_argument("--output", help="also write the figures there (JSON)")
    args = parser.parse_args(argv)
    result = {"cpu_available_before": cpu_available()}
    provider = FakeProvider()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-floor-") as workdir:
            result["over_http"] = over_http(provider, workdir, args.seconds)
            result["in_process"] = in_process(provider, workdir, args.requests)
    finally:
        provider.stop()
    result["cpu_available_after"] = cpu_available()
    print(json.dumps(result))
    print(report(result))
    save_json(args.output, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
