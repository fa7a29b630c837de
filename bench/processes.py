"""The two processes a benchmark run starts -- the fake provider (tests.fake_openai, in a
process of its own) and the service under gunicorn (tests/live_server.py, the harness the
live-server tests use too) -- and their clean-up, on success or failure."""
from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time

from cryptography.fernet import Fernet

from tests.live_server import LiveServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.dirname(sys.executable)


def _die_with_parent() -> None:
    """In the child: get SIGINT (gunicorn's quick shutdown) when the benchmark dies, even by SIGKILL."""
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGINT)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _stop(process: subprocess.Popen, sig: int, grace: float) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)  # its own session: the group is exactly it and its children
        process.wait(grace)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(5)


class FakeProvider:
    """bench/fake_server.py in its own process."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.fake_server"], cwd=ROOT, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=_die_with_parent)
        self.base_url = self._read()["base_url"]

    def _read(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the fake provider exited")
        return json.loads(line)

    def _ask(self, command: dict) -> dict:
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self._read()

    def configure(self, delay: float = 0.0, chunk_delay: float = 0.0) -> None:
        self._ask({"set": {"delay": delay, "chunk_delay": chunk_delay}})

    def count(self, path_suffix: str) -> int:
        return self._ask({"count": path_suffix})["count"]

    def clear(self) -> None:
        self._ask({"clear": True})

    def stop(self) -> None:
        if self.process.stdin and not self.process.stdin.closed:
            try:
                self.process.stdin.close()  # the server stops at end of input
            except BrokenPipeError:
                pass
        _stop(self.process, signal.SIGTERM, 5)


def bench_service(database_url: str, provider_url: str, workdir: str, root: str = ROOT) -> LiveServer:
    """The service as `make run` starts it (tests/live_server.py), on a database of its own; its
    worker count is WEB_CONCURRENCY's, or one per core. ``root``: the source tree (another commit's, for
    an A/B: bench/ab.py)."""
    env = {
        "OPENAI_BASE_URL": provider_url,
        "OPENAI_API_KEY": "sk-bench",
        "ASSISTANTS_SECRET_KEYS": Fernet.generate_key().decode(),
        # The status benchmark stores credentials on the loopback fake.
        "PROVIDER_ALLOWED_HOSTS": "127.0.0.1",
        # Every scenario's load is one tenant's: 1,000 open streams would meet a tenant's cap of turns per
        # worker (256 by default, tests/test_tenant_limits.py) and measure that cap, not the server.
        "TENANT_MAX_CONCURRENT_TURNS": "1000",
        "PYTHONUNBUFFERED": "1",
    }
    workers = int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 1)
    return LiveServer(database_url, env, workers=workers, log_path=os.path.join(workdir, "gunicorn.log"),
                      migrate=True, root=root)


def start_service(service: LiveServer) -> LiveServer:
    """Start it and wait until every worker has imported the app."""
    service.start()
    service.wait_for_workers()
    time.sleep(1.0)
    return service
